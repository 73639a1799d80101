"""Disentanglement probes: chance, camera numbering, and probes on embeddings of known content."""

import numpy as np
import pytest

from sslskel.data.container import SkeletonData
from sslskel.errors import UserError
from sslskel.eval.disentangle import PROBES, dense_ids, disentangle, format_disentangle, majority_chance
from sslskel.models import build_encoder
from test_single_shot import FakeCVMIM, cfg_for, multiview_data


def test_majority_chance_against_counting():
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 4, 50), rng.integers(0, 4, 30)
    counts = {c: int((train == c).sum()) for c in range(4)}
    majority = max(counts, key=lambda c: (counts[c], -c))  # ties: the smallest id, as argmax
    assert majority_chance(train, test) == 100.0 * sum(int(y == majority) for y in test) / len(test)


def test_dense_ids_number_over_both_splits():
    a, b = dense_ids(np.array([3, 3, 7]), np.array([5, 7]))
    assert a.tolist() == [0, 0, 2] and b.tolist() == [1, 2]


def test_probes_find_the_camera_in_z_v_and_the_action_in_z_p():
    train, val = multiview_data(subjects=[1, 2]), multiview_data(subjects=[3], seed=1)
    result = disentangle(cfg_for(), FakeCVMIM(), train, val)
    assert [key for key, *_ in PROBES] == ["camera_from_z_v", "camera_from_z_p", "action_from_z_p", "action_from_z_v"]
    assert result["camera_from_z_v"]["top1"] == 100.0 and result["action_from_z_p"]["top1"] == 100.0
    # z_p holds no camera and z_v no action: balanced classes, so every answer is at chance
    assert result["camera_from_z_p"]["top1"] == pytest.approx(100 / 3, abs=0.01)
    assert result["action_from_z_v"]["top1"] == pytest.approx(100 / 3, abs=0.01)
    assert result["camera_from_z_v"]["chance"] == pytest.approx(100 / 3)
    assert (result["pose_dim"], result["view_dim"], result["cameras"]) == (4, 4, [1, 2, 3])
    assert format_disentangle(result)[0] == ("camera from z_v (chance 33.3)", 100.0, None)


def test_refusals():
    train, val = multiview_data(subjects=[1]), multiview_data(subjects=[2])
    with pytest.raises(UserError, match="--protocol disentangle: method: expected a run of a method with pose"):
        disentangle(cfg_for(), build_encoder("gru", hidden_size=4, num_layers=1), train, val)
    no_meta = SkeletonData(np.zeros((2, 3, 12, 25, 1), np.float32), [12] * 2, [0, 1], ["a", "b"], source="x")
    with pytest.raises(UserError, match=r"x \(test split\): meta.camera.*no camera metadata"):
        disentangle(cfg_for(), FakeCVMIM(), train, no_meta)
