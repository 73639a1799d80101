"""Running code in several CPU processes the way torchrun does (gloo), for the DDP tests.

`spawn(fn, n, *args)` starts n processes with RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR /
MASTER_PORT set as torchrun sets them, runs `fn(rank, *args)` in each (it must live in an
importable module: this one) and re-raises a worker's failure. Workers write what the test
compares to files, since spawned processes return nothing.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from sslskel import distributed
from sslskel.methods.auxiliary import AuxiliaryLoss
from support import TINY_OVERRIDES, make_tiny_clips


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(local_rank: int, world: int, port: int, fn, args) -> None:
    os.environ.update({"RANK": str(local_rank), "LOCAL_RANK": str(local_rank), "WORLD_SIZE": str(world),
                       "LOCAL_WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    from sslskel import distributed

    try:
        fn(local_rank, *args)
    except BaseException:
        distributed.shutdown(wait_for_all=False)
        raise
    distributed.shutdown()


def spawn(fn, world: int, *args) -> None:
    mp.start_processes(_entry, args=(world, free_port(), fn, args), nprocs=world, join=True,
                       start_method="spawn")


def write_ddp_data(root: Path, train: int = 128, val: int = 32) -> Path:
    """A CMD-layout folder big enough for whole batches of 64 (3 classes, 24 frames)."""
    from sslskel.data.prepare import write_cmd_layout

    for split, n, seed in (("train", train, 0), ("val", val, 1)):
        data, lengths, labels, names = make_tiny_clips(n, 3, 24, seed)
        write_cmd_layout(root, split, data, num_frames=lengths, labels=labels, names=names)
    return root


def ddp_config(data_dir, out_dir, *extra):
    from sslskel.engine.config import load_config

    queue_free = any(e in ("method=simclr", "method=vsimclr", "method=cvmim") for e in extra)
    tiny = [o for o in TINY_OVERRIDES if not (queue_free and o.startswith("moco."))]
    return load_config(None, [f"data.path={data_dir}", f"run.out_dir={out_dir}", *tiny,
                              "run.knn_every=0", "run.threads=1", "run.amp=off", *extra])  # fp32: 2e-5 tolerances


HALP = ("method=halp", "halp.start_epoch=0", "halp.recent_keys=64", "halp.num_prototypes=3",
        "halp.num_positives=5", "halp.refresh_every=1")


# -- workers (each gets its rank first) --------------------------------------------------------
def pretrain_worker(rank: int, data_dir, run_dir, extra, out: Path, resume: bool = False) -> None:
    """Pretrain (or resume) into run_dir; save this process's method state to out/rank{r}.pt."""
    from sslskel.engine.config import load_config
    from sslskel.engine.pretrain import run_pretraining

    if resume:
        cfg = load_config(Path(run_dir) / "config.yaml", list(extra))
        run_pretraining(cfg, resume_dir=run_dir)
    else:
        run_pretraining(ddp_config(data_dir, Path(run_dir).parent, *extra), run_dir=run_dir)
    _save_method_state(run_dir, rank, out)


def _save_method_state(run_dir, rank, out) -> None:
    # the method as this process holds it after the last step (the checkpoint holds rank 0's)
    from sslskel.common.checkpoint import load_checkpoint

    state = load_checkpoint(Path(run_dir) / "checkpoints" / "last.pt")["method"]
    torch.save(state, Path(out) / f"checkpoint_seen_by_rank{rank}.pt")


def method_state_worker(rank: int, data_dir, out_dir, extra, out: Path) -> None:
    """Train with the engine, then save this process's own buffers and weights (not rank 0's)."""
    from sslskel.engine.config import resolved_config
    from sslskel.engine.pretrain import load_splits
    from sslskel.engine.pretrain_trainer import PretrainTrainer
    from sslskel.methods import build_method
    from sslskel.common.checkpoint import seed_everything

    cfg = ddp_config(data_dir, out_dir, *extra)
    from sslskel import distributed
    from sslskel.common.device import resolve_device

    distributed.init_distributed(resolve_device("cpu"))
    seed_everything(cfg.run.seed)
    train, _ = load_splits(cfg)
    cfg = resolved_config(cfg, train)  # the method is built for the data's layout
    method = build_method(cfg, in_channels=train.shape[0], num_persons=train.shape[3])
    trainer = PretrainTrainer(cfg, method, train, Path(out_dir) / "run")
    trainer.fit()
    torch.save({k: v.detach().cpu() for k, v in trainer.method.state_dict().items()},
               Path(out) / f"rank{rank}.pt")


def features_worker(rank: int, data_dir, out: Path) -> None:
    """Features of the val split extracted by this process group (sharded and gathered)."""
    import numpy as np

    from sslskel import distributed
    from sslskel.common.features import extract_features
    from sslskel.data.build import load_data
    from sslskel.data.transforms import CenterCrop
    from sslskel.engine.config import load_config
    from sslskel.models import build_encoder

    distributed.init_distributed(torch.device("cpu"))
    cfg = load_config(None, [f"data.path={data_dir}"])
    data = load_data(cfg.data, "val")
    torch.manual_seed(0)
    encoder = build_encoder("gru", hidden_size=8, num_layers=1)
    x, y = extract_features(encoder, data, CenterCrop(0.95, 16), batch_size=5)
    np.savez(Path(out) / f"features_rank{rank}.npz", x=x, y=y)


def cli_worker(rank: int, script: str, argv: list[str], out: Path) -> None:
    """`python SCRIPT ARGV` as torchrun would start it (its main() in this process); the exit
    code goes to out/exit_rank{r}.txt."""
    import importlib.util

    from support import REPO

    spec = importlib.util.spec_from_file_location(f"ddp_cli_{Path(script).parent.name}", REPO / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.main(list(argv))
    (Path(out) / f"exit_rank{rank}.txt").write_text(str(code))


def finetune_worker(rank: int, data_dir, out_dir, extra, supcon: str, out: Path) -> None:
    """Fine-tune a fresh GRU with cross-entropy + SupCon / VSupCon; history to out/finetune_rank{r}.json."""
    import json

    from sslskel.data.build import load_data
    from sslskel.engine.config import resolved_config
    from sslskel.engine.finetune import finetune
    from sslskel.methods.base import build_method_encoder
    from sslskel.methods.supcon import SupConSettings, SupervisedContrast

    cfg = ddp_config(data_dir, out_dir, *extra)
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    cfg = resolved_config(cfg, train)  # the encoder is built for the data's layout
    torch.manual_seed(0)
    encoder = build_method_encoder(cfg, train.shape[0], train.shape[3])
    aux = SupervisedContrast(SupConSettings(enabled=True, variational=supcon == "vsupcon", hidden=16, dim=8),
                             encoder.feature_dim, seed=0)
    result = finetune(cfg, encoder, train, val, aux_losses=[aux], progress=False, seed=0)
    (Path(out) / f"finetune_rank{rank}.json").write_text(json.dumps(result["history"]))


def finetune_resume_worker(rank: int, data_dir, run_dir, extra, resume: bool, out: Path) -> None:
    """Fine-tune a fresh GRU with `RankNoise` into run_dir (or resume it); this process's
    history and weights to out/tune_rank{r}.pt."""
    from sslskel.data.build import load_data
    from sslskel.engine.config import resolved_config
    from sslskel.engine.finetune import finetune
    from sslskel.methods.base import build_method_encoder

    cfg = ddp_config(data_dir, Path(run_dir).parent, *extra)
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    cfg = resolved_config(cfg, train)  # the encoder is built for the data's layout
    torch.manual_seed(0)
    encoder = build_method_encoder(cfg, train.shape[0], train.shape[3])
    result = finetune(cfg, encoder, train, val.subset(range(8)), run_dir=run_dir, aux_losses=[RankNoise()],
                      progress=False, seed=0, resume=resume)
    weights = {k: v.detach().cpu() for k, v in encoder.state_dict().items()}
    torch.save({"history": result["history"], "encoder": weights}, Path(out) / f"tune_rank{rank}.pt")


class RankNoise(AuxiliaryLoss):
    """An auxiliary loss that draws rank + 1 rows from this process's global RNG each step:
    the processes' RNG states drift apart, so only a resume that gives every process its own
    state back continues the run exactly."""

    name = "rank_noise"

    def forward(self, inputs, labels, sample_index, num_persons=1):
        noise = torch.rand(distributed.rank() + 1, inputs.shape[1], device=inputs.device)[-1]
        return {"loss_rank_noise": (inputs * noise).mean().abs()}


def gcl_worker(rank: int, data_dir, out_dir, extra, out: Path) -> None:
    """Supervised CTR-GCN + SkeletonGCL (paper variant) for an epoch; this process's banks and
    history to out/gcl_rank{r}.pt."""
    from sslskel.data.build import load_data
    from sslskel.engine.config import resolved_config
    from sslskel.engine.finetune import FineTuner
    from sslskel.methods.base import build_method_encoder
    from sslskel.methods.gcl import build_graph_contrast as build_gcl

    cfg = ddp_config(data_dir, out_dir, *extra)
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    cfg = resolved_config(cfg, train)  # the encoder is built for the data's layout
    torch.manual_seed(0)
    encoder = build_method_encoder(cfg, train.shape[0], train.shape[3])
    gcl = build_gcl(cfg.gcl, encoder, train, seed=cfg.run.seed)
    tuner = FineTuner(cfg, encoder, train, val.subset(range(8)), aux_losses=[gcl], progress=False, seed=0)
    result = tuner.fit()
    torch.save({"banks": {k: v.detach().cpu() for k, v in gcl.state_dict().items()},
                "history": result["history"]}, Path(out) / f"gcl_rank{rank}.pt")


def batchnorm_worker(rank: int, offset: float, out: Path) -> None:
    """GlobalBatchNorm on this process's half of a fixed batch: output, input and weight
    gradients, running statistics to out/bn_rank{r}.pt."""
    from sslskel import distributed
    from sslskel.models.sync_batchnorm import GlobalBatchNorm

    distributed.init_distributed(torch.device("cpu"))
    x, w = batchnorm_inputs(offset)
    rows = slice(rank * 4, rank * 4 + 4)
    x_local = x[rows].clone().requires_grad_(True)
    bn = GlobalBatchNorm(4)
    y = bn(x_local)
    ((y * w[rows]).sum() / 4).backward()  # the local mean; averaged over 2 processes = the global mean
    torch.save({"y": y.detach(), "grad_x": x_local.grad, "grad_weight": bn.weight.grad, "grad_bias": bn.bias.grad,
                "running_mean": bn.running_mean, "running_var": bn.running_var}, Path(out) / f"bn_rank{rank}.pt")


def batchnorm_inputs(offset: float):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 4, 5, 3, generator=g, dtype=torch.float64).float() + offset
    return x, torch.randn(8, 4, 5, 3, generator=g)
