"""`run.amp: auto` per method: HaLP keeps fp32 on a CPU (bf16 measured a cost there), every other
method and every explicit setting is left as it is."""

from __future__ import annotations

import pytest
import torch

from sslskel.engine.config import load_config
from sslskel.engine.pretrain import build_trainer
from sslskel.methods import METHODS, method_class, run_amp


@pytest.mark.parametrize("method, amp, device, expected", [
    ("halp", "auto", "cpu", "off"),
    ("halp", "bf16", "cpu", "bf16"),  # an explicit choice is the user's
    ("halp", "off", "cpu", "off"),
    ("halp", "auto", "cuda", "auto"),  # measured on CPUs only
    ("moco", "auto", "cpu", "auto"),
    ("vmoco", "auto", "cpu", "auto"),
])
def test_run_amp(method, amp, device, expected):
    assert run_amp(load_config(None, [f"method={method}", f"run.amp={amp}"]), torch.device(device)) == expected


def test_only_halp_and_vsimclr_keep_fp32_on_cpus():
    assert sorted(name for name in METHODS if not method_class(name).bf16_on_cpu) == ["halp", "vsimclr"]


HALP_TINY = ["halp.recent_keys=16", "halp.num_prototypes=3", "halp.start_epoch=0"]


@pytest.mark.parametrize("method, extra, expected", [("halp", HALP_TINY, "off"), ("moco", [], "auto")])
def test_the_trainer_trains_in_the_resolved_precision_and_says_so(tiny_config, capsys, method, extra, expected):
    trainer = build_trainer(tiny_config(f"method={method}", "run.amp=auto", *extra), run_dir=None)
    assert trainer.loop.amp == trainer.amp == expected
    assert trainer.cfg.run.amp == "auto"  # config.yaml keeps what the user asked for
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("precision: "))
    if method == "halp":
        assert line == "precision: fp32 (run.amp=auto; halp keeps fp32 on CPUs (docs/benchmarks.md))"
    else:
        assert line.startswith("precision: ") and line.endswith("(run.amp=auto)")
