"""Numerics that must not run in half precision: InfoNCE logits divided by a small temperature,
k-means, HaLP's filters, the variational posterior's KL. Under an enclosing bf16 autocast a
matmul of fp32 operands would still run in bf16; these helpers turn autocast off around such
code and promote half types to fp32 (fp64 stays fp64).

Example:
    >>> import torch
    >>> x = torch.ones(2, 3, dtype=torch.bfloat16)
    >>> with torch.autocast("cpu", dtype=torch.bfloat16), no_autocast(x):
    ...     (at_least_fp32(x) @ at_least_fp32(x).T).dtype
    torch.float32
    >>> at_least_fp32_dtype(x, torch.zeros(1, dtype=torch.float64))
    torch.float64
"""

from __future__ import annotations

import torch


def at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """Promote half/bf16 to fp32; fp32 and fp64 stay as they are (never demote)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def at_least_fp32_dtype(*tensors: torch.Tensor) -> torch.dtype:
    """The common dtype of ``tensors``, at least fp32: half/bf16 are promoted, fp64 is never demoted."""
    dtype = torch.float32
    for t in tensors:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def no_autocast(x: torch.Tensor):
    """Autocast off on the device type of ``x``: an enclosing autocast would run the matmuls
    inside in bf16 even on fp32 operands."""
    return torch.autocast(device_type=x.device.type, enabled=False)
