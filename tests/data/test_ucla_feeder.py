"""The CTR-GCN authors' NW-UCLA feeder steps (sslskel.data.transforms.ucla_feeder) against a
plain transcription of their feeder's formulas, one clip of (T, 20, 3) at a time."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sslskel.data.transforms import PRESETS
from sslskel.data.transforms.ucla_feeder import (
    CenterOnFirstFrame,
    MinMaxScale,
    RandomFrames,
    RandomViewScale,
    UniformFrames,
    ucla_feeder_eval,
    ucla_feeder_train,
)


def clip(t=30, seed=0):
    """(C, T, V, M) = (3, t, 20, 1) with frames after t zero-padded to 40."""
    x = np.zeros((3, 40, 20, 1), np.float32)
    x[:, :t] = np.random.default_rng(seed).normal(1.0, 0.5, size=(3, t, 20, 1))
    return x


def as_feeder(x, t):  # the feeder's value: (T, 20, 3) of the valid frames
    return x[:, :t, :, 0].transpose(1, 2, 0).astype(np.float64)


def feeder_view(value, agx, agy, s):
    """rand_view_transform of the feeder, verbatim in numpy."""
    agx, agy = math.radians(agx), math.radians(agy)
    rx = np.asarray([[1, 0, 0], [0, math.cos(agx), math.sin(agx)], [0, -math.sin(agx), math.cos(agx)]])
    ry = np.asarray([[math.cos(agy), 0, -math.sin(agy)], [0, 1, 0], [math.sin(agy), 0, math.cos(agy)]])
    ss = np.asarray([[s, 0, 0], [0, s, 0], [0, 0, s]])
    return np.reshape(np.dot(np.reshape(value, (-1, 3)), np.dot(ry, np.dot(rx, ss))), value.shape)


def feeder_minmax(value):
    flat = np.reshape(value, (-1, 3))
    flat = (flat - flat.min(0)) / (flat.max(0) - flat.min(0)) * 2 - 1
    return np.reshape(flat, (-1, 20, 3))


def test_centre_is_the_first_frames_spine():
    x = clip()
    out, n = CenterOnFirstFrame()(x, 30)
    value = as_feeder(x, 30)
    np.testing.assert_allclose(as_feeder(out, 30), value - value[0, 1, :], rtol=1e-6, atol=1e-6)
    assert n == 30 and not out[:, 30:].any()  # padding stays zero


def test_random_view_is_the_feeders_transform_with_the_drawn_angles_and_scale():
    x, step = clip(), RandomViewScale()
    out, _ = step(x, 30, np.random.default_rng(5))
    draw = np.random.default_rng(5)  # the same draws, read back
    agx, agy = draw.integers(-60, 61, size=2)
    s = draw.uniform(0.5, 1.5)
    np.testing.assert_allclose(as_feeder(out, 30), feeder_view(as_feeder(x, 30), agx, agy, s), rtol=1e-5, atol=1e-5)
    angles = [np.random.default_rng(k).integers(-60, 61, size=2) for k in range(300)]
    assert np.abs(angles).max() == 60 and all(a.dtype.kind == "i" for a in angles)  # whole degrees, ends included


def test_min_max_maps_each_axis_to_minus_one_one_as_the_feeder():
    x = clip(t=25)
    out, _ = MinMaxScale()(x, 25)
    np.testing.assert_allclose(as_feeder(out, 25), feeder_minmax(as_feeder(x, 25)), rtol=1e-5, atol=1e-6)
    flat = clip(t=25)
    flat[2, :25] = 3.0  # an axis without spread: 0, where the feeder would divide by zero
    assert not MinMaxScale()(flat, 25)[0][2].any()


def test_frames_random_and_uniform():
    x = clip(t=7)
    x[0, :7, 0, 0] = np.arange(7)  # frame ids readable from the output
    picked, n = RandomFrames(52)(x, 7, np.random.default_rng(0))
    ids = picked[0, :, 0, 0]
    assert n == 52 and np.all(np.diff(ids) >= 0) and set(ids) <= set(range(7))
    assert len(set(ids)) == 7  # 52 draws from 7 frames x 100 copies: every frame is there
    long = clip(t=40)
    long[0, :40, 0, 0] = np.arange(40)
    many = RandomFrames(30)(long, 40, np.random.default_rng(1))[0][0, :, 0, 0]
    assert len(set(many)) < 30 or np.all(np.diff(many) > 0)  # a subset of the frames, in order
    uniform, _ = UniformFrames(52)(x, 7)
    np.testing.assert_array_equal(uniform[0, :, 0, 0], np.linspace(0, 6, 52).astype(int))


def test_presets_chain_the_steps_as_the_feeder():
    x = clip(t=30)
    train, _ = ucla_feeder_train()(x, 30, np.random.default_rng(3))
    draw = np.random.default_rng(3)
    agx, agy = draw.integers(-60, 61, size=2)
    s = draw.uniform(0.5, 1.5)
    value = as_feeder(x, 30)
    expected = feeder_minmax(feeder_view(value - value[0, 1, :], agx, agy, s))
    picks = np.sort(draw.choice(30 * 100, size=52, replace=False) % 30)
    np.testing.assert_allclose(train[..., 0].transpose(1, 2, 0), expected[picks], rtol=1e-4, atol=1e-5)
    test, n = ucla_feeder_eval()(x, 30, np.random.default_rng(0))
    idx = np.linspace(0, 29, 52).astype(int)
    np.testing.assert_allclose(test[..., 0].transpose(1, 2, 0), feeder_minmax(value - value[0, 1, :])[idx],
                               rtol=1e-5, atol=1e-5)
    assert n == 52 and {"ucla_feeder_train", "ucla_feeder_eval"} <= set(PRESETS)


def test_too_few_frames_for_the_draw_is_an_error():
    with pytest.raises(ValueError, match="1 frames x 10 copies < 52"):
        RandomFrames(52, copies=10)(clip(t=1), 1, np.random.default_rng(0))
