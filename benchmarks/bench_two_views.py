"""Both views through the encoder in one call against one call per view: training-step time.

SimCLR, VSimCLR and CV-MIM encode two views with gradients. `PretrainMethod.encode_views` gives
the GRU both in one call (`BiGRUEncoder.forward_many`: each view normalised alone, one GRU call
over 2N clips, the same numbers). Here two trainers are built from the same config through the
code every run uses (`build_trainer`); in one, `encode_views` is replaced by one encoder call per
view (the code before). The real epoch loop runs them on chunks of `--chunk` batches, alternating,
so that machine noise hits both alike; the speed-up is the ratio of the median chunk times.

    python benchmarks/bench_two_views.py                          # default configs, run.amp as configured
    python benchmarks/bench_two_views.py run.amp=off run.threads=1
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 \\
        python benchmarks/bench_two_views.py run.amp=off          # as a CPU without AVX512 would run
Prints one JSON object.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import torch  # noqa: E402
from bench_amp import alternating_step_seconds  # noqa: E402
from common import per_method_main, system_info  # noqa: E402

from sslskel.common.device import amp_dtype  # noqa: E402
from sslskel.engine.config import load_config  # noqa: E402
from sslskel.engine.pretrain import build_trainer  # noqa: E402
from sslskel.methods import run_amp  # noqa: E402

METHODS = ("simclr", "vsimclr", "cvmim")


def one_call_per_view(method):
    """`encode_views` as it was: the encoder once per view."""
    return lambda xs, lengths: [method.encoder(x, n) for x, n in zip(xs, lengths)]


def bench_method(config: Path, overrides: list[str], chunks: int, chunk: int) -> dict:
    with contextlib.redirect_stdout(sys.stderr):  # the trainer's start-up lines; stdout holds the JSON
        trainers = {way: build_trainer(load_config(config, [*overrides, "run.knn_every=0"]), None)
                    for way in ("per_view", "one_call")}
    per_view = trainers["per_view"].method
    per_view.encode_views = one_call_per_view(per_view)
    amp = run_amp(trainers["one_call"].cfg, trainers["one_call"].device)
    before, after = alternating_step_seconds(trainers, {way: amp for way in trainers}, chunks, chunk)
    return {"per_view_step_s": round(before, 4), "one_call_step_s": round(after, 4),
            "speedup": round(before / after, 3),
            "precision": "fp32" if amp_dtype(trainers["one_call"].device, amp) is None else "bf16"}


def main() -> None:
    per_method_main(__doc__, METHODS, bench_method, REPO / "configs" / "synthetic",
                    {**system_info(torch.device("cpu")),
                     "cpu_capability": torch.backends.cpu.get_cpu_capability()})


if __name__ == "__main__":
    main()
