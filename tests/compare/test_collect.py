"""compare.collect.eval_columns: every protocol's eval_*.json becomes the columns the report names."""

import json

from sslskel.compare.collect import column_order, eval_columns, graph_columns


def write(run_dir, name, payload):
    (run_dir / name).write_text(json.dumps(payload))


def test_every_protocol_file_gives_its_columns(tmp_path):
    write(tmp_path, "eval_linear.json", {"final_top1": 71.5, "best_top1": 73.0})
    write(tmp_path, "eval_knn.json", {"knn_k1": {"k": 1, "top1": 60.25}, "knn_k20": {"k": 20, "top1": 64.0},
                                      "seconds": 1.0})
    write(tmp_path, "eval_single_shot.json", {"mean_final_top1": 55.5})
    write(tmp_path, "eval_uncertainty.json", {"scores": ["mean_posterior_variance", "one_minus_resultant_length"],
                                              "probe": {"top1": 70.0},
                                              "error_auroc": {"mean_posterior_variance": {"auroc": 0.61},
                                                              "one_minus_resultant_length": {"auroc": 0.7}},
                                              "ood": None})
    write(tmp_path, "eval_disentangle.json", {"view_from_z_v": {"top1": 57.4, "chance": 32.5},
                                              "view_from_z_p": {"top1": 46.7, "chance": 32.5},
                                              "action_from_z_p": {"top1": 79.7, "chance": 11.3},
                                              "action_from_z_v": {"top1": 64.7, "chance": 11.3}})
    write(tmp_path, "eval_diagnostics.json", {"effective_rank": 12.5, "mutual_information": {"bound_nats": 2.1}})
    assert eval_columns(tmp_path) == {
        "linear": 71.5, "kNN k=1": 60.25, "kNN k=20": 64.0, "single-shot": 55.5,
        "error AUROC, variance": 0.61, "error AUROC, 1 - R": 0.7,
        "view from z_v": 57.4, "view from z_p": 46.7, "action from z_p": 79.7, "action from z_v": 64.7,
        "effective rank": 12.5, "MI bound": 2.1}


def test_held_out_classes_add_the_ood_columns(tmp_path):
    write(tmp_path, "eval_uncertainty.json", {
        "scores": ["mean_posterior_variance", "one_minus_resultant_length"], "probe": {"top1": 69.6},
        "error_auroc": {"mean_posterior_variance": {"auroc": None}, "one_minus_resultant_length": {"auroc": 0.66}},
        "ood": {"classes": [3, 7], "mean_posterior_variance": {"auroc": 0.35},
                "one_minus_resultant_length": {"auroc": 0.56}}})
    # an AUROC of None (no probe errors) gets no column
    assert eval_columns(tmp_path) == {"error AUROC, 1 - R": 0.66, "OOD AUROC, variance": 0.35,
                                      "OOD AUROC, 1 - R": 0.56, "probe top-1, in-distribution": 69.6}


def test_suffix_reads_the_random_init_files_only(tmp_path):
    write(tmp_path, "eval_linear.json", {"final_top1": 71.5})
    write(tmp_path, "eval_linear_random.json", {"final_top1": 20.0})
    assert eval_columns(tmp_path, "_random") == {"linear": 20.0}
    assert eval_columns(tmp_path / "missing") == {}


def test_columns_come_in_protocol_order():
    columns = ["effective rank", "action from z_v", "semi 0.1", "view from z_p", "kNN k=20", "single-shot",
               "semi 0.05", "view from z_v", "linear", "kNN k=1", "action from z_p", "error AUROC, 1 - R",
               "MI bound", "OOD AUROC, variance", "error AUROC, variance", "other"]
    table = {"cvmim": dict.fromkeys(columns, {0: 1.0})}
    assert column_order(table) == ["linear", "kNN k=1", "kNN k=20", "semi 0.05", "semi 0.1", "single-shot",
                                   "view from z_v", "view from z_p", "action from z_p", "action from z_v",
                                   "error AUROC, variance", "error AUROC, 1 - R", "OOD AUROC, variance",
                                   "effective rank", "MI bound", "other"]


def test_graph_distances_become_other_over_own_ratios():
    distances = {"correct_dist_own": 2.0, "correct_dist_other": 11.0, "wrong_dist_own": 4.0,
                 "wrong_dist_other": 10.0, "correct_count": 90, "wrong_count": 10}
    assert graph_columns(distances) == {"graph ratio, correct": 5.5, "graph ratio, misclassified": 2.5}
    # no misclassified clip: that group is NaN and gets no column; no diagnostics, no columns
    assert graph_columns({**distances, "wrong_dist_own": float("nan"), "wrong_dist_other": float("nan")}) == {
        "graph ratio, correct": 5.5}
    assert graph_columns(None) == {}


def test_a_supervised_ctrgcn_job_asks_for_the_graph_diagnostics(tmp_path):
    from sslskel.compare.cli import build_parser
    from sslskel.compare.jobs import study_jobs
    from sslskel.compare.plan import REPO, make_study

    def first_argv(config):
        args = build_parser().parse_args(["--methods", "none", "--supervised", "ce", "--supervised-config",
                                          str(config), "--seeds", "0"])
        args.overrides = []
        return study_jobs(make_study(args), tmp_path)[0].command(1, {})[0]
    assert "--graph-distances" in first_argv(REPO / "configs" / "synthetic" / "supervised_ctrgcn.yaml")
    assert "--graph-distances" not in first_argv(REPO / "configs" / "synthetic" / "semi.yaml")  # BiGRU
