"""Evaluation of a pretraining run: find it, rebuild its encoder (or its method), run the protocols.

Protocols: "linear", "knn" and "diagnostics" (the defaults) on the encoder's features;
"diagnostics" is `sslskel.eval.diagnostics.representation_diagnostics`: spectrum and effective
rank, alignment (two views of each test clip under the pretraining augmentation `data.augment`),
uniformity and the mutual-information bound, on the centre-crop features kNN uses (extracted
once for both); "single-shot"
(CV-MIM's single-shot cross-view protocol, `sslskel.eval.single_shot`) on any run; and
"disentangle" (linear probes for camera and action on z_p / z_v, `sslskel.eval.disentangle`)
on runs of a method with `embed` (CV-MIM); "uncertainty" (the posterior's uncertainty scores
against probe errors, corruption severity and, with `ood_classes`, held-out classes,
`sslskel.eval.uncertainty`) on runs of a method with `posterior` (VSimCLR, VMoCo).
`load_run_model` gives the method itself for a method with `embed` or `posterior` (its encoder
serves the other protocols), the encoder otherwise.

Example:
    run_dir = find_newest_run("runs")
    cfg, model, ckpt = load_run_model(run_dir=run_dir)
    results = evaluate(cfg, model, protocols=("knn", "linear", "diagnostics"))
    print(format_table(results))
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from .. import distributed
from ..common.checkpoint import load_checkpoint, load_weights, require_keys
from ..common.device import apply_run_settings, autocast, resolve_device
from ..common.features import extract_features
from ..common.knn import knn_accuracy
from ..data.build import build_transform, load_data
from ..data.dataset import SkeletonDataset, make_loader
from ..engine.config import Config, load_config, resolved_config
from ..engine.startup_warnings import knn_k_warnings
from ..errors import UserError
from ..methods import build_method, method_class, run_amp
from ..methods.base import PretrainMethod, build_method_encoder
from .diagnostics import format_diagnostics, representation_diagnostics
from .disentangle import disentangle, format_disentangle, require_embeddings
from .linear import linear_probe
from .single_shot import check_kept_classes, format_single_shot, single_shot, single_shot_parts
from .uncertainty import check_ood_classes, format_uncertainty, require_posterior, uncertainty_study

PROTOCOLS = ("linear", "knn", "diagnostics", "single-shot", "disentangle", "uncertainty")
DEFAULT_PROTOCOLS = ("linear", "knn", "diagnostics")


def find_newest_run(out_dir: str | Path = "runs") -> Path:
    """The run directory under `out_dir` whose last checkpoint is the most recent."""
    candidates = sorted(Path(out_dir).glob("*/checkpoints/last.pt"), key=lambda p: p.stat().st_mtime)
    if not candidates:
        raise FileNotFoundError(f"{Path(out_dir).resolve()}: no run with checkpoints/last.pt; "
                                "train one with pretrain/run.py or pass --run / --checkpoint")
    return candidates[-1].parent.parent


def _load_run(run_dir, checkpoint, overrides):
    """(state, config, checkpoint path, channels, persons) of a run or a checkpoint file."""
    if checkpoint is None:
        checkpoint = Path(run_dir) / "checkpoints" / "last.pt"
    checkpoint = Path(checkpoint)
    state = load_checkpoint(checkpoint)  # weights-only: a crafted file is refused unrun
    require_keys(state, checkpoint, ("method", "config"), "pretraining")
    cfg = load_config(None, overrides, base=state["config"])
    val = load_data(cfg.data, "val")
    cfg = resolved_config(cfg, val)  # as saved by the run, unless an override said `auto`
    # features in the precision the method trains in: `auto` is fp32 for HaLP on a CPU (run_amp)
    cfg = replace(cfg, run=replace(cfg.run, amp=run_amp(cfg, resolve_device(cfg.run.device))))
    channels, _, _, persons = val.shape
    torch.manual_seed(cfg.linear.seed)  # the random-init baseline is reproducible too
    return state, cfg, checkpoint, channels, persons


def has_embeddings(method_name: str) -> bool:
    """Whether the method declares the disentangle protocol (pose / view embeddings, CV-MIM)."""
    return "disentangle" in method_class(method_name).extra_protocols


def has_posterior(method_name: str) -> bool:
    """Whether the method declares the uncertainty protocol (a posterior q(z | x): VSimCLR, VMoCo)."""
    return "uncertainty" in method_class(method_name).extra_protocols


def _is_method(model) -> bool:
    """A whole method (its encoder serves linear, kNN, diagnostics), not a bare encoder."""
    return isinstance(model, PretrainMethod)


def load_run_model(run_dir: str | Path | None = None, checkpoint: str | Path | None = None,
                   overrides: list[str] = (), random_init: bool = False):
    """(config, model, checkpoint path): the whole method, in eval mode, for a method that
    declares extra protocols (CV-MIM, VSimCLR, VMoCo); otherwise the encoder, as `load_run_encoder`."""
    state, cfg, checkpoint, channels, persons = _load_run(run_dir, checkpoint, overrides)
    if not method_class(cfg.method).extra_protocols:
        return cfg, _run_encoder(state, cfg, checkpoint, channels, persons, random_init), checkpoint
    method = build_method(cfg, channels, persons)
    if not random_init:
        load_weights(method, state["method"], checkpoint, "method")
    return cfg, method.eval(), checkpoint


def load_run_encoder(run_dir: str | Path | None = None, checkpoint: str | Path | None = None,
                     overrides: list[str] = (), random_init: bool = False):
    """(config, encoder with the run's weights, checkpoint path) for a run or a checkpoint file."""
    state, cfg, checkpoint, channels, persons = _load_run(run_dir, checkpoint, overrides)
    return cfg, _run_encoder(state, cfg, checkpoint, channels, persons, random_init), checkpoint


def _run_encoder(state, cfg, checkpoint, channels, persons, random_init):
    encoder = build_method_encoder(cfg, channels, persons)
    if not random_init:
        prefix = "encoder."
        weights = {k[len(prefix):]: v for k, v in state["method"].items() if k.startswith(prefix)}
        load_weights(encoder, weights, checkpoint, "method.encoder")
    return encoder


def evaluate(cfg: Config, model, protocols=DEFAULT_PROTOCOLS, progress: bool = True, classes=None,
             ood_classes=None) -> dict:
    """{protocol: result, protocol_seconds: time}. `model`: an encoder, or a method with `embed`
    or `posterior` (linear and kNN then use its encoder); `classes`: class ids the single-shot
    protocol keeps (default: `linear.classes`, all when empty); `ood_classes`: class ids the
    uncertainty protocol holds out of its probe and scores as out-of-distribution."""
    ood_classes, ood_source = check_request(cfg, model, protocols, ood_classes)
    apply_run_settings(cfg.run)
    # under torchrun: features are extracted in shards and the linear probe trains with DDP;
    # the other protocols' small fits run whole on every process (the same numbers everywhere)
    device = distributed.init_distributed(resolve_device(cfg.run.device))
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    classes = check_against_data(cfg, protocols, train, val, classes, ood_classes, ood_source)
    run = ProtocolRun(cfg, model.to(device), train, val, device, progress, classes, ood_classes, ood_source)
    results = {}
    for name, protocol in RUNNERS.items():  # the features are extracted once, by the first that needs them
        if name in protocols:
            start = time.perf_counter()
            results.update(protocol(run))
            results[f"{name}_seconds"] = round(time.perf_counter() - start, 2)
    return results


def check_request(cfg, model, protocols, ood_classes) -> tuple[list | None, str]:
    """Refuse what cannot run before any data is read or anything trained; (ood classes, where
    they came from)."""
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown protocol(s) {sorted(unknown)}; valid: {', '.join(PROTOCOLS)}")
    if "disentangle" in protocols:
        require_embeddings(cfg, model)
    ood_source = "--ood-classes"
    if "uncertainty" in protocols:
        require_posterior(cfg, model)
        if ood_classes is None:  # a run pretrained without some classes scores them as OOD
            ood_classes, ood_source = list(cfg.data.exclude_classes), "data.exclude_classes"
        unseen = set(cfg.data.exclude_classes)
        if any(int(c) not in unseen for c in ood_classes):
            warnings.warn(f"--ood-classes {sorted(ood_classes)}: pretraining saw some of them (its "
                          f"data.exclude_classes: {sorted(unseen)}); they are unseen by the probe only",
                          stacklevel=3)
    elif ood_classes:
        raise UserError("--ood-classes", "protocols", "--protocols uncertainty (the only protocol using it)",
                        f"{','.join(protocols)}")
    return ood_classes, ood_source


def check_against_data(cfg, protocols, train, val, classes, ood_classes, ood_source):
    """The checks that need the data, before any feature is extracted; the single-shot classes."""
    if "uncertainty" in protocols and ood_classes:
        check_ood_classes(ood_classes, train.labels, val.labels, max(train.num_classes, val.num_classes), ood_source)
    if "single-shot" in protocols:  # no camera metadata: refused before anything trains
        single_shot_parts(train)
    if classes is None:
        classes = list(cfg.linear.classes) or None
    if "single-shot" in protocols and classes is not None:
        check_kept_classes(classes, train, val)
    for message in knn_k_warnings(cfg.linear.knn_k, len(train)) if "knn" in protocols else ():
        warnings.warn(message, stacklevel=3)
    return classes


@dataclass
class ProtocolRun:
    """What every protocol of one evaluation reads; the centre-crop features extracted once."""

    cfg: Config
    model: torch.nn.Module
    train: object
    val: object
    device: torch.device
    progress: bool
    classes: list | None
    ood_classes: list | None
    ood_source: str
    cached: list = field(default_factory=list)

    @property
    def encoder(self):
        return self.model.encoder if _is_method(self.model) else self.model

    def features(self):
        """(train_x, train_y, val_x, val_y) of the centre crops, extracted on first use only."""
        if not self.cached:
            transform = build_transform(self.cfg.data, train=False, eval_ratio=self.cfg.linear.eval_ratio,
                                        layout=self.train.layout)
            kw = dict(batch_size=256, device=self.device, amp=self.cfg.run.amp)
            self.cached.extend((*extract_features(self.encoder, self.train, transform, **kw),
                                *extract_features(self.encoder, self.val, transform, **kw)))
        return self.cached


def run_knn(run: ProtocolRun) -> dict:
    train_x, train_y, val_x, val_y = run.features()
    num_classes = max(run.train.num_classes, run.val.num_classes)
    results = {}
    for k in run.cfg.linear.knn_k:
        acc = knn_accuracy(train_x, train_y, val_x, val_y, k=k, num_classes=num_classes,
                           temperature=run.cfg.linear.knn_temperature)
        results[f"knn_k{k}"] = {**acc, "k": k, "weighted": k > 1}
    return results


def run_diagnostics(run: ProtocolRun) -> dict:
    cfg = run.cfg
    train_x, train_y, val_x, val_y = run.features()
    augment = build_transform(cfg.data, train=True, layout=run.val.layout)  # the pretraining views' augmentation
    view1, view2 = two_view_features(run.encoder, run.val, augment, device=run.device, amp=cfg.run.amp,
                                     seed=cfg.linear.seed)
    return {"diagnostics": {**representation_diagnostics(train_x, train_y, val_x, val_y, view1, view2,
                                                         seed=cfg.linear.seed),
                            "representation": "encoder features", "augment": cfg.data.augment}}


def run_linear(run: ProtocolRun) -> dict:
    return {"linear": linear_probe(run.encoder, run.train, run.val, run.cfg.data, run.cfg.linear,
                                   device=run.device, amp=run.cfg.run.amp, progress=run.progress)}


def run_single_shot(run: ProtocolRun) -> dict:
    return {"single-shot": single_shot(run.cfg, run.model, run.train, run.val, classes=run.classes,
                                       device=run.device, amp=run.cfg.run.amp, progress=run.progress)}


def run_disentangle(run: ProtocolRun) -> dict:
    return {"disentangle": disentangle(run.cfg, run.model, run.train, run.val, device=run.device,
                                       amp=run.cfg.run.amp)}


def run_uncertainty(run: ProtocolRun) -> dict:
    cfg, train, val = run.cfg, run.train, run.val
    train_x, train_y, val_x, val_y = run.features()
    transform = build_transform(cfg.data, train=False, eval_ratio=cfg.linear.eval_ratio, layout=val.layout)
    study = uncertainty_study(run.model, train_x, train_y, val_x, val_y, val, transform,
                              num_samples=cfg.vcl.eval_samples, seed=cfg.linear.seed,
                              ood_classes=list(run.ood_classes or ()),
                              pretraining_excluded=list(cfg.data.exclude_classes), ood_source=run.ood_source,
                              num_classes=max(train.num_classes, val.num_classes), device=run.device,
                              amp=cfg.run.amp)
    return {"uncertainty": {**study, "representation": "posterior q(z | x) of the centre crop; "
                                                       "probe on encoder features"}}


# in the order they run (kNN first: the protocol that extracts the features counts their time)
RUNNERS = {"knn": run_knn, "diagnostics": run_diagnostics, "linear": run_linear,
           "single-shot": run_single_shot, "disentangle": run_disentangle, "uncertainty": run_uncertainty}


@torch.no_grad()
def two_view_features(encoder, data, transform, batch_size: int = 256, device="cpu", amp: str = "auto",
                      seed: int = 0):
    """(N, D) float32 features of two independently augmented views of every clip, in eval mode:
    row i of both is a positive pair (alignment). Views are seeded by (seed, clip), as in training."""
    device = torch.device(device)
    was_training = encoder.training
    encoder.eval()
    loader = make_loader(SkeletonDataset(data, transform, num_views=2, seed=seed), batch_size,
                         shuffle=False, device=device)
    views = ([], [])
    for batch in loader:
        for v in (0, 1):
            with autocast(device, amp):
                out = encoder(batch.views[v].to(device), batch.lengths[:, v])
            views[v].append(out.float().cpu())
    encoder.train(was_training)
    return torch.cat(views[0]).numpy(), torch.cat(views[1]).numpy()


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
    if "single-shot" in results:
        rows.extend(format_single_shot(results["single-shot"]))
    if "disentangle" in results:
        rows.extend(format_disentangle(results["disentangle"]))
    width = max([len(r[0]) for r in rows] + [len(title), 8])
    lines = [title] if title else []
    if rows:
        lines.append(f"{'protocol':<{width}}  {'top-1':>6}  {'top-5':>6}")
    for name, top1, top5 in rows:
        top5_text = f"{top5:6.2f}" if top5 is not None else f"{'-':>6}"
        lines.append(f"{name:<{width}}  {top1:6.2f}  {top5_text}")
    if "diagnostics" in results:
        lines.extend(format_diagnostics(results["diagnostics"]))
    if "uncertainty" in results:
        lines.extend(format_uncertainty(results["uncertainty"]))
    return "\n".join(lines)
