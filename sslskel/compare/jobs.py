"""The jobs of a study: one subprocess each, through the project's own entry points.

Kinds, each a command line of the script a user would run by hand:
- `pretrain`: `pretrain/run.py --config CONFIG KEY=VALUE...` (or `--resume RUN` when a killed
  study left a run with a checkpoint);
- `eval`: `linear_eval/run.py --run RUN --protocols ...` on that run;
- `random`: the same with `--random-init`, on the baseline method's run of that seed;
- `semi`: `semi_sup/run.py --run RUN --fractions ... --seeds 1`;
- `semi_scratch`: `semi_sup/run.py --init scratch --config CONFIG --fractions ... --seeds 1`
  (the semi-supervised protocol's random-init row);
- `supervised`: `supervised/run.py --config CONFIG --seeds 1 [--supcon S | --gcl]` (`ce` with the
  baseline's config is the ceiling: same encoder and input; `--graph-distances` too when the
  encoder learns graphs);
- `floors`: `python -m sslskel.compare.floors` (raw 1-NN and logistic regression).

A job's key is a config hash: its marker `STUDY/done/<name>_<key>.json` says it finished, with
its wall time and peak memory. Outputs stay where the scripts write them.

Example:
    jobs = study_jobs(study, Path("runs/compare/msr"))
    [job.name for job in jobs][:2]     # ['floors', 'pretrain moco s0']
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..engine.config import load_config
from ..eval.semi import result_tag
from ..methods.gcl.build import returns_graphs
from ..models import encoder_class
from .hashing import config_hash, resolved_precision, run_config, run_hash
from .plan import REPO, SUPERVISED_FLAGS, Study

RANDOM_PROTOCOLS = ("linear", "knn", "diagnostics")  # what a random encoder is measured with


@dataclass
class Job:
    name: str  # "pretrain moco s0"
    kind: str
    key: str  # config hash
    method: str | None = None
    seed: int | None = None
    deps: list[str] = field(default_factory=list)
    # threads, {dependency name: its marker} -> (argv, the run directory the job writes into or None)
    command: Callable[[int, dict], tuple[list[str], Path | None]] | None = None
    # after success: the run directory the job made (pretrain, supervised) or its output file
    locate: Callable[[], Path | None] = lambda: None

    @property
    def slug(self) -> str:
        return f"{self.name.replace(' ', '_')}_{self.key}"


def marker_path(study_dir: Path, job: Job) -> Path:
    return Path(study_dir) / "done" / f"{job.slug}.json"


def read_marker(study_dir: Path, job: Job) -> dict | None:
    path = marker_path(study_dir, job)
    return json.loads(path.read_text()) if path.is_file() else None


def python() -> list[str]:
    return [sys.executable]


def script(name: str) -> str:
    return str(REPO / name)


def single_run_dir(out_dir: Path, holding: str) -> Path | None:
    """The run directory a script made under `out_dir` (a study gives each run its own folder),
    if it holds `holding`; a folder from a start killed before its first checkpoint is removed."""
    found = None
    for path in sorted(Path(out_dir).glob("*/config.yaml")):
        if (path.parent / holding).exists() and found is None:
            found = path.parent
        else:  # nothing to resume from: start again rather than leave a half-written run
            shutil.rmtree(path.parent)
    return found


def pretrain_job(study: Study, study_dir: Path, method: str, seed: int) -> Job:
    config, overrides = study.config_path(method), study.pretrain_overrides(method, seed)
    key = run_hash(load_config(config, overrides))
    out_dir = study_dir / "pretrain" / f"{method}_s{seed}_{key}"

    def command(threads: int, _deps: dict):
        settings = [f"run.threads={threads}", "run.progress=false"]
        run_dir = single_run_dir(out_dir, "checkpoints/last.pt")
        if run_dir is not None:  # a killed study: continue that run exactly
            return python() + [script("pretrain/run.py"), "--resume", str(run_dir), *settings], None
        return python() + [script("pretrain/run.py"), "--config", str(config), *overrides,
                           f"run.out_dir={out_dir}", *settings], None
    return Job(f"pretrain {method} s{seed}", "pretrain", key, method, seed, command=command,
               locate=lambda: finished_run_dir(out_dir, "summary.json"))


def finished_run_dir(out_dir: Path, holding: str) -> Path | None:
    return next((p.parent for p in sorted(Path(out_dir).glob(f"*/{holding}"))), None)


def run_dir_of(marker: dict) -> Path:
    return Path(marker["run_dir"])


def eval_job(pretrain: Job, protocols: list[str], random_init: bool = False) -> Job:
    kind = "random" if random_init else "eval"
    key = config_hash([pretrain.key, kind, sorted(protocols)])

    def command(threads: int, deps: dict):
        run_dir = run_dir_of(deps[pretrain.name])
        argv = python() + [script("linear_eval/run.py"), "--run", str(run_dir), "--protocols",
                           ",".join(protocols), "--quiet", f"run.threads={threads}"]
        return argv + (["--random-init"] if random_init else []), run_dir
    name = f"random s{pretrain.seed}" if random_init else f"eval {pretrain.method} s{pretrain.seed}"
    return Job(name, kind, key, None if random_init else pretrain.method, pretrain.seed,
               deps=[pretrain.name], command=command)


def semi_tag(study: Study, method: str, cfg=None) -> str:
    """The folder semi_sup/run.py writes into (`sslskel.eval.semi.result_tag`), from the method's config."""
    if cfg is None:
        cfg = load_config(study.config_path(method), study.pretrain_overrides(method, study.seeds[0]))
    return result_tag(supervised=False, scratch=False, sampling=cfg.finetune.sampling)


def semi_job(study: Study, pretrain: Job) -> Job:
    fractions = ",".join(f"{f:g}" for f in study.fractions)
    cfg = load_config(study.config_path(pretrain.method), study.pretrain_overrides(pretrain.method, pretrain.seed))
    # the fine-tune follows run.amp as it is (no per-method rule): its precision joins the key
    key = config_hash([pretrain.key, "semi", fractions, resolved_precision(cfg, method_rule=False)])
    tag = semi_tag(study, pretrain.method, cfg)

    def command(threads: int, deps: dict):
        run_dir = run_dir_of(deps[pretrain.name])
        resume = ["--resume"] if (run_dir / tag / "config.yaml").is_file() else []
        # --resume takes an optional folder: an option must follow it, not KEY=VALUE
        return python() + [script("semi_sup/run.py"), "--run", str(run_dir), *resume, "--fractions", fractions,
                           "--seeds", "1", "--quiet", f"run.threads={threads}"], run_dir
    return Job(f"semi {pretrain.method} s{pretrain.seed}", "semi", key, pretrain.method, pretrain.seed,
               deps=[pretrain.name], command=command)


def scratch_semi_job(study: Study, study_dir: Path, seed: int) -> Job:
    """The random-init row of the semi-supervised protocol: the baseline's encoder and input
    fine-tuned from random weights (`semi_sup/run.py --init scratch`) on the same label subset
    (subset seed = run.seed, as for the pretrained runs) with the same recipe."""
    fractions = ",".join(f"{f:g}" for f in study.fractions)
    config, overrides = study.config_path(study.baseline), study.pretrain_overrides(study.baseline, seed)
    cfg = load_config(config, overrides)
    key = run_hash(cfg, "semi scratch", fractions, method_rule=False)
    out_dir = study_dir / "semi_scratch" / f"s{seed}_{key}"
    tag = result_tag(supervised=False, scratch=True, sampling=cfg.finetune.sampling)

    def command(threads: int, _deps: dict):
        settings = [f"run.threads={threads}", "run.progress=false"]
        run_dir = single_run_dir(out_dir, f"{tag}/config.yaml")
        argv = python() + [script("semi_sup/run.py"), "--init", "scratch", "--config", str(config),
                           "--fractions", fractions, "--seeds", "1", "--quiet", *overrides,
                           f"run.out_dir={out_dir}", *settings]
        return argv + (["--resume", str(run_dir)] if run_dir is not None else []), None
    return Job(f"semi scratch s{seed}", "semi_scratch", key, study.baseline, seed, command=command,
               locate=lambda: finished_run_dir(out_dir, f"{tag}.json"))


def supervised_tag(variant: str) -> str:
    """The summary file supervised/run.py writes for a variant (its `SUPERVISED_FLAGS`)."""
    flags = SUPERVISED_FLAGS[variant]
    supcon = flags[flags.index("--supcon") + 1] if "--supcon" in flags else None
    return result_tag(supervised=True, scratch=True, gcl="--gcl" in flags, supcon=supcon)


def supervised_job(study: Study, study_dir: Path, seed: int, variant: str = "ce") -> Job:
    """A supervised run with all labels: `ce` with the baseline's config is the ceiling (the
    same encoder and input, its finetune section); `supcon`, `vsupcon` and `gcl` add their loss."""
    config, overrides = study.supervised_setup(seed)
    cfg = load_config(config, overrides, auxiliary=True)
    # supervised and fine-tuning runs follow run.amp as it is: no per-method precision rule
    key = run_hash(cfg, "supervised", variant, method_rule=False)
    # an encoder that learns graphs (CTR-GCN) also gets SkeletonGCL's Tab. 9 graph diagnostics
    diagnostics = ["--graph-distances"] if returns_graphs(encoder_class(cfg.encoder.name)) else []
    out_dir = study_dir / "supervised" / f"{variant}_s{seed}_{key}"
    tag = supervised_tag(variant)

    def command(threads: int, _deps: dict):
        settings = [f"run.threads={threads}", "run.progress=false"]
        run_dir = single_run_dir(out_dir, f"{tag}/config.yaml")
        argv = python() + [script("supervised/run.py"), "--config", str(config), "--seeds", "1", "--quiet",
                           *SUPERVISED_FLAGS[variant], *diagnostics, *overrides, f"run.out_dir={out_dir}",
                           *settings]
        return argv + (["--resume", str(run_dir)] if run_dir is not None else []), None
    return Job(f"supervised {variant} s{seed}", "supervised", key, variant, seed, command=command,
               locate=lambda: finished_run_dir(out_dir, f"{tag}.json"))


def floors_job(study: Study, study_dir: Path) -> Job:
    config = study.config_path(study.baseline)
    overrides = study.pretrain_overrides(study.baseline, study.seeds[0])
    cfg = load_config(config, overrides)
    key = config_hash([run_config(cfg)["data"], "floors"])
    out = study_dir / "floors" / f"floors_{key}.json"

    def command(threads: int, _deps: dict):
        return python() + ["-m", "sslskel.compare.floors", "--config", str(config), "--out", str(out),
                           *overrides, f"run.threads={threads}"], None
    return Job("floors", "floors", key, command=command, locate=lambda: out)


def study_jobs(study: Study, study_dir: Path) -> list[Job]:
    """Every job of the study, in the order they are started when ready: seed by seed, so a
    study stopped early has whole seeds to report."""
    study_dir = Path(study_dir)
    jobs = [floors_job(study, study_dir)] if study.floors else []
    pretrains = {(m, s): pretrain_job(study, study_dir, m, s) for s in study.seeds for m in study.methods}
    for seed in study.seeds:
        jobs += [pretrains[m, seed] for m in study.methods]
        for method in study.methods:
            if study.eval_protocols:
                jobs.append(eval_job(pretrains[method, seed], study.eval_protocols))
            if study.fractions:
                jobs.append(semi_job(study, pretrains[method, seed]))
        random_protocols = [p for p in study.eval_protocols if p in RANDOM_PROTOCOLS]
        if study.random_init and random_protocols:
            jobs.append(eval_job(pretrains[study.baseline, seed], random_protocols, random_init=True))
        if study.random_init and study.fractions:
            jobs.append(scratch_semi_job(study, study_dir, seed))
        jobs += [supervised_job(study, study_dir, seed, variant) for variant in study.supervised]
    return jobs
