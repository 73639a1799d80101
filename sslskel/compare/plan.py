"""What a study runs: its arguments checked, the dataset's config folder found, the jobs listed.

Every check happens here, before anything runs: an unknown method or protocol, a protocol
that does not apply (single-shot without camera metadata, uncertainty on a deterministic
method, disentangle without pose / view embeddings), a dataset without a config folder and a
bad KEY=VALUE override all raise a `UserError` (one `error:` line at the command line).

Example:
    >>> parse_protocols("linear,knn,semi:0.05,0.1,single-shot")
    [('linear', None), ('knn', None), ('semi', (0.05, 0.1)), ('single-shot', None)]
    >>> parse_seeds("0,1,2")
    [0, 1, 2]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..data.build import load_data
from ..data.readers import detect_format
from ..engine.config import load_config
from ..errors import UserError
from ..eval.protocols import has_embeddings, has_posterior
from ..eval.single_shot import single_shot_parts
from ..methods import METHODS
from ..methods.gcl.build import require_graphs
from ..models import encoder_class
from .hashing import config_hash

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
# file format of --data -> its folder under configs/ (formats with several benchmarks, NTU's
# xsub / xview say, need --config-dir)
CONFIG_DIR_BY_FORMAT = {"msr": "msr_action3d", "ucla": "nw_ucla", "utd": "utd_mhad", "pku": "pku_ii"}
EVAL_PROTOCOLS = ("linear", "knn", "diagnostics", "single-shot", "disentangle", "uncertainty")
# --supervised: the supervised stages trained with all labels (supervised/run.py), their flags
SUPERVISED_FLAGS = {"ce": [], "supcon": ["--supcon", "supcon"], "vsupcon": ["--supcon", "vsupcon"],
                    "gcl": ["--gcl"]}
PROTOCOLS = (*EVAL_PROTOCOLS, "semi")
DEFAULT_PROTOCOLS = "linear,knn"


@dataclass
class Study:
    """A checked study: where its configs are, what runs, with which overrides."""
    config_dir: Path
    dataset: str
    data: Path | None
    methods: list[str]
    seeds: list[int]
    protocols: list[tuple[str, tuple | None]]
    baseline: str
    overrides: list[str] = field(default_factory=list)
    floors: bool = True
    random_init: bool = True
    supervised: list[str] = field(default_factory=lambda: ["ce"])  # [] = no ceiling
    supervised_config: Path | None = None  # None: the baseline method's config

    def config_path(self, method: str) -> Path:
        return self.config_dir / f"{method}.yaml"

    def supervised_setup(self, seed: int) -> tuple[Path, list[str]]:
        """(config, overrides) of the supervised runs of a seed: the baseline method's config
        (the ceiling: same encoder and input), or --supervised-config."""
        if self.supervised_config is None:
            return self.config_path(self.baseline), self.pretrain_overrides(self.baseline, seed)
        data = [f"data.path={self.data}"] if self.data is not None else []
        return self.supervised_config, [f"run.seed={seed}", *data, *self.overrides_for(None)]

    def pretrain_overrides(self, method: str, seed: int) -> list[str]:
        data = [f"data.path={self.data}"] if self.data is not None else []
        return [f"method={method}", f"run.seed={seed}", f"linear.seed={seed}", *data, *self.overrides_for(method)]

    def overrides_for(self, method: str | None) -> list[str]:
        """The study's KEY=VALUE overrides that apply to a method's runs: every plain one, and the
        `METHOD:KEY=VALUE` ones of that method (None: the plain ones only)."""
        out = []
        for item in self.overrides:
            target, override = split_method_override(item)
            if target is None or target == method:
                out.append(override)
        return out

    @property
    def eval_protocols(self) -> list[str]:
        return [name for name, _ in self.protocols if name != "semi"]

    @property
    def fractions(self) -> tuple:
        return next((f for name, f in self.protocols if name == "semi"), ())


def split_method_override(item: str) -> tuple[str | None, str]:
    """`halp:halp.start_epoch=9` -> ("halp", "halp.start_epoch=9"); a plain KEY=VALUE -> (None, it).
    Keys hold no ':', so only a prefix before the first '=' names a method."""
    key = item.split("=", 1)[0]
    if ":" in key:
        method, _, rest = item.partition(":")
        return method.strip(), rest
    return None, item


def check_method_overrides(overrides: list[str], methods: list[str]) -> None:
    for item in overrides:
        method, _ = split_method_override(item)
        if method is not None and method not in methods:
            raise UserError("override", item, f"METHOD:KEY=VALUE with METHOD one of --methods ({', '.join(methods)})",
                            repr(method))


def parse_list(text: str, what: str) -> list[str]:
    items = [p.strip() for p in str(text).split(",") if p.strip()]
    if not items:
        raise UserError(f"--{what}", what, "a comma list", repr(text))
    return items


def parse_seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in parse_list(text, "seeds")]
    except ValueError:
        raise UserError("--seeds", "seeds", "a comma list of integers like 0,1,2", repr(text)) from None
    if len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise UserError("--seeds", "seeds", "distinct integers >= 0", repr(text))
    return seeds


def parse_protocols(text: str) -> list[tuple[str, tuple | None]]:
    """[(protocol, fractions or None)]; `semi:` takes the numbers that follow it."""
    out: list[tuple[str, tuple | None]] = []
    for item in parse_list(text, "protocols"):
        name, _, first = item.partition(":")
        if out and out[-1][0] == "semi" and _is_number(item):
            out[-1] = ("semi", (*out[-1][1], _fraction(item, text)))
        elif name == "semi":
            out.append(("semi", (_fraction(first, text),)))
        elif item in EVAL_PROTOCOLS:
            out.append((item, None))
        else:
            raise UserError("--protocols", item, f"one of {', '.join(EVAL_PROTOCOLS)} or semi:F1,F2,...",
                            repr(item))
    if len({name for name, _ in out}) != len(out):
        raise UserError("--protocols", "protocols", "each protocol once", repr(text))
    return out


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _fraction(text: str, whole: str) -> float:
    if not _is_number(text) or not 0 < float(text) <= 1:
        raise UserError("--protocols", "semi", "label fractions in (0, 1] like semi:0.05,0.1", repr(whole))
    return float(text)


def parse_supervised(text: str | None) -> list[str]:
    """--supervised: a comma list of ce, supcon, vsupcon, gcl; `none` for no supervised run."""
    if text is None or str(text).strip() == "none":
        return []
    variants = parse_list(text, "supervised")
    for variant in variants:
        if variant not in SUPERVISED_FLAGS:
            raise UserError("--supervised", variant, f"a comma list of {', '.join(SUPERVISED_FLAGS)} (or none)",
                            repr(variant))
    if len(set(variants)) != len(variants):
        raise UserError("--supervised", "supervised", "each variant once", repr(text))
    return variants


def check_supervised(study: Study) -> None:
    """The supervised config loads with the study's overrides, and has graphs where gcl asks for them."""
    if not study.supervised:
        return
    config, overrides = study.supervised_setup(study.seeds[0])
    if not Path(config).is_file():
        raise UserError(config, "--supervised-config", "a YAML config", "no such file")
    cfg = load_config(config, overrides, auxiliary=True)
    if "gcl" in study.supervised and cfg.gcl.contrast == "graph":
        require_graphs(encoder_class(cfg.encoder.name), f"--supervised gcl ({config}: encoder {cfg.encoder.name})")


def find_config_dir(data: Path | None, config_dir: Path | None) -> tuple[Path, str]:
    """(config folder, dataset name): --config-dir, else by the format of --data, else synthetic."""
    if config_dir is not None:
        if not Path(config_dir).is_dir():
            raise UserError(config_dir, "--config-dir", "a folder of <method>.yaml configs", "no such folder")
        return Path(config_dir), Path(config_dir).name
    if data is None:
        return CONFIGS / "synthetic", "synthetic"
    file_format = detect_format(data, "train")
    name = CONFIG_DIR_BY_FORMAT.get(file_format)
    if name is None or not (CONFIGS / name).is_dir():
        raise UserError(data, "--data", "a dataset with a config folder under configs/ (or pass --config-dir)",
                        f"format {file_format!r}, for which none is known")
    return CONFIGS / name, name


def check_methods(methods: list[str], config_dir: Path) -> None:
    for method in methods:
        if method not in METHODS:
            raise UserError("--methods", method, f"one of {', '.join(sorted(METHODS))}", repr(method))
        if not (config_dir / f"{method}.yaml").is_file():
            have = sorted(p.stem for p in config_dir.glob("*.yaml") if p.stem in METHODS)
            raise UserError(config_dir / f"{method}.yaml", "config", "a config for this method on this "
                            f"dataset (there are: {', '.join(have) or 'none'})", "no such file")


def check_protocols(study: Study, configs: dict) -> None:
    """Protocols that cannot apply to a method or to the dataset, refused before anything runs."""
    names = study.eval_protocols
    if not study.methods:
        return
    for method in study.methods:
        if "uncertainty" in names and not has_posterior(method):
            raise UserError("--protocols uncertainty", method, "variational methods only (vsimclr, vmoco): "
                            "it scores the posterior q(z | x)", f"{method}, a deterministic method")
        if "disentangle" in names and not has_embeddings(method):
            raise UserError("--protocols disentangle", method, "methods with pose / view embeddings (cvmim)",
                            repr(method))
    if "single-shot" in names:
        train = load_data(configs[study.methods[0]].data, "train")
        single_shot_parts(train)  # a UserError without camera metadata
        cameras = sorted({int(c) for c in train.meta["camera"]})
        if len(cameras) < 2:
            raise UserError("--protocols single-shot", study.dataset, "a dataset filmed by several cameras "
                            "(it trains on one and tests on the others)", f"one camera ({cameras[0]})")


def make_study(args) -> Study:
    """The study of parsed command-line arguments, every setting checked (a UserError if not)."""
    data = Path(args.data).resolve() if args.data else None  # one hash however the path is spelt
    config_dir, dataset = find_config_dir(data, args.config_dir)
    supervised = [] if args.no_ceiling else parse_supervised(args.supervised or "ce")
    supervised_config = Path(args.supervised_config) if args.supervised_config else None
    methods = [] if str(args.methods).strip() == "none" else parse_list(args.methods, "methods")
    if not methods and not (supervised and supervised_config):
        raise UserError("--methods", "methods", "at least one method (--methods none needs --supervised "
                        "and --supervised-config: a study of supervised runs only)", repr(args.methods))
    check_methods(methods, config_dir)
    baseline = args.baseline if args.baseline in methods else (methods[0] if methods else None)
    if args.baseline and args.baseline not in methods:
        raise UserError("--baseline", "method", f"one of --methods ({', '.join(methods)})", repr(args.baseline))
    study = Study(config_dir=config_dir, dataset=dataset, data=data, methods=methods,
                  seeds=parse_seeds(args.seeds), protocols=parse_protocols(args.protocols),
                  baseline=baseline, overrides=list(args.overrides), floors=not args.no_floors and bool(methods),
                  random_init=not args.no_random_init and bool(methods), supervised=supervised,
                  supervised_config=supervised_config)
    check_method_overrides(study.overrides, methods)
    configs = {m: load_config(study.config_path(m), study.pretrain_overrides(m, study.seeds[0]))
               for m in methods}  # a bad override fails here, naming the key
    check_protocols(study, configs)
    check_supervised(study)
    return study


def study_hash(study: Study) -> str:
    """A short hash of what the study computes (for results.json)."""
    return config_hash({"dataset": study.dataset, "data": str(study.data), "methods": study.methods,
                        "seeds": study.seeds, "protocols": study.protocols, "overrides": study.overrides,
                        "supervised": study.supervised, "supervised_config": str(study.supervised_config)})
