"""Device and mixed-precision choice: CUDA or CPU, bf16 autocast where the hardware runs it natively.

Example:
    >>> resolve_device("cpu").type
    'cpu'
    >>> with autocast(resolve_device("cpu"), "auto"):
    ...     pass
"""

from __future__ import annotations

import contextlib

import torch

from ..errors import UserError
from .threads import ThreadChoice, choose_threads


def apply_run_settings(run_cfg, log=print) -> ThreadChoice:
    """Process-wide settings of the `run` section: CPU threads (logged), deterministic kernels."""
    choice = choose_threads(run_cfg.threads)
    if choice.threads != torch.get_num_threads():
        torch.set_num_threads(choice.threads)
    log(f"threads: {choice.threads} ({choice.reason})")
    if run_cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return choice


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UserError("run.device", None, "cpu or auto (this machine has no CUDA device)", repr(name))
        if device.index is not None and device.index >= count:
            raise UserError("run.device", None, f"cpu, auto, cuda or cuda:N with N < {count} (the CUDA devices "
                            "of this machine)", repr(name))
    return device


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: oneDNN runs bf16 matrix products natively there (elsewhere it emulates
    them, slower than fp32)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # a torch without these probes: assume not
        return False


def amp_dtype(device: torch.device, amp: str) -> torch.dtype | None:
    """bf16 under `auto` on CUDA and on CPUs with native bf16 (AVX512-BF16 or AMX), where it was
    measured faster at equal accuracy (docs/benchmarks.md); fp32 elsewhere."""
    if amp not in ("auto", "bf16", "off"):
        raise ValueError(f"run.amp: expected one of auto, bf16, off, got {amp!r}")
    if amp == "off":
        return None
    if amp == "auto" and not (device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())):
        return None
    return torch.bfloat16


def autocast(device: torch.device, amp: str):
    dtype = amp_dtype(device, amp)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
