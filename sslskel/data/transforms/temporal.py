"""Temporal augmentation steps: crops, resizing along time, mirror pad-crop and time flip,
with `resize_time` (torch's linear interpolation, align_corners=False, in numpy)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .base import Sample, Transform, _as_float32, _check_sample

# --------------------------------------------------------------------------- helpers

@lru_cache(maxsize=1024)
def _linear_indices(in_len: int, out_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source frames and weights of torch's linear interpolation with align_corners=False."""
    src = (np.arange(out_len) + 0.5) * (in_len / out_len) - 0.5
    src = np.maximum(src, 0.0)  # torch clamps negative source positions to the first frame
    left = np.minimum(src.astype(np.int64), in_len - 1)
    right = np.minimum(left + 1, in_len - 1)
    weight = (src - left).astype(np.float32)[None, :, None, None]
    return left, right, weight


def resize_time(x: np.ndarray, out_len: int) -> np.ndarray:
    """Resize (C, L, V, M) to (C, out_len, V, M) along time, as
    F.interpolate(x as (1, 1, C*V*M, L), size=(C*V*M, out_len), mode="bilinear",
    align_corners=False)."""
    left, right, weight = _linear_indices(x.shape[1], out_len)
    x = _as_float32(x)
    return x[:, left] * (1.0 - weight) + x[:, right] * weight


# --------------------------------------------------------------------------- temporal

class CropResize(Transform):
    """CMD/HaLP random temporal crop of the valid frames, resized to out_frames."""

    def __init__(self, scale: tuple[float, float] = (0.1, 1.0), min_frames: int = 64,
                 out_frames: int = 64):
        low, high = scale
        if not 0.0 < low <= high <= 1.0:
            raise ValueError(f"CropResize: scale must satisfy 0 < low <= high <= 1, got {scale}")
        if min_frames < 0 or out_frames < 1:
            raise ValueError(f"CropResize: need min_frames >= 0 and out_frames >= 1; "
                             f"got {min_frames}, {out_frames}")
        self.scale = (float(low), float(high))
        self.min_frames, self.out_frames = int(min_frames), int(out_frames)

    def crop_window(self, num_frames: int, rng: np.random.Generator) -> tuple[int, int]:
        """(start, length) of the crop; exposed so tests and plots can see the window."""
        ratio = rng.uniform(*self.scale)
        length = int(np.floor(num_frames * ratio))
        length = min(max(length, self.min_frames, 1), num_frames)
        start = int(rng.integers(0, num_frames - length + 1))
        return start, length

    def __call__(self, x, num_frames, rng) -> Sample:
        n = _check_sample(x, num_frames, "CropResize")
        start, length = self.crop_window(n, rng)
        return resize_time(x[:, start:start + length], self.out_frames), self.out_frames


class CenterCrop(Transform):
    """Deterministic centre crop of ratio * num_frames valid frames, resized to out_frames."""

    def __init__(self, ratio: float = 0.95, out_frames: int = 64):
        if not 0.0 < ratio <= 1.0 or out_frames < 1:
            raise ValueError(f"CenterCrop: need 0 < ratio <= 1 and out_frames >= 1; "
                             f"got {ratio}, {out_frames}")
        self.ratio, self.out_frames = float(ratio), int(out_frames)

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "CenterCrop")
        start = int((1.0 - self.ratio) * n / 2)
        return resize_time(x[:, start:n - start], self.out_frames), self.out_frames


class Resize(Transform):
    """Resize all valid frames to out_frames (linear), e.g. AimCLR's 50-frame input."""

    def __init__(self, out_frames: int = 50):
        if out_frames < 1:
            raise ValueError(f"Resize: out_frames must be >= 1, got {out_frames}")
        self.out_frames = int(out_frames)

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "Resize")
        return resize_time(x[:, :n], self.out_frames), self.out_frames


class PadCrop(Transform):
    """AimCLR temporal crop: mirror-pad the valid frames by num_frames // padding_ratio at
    both ends, then take a random window of num_frames frames. Padding after num_frames
    (if any) stays zero and the valid length is unchanged."""

    def __init__(self, padding_ratio: int = 6):
        if padding_ratio < 1:
            raise ValueError(f"PadCrop: padding_ratio must be >= 1, got {padding_ratio}")
        self.padding_ratio = int(padding_ratio)

    def __call__(self, x, num_frames, rng) -> Sample:
        n = _check_sample(x, num_frames, "PadCrop")
        pad = n // self.padding_ratio
        start = int(rng.integers(0, 2 * pad + 1))
        # frame i of the padded sequence is valid frame i - pad, mirrored at both edges
        source = np.arange(n) + start - pad
        source = np.where(source < 0, -source - 1, source)
        source = np.where(source >= n, 2 * n - 1 - source, source)
        out = np.zeros_like(x)
        out[:, :n] = x[:, source]
        return out, n


class TimeFlip(Transform):
    """Reverse the valid frames (AimCLR's random_time_flip without its coin flip)."""

    def __init__(self):
        pass

    def __call__(self, x, num_frames, rng=None) -> Sample:
        n = _check_sample(x, num_frames, "TimeFlip")
        out = x.copy()
        out[:, :n] = x[:, n - 1::-1]
        return out, n
