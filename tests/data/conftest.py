import numpy as np
import pytest


def _random_pose(rng, scale=0.3, offset=(0.0, 0.0, 3.0)):
    """A (25, 3) float32 pose with no exactly-zero joint."""
    pose = rng.normal(scale=scale, size=(25, 3)) + np.asarray(offset)
    return pose.astype(np.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def random_pose():
    """random_pose(rng, scale=0.3) -> a (25, 3) float32 pose around 3 m in front of the camera."""
    return _random_pose
