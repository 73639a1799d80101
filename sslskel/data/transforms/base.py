"""Base of the skeleton augmentations: the `Transform` base class (repr from the constructor
arguments), composition (`Compose`, `RandomApply`, `RandomChoice`) and the helpers the steps
share (sample checks, float32 conversion, layout lookup)."""

from __future__ import annotations

import inspect
import math
from typing import Callable, Sequence

import numpy as np

from ..errors import DataFormatError
from ..layouts import SkeletonLayout, get_layout

Sample = tuple[np.ndarray, int]


# --------------------------------------------------------------------------- helpers

def _layout(layout: str | SkeletonLayout) -> SkeletonLayout:
    return get_layout(layout) if isinstance(layout, str) else layout


def _check_sample(x, num_frames, step: str, coordinates: bool = False) -> int:
    """Validate one (C, T, V, M) sample and return num_frames as a Python int."""
    if not isinstance(x, np.ndarray) or x.ndim != 4:
        got = f"shape {getattr(x, 'shape', None)} of type {type(x).__name__}"
        raise DataFormatError(step, "x", "a numpy array of shape (C, T, V, M)", got)
    if coordinates and x.shape[0] != 3:
        raise DataFormatError(step, "x", "3 coordinate channels (C=3)", f"C={x.shape[0]}")
    try:
        n = int(num_frames)
    except (TypeError, ValueError):
        raise DataFormatError(step, "num_frames", "an integer", repr(num_frames)) from None
    if not 1 <= n <= x.shape[1]:
        raise DataFormatError(step, "num_frames", f"an integer in [1, T={x.shape[1]}]", str(n))
    return n


def _as_float32(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == np.float32 else x.astype(np.float32)


def _short(value) -> str:
    if isinstance(value, SkeletonLayout):
        return repr(value.name)
    return repr(value)


class Transform:
    """Base: a readable repr built from the constructor arguments stored on self."""

    def __call__(self, x: np.ndarray, num_frames: int, rng: np.random.Generator) -> Sample:
        raise NotImplementedError

    def __repr__(self) -> str:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        args = ", ".join(f"{name}={_short(getattr(self, name))}" for name in names)
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- composition

class Compose(Transform):
    """Apply steps in order. The result is always a fresh float32 array, so a caller may
    write into it without touching the dataset (or its memory map)."""

    def __init__(self, steps: Sequence[Callable]):
        self.steps = tuple(steps)

    def __call__(self, x, num_frames, rng) -> Sample:
        out, n = x, num_frames
        for step in self.steps:
            out, n = step(out, n, rng)
        if out is x or not out.flags.writeable:
            out = out.copy()
        return _as_float32(np.ascontiguousarray(out)), int(n)

    def __repr__(self) -> str:
        if not self.steps:
            return "Compose([])"
        lines = "".join(f"    {step!r},\n" for step in self.steps)
        return f"Compose([\n{lines}])"


class RandomApply(Transform):
    """Apply `step` with probability p, else pass the sample through."""

    def __init__(self, step: Callable, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"RandomApply: p must be in [0, 1], got {p}")
        self.step, self.p = step, float(p)

    def __call__(self, x, num_frames, rng) -> Sample:
        if rng.random() < self.p:
            return self.step(x, num_frames, rng)
        return x, num_frames


class RandomChoice(Transform):
    """Apply exactly one of `steps`, chosen with probabilities p (uniform if None)."""

    def __init__(self, steps: Sequence[Callable], p: Sequence[float] | None = None):
        if not steps:
            raise ValueError("RandomChoice: needs at least one step")
        if p is not None:
            if len(p) != len(steps) or min(p) < 0 or not math.isclose(sum(p), 1.0):
                raise ValueError(f"RandomChoice: p must be {len(steps)} non-negative numbers "
                                 f"summing to 1, got {p}")
            p = tuple(float(v) for v in p)
        self.steps, self.p = tuple(steps), p
        self._cumulative = None if p is None else np.cumsum(p) / sum(p)

    def choose(self, rng: np.random.Generator) -> int:
        """Index of the step to apply (one uniform draw; rng.choice(p=...) is ~10x slower)."""
        if self._cumulative is None:
            return int(rng.integers(len(self.steps)))
        index = int(np.searchsorted(self._cumulative, rng.random(), side="right"))
        return min(index, len(self.steps) - 1)

    def __call__(self, x, num_frames, rng) -> Sample:
        return self.steps[self.choose(rng)](x, num_frames, rng)
