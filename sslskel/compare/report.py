"""A study's report: results.json (every number) and report.md (the tables, the plots).

report.md holds, for the study's dataset: the table method x protocol (mean ± population std
over seeds, with the floors, the random encoder and the supervised ceiling as rows), the
paired differences of every method against the baseline (mean, 95 % t interval over seeds,
seeds agreeing in sign), and the wall time and peak memory of every job.

Example:
    results = build_results(study, table, markers, command="sslskel compare ...")
    write_report(Path("runs/compare/msr"), results, plots=["accuracy.png"])
"""

from __future__ import annotations

from pathlib import Path

from ..common.io import atomic_write_json, atomic_write_text
from .collect import CEILING_ROW, LOGISTIC_ROW, ONE_NN_ROW, RANDOM_ROW, SUPERVISED_ROWS, column_order
from .stats import paired_difference, spread

BASELINE_ROWS = (RANDOM_ROW, ONE_NN_ROW, LOGISTIC_ROW, *SUPERVISED_ROWS.values())


def row_order(table: dict, methods: list[str]) -> list[str]:
    return [r for r in [*methods, *BASELINE_ROWS] if r in table]


def build_results(study, table: dict, markers: dict, command: str) -> dict:
    """Everything the report shows, as plain JSON."""
    columns = column_order(table)
    rows = row_order(table, study.methods)
    summary = {row: {col: {**spread(list(table[row][col].values())),
                           "seeds": [str(s) for s in table[row][col]]}
                     for col in columns if col in table[row]} for row in rows}
    paired = {method: {col: paired_difference(table[method][col], table[study.baseline][col])
                       for col in columns if col in table.get(method, {}) and col in table.get(study.baseline, {})}
              for method in study.methods if method != study.baseline and method in table}
    # the supervised variants against cross-entropy alone, seed by seed
    paired_supervised = {SUPERVISED_ROWS[v]: paired_difference(table[SUPERVISED_ROWS[v]]["linear"],
                                                               table[CEILING_ROW]["linear"])
                         for v in study.supervised if v != "ce" and SUPERVISED_ROWS[v] in table
                         and CEILING_ROW in table}
    runs = [{k: m.get(k) for k in ("name", "kind", "wall_s", "peak_rss_mb", "threads", "resumed", "run_dir")}
            for m in markers.values()]
    return {"command": command, "dataset": study.dataset, "data": str(study.data) if study.data else None,
            "config_dir": str(study.config_dir), "methods": study.methods, "seeds": study.seeds,
            "protocols": [p if f is None else f"semi:{','.join(f'{x:g}' for x in f)}" for p, f in study.protocols],
            "baseline": study.baseline, "overrides": study.overrides, "columns": columns, "rows": rows,
            "summary": summary, "per_seed": {r: {c: {str(s): v for s, v in table[r][c].items()}
                                                 for c in table[r]} for r in rows},
            "paired": paired, "paired_supervised": paired_supervised,
            "supervised": study.supervised,
            "supervised_config": str(study.supervised_config) if study.supervised_config else None, "runs": runs}


def cell(stats: dict | None) -> str:
    """mean ± std with about three significant digits: accuracy in % to 0.1, an MI bound of
    2.04 nats or a graph ratio of 5.62 to 0.01, an AUROC to 0.001."""
    if stats is None:
        return ""
    mean = stats["mean"]
    digits = 1 if abs(mean) >= 10 else 2 if abs(mean) >= 1 else 3
    if stats["n"] == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {stats['std']:.{digits}f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def results_table(results: dict) -> str:
    """The method x protocol table of report.md."""
    columns = results["columns"]
    body = [[row] + [cell(results["summary"][row].get(col)) for col in columns] for row in results["rows"]]
    return markdown_table(["", *columns], body)


def paired_cell(diff: dict | None) -> str:
    if diff is None:
        return ""
    text = f"{diff['mean']:+.2f}"
    if diff["low"] is not None:
        text += f" [{diff['low']:+.2f}, {diff['high']:+.2f}]"
    return text + f", {diff['agree']}/{diff['n']} seeds agree"


def paired_table(results: dict) -> str:
    methods = list(results["paired"])
    if not methods:
        return "(one method: nothing to pair)"
    columns = [c for c in results["columns"] if any(c in results["paired"][m] for m in methods)]
    body = [[f"{m} - {results['baseline']}"] + [paired_cell(results["paired"][m].get(c)) for c in columns]
            for m in methods]
    note = ""
    if len(results["seeds"]) < 2:
        note = "\n\nNo interval: one seed, and a t interval needs at least two paired differences."
    return markdown_table(["", *columns], body) + note


def paired_supervised_table(results: dict) -> str:
    pairs = results.get("paired_supervised") or {}
    body = [[f"{row.split(',')[0]} - supervised"] + [paired_cell(diff)] for row, diff in pairs.items()]
    return markdown_table(["", "final top-1"], body)


def runs_table(results: dict) -> str:
    body = [[r["name"], f"{r['wall_s']:.0f}" + (" (resumed: the rest only)" if r.get("resumed") else ""),
             f"{r['peak_rss_mb']:.0f}", str(r["threads"])] for r in sorted(results["runs"], key=lambda r: r["name"])]
    return markdown_table(["job", "wall s", "peak MB", "threads"], body)


def report_markdown(results: dict, plots: list[str]) -> str:
    seeds = ",".join(str(s) for s in results["seeds"])
    title = ", ".join(results["methods"]) or "supervised " + ", ".join(results.get("supervised", []))
    parts = [f"# {results['dataset']}: {title}", "",
             "```", results["command"], "```", "",
             f"Configs: `{results['config_dir']}`; seeds {seeds}; overrides: "
             f"{' '.join(results['overrides']) or 'none'}. Top-1 % on the test split, mean ± population std "
             "over seeds (AUROCs, effective rank, MI bound in nats and graph ratios: not %). Floors, random init and "
             "the supervised ceiling are rows: a floor under the protocol it bounds (1-NN under kNN k=1, logistic "
             "regression under linear), the ceiling (same encoder and input, all labels) under linear; "
             "random init under semi is the same fine-tune from random weights.", "",
             results_table(results), ""]
    if results["methods"]:
        parts += [f"## Paired differences against {results['baseline']}", "",
                  "Mean of the per-seed differences (points), its 95 % Student-t interval over seeds, and the "
                  "number of seeds whose difference has the mean's sign.", "",
                  paired_table(results), ""]
    if results.get("paired_supervised"):
        config = results.get("supervised_config") or "the baseline's config"
        parts += ["## Supervised, all labels: each added loss against cross-entropy alone", "",
                  f"`supervised/run.py --config {config}` per seed with the loss's flag; paired by seed.", "",
                  paired_supervised_table(results), ""]
    parts += ["## Runs", "", runs_table(results), ""]
    if plots:
        parts += ["## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in plots] + [""]
    return "\n".join(parts)


def write_report(study_dir: Path, results: dict, plots: list[str]) -> Path:
    atomic_write_json(Path(study_dir) / "results.json", results)
    path = Path(study_dir) / "report.md"
    atomic_write_text(path, report_markdown(results, plots))
    return path
