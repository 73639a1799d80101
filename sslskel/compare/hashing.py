"""Config hashes: how a study recognises a run it has already finished.

A pretraining run's hash covers its whole resolved config except the settings that do not
change its numbers' meaning: where it is written (`run.out_dir`), how many CPU threads it
uses (`run.threads`, set from --jobs) and the progress bar (`run.progress`). `run.amp` enters
as the precision it resolves to on this machine (`bf16` or `fp32`): `auto` is bf16 on one CPU
and fp32 on another, and HaLP keeps fp32 on CPUs, so a study folder moved to another machine
reruns what would now train differently, and `auto` and the explicit setting it resolves to
are one run.

Example:
    >>> config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    True
    >>> len(config_hash("x"))
    12
"""

from __future__ import annotations

import copy
import hashlib
import json

from ..common.device import amp_dtype, resolve_device
from ..engine.config import to_dict
from ..methods import run_amp

# run settings that leave the result as it is: a run that differs only in them is the same run
IGNORED_RUN_KEYS = ("out_dir", "threads", "progress")


def config_hash(obj) -> str:
    """12 hex digits of the SHA-256 of `obj` as canonical JSON (keys sorted)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def resolved_precision(cfg, method_rule: bool = True) -> str:
    """`bf16` or `fp32`: what `cfg.run.amp` trains in on this machine. `method_rule`: the
    pretraining's per-method rule applies (`sslskel.methods.run_amp`); a supervised or
    fine-tuning run follows `run.amp` as it is."""
    device = resolve_device(cfg.run.device)
    amp = run_amp(cfg, device) if method_rule else cfg.run.amp
    return "fp32" if amp_dtype(device, amp) is None else "bf16"


def run_config(cfg, method_rule: bool = True) -> dict:
    """The config as a dict without the settings in IGNORED_RUN_KEYS, `run.amp` resolved."""
    tree = copy.deepcopy(to_dict(cfg))
    for key in IGNORED_RUN_KEYS:
        tree.get("run", {}).pop(key, None)
    if "amp" in tree.get("run", {}):
        tree["run"]["amp"] = resolved_precision(cfg, method_rule)
    return tree


def run_hash(cfg, *extra, method_rule: bool = True) -> str:
    """The hash of a run of `cfg` (plus anything else that sets its outcome, e.g. a job kind)."""
    return config_hash([run_config(cfg, method_rule), *extra])
