"""Checkpoints: weights-only files, atomic saves and the random-number state that makes resumes exact.

A checkpoint holds only tensors and plain containers (dict, list, tuple, str, int, float,
bool, None): the config as a plain dict and every RNG state as tensors. `load_checkpoint`
reads it with `torch.load(weights_only=True)`, so a crafted file (a pickle whose objects run
code when loaded) is refused before anything in it runs; users load checkpoints they
downloaded. `save_checkpoint` checks that a state is plain before writing it, and goes
through `atomic_path`, so a crash, Ctrl-C or a full disk during a save leaves the previous
`last.pt` intact and loadable (a full disk is a `DiskFullError` naming the file).

Checkpoints of an older sslskel kept numpy arrays in their RNG state and are refused;
`python -m sslskel.common.checkpoint upgrade FILE...` converts trusted ones in place.

Example:
    >>> import tempfile, pathlib, torch
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "last.pt"
    >>> save_checkpoint(p, {"epoch": 3, "rng": capture_rng_state()})
    >>> load_checkpoint(p)["epoch"]
    3
    >>> _ = p.write_bytes(b"not a checkpoint")
    >>> load_checkpoint(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sslskel.errors.CheckpointError: .../last.pt: file: expected a weights-only sslskel checkpoint ...
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

from .. import distributed
from ..errors import CheckpointError
from .io import atomic_path

EXPECTED = "a weights-only sslskel checkpoint (tensors and plain containers)"
FORMAT_VERSION = 3  # 3: RNG states as tensors (weights-only); 2: numpy arrays in the RNG state

# the globals an older sslskel checkpoint needs beyond weights-only: its numpy RNG state
_LEGACY_NUMPY_GLOBALS = {"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
                         "numpy.ndarray", "numpy.dtype", "numpy.dtypes.UInt32DType"}
_PLAIN_TYPES = (dict, OrderedDict, list, tuple, str, int, float, bool, type(None), torch.Size,
                torch.dtype, torch.device)


# -- random-number state ------------------------------------------------------------------------
def _rng_as_tensors(python_state: tuple, numpy_state: tuple) -> dict:
    """Python's and numpy's generator states with their key arrays as int64 tensors."""
    version, keys, gauss_next = python_state
    kind, np_keys, pos, has_gauss, cached_gaussian = numpy_state
    return {"python": {"version": int(version), "keys": torch.tensor(keys, dtype=torch.int64),
                       "gauss_next": gauss_next},
            "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(np_keys).astype(np.int64)),
                      "pos": int(pos), "has_gauss": int(has_gauss),
                      "cached_gaussian": float(cached_gaussian)}}


def capture_rng_state() -> dict:
    """Every RNG state (python, numpy, torch CPU, CUDA when present) as tensors and plain values."""
    state = {**_rng_as_tensors(random.getstate(), np.random.get_state()), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Set the generators back exactly as `capture_rng_state` found them."""
    py, npy = state["python"], state["numpy"]
    random.setstate((py["version"], tuple(py["keys"].tolist()), py["gauss_next"]))
    np.random.set_state((npy["kind"], npy["keys"].cpu().numpy().astype(np.uint32), npy["pos"],
                         npy["has_gauss"], npy["cached_gaussian"]))
    # map_location may have put the states on the training device; the setters want CPU tensors
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# -- saving -------------------------------------------------------------------------------------
def check_plain(obj, where: str = "state") -> None:
    """Raise TypeError naming the first value that weights-only loading would refuse.

    Checked at save time, so a numpy scalar slipped into a state fails the epoch that wrote
    it, not the resume days later (np.float64 is a float subclass: types are compared exactly).
    """
    if isinstance(obj, torch.Tensor):
        return
    if type(obj) not in _PLAIN_TYPES:
        raise TypeError(f"checkpoint {where}: {type(obj).__module__}.{type(obj).__name__} is not a "
                        "tensor or plain container; convert it (e.g. float(), .tolist(), torch.tensor())")
    if isinstance(obj, dict):
        for key, value in obj.items():
            check_plain(key, f"{where} key {key!r}")
            check_plain(value, f"{where}[{key!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            check_plain(value, f"{where}[{i}]")


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    check_plain(state)  # on every process, so a bad state fails everywhere alike
    if not distributed.is_main():  # rank 0 writes; atomic_path would give the others a scratch file
        return
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        # through a Python file, a full disk is an OSError (ENOSPC) that atomic_path names;
        # torch.save(state, path) would raise an unexplained RuntimeError from its C++ writer
        torch.save(state, f)


# -- loading ------------------------------------------------------------------------------------
def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def _not_an_archive(path: Path) -> str:
    """What a file that is no zip archive (torch.save writes zip archives) looks like instead."""
    with open(path, "rb") as f:
        head = f.read(2)
    size = path.stat().st_size
    if head[:1] == b"\x80":
        return f"a plain pickle ({size} bytes), not a torch.save archive; it was not loaded"
    return (f"{size} bytes that are not a torch.save archive (a file truncated by a crash or an "
            "interrupted copy, or another kind of file)")


def _refused_pickle(path: Path) -> str:
    """Why weights-only loading refused `path`: an older sslskel checkpoint or code to run."""
    finder = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)  # torch >= 2.5
    try:
        names = set(finder(path)) if finder is not None else set()
    except Exception:  # the finder parses the pickle itself; any failure means: unknown
        names = set()
    if names and names <= _LEGACY_NUMPY_GLOBALS:
        return ("a checkpoint written by an older sslskel (numpy arrays in its RNG state), which is not "
                "weights-only and was not loaded; if you trust where it came from, convert it once with "
                f"`python -m sslskel.common.checkpoint upgrade {path}`")
    what = f" (it references {', '.join(sorted(names)[:3])})" if names else ""
    return f"a pickle that would run code when loaded{what}; it was not loaded"


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """The state saved at `path`, read weights-only; CheckpointError (naming `path`) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file", EXPECTED, "a directory" if path.is_dir() else "no such file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(path, "file", EXPECTED, _not_an_archive(path))
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(path, "file", EXPECTED, _refused_pickle(path)) from None
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
        raise CheckpointError(path, "file", EXPECTED, f"a damaged archive ({_first_line(e)})") from None
    if not isinstance(state, dict):
        raise CheckpointError(path, "file", EXPECTED, f"a torch file holding a {type(state).__name__}")
    return state


def require_keys(state: dict, path: str | os.PathLike, keys: tuple[str, ...], kind: str) -> None:
    """CheckpointError unless `state` (loaded from `path`) has every one of `keys`."""
    missing = [key for key in keys if key not in state]
    if missing:
        raise CheckpointError(path, missing[0], f"a {kind} checkpoint (with {', '.join(keys)})",
                              f"a checkpoint without it (keys: {', '.join(map(str, list(state)[:8]))})")


def _first_mismatch(ours: dict, theirs: dict) -> tuple[str, str, str] | None:
    """(key, expected, got) for the first key missing, unexpected or of another shape."""
    for key, tensor in ours.items():
        if key not in theirs:
            return key, "a tensor of this config's model", "no such key in the checkpoint"
        extra = key.endswith("_extra_state")  # a module's own state (get_extra_state): any size
        if not extra and tuple(tensor.shape) != tuple(theirs[key].shape):
            return (key, f"shape {tuple(tensor.shape)} (this config's model)",
                    f"shape {tuple(theirs[key].shape)} in the checkpoint")
    for key in theirs:
        if key not in ours:
            return key, "no such key (this config builds another model)", "a tensor in the checkpoint"
    return None


def load_weights(module: torch.nn.Module, weights: dict, path: str | os.PathLike, section: str) -> None:
    """`module.load_state_dict(weights)`, or a CheckpointError naming `path` and the first key
    that does not fit (a config that builds another model than the checkpoint's)."""
    problem = _first_mismatch(module.state_dict(), weights)
    if problem is not None:
        key, expected, got = problem
        raise CheckpointError(path, f"{section}.{key}", expected,
                              f"{got}; use the settings the checkpoint was trained with")
    module.load_state_dict(weights)


# -- converting checkpoints of an older sslskel -------------------------------------------------------
def upgrade_checkpoint(path: str | os.PathLike) -> bool:
    """Rewrite an older sslskel checkpoint (numpy RNG state) weights-only, in place.

    Only numpy's array and dtype classes are allowed beyond weights-only loading: a file that
    needs anything else is refused as `load_checkpoint` would. Returns False if `path` was
    weights-only already.
    """
    path = Path(path)
    try:
        load_checkpoint(path)
        return False
    except CheckpointError as e:
        if "older sslskel" not in str(e):
            raise
    reconstruct = (np._core if hasattr(np, "_core") else np.core).multiarray._reconstruct
    with torch.serialization.safe_globals([reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]):
        state = torch.load(path, map_location="cpu", weights_only=True)
    rng = state.get("rng")
    if isinstance(rng, dict) and isinstance(rng.get("python"), tuple):
        state["rng"] = {**rng, **_rng_as_tensors(rng["python"], rng["numpy"])}
    state["version"] = FORMAT_VERSION
    save_checkpoint(path, state)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sslskel.common.checkpoint",
                                     description="Convert trusted checkpoints of an older sslskel "
                                                 "(numpy RNG state) to weights-only ones, in place.")
    parser.add_argument("command", choices=["upgrade"])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    try:
        for path in args.files:
            print(f"{path}: {'upgraded' if upgrade_checkpoint(path) else 'weights-only already'}")
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
