"""Engine v2 regression: the first optimiser steps' losses are bit-identical to the recorded ones.

tests/fixtures/reference_losses*.json hold, one file per platform, the per-step losses of the
first 100 steps of MoCo, HaLP (halp.start_epoch=0) and supervised CTR-GCN with and without
SkeletonGCL on the synthetic default configs, CPU, one thread, recorded by
benchmarks/record_losses.py (with the recorder in tests/reference_recorder.py; each file's
`meta` names the commit). Any change to the training loop, the data order or augmentations,
the models, the methods or the synthetic data shows up as an exact mismatch; a deliberate
change of numbers needs new fixtures:

    python benchmarks/record_losses.py --steps 100 --out tests/fixtures/reference_losses_<CAPABILITY>.json

Bit-identical floats need the same torch build and the same CPU kernels: the test uses the
fixture recorded with this torch version and CPU instruction set
(torch.backends.cpu.get_cpu_capability(): AVX512 in reference_losses.json, AVX2 in
reference_losses_AVX2.json), and skips, saying why, where none was.

The fast test checks the first 5 steps of moco and ctrgcn; the slow one all 100 of every case.
"""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from reference_recorder import record_case
from support import REPO

FIXTURES = sorted((REPO / "tests" / "fixtures").glob("reference_losses*.json"))  # one per platform


def platform_now() -> tuple[str, str]:
    return torch.__version__, torch.backends.cpu.get_cpu_capability()


def reference() -> dict:
    """The fixture recorded on this platform (torch build and CPU kernels), else the first one."""
    loaded = [json.loads(path.read_text()) for path in FIXTURES]
    for ref in loaded:
        if other_platform(ref["meta"], *platform_now()) is None:
            return ref
    return loaded[0]


def other_platform(meta: dict, torch_version: str, cpu_capability: str) -> str | None:
    """Why the fixture cannot be matched bit for bit here, or None when this is its platform.

    >>> other_platform({"torch": "2.13.0+cpu", "cpu_capability": "AVX512"}, "2.13.0+cpu", "AVX2")
    'the fixture was recorded with AVX512 CPU kernels, this machine runs AVX2 ones'
    """
    if torch_version != meta["torch"]:
        return f"the fixture was recorded with torch {meta['torch']}, this is torch {torch_version}"
    if cpu_capability != meta["cpu_capability"]:
        return (f"the fixture was recorded with {meta['cpu_capability']} CPU kernels, this machine "
                f"runs {cpu_capability} ones")
    return None


@pytest.fixture(autouse=True)
def recording_platform():
    reason = other_platform(reference()["meta"], *platform_now())
    if reason:
        pytest.skip(f"bit-exact losses need the recording platform: {reason} (last-bit differences "
                    "are not a bug there); benchmarks/record_losses.py records a fixture for this one")


def first_difference(got: list[float], expected: list[float]) -> str:
    for i, (a, b) in enumerate(zip(got, expected)):
        if a != b:
            count = sum(x != y for x, y in zip(got, expected))
            return f"step {i + 1}: got {a!r}, reference {b!r} ({count} of {len(expected)} steps differ)"
    return f"lengths differ: got {len(got)} steps, reference {len(expected)}"


def check_case(name: str, steps: int) -> None:
    ref = reference()
    case = ref["cases"][name]
    assert steps <= len(case["loss"]), f"the fixture has {len(case['loss'])} steps of {name}"
    got = record_case(name, steps)
    where = (f"{name} vs the fixture recorded at {ref['meta']['commit'][:10]} (torch {ref['meta']['torch']}, "
             f"{ref['meta']['threads']} thread)")
    if got["config_sha256"] != case["config_sha256"]:
        where += f"; note: {case['config']} has changed since the fixture was recorded"
    want = case["loss"][:steps]
    assert got["loss"] == want, f"{where}: loss differs at {first_difference(got['loss'], want)}"
    expected = {k: v[:steps] for k, v in case["components"].items()}
    if expected and not got["components"]:
        warnings.warn(f"{name}: the current code exposes no component losses "
                      f"({', '.join(expected)}); only the total loss was compared", stacklevel=2)
        return
    assert sorted(got["components"]) == sorted(expected), f"{where}: component names differ"
    for key, want in expected.items():
        have = got["components"][key]
        assert have == want, f"{where}: {key} differs at {first_difference(have, want)}"


@pytest.mark.parametrize("name", ["moco", "ctrgcn"])
def test_first_steps_match_reference(name):
    check_case(name, steps=5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["moco", "halp", "ctrgcn", "ctrgcn_gcl"])
def test_reference_losses(name):
    check_case(name, steps=reference()["meta"]["steps"])
