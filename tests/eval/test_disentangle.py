"""Disentanglement probes: chance, camera numbering, and probes on embeddings of known content."""

import numpy as np
import pytest
from test_single_shot import FakeCVMIM, cfg_for, multiview_data

from sslskel.data.container import SkeletonData
from sslskel.errors import UserError
from sslskel.eval.disentangle import PROBES, dense_ids, disentangle, format_disentangle, majority_chance, subject_halves
from sslskel.models import build_encoder


def test_majority_chance_against_counting():
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 4, 50), rng.integers(0, 4, 30)
    counts = {c: int((train == c).sum()) for c in range(4)}
    majority = max(counts, key=lambda c: (counts[c], -c))  # ties: the smallest id, as argmax
    assert majority_chance(train, test) == 100.0 * sum(int(y == majority) for y in test) / len(test)


def test_dense_ids_number_over_both_splits():
    a, b = dense_ids(np.array([3, 3, 7]), np.array([5, 7]))
    assert a.tolist() == [0, 0, 2] and b.tolist() == [1, 2]


def test_probes_find_the_view_in_z_v_and_the_action_in_z_p():
    train, val = multiview_data(subjects=[1, 2]), multiview_data(subjects=[3], seed=1)
    result = disentangle(cfg_for(), FakeCVMIM(), train, val)
    assert [key for key, *_ in PROBES] == ["view_from_z_v", "view_from_z_p", "action_from_z_p", "action_from_z_v"]
    assert result["view_from_z_v"]["top1"] == 100.0 and result["action_from_z_p"]["top1"] == 100.0
    # z_p holds no view and z_v no action: balanced classes, so every answer is at chance
    assert result["view_from_z_p"]["top1"] == pytest.approx(100 / 6, abs=0.01)
    assert result["action_from_z_v"]["top1"] == pytest.approx(100 / 3, abs=0.01)
    # the view is (camera, replication): 3 x 2 = 6 of them, chance 1/6
    assert result["view_from_z_v"]["chance"] == pytest.approx(100 / 6) and result["num_views"] == 6
    assert (result["pose_dim"], result["view_dim"], result["split"]) == (4, 8, "training / test split")
    assert format_disentangle(result)[0] == ("view from z_v (chance 16.7)", 100.0, None)


def only_cameras(data, cameras):
    return data.subset(np.isin(data.meta["camera"], cameras))


def test_unseen_test_cameras_are_probed_on_a_subject_split():
    both = [multiview_data(subjects=[1, 2, 3, 4]), multiview_data(subjects=[1, 2, 3, 4], seed=1)]
    train, val = only_cameras(both[0], [1, 2]), only_cameras(both[1], [3])  # NW-UCLA-like: camera 3 unseen
    result = disentangle(cfg_for(), FakeCVMIM(), train, val)
    assert result["split"].startswith("by subject") and result["num_views"] == 6
    assert all(result[key]["chance"] > 0 for key, *_ in PROBES)  # never chance 0
    assert result["view_from_z_v"]["top1"] == 100.0
    # subjects 1, 3 fit the probes, 2, 4 test them; every clip of both splits is used once
    assert result["probe_train_samples"] == result["probe_test_samples"] == (len(train) + len(val)) // 2
    assert subject_halves(np.array([9, 1, 5, 1])).tolist() == [True, True, False, True]  # 1, 9: 1st, 3rd


def test_refusals():
    train, val = multiview_data(subjects=[1]), multiview_data(subjects=[2])
    with pytest.raises(UserError, match="--protocol disentangle: method: expected a run of a method with pose"):
        disentangle(cfg_for(), build_encoder("gru", hidden_size=4, num_layers=1), train, val)
    no_meta = SkeletonData(np.zeros((2, 3, 12, 25, 1), np.float32), [12] * 2, [0, 1], ["a", "b"], source="x")
    with pytest.raises(UserError, match=r"x \(test split\): meta.camera.*no camera metadata"):
        disentangle(cfg_for(), FakeCVMIM(), train, no_meta)
    # an unseen test camera and one subject only: no split covers every view, so refuse in one line
    one = multiview_data(subjects=[1])
    with pytest.raises(UserError, match=r"--protocol disentangle: data: .*so view chance would be 0"):
        disentangle(cfg_for(), FakeCVMIM(), only_cameras(one, [1, 2]), only_cameras(one, [3]))
