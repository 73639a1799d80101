"""Several processes under torchrun: which one this is, and the few collectives the methods use.

`torchrun --nproc_per_node N script.py` starts N copies of a script and sets RANK, WORLD_SIZE
and LOCAL_RANK (and the rendezvous address) in their environments; `init_distributed` reads
them and joins the process group: NCCL when the process drives a GPU, gloo on CPU. Without
torchrun (WORLD_SIZE unset or 1) nothing is initialised and every function here is the
one-process identity, so methods call them unconditionally.

Conventions that keep N processes equal to one:
- `optim.batch_size` is the global batch; each process takes `batch_size / N` consecutive
  samples of it (`local_batch_size`), so the gathered batch is, in order, the one a single
  process would have drawn (`sslskel.data.dataset.DistributedEpochSampler`).
- Random draws of a step that depend on the batch (posterior noise, HaLP's targets) are made
  for the global batch and sliced (`local_rows`), so they too are those of one process.
- Batch-level losses (NT-Xent, SupCon, CV-MIM's MI estimators) are computed on the gathered
  batch (`gather_rows_with_grad`) by every process; per-sample losses stay local.
  DistributedDataParallel averages the gradients over processes, which makes both exact.

Example (one process: the identities):
    >>> import torch
    >>> world_size(), rank(), is_main()
    (1, 0, True)
    >>> gather_rows(torch.arange(3)).tolist(), local_rows(4)
    ([0, 1, 2], slice(0, 4, None))
"""

from __future__ import annotations

import datetime
import gc
import os

import torch
import torch.distributed as dist

from .errors import UserError


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def rank() -> int:
    """This process's rank (from torchrun's RANK even before the group is joined)."""
    return dist.get_rank() if is_initialized() else int(os.environ.get("RANK", "0"))


def local_rank() -> int:
    """This process's index on its machine (torchrun's LOCAL_RANK): the GPU it drives."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def is_main() -> bool:
    """Whether this process writes files, logs and prints (rank 0)."""
    return rank() == 0


def launched_distributed() -> bool:
    """Started by torchrun with more than one process in the job."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: torch.device, timeout_minutes: float = 30.0) -> torch.device:
    """Join torchrun's process group when launched by it; returns the device this process uses
    (cuda:LOCAL_RANK on a GPU machine). Idempotent; a no-op for a single process."""
    if not launched_distributed():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", local_rank())
        torch.cuda.set_device(device)
    if not is_initialized():  # CPU tensors over gloo, CUDA tensors over NCCL
        backend = "cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=timeout_minutes))
    return device


def shutdown(wait_for_all: bool = True) -> None:
    """Leave the process group. DDP wrappers that sit in reference cycles are collected first
    (a reducer destroyed after its group aborts the process at exit); `wait_for_all` (a clean
    end) also waits until every process is done, so none leaves while another still talks to it."""
    if is_initialized():
        gc.collect()
        if wait_for_all:
            dist.barrier()
        dist.destroy_process_group()


def collective_device() -> torch.device:
    """Where tensors for a collective must live: the GPU under NCCL, the CPU under gloo."""
    if is_initialized() and "gloo" not in str(dist.get_backend()):
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    if is_initialized():
        dist.barrier()


def local_batch_size(global_batch: int, name: str = "optim.batch_size") -> int:
    """This process's share of a global batch; the batch must split evenly."""
    n = world_size()
    if global_batch % n:
        raise UserError(name, "value", f"a multiple of the {n} processes (it is the global batch, "
                                       f"split evenly over them)", str(global_batch))
    return global_batch // n


def local_rows(local_size: int) -> slice:
    """This process's rows of a global batch made of `local_size` rows per process, in rank order."""
    start = rank() * local_size
    return slice(start, start + local_size)


def draw_local_rows(draw, local_size: int) -> torch.Tensor:
    """This process's rows of `draw(global_rows)`: a random draw made for the whole global batch
    (from a generator seeded alike on every process), so the rows are those of one process."""
    n = world_size()
    return draw(local_size) if n == 1 else draw(local_size * n)[local_rows(local_size)]


@torch.no_grad()
def gather_rows(x: torch.Tensor) -> torch.Tensor:
    """Every process's `x` (same shape everywhere) concatenated along dim 0 in rank order, no
    gradient (MoCo's keys before they enter the queue, GCL's bank entries)."""
    n = world_size()
    if n == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(n)]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


class _GatherRows(torch.autograd.Function):
    """All-gather along dim 0; backward: every process's gradient for my rows, summed."""

    @staticmethod
    def forward(ctx, x):
        ctx.rows = local_rows(x.shape[0])
        return gather_rows(x)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rows]


def gather_rows_with_grad(x: torch.Tensor) -> torch.Tensor:
    """As `gather_rows`, but gradients flow back to each process's own rows: a loss computed on
    the gathered batch by every process, then averaged by DDP, has the one-process gradient."""
    return x if world_size() == 1 else _GatherRows.apply(x)


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean of `x` over processes (a new tensor, no gradient)."""
    if world_size() == 1:
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x / world_size()


@torch.no_grad()
def average_gradients(params) -> None:
    """Average `.grad` over processes, flattened into one buffer per dtype (what DDP does in
    buckets during backward): used where a step back-propagates several losses separately."""
    n = world_size()
    if n == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for g in grads:
        by_dtype.setdefault(g.dtype, []).append(g)
    for group in by_dtype.values():
        flat = torch.cat([g.reshape(-1) for g in group])
        dist.all_reduce(flat)
        flat /= n
        offset = 0
        for g in group:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()


def all_gather_objects(obj) -> list:
    """Every process's picklable `obj`, in rank order (small things: RNG states, sizes)."""
    if world_size() == 1:
        return [obj]
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj, src: int = 0):
    """Rank `src`'s `obj` on every process."""
    if world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
