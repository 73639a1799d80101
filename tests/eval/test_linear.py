import pytest
import torch

from sslskel.data.readers import load_split
from sslskel.engine.pretrain import run_pretraining
from sslskel.eval.linear import assert_unchanged, linear_probe, snapshot
from sslskel.eval.protocols import evaluate, find_newest_run, format_table, load_run_encoder
from sslskel.models import build_encoder


def test_linear_probe_reports_final_and_best_and_keeps_encoder(tiny_config):
    cfg = tiny_config("linear.optim.epochs=6", "linear.optim.milestones=[4]", "linear.optim.lr=0.5")
    train, val = load_split(cfg.data.path, "train"), load_split(cfg.data.path, "val")
    torch.manual_seed(0)
    encoder = build_encoder("gru", hidden_size=16, num_layers=1)
    result = linear_probe(encoder, train, val, cfg.data, cfg.linear, progress=False)
    assert len(result["history"]) == 6 and result["best_top1"] >= result["final_top1"]
    assert result["best_top1"] > 100 / 3 + 10  # 3 separable classes: far above chance


def test_changed_encoder_is_detected():
    encoder = build_encoder("gru", hidden_size=4, num_layers=1)
    ref = snapshot(encoder)
    encoder.train()(torch.randn(2, 3, 5, 25, 2))  # BN running stats move in train mode
    with pytest.raises(RuntimeError, match="input_norm.running_mean"):
        assert_unchanged(encoder, ref)


def test_evaluate_a_run_and_the_random_baseline(tiny_config):
    run_dir, _ = run_pretraining(tiny_config())
    assert find_newest_run(run_dir.parent) == run_dir
    cfg, encoder, ckpt = load_run_encoder(run_dir=run_dir)
    results = evaluate(cfg, encoder, protocols=("knn", "linear"), progress=False)
    table = format_table(results)
    assert "kNN k=1" in table and "linear best" in table
    _, random_encoder, _ = load_run_encoder(run_dir=run_dir, random_init=True)
    trained = encoder.state_dict()["gru.weight_hh_l0"]
    assert not torch.equal(trained, random_encoder.state_dict()["gru.weight_hh_l0"])
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate(cfg, encoder, protocols=("svm",))


def test_no_runs_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run with checkpoints/last.pt"):
        find_newest_run(tmp_path)
