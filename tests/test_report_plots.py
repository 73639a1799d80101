"""sslskel.report: every logged loss/* and sim/* term is drawn whatever the method, HaLP's
switch-on step is marked, and a kNN series of one point is drawn readably."""

from __future__ import annotations

import pytest

from sslskel import report
from sslskel.engine.run_log import RunLogger

pytest.importorskip("matplotlib")


def write_log(run_dir, records):
    with RunLogger(run_dir, tensorboard=False) as log:
        for record in records:
            record = dict(record)
            step, epoch = record.pop("step"), record.pop("epoch", None)
            log.log(record, step=step, epoch=epoch)


@pytest.fixture
def drawn(monkeypatch):
    """{file name: figure} of what make_plots saves (the figures stay open to be read)."""
    figures = {}

    def keep(fig, path):
        figures[path.name] = fig
        return path

    monkeypatch.setattr(report, "_save", keep)
    yield figures
    import matplotlib.pyplot as plt

    plt.close("all")


def labels(fig):
    return [text.get_text() for text in fig.axes[0].get_legend().get_texts()]


def test_every_loss_and_similarity_term_is_drawn(tmp_path, drawn):
    """A VSimCLR-like log: no key of it was in the old hard-coded MoCo / HaLP lists but train/loss."""
    write_log(tmp_path, [{"step": s, "epoch": 0, "train/loss": 3.0 / s, "loss/nt_xent": 2.5 / s,
                          "loss/kl": 0.1 * s, "sim/positive": 0.2 * s, "train/lr": 0.1} for s in range(1, 5)])
    report.make_plots(tmp_path)
    assert sorted(drawn) == ["losses.png", "lr.png", "similarities.png"]
    assert labels(drawn["losses.png"]) == ["train/loss", "loss/kl", "loss/nt_xent"]
    assert labels(drawn["similarities.png"]) == ["sim/positive"]


def test_the_step_where_halp_switches_on_is_marked(tmp_path, drawn):
    records = [{"step": s, "epoch": (s - 1) // 2, "train/loss": 1.0, "loss/infonce": 1.0,
                "halp/mu": 1.0 if s >= 5 else 0.0, **({"loss/halp": 0.5} if s >= 5 else {})}
               for s in range(1, 9)]
    write_log(tmp_path, records)
    assert report.halp_switch_on(report.read_metrics(tmp_path)) == (5, 2)
    report.make_plots(tmp_path)
    assert labels(drawn["losses.png"]) == ["train/loss", "loss/halp", "loss/infonce", "HaLP on (step 5, epoch 2)"]
    marker = [line for line in drawn["losses.png"].axes[0].get_lines() if line.get_label().startswith("HaLP")]
    assert list(marker[0].get_xdata()) == [5, 5]


def test_a_run_without_halp_has_no_marker(tmp_path, drawn):
    write_log(tmp_path, [{"step": s, "train/loss": 1.0, "halp/mu": 0.0} for s in range(1, 4)])
    assert report.halp_switch_on(report.read_metrics(tmp_path)) is None
    report.make_plots(tmp_path)
    assert labels(drawn["losses.png"]) == ["train/loss"]


def test_one_knn_point_is_a_labelled_point_on_a_full_axis(tmp_path, drawn):
    """A run shorter than run.knn_every logs kNN once, at its last step."""
    write_log(tmp_path, [{"step": s, "train/loss": 1.0} for s in range(1, 41)]
              + [{"step": 40, "knn/top1_k1": 37.5, "knn/top1_k20": 42.25}])
    report.make_plots(tmp_path)
    ax = drawn["knn.png"].axes[0]
    assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] > 40
    assert ax.get_ylim() == (0, 100)
    assert sorted(text.get_text() for text in ax.texts) == ["37.5", "42.2"]
    assert labels(drawn["knn.png"]) == ["knn/top1_k1", "knn/top1_k20"]
