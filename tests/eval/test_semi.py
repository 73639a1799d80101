"""Tests for sslskel.eval.semi: label subsets against per-class counts computed by hand, their
reproducibility and uniformity; the protocol driver on tiny data (results, resume);
aggregation (mean, population std) against hand computation; Tab. 9 diagnostics."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from sslskel.common.checkpoint import seed_everything
from sslskel.common.threads import usable_cores
from sslskel.data.build import load_data
from sslskel.engine.config import resolved_config
from sslskel.eval import semi
from sslskel.eval.semi import (
    LabelSubsetWarning,
    format_graph_distances,
    format_results,
    label_subset,
    run_semi,
    summarize,
)
from sslskel.methods.base import build_method_encoder

LABELS = np.repeat(np.arange(5), [40, 7, 1, 100, 12])
rng = np.random.default_rng(3)
LABELS = LABELS[rng.permutation(len(LABELS))]  # classes interleaved, as in real files


@pytest.mark.parametrize("fraction", [0.01, 0.05, 0.1, 0.2, 0.5])
def test_class_balanced_counts_per_class(fraction):
    idx = label_subset(LABELS, fraction, seed=0)
    counts = np.bincount(LABELS[idx], minlength=5)
    expected = [max(1, round(fraction * n)) for n in [40, 7, 1, 100, 12]]  # by hand, per class
    assert counts.tolist() == expected
    assert np.all(np.diff(idx) > 0)  # sorted, no repeats
    assert idx.dtype.kind == "i"


@pytest.mark.filterwarnings("ignore::sslskel.eval.semi.LabelSubsetWarning")
@pytest.mark.parametrize("fraction", [0.01, 0.1, 0.33])
def test_random_sampling_takes_round_f_n_over_the_whole_set(fraction):
    idx = label_subset(LABELS, fraction, seed=5, sampling="random")
    assert len(idx) == max(1, round(fraction * len(LABELS)))
    assert len(np.unique(idx)) == len(idx) and np.all(np.diff(idx) > 0)
    assert idx.min() >= 0 and idx.max() < len(LABELS)


@pytest.mark.filterwarnings("ignore::sslskel.eval.semi.LabelSubsetWarning")
@pytest.mark.parametrize("sampling", ["class_balanced", "random"])
def test_reproducible_and_seeds_differ(sampling):
    a = label_subset(LABELS, 0.1, seed=1, sampling=sampling)
    b = label_subset(LABELS, 0.1, seed=1, sampling=sampling)
    c = label_subset(LABELS, 0.1, seed=2, sampling=sampling)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("sampling", ["class_balanced", "random"])
def test_fraction_one_is_everything(sampling):
    np.testing.assert_array_equal(label_subset(LABELS, 1.0, seed=9, sampling=sampling),
                                  np.arange(len(LABELS)))


def test_class_balanced_draw_is_uniform_within_each_class():
    labels = np.repeat([0, 1], [10, 4])
    hits = np.zeros(len(labels))
    trials = 4000
    for seed in range(trials):
        hits[label_subset(labels, 0.3, seed=seed)] += 1
    # class 0 keeps 3 of 10, class 1 keeps round(1.2) = 1 of 4: each member with that chance
    np.testing.assert_allclose(hits[:10] / trials, 0.3, atol=0.03)
    np.testing.assert_allclose(hits[10:] / trials, 0.25, atol=0.03)


@pytest.mark.filterwarnings("ignore::sslskel.eval.semi.LabelSubsetWarning")
def test_random_draw_is_uniform_over_the_set():
    labels = np.repeat([0, 1], [10, 4])
    hits = np.zeros(len(labels))
    for seed in range(4000):
        hits[label_subset(labels, 0.5, seed=seed, sampling="random")] += 1
    np.testing.assert_allclose(hits / 4000, 0.5, atol=0.04)


def test_a_subset_that_leaves_classes_without_a_label_warns():
    labels = np.repeat(np.arange(20), 50)  # 20 classes of 50: 0.1 % is one sample
    with pytest.warns(LabelSubsetWarning, match=r"fraction 0.001 .*: 19 of 20 classes got no label"):
        assert len(label_subset(labels, 0.001, seed=0, sampling="random")) == 1
    with pytest.warns(LabelSubsetWarning, match="2 of 5 classes"):  # LABELS: 5 classes, 161 samples
        label_subset(LABELS, 0.02, seed=0, sampling="random")


@pytest.mark.parametrize("fraction, sampling", [(0.01, "class_balanced"), (0.5, "random"), (1.0, "random")])
def test_a_subset_with_every_class_does_not_warn(fraction, sampling, recwarn):
    label_subset(LABELS, fraction, seed=0, sampling=sampling)
    assert not [w for w in recwarn if issubclass(w.category, LabelSubsetWarning)]


@pytest.mark.parametrize("fraction, sampling", [(0.0, "random"), (1.5, "random"), (-0.1, "class_balanced"),
                                                (0.1, "per_class")])
def test_bad_arguments_are_rejected(fraction, sampling):
    with pytest.raises(ValueError, match="fraction|sampling"):
        label_subset(LABELS, fraction, seed=0, sampling=sampling)


def test_summarize_mean_and_population_std_by_hand():
    results = [
        {"fraction": 0.1, "seed": 0, "final_top1": 40.0, "best_top1": 50.0, "final_top5": 80.0,
         "best_top5": 90.0, "seconds": 2.0, "num_labelled": 10},
        {"fraction": 0.1, "seed": 1, "final_top1": 44.0, "best_top1": 52.0, "final_top5": 82.0,
         "best_top5": 90.0, "seconds": 3.0, "num_labelled": 10},
        {"fraction": 0.1, "seed": 2, "final_top1": 48.0, "best_top1": 54.0, "final_top5": 84.0,
         "best_top5": 90.0, "seconds": 4.0, "num_labelled": 10},
        {"fraction": 1.0, "seed": 0, "final_top1": 90.0, "best_top1": 91.0, "final_top5": 99.0,
         "best_top5": 99.0, "seconds": 10.0, "num_labelled": 100},
    ]
    rows = summarize(results)
    assert [r["fraction"] for r in rows] == [0.1, 1.0]
    first = rows[0]
    assert first["seeds"] == 3 and first["final_top1_mean"] == pytest.approx(44.0)
    # population std of 40, 44, 48: sqrt((16 + 0 + 16) / 3)
    assert first["final_top1_std"] == pytest.approx(np.sqrt(32 / 3))
    assert first["best_top1_std"] == pytest.approx(np.sqrt(8 / 3))
    assert first["seconds"] == 9.0
    assert rows[1]["final_top1_std"] == 0.0
    table = format_results(rows, title="T")
    assert table.splitlines()[0] == "T"
    assert "44.00 ±  3.27" in table and "90.00 ±  0.00" in table


@pytest.fixture
def tiny_semi(tiny_config):
    cfg = tiny_config("finetune.optim.batch_size=16", "finetune.optim.epochs=2", "finetune.optim.milestones=[1]",
                      "finetune.optim.lr=0.05", "run.progress=false")
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    return resolved_config(cfg, train), train, val  # the encoders are built for the data's layout


def make_encoder(cfg):
    def make(seed):
        seed_everything(seed)
        return build_method_encoder(cfg, 3, 2)
    return make


def test_run_semi_fractions_by_seeds_and_resume(tiny_semi, tmp_path, monkeypatch):
    cfg, train, val = tiny_semi
    results = run_semi(cfg, make_encoder(cfg), train, val, tmp_path / "p", fractions=[0.25, 1.0], seeds=2,
                       sampling="class_balanced", progress=False)
    assert [(r["fraction"], r["seed"]) for r in results] == [(0.25, 0), (0.25, 1), (1.0, 0), (1.0, 1)]
    assert [r["num_labelled"] for r in results] == [12, 12, 48, 48]  # 16 per class in the tiny split
    assert results[0]["labelled_per_class"] == [4, 4, 4]
    assert results[0]["final_top1"] != results[1]["final_top1"] or \
        results[0]["history"][0]["loss"] != results[1]["history"][0]["loss"]  # seeds differ
    for r in results:
        run_dir = tmp_path / "p" / f"f{r['fraction']:g}_s{r['seed']}"
        assert json.loads((run_dir / "result.json").read_text()) == json.loads(json.dumps(r))
        assert (run_dir / "checkpoints" / "last.pt").is_file()
    # finished fine-tunes are read back, not trained again
    monkeypatch.setattr(semi.FineTuner, "fit", lambda *a, **k: pytest.fail("trained again"))
    again = run_semi(cfg, make_encoder(cfg), train, val, tmp_path / "p", fractions=[0.25, 1.0], seeds=2,
                     sampling="class_balanced", resume=True, progress=False)
    assert json.loads(json.dumps(again)) == json.loads(json.dumps(results))
    with pytest.raises(FileExistsError, match="resume it or remove it"):
        run_semi(cfg, make_encoder(cfg), train, val, tmp_path / "p", fractions=[0.25], seeds=1, progress=False)


def test_run_semi_resumes_an_unfinished_fine_tune(tiny_semi, tmp_path):
    cfg, train, val = tiny_semi
    straight = run_semi(cfg, make_encoder(cfg), train, val, tmp_path / "a", fractions=[0.5], seeds=1,
                        progress=False, keep_checkpoints=True)
    short = dataclasses.replace(cfg, finetune=dataclasses.replace(
        cfg.finetune, optim=dataclasses.replace(cfg.finetune.optim, epochs=1)))
    run_semi(short, make_encoder(cfg), train, val, tmp_path / "b", fractions=[0.5], seeds=1, progress=False)
    (tmp_path / "b" / "f0.5_s0" / "result.json").unlink()  # as if interrupted after epoch 1
    resumed = run_semi(cfg, make_encoder(cfg), train, val, tmp_path / "b", fractions=[0.5], seeds=1,
                       resume=True, progress=False, keep_checkpoints=False)
    assert [h["loss"] for h in resumed[0]["history"]] == [h["loss"] for h in straight[0]["history"]]
    assert resumed[0]["final_top1"] == straight[0]["final_top1"]
    assert not (tmp_path / "b" / "f0.5_s0" / "checkpoints").exists()


def test_graph_distances_keys_and_table(tiny_config, tmp_path):
    cfg = tiny_config("finetune.optim.batch_size=16", "finetune.optim.epochs=1", "run.progress=false",
                      "encoder.name=ctrgcn", "encoder.args={base_channels: 8}")
    train, val = load_data(cfg.data, "train"), load_data(cfg.data, "val")
    cfg = resolved_config(cfg, train)
    results = run_semi(cfg, make_encoder(cfg), train, val, tmp_path / "p", fractions=[1.0], seeds=1,
                       graph_distances=True, progress=False)
    d = results[0]["graph_distances"]
    expected = {"correct_count", "wrong_count", "correct_dist_all", "correct_dist_own",
                "correct_dist_other", "wrong_dist_all", "wrong_dist_own", "wrong_dist_other",
                "wrong_dist_predicted", "embedding_dim"}
    assert set(d) == expected
    assert d["correct_count"] + d["wrong_count"] == len(val) and d["embedding_dim"] == 3 * 25 * 25
    rows = summarize(results)
    assert rows[0]["graph_distances"]["correct_count"] == d["correct_count"]
    text = format_graph_distances(rows)
    assert "own class" in text and "misclassified" in text


def test_graph_distances_need_a_graph_encoder(tiny_semi, tmp_path):
    cfg, train, val = tiny_semi
    with pytest.raises(ValueError, match="--graph-distances needs"):
        run_semi(cfg, make_encoder(cfg), train, val, tmp_path / "p", fractions=[1.0], seeds=1,
                 graph_distances=True, progress=False)


def test_graph_distances_average_over_seeds_ignoring_empty_groups():
    base = {"fraction": 1.0, "final_top1": 100.0, "best_top1": 100.0}
    results = [{**base, "seed": 0, "graph_distances": {"wrong_dist_own": float("nan"), "correct_dist_own": 1.0}},
               {**base, "seed": 1, "graph_distances": {"wrong_dist_own": 4.0, "correct_dist_own": 3.0}}]
    d = summarize(results)[0]["graph_distances"]
    assert d == {"wrong_dist_own": 4.0, "correct_dist_own": 2.0}
    results[1]["graph_distances"]["wrong_dist_own"] = float("nan")
    assert np.isnan(summarize(results)[0]["graph_distances"]["wrong_dist_own"])


def test_run_semi_applies_the_run_section(tiny_semi, tmp_path):
    """run.threads must reach torch: semi_sup/run.py once ignored it, and two processes on two
    cores, each with a thread per core, ran ~8x slower than with run.threads=1."""
    cfg, train, val = tiny_semi
    before = torch.get_num_threads()
    target = 2 if before == 1 else 1  # a count the cores allow (run.threads is bounded by them)
    if target > usable_cores():
        pytest.skip("one usable core: no other thread count to set")
    cfg.run.threads = target
    try:
        run_semi(cfg, make_encoder(cfg), train, val, tmp_path / "p", fractions=[0.25], seeds=1, progress=False)
        assert torch.get_num_threads() == target
    finally:
        torch.set_num_threads(before)
