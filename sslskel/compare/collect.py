"""Read a study's numbers back from the files its jobs wrote: {row: {column: {seed: value}}}.

Rows: each method, then "random init", the floors ("raw 1-NN", "raw logistic") and the
ceiling ("supervised, all labels"), with any other --supervised variant ("supervised + SupCon,
all labels", ... + VSupCon, ... + SkeletonGCL). Columns, one or more per protocol:
- linear: "linear" (final top-1 of eval_linear.json; the best epoch's is in results.json);
- knn: "kNN k=K" for every K of linear.knn_k;
- semi:F...: "semi F" (final top-1 of the fine-tune on fraction F; the random-init row: the
  same fine-tune from random weights, `semi_sup/run.py --init scratch`);
- single-shot: "single-shot" (mean final top-1 over the camera x replication parts);
- uncertainty: "error AUROC, variance" and "error AUROC, 1 - R" (each score of the posterior
  against the logistic probe's errors); with classes held out (data.exclude_classes) also
  "OOD AUROC, variance", "OOD AUROC, 1 - R" (those classes' test clips against the others) and
  "probe top-1, in-distribution";
- disentangle: "view from z_v", "view from z_p", "action from z_p", "action from z_v" (probe
  top-1; the paper's aim: view from z_v and action from z_p high, view from z_p near chance);
- diagnostics: "effective rank", "MI bound" (H(Y) - CE of a probe, nats);
- supervised runs of an encoder that learns graphs (CTR-GCN): "graph ratio, correct" and
  "graph ratio, misclassified" (SkeletonGCL's Tab. 9, other-class over own-class distance).
A floor sits in the column of the protocol it bounds (1-NN under kNN k=1, logistic under
linear); the ceiling and the supervised variants, classifiers trained with all labels, under linear.

Example:
    table = collect(study, markers)
    table["moco"]["linear"]   # {0: 78.2, 1: 79.5, 2: 77.8}
"""

from __future__ import annotations

import json
from pathlib import Path

from ..engine.config import load_config
from ..engine.run_log import read_metrics
from ..eval.disentangle import PROBES
from ..eval.semi import result_tag
from .jobs import semi_tag, supervised_tag

RANDOM_ROW = "random init"
ONE_NN_ROW, LOGISTIC_ROW = "raw 1-NN", "raw logistic"
CEILING_ROW = "supervised, all labels"
# eval_disentangle.json key -> column, named as linear_eval prints the probe ("view from z_v")
DISENTANGLE_COLUMNS = {key: f"{target} from {rep}" for key, target, rep in PROBES}
GRAPH_COLUMNS = ("graph ratio, correct", "graph ratio, misclassified")
# eval_uncertainty.json score -> its name in the columns "error AUROC, NAME" and "OOD AUROC, NAME"
UNCERTAINTY_SCORES = {"mean_posterior_variance": "variance", "one_minus_resultant_length": "1 - R"}
UNCERTAINTY_COLUMNS = (*(f"error AUROC, {n}" for n in UNCERTAINTY_SCORES.values()),
                       *(f"OOD AUROC, {n}" for n in UNCERTAINTY_SCORES.values()), "probe top-1, in-distribution")
# --supervised variants: their rows (ce with the baseline's config is the ceiling)
SUPERVISED_ROWS = {"ce": CEILING_ROW, "supcon": "supervised + SupCon, all labels",
                   "vsupcon": "supervised + VSupCon, all labels", "gcl": "supervised + SkeletonGCL, all labels"}


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def eval_columns(run_dir: Path, suffix: str = "") -> dict[str, float]:
    """{column: value} of the eval_*.json files in a run directory."""
    out = {}
    if (linear := read_json(run_dir / f"eval_linear{suffix}.json")) is not None:
        out["linear"] = linear["final_top1"]
    for key, value in (read_json(run_dir / f"eval_knn{suffix}.json") or {}).items():
        if key.startswith("knn_k"):
            out[f"kNN k={value['k']}"] = value["top1"]
    if (shot := read_json(run_dir / f"eval_single_shot{suffix}.json")) is not None:
        out["single-shot"] = shot["mean_final_top1"]
    if (unc := read_json(run_dir / f"eval_uncertainty{suffix}.json")) is not None:
        for score, name in UNCERTAINTY_SCORES.items():
            for kind, results in (("error", unc["error_auroc"]), ("OOD", unc.get("ood") or {})):
                if (results.get(score) or {}).get("auroc") is not None:  # None: no errors / no OOD clips
                    out[f"{kind} AUROC, {name}"] = results[score]["auroc"]
        if unc.get("ood"):  # the probe then knows the in-distribution classes only
            out["probe top-1, in-distribution"] = unc["probe"]["top1"]
    if (probes := read_json(run_dir / f"eval_disentangle{suffix}.json")) is not None:
        for key, column in DISENTANGLE_COLUMNS.items():
            out[column] = probes[key]["top1"]
    if (diag := read_json(run_dir / f"eval_diagnostics{suffix}.json")) is not None:
        out["effective rank"] = diag["effective_rank"]
        out["MI bound"] = diag["mutual_information"]["bound_nats"]
    return out


def graph_columns(distances: dict | None) -> dict[str, float]:
    """SkeletonGCL's Tab. 9 as two ratios: a val graph's mean distance to the other classes'
    centroids over that to its own class's, for correctly and wrongly classified clips (ratios,
    since the graphs' scale grows under the contrast; larger = more class-discriminative)."""
    out = {}
    for group, column in (("correct", GRAPH_COLUMNS[0]), ("wrong", GRAPH_COLUMNS[1])):
        own, other = (distances or {}).get(f"{group}_dist_own"), (distances or {}).get(f"{group}_dist_other")
        if own and other is not None and own == own and other == other:  # NaN: no clip in the group
            out[column] = other / own
    return out


def semi_columns(run_dir: Path, tag: str) -> dict[str, float]:
    summary = read_json(run_dir / f"{tag}.json")
    return {f"semi {row['fraction']:g}": row["final_top1_mean"] for row in (summary or {}).get("summary", [])}


def put(table: dict, row: str, columns: dict, seed: int) -> None:
    for column, value in columns.items():
        table.setdefault(row, {}).setdefault(column, {})[seed] = float(value)


def collect(study, markers: dict) -> dict:
    """{row: {column: {seed: value}}} from the finished jobs' markers."""
    table: dict = {}
    for marker in markers.values():
        run_dir = Path(marker["run_dir"]) if marker.get("run_dir") else None
        kind, seed = marker["kind"], marker["seed"]
        if kind == "eval":
            put(table, marker["method"], eval_columns(run_dir), seed)
        elif kind == "random":
            put(table, RANDOM_ROW, eval_columns(run_dir, "_random"), seed)
        elif kind == "semi":
            put(table, marker["method"], semi_columns(run_dir, semi_tag(study, marker["method"])), seed)
        elif kind == "semi_scratch":
            cfg = load_config(study.config_path(study.baseline), study.pretrain_overrides(study.baseline, seed))
            tag = result_tag(supervised=False, scratch=True, sampling=cfg.finetune.sampling)
            put(table, RANDOM_ROW, semi_columns(run_dir, tag), seed)
        elif kind == "supervised":
            variant = marker.get("method") or "ce"
            rows = read_json(run_dir / f"{supervised_tag(variant)}.json")["summary"]
            put(table, SUPERVISED_ROWS[variant], {"linear": rows[0]["final_top1_mean"],
                                                  **graph_columns(rows[0].get("graph_distances"))}, seed)
        elif kind == "floors":
            floors = read_json(run_dir)
            table[ONE_NN_ROW] = {"kNN k=1": {"-": floors["one_nn"]}}
            table[LOGISTIC_ROW] = {"linear": {"-": floors["logistic"]}}
    return table


def loss_curves(markers: dict, key: str = "train/loss") -> dict[str, list[tuple[list, list]]]:
    """{method: [(steps, losses) per seed]} from the pretraining runs' metrics.jsonl."""
    curves: dict = {}
    for marker in markers.values():
        if marker["kind"] == "pretrain" and marker.get("run_dir"):
            records = [r for r in read_metrics(marker["run_dir"]) if isinstance(r.get(key), (int, float))]
            curves.setdefault(marker["method"], []).append(([r["step"] for r in records],
                                                            [r[key] for r in records]))
    return curves


# after linear, kNN and semi; the disentangle probes in the order the probe reports them
LATER_COLUMNS = ("single-shot", *DISENTANGLE_COLUMNS.values(), *UNCERTAINTY_COLUMNS, "effective rank", "MI bound",
                 *GRAPH_COLUMNS)


def column_order(table: dict) -> list[str]:
    """Columns in protocol order: linear, kNN by k, semi by fraction, then LATER_COLUMNS, the rest."""
    columns = {c for row in table.values() for c in row}

    def rank(column: str):
        if column == "linear":
            return (0, 0.0)
        if column.startswith("kNN k="):
            return (1, float(column[6:]))
        if column.startswith("semi "):
            return (2, float(column[5:]))
        if column in LATER_COLUMNS:
            return (3, float(LATER_COLUMNS.index(column)))
        return (4, 0.0)
    return sorted(columns, key=lambda c: (*rank(c), c))
