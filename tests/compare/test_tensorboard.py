"""Evaluation numbers reach the run's TensorBoard folder beside the pretraining scalars."""

from __future__ import annotations

import pytest

from sslskel.engine.run_log import log_results_to_tensorboard


def test_eval_scalars_in_tensorboard(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    log_results_to_tensorboard(tmp_path, "eval/linear", {"final_top1": 78.5, "history": [{"top1": 1.0}],
                                                         "knn_k1": {"top1": 71.0}, "random_init": False})
    events = event_accumulator.EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["eval/linear/final_top1", "eval/linear/knn_k1/top1"]
    assert events.Scalars("eval/linear/final_top1")[0].value == pytest.approx(78.5)
