"""Evaluation of a pretraining run: find it, rebuild its encoder, run linear and kNN.

Example:
    run_dir = find_newest_run("runs")
    cfg, encoder, ckpt = load_run_encoder(run_dir=run_dir)
    results = evaluate(cfg, encoder, protocols=("knn", "linear"))
    print(format_table(results))
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..data.build import build_transform, load_data
from ..methods.base import build_method_encoder
from ..common.checkpoint import load_checkpoint, load_weights, require_keys
from ..common.device import apply_run_settings, resolve_device
from ..common.features import extract_features
from ..common.knn import knn_accuracy
from ..engine.config import Config, load_config
from .linear import linear_probe

PROTOCOLS = ("linear", "knn")


def find_newest_run(out_dir: str | Path = "runs") -> Path:
    """The run directory under `out_dir` whose last checkpoint is the most recent."""
    candidates = sorted(Path(out_dir).glob("*/checkpoints/last.pt"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise FileNotFoundError(f"{Path(out_dir).resolve()}: no run with checkpoints/last.pt; "
                                "train one with pretrain/run.py or pass --run / --checkpoint")
    return candidates[-1].parent.parent


def load_run_encoder(run_dir: str | Path | None = None, checkpoint: str | Path | None = None,
                     overrides: list[str] = (), random_init: bool = False):
    """(config, encoder with the run's weights, checkpoint path) for a run or a checkpoint file."""
    if checkpoint is None:
        checkpoint = Path(run_dir) / "checkpoints" / "last.pt"
    checkpoint = Path(checkpoint)
    state = load_checkpoint(checkpoint)  # weights-only: a crafted file is refused unrun
    require_keys(state, checkpoint, ("method", "config"), "pretraining")
    cfg = load_config(None, overrides, base=state["config"])
    channels, _, _, persons = load_data(cfg.data, "val").shape
    torch.manual_seed(cfg.linear.seed)  # the random-init baseline is reproducible too
    encoder = build_method_encoder(cfg, channels, persons)
    if not random_init:
        prefix = "encoder."
        weights = {k[len(prefix):]: v for k, v in state["method"].items() if k.startswith(prefix)}
        load_weights(encoder, weights, checkpoint, "method.encoder")
    return cfg, encoder, checkpoint


def evaluate(cfg: Config, encoder, protocols=PROTOCOLS, progress: bool = True) -> dict:
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown protocol(s) {sorted(unknown)}; valid: {', '.join(PROTOCOLS)}")
    apply_run_settings(cfg.run)
    device = resolve_device(cfg.run.device)
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    encoder = encoder.to(device)
    results = {}
    if "knn" in protocols:
        start = time.perf_counter()
        transform = build_transform(cfg.data, train=False, eval_ratio=cfg.linear.eval_ratio)
        kw = dict(batch_size=256, device=device, amp=cfg.run.amp)
        train_x, train_y = extract_features(encoder, train, transform, **kw)
        val_x, val_y = extract_features(encoder, val, transform, **kw)
        num_classes = max(train.num_classes, val.num_classes)
        for k in cfg.linear.knn_k:
            acc = knn_accuracy(train_x, train_y, val_x, val_y, k=k, num_classes=num_classes,
                               temperature=cfg.linear.knn_temperature)
            results[f"knn_k{k}"] = {**acc, "k": k, "weighted": k > 1}
        results["knn_seconds"] = round(time.perf_counter() - start, 2)
    if "linear" in protocols:
        start = time.perf_counter()
        results["linear"] = linear_probe(encoder, train, val, cfg.data, cfg.linear, device=device,
                                         amp=cfg.run.amp, progress=progress)
        results["linear_seconds"] = round(time.perf_counter() - start, 2)
    return results


def format_table(results: dict, title: str = "") -> str:
    rows = []
    for key, value in results.items():
        if key.startswith("knn_k"):
            rows.append((f"kNN k={value['k']}" + (" (weighted)" if value["weighted"] else ""),
                         value["top1"], value.get("top5")))
    if "linear" in results:
        lin = results["linear"]
        rows.append((f"linear final (epoch {lin['epochs']})", lin["final_top1"], lin["final_top5"]))
        rows.append((f"linear best (epoch {lin['best_epoch']})", lin["best_top1"], lin["best_top5"]))
    width = max([len(r[0]) for r in rows] + [len(title), 8])
    lines = [title] if title else []
    lines.append(f"{'protocol':<{width}}  {'top-1':>6}  {'top-5':>6}")
    for name, top1, top5 in rows:
        top5_text = f"{top5:6.2f}" if top5 is not None else f"{'-':>6}"
        lines.append(f"{name:<{width}}  {top1:6.2f}  {top5_text}")
    return "\n".join(lines)
