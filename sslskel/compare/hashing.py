"""Config hashes: how a study recognises a run it has already finished.

A pretraining run's hash covers its whole resolved config except the settings that do not
change its numbers' meaning: where it is written (`run.out_dir`), how many CPU threads it
uses (`run.threads`, set from --jobs) and the progress bar (`run.progress`).

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

from ..engine.config import to_dict

# run settings that leave the result as it is: a run that differs only in them is the same run
IGNORED_RUN_KEYS = ("out_dir", "threads", "progress")


def config_hash(obj) -> str:
    """12 hex digits of the SHA-256 of `obj` as canonical JSON (keys sorted)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_config(cfg) -> dict:
    """The config as a dict without the settings in IGNORED_RUN_KEYS."""
    tree = copy.deepcopy(to_dict(cfg))
    for key in IGNORED_RUN_KEYS:
        tree.get("run", {}).pop(key, None)
    return tree


def run_hash(cfg, *extra) -> str:
    """The hash of a run of `cfg` (plus anything else that sets its outcome, e.g. a job kind)."""
    return config_hash([run_config(cfg), *extra])
