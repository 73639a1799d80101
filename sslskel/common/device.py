"""Device and mixed-precision choice: CUDA with bf16 autocast when there is a GPU, CPU otherwise.

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


def amp_dtype(device: torch.device, amp: str) -> torch.dtype | None:
    """bf16 under `auto` on CUDA only: on CPU bf16 autocast is slower for GRUs than fp32."""
    if amp not in ("auto", "bf16", "off"):
        raise ValueError(f"run.amp: expected one of auto, bf16, off, got {amp!r}")
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    return torch.bfloat16


def autocast(device: torch.device, amp: str):
    dtype = amp_dtype(device, amp)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
