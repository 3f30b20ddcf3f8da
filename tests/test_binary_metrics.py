"""Binary runs log precision, recall and ROC-AUC by default (issue #24), and every logged
metric gets a panel in the learning curves.

Accuracy alone hides a model that never flags the rare class; the default binary metrics
say so from the first run, while the default objective stays val_accuracy. The curves
(per stage and the stages' overlay) draw one panel per logged metric, in a grid.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import check_error, one_paragraph

from dlrun.report import plots

BINARY_METRICS = ["accuracy", "precision", "recall", "auc"]
# Two stages, two epochs each, so the run draws both kinds of figure: each stage's
# curves and the overlay of the stages.
BREAST_CANCER = {
    "name": "cancer",
    "seed": 3,
    "task": "binary",
    "data": {"source": "sklearn.breast_cancer", "validation": {"fraction": 0.25}},
    "model": {"kind": "mlp", "units": [8]},
    "train": {
        "epochs": 2,
        "batch_size": 32,
        "optimizer": {"name": "adam", "learning_rate": 0.01},
        "tensorboard": False,
    },
    "workflow": {
        "baseline": "majority",
        "final": "keep_best",
        "stages": [{"name": "small"}, {"name": "wide", "model": {"units": [16]}}],
    },
}


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every learning-curve figure the run saves, by file name (the PNGs are still written)."""
    saved: dict[str, Any] = {}
    save = plots._save

    def keep(fig: Any, path: Path) -> None:
        saved[path.name] = fig
        save(fig, path)

    monkeypatch.setattr(plots, "_save", keep)
    return saved


def _lines(ax: Any) -> list[str]:
    """The labels of an axis's curves (the best-epoch marker is no curve)."""
    return [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("best")]


def test_a_binary_run_logs_precision_recall_and_auc_and_draws_a_panel_for_each(
    cli, write_config, runs_dir: Path, figures: dict[str, Any]
) -> None:
    code, _, err = cli("train", write_config(BREAST_CANCER), "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()

    with (run / "stages" / "small" / "history.csv").open() as fp:
        rows = list(csv.DictReader(fp))
    assert len(rows) == 2
    for name in BINARY_METRICS:
        assert name in rows[0] and f"val_{name}" in rows[0]
        assert all(0.0 <= float(row[f"val_{name}"]) <= 1.0 for row in rows)

    summary = json.loads((run / "summary.json").read_text())
    assert summary["workflow"]["metric"] == "val_accuracy"  # accuracy is still the first
    for stage in summary["stages"].values():
        assert set(stage["val"]) == {"loss", *BINARY_METRICS}
        assert stage["score"] == stage["val"]["accuracy"]
    test = summary["final"]["test"]
    assert set(BINARY_METRICS) <= set(test)
    assert test == json.loads((run / "final" / "metrics.json").read_text())
    report = (run / "report.md").read_text()
    assert "**Test accuracy:" in report and "precision" in report and "auc" in report
    assert "**Problem:**" not in report  # the job's own process is not a crashed one

    # one panel per logged metric, training against validation; the rate was constant
    for stage in ("small", "wide"):
        assert (run / f"curves_{stage}.png").stat().st_size > 1000
        fig = figures[f"curves_{stage}.png"]
        titles = [ax.get_title() for ax in fig.axes]
        assert titles == ["loss", "accuracy (objective)", "auc", "precision", "recall"]
        assert all(_lines(ax) == ["training", "validation"] for ax in fig.axes)
    # the overlay: one panel per validation metric, a line per stage
    overlay = figures["validation_curves.png"]
    assert [ax.get_title() for ax in overlay.axes] == [
        "val_loss",
        "val_accuracy (objective)",
        "val_auc",
        "val_precision",
        "val_recall",
    ]
    assert all(_lines(ax) == ["small", "wide"] for ax in overlay.axes)

    code, out, err = cli("runs")  # the columns lead with what the runs were judged by
    assert code == 0, err
    header = out.splitlines()[0].split()
    metrics = [h for h in header if h.startswith(("test_", "val_"))]
    assert metrics[:2] == ["test_accuracy", "val_accuracy"]


def test_check_knows_the_default_binary_metrics(cli, write_config) -> None:
    from dlrun.config.checks import logged_metrics
    from dlrun.config.loader import load_config
    from dlrun.spec import DlrunConfig

    path = write_config({k: v for k, v in BREAST_CANCER.items() if k != "workflow"})
    config = load_config(DlrunConfig, path).config
    assert logged_metrics(config) == [
        *(f"val_{m}" for m in ["loss", *BINARY_METRICS]),
        "loss",
        *BINARY_METRICS,
    ]
    assert config.resolved_objective().name == "val_accuracy"
    for objective in ("objective=val_auc", "sweep.metric=val_recall"):
        args = ["sweep.space={model.dropout: {float: [0.0, 0.5]}}"] if "sweep" in objective else []
        code, _, err = cli("check", path, objective, *args)
        assert code == 0, err
    code, _, err = cli("check", path, "train.early_stopping.monitor=val_precision")
    assert code == 0, err
    # metrics given replace the defaults: auc is then not logged
    err = one_paragraph(check_error(cli, path, "objective=val_auc", "train.metrics=[accuracy]"))
    assert "objective.metric 'val_auc'" in err and "val_loss, val_accuracy, loss, accuracy" in err


def _curve(start: float, end: float, epochs: int = 6) -> list[float]:
    return [start + (end - start) * e / (epochs - 1) for e in range(epochs)]


BINARY_CURVES = {
    name: _curve(0.5, 0.9) for base in BINARY_METRICS for name in (base, f"val_{base}")
} | {"loss": _curve(0.7, 0.2), "val_loss": _curve(0.7, 0.3), "learning_rate": [0.001] * 6}


def test_the_learning_rate_gets_a_panel_only_when_it_changed() -> None:
    assert plots.curve_panels(BINARY_CURVES, "val_auc") == [
        "loss", "auc", "accuracy", "precision", "recall"
    ]  # fmt: skip
    cosine = BINARY_CURVES | {"learning_rate": [1e-3 * math.cos(e / 5) for e in range(6)]}
    assert plots.curve_panels(cosine, "val_auc")[-1] == "learning_rate"
    # the overlay: a panel for the rate when any stage's changed
    assert plots.curve_panels([BINARY_CURVES, cosine], "val_auc")[-1] == "learning_rate"
    assert plots.curve_panels({"loss": [1.0], "val_loss": [1.0]}, "val_loss") == ["loss"]


@pytest.mark.parametrize(
    ("metrics", "rows", "columns"),
    [(["accuracy"], 1, 2), (["accuracy", "auc", "recall"], 2, 2), (BINARY_METRICS, 2, 3)],
)
def test_the_panels_are_a_grid_of_at_most_three_columns(
    tmp_path: Path, figures: dict[str, Any], metrics: list[str], rows: int, columns: int
) -> None:
    curves = {k: v for k, v in BINARY_CURVES.items() if k.removeprefix("val_") in metrics}
    curves |= {"loss": BINARY_CURVES["loss"], "val_loss": BINARY_CURVES["val_loss"]}
    plots.learning_curves(curves, "val_accuracy", "t", tmp_path / "c.png", best_epoch=4)
    fig = figures["c.png"]
    assert len(fig.axes) == 1 + len(metrics)
    grid = {ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes}
    assert grid == {(rows, columns)}
    assert (tmp_path / "c.png").stat().st_size > 1000


@pytest.mark.parametrize("metrics", [["accuracy"], ["accuracy", "auc", "recall"], BINARY_METRICS])
def test_every_label_of_the_curves_is_inside_the_figure_and_clear_of_other_panels(
    tmp_path: Path, figures: dict[str, Any], metrics: list[str]
) -> None:
    """The grid's margins are fixed (`plots.MARGINS`), not measured from the labels: a
    loss in the tens of thousands and a decaying learning rate still fit."""
    curves = {k: v for k, v in BINARY_CURVES.items() if k.removeprefix("val_") in metrics}
    curves |= {"loss": _curve(12000.0, 700.0), "val_loss": _curve(11000.0, 900.0)}
    curves["learning_rate"] = [1e-3 * 0.5**e for e in range(6)]
    plots.learning_curves(curves, "val_accuracy", "regularized: convnet", tmp_path / "c.png", 4)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = figures["c.png"]
    renderer = FigureCanvasAgg(fig).get_renderer()  # closing the figure took its canvas
    page = fig.bbox
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
    for box in [*boxes, fig._suptitle.get_window_extent(renderer)]:
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
    for i, box in enumerate(boxes):
        assert not any(box.overlaps(other) for other in boxes[i + 1 :])


def test_runs_lead_with_the_objective_of_the_runs(tmp_path: Path) -> None:
    from dlrun.commands.runs import metric_columns
    from dlrun.runs.catalog import RunInfo

    metrics = {f"{split}_{m}": 0.5 for split in ("test", "val") for m in ["loss", *BINARY_METRICS]}
    run = RunInfo(
        path=tmp_path,
        id="r",
        name="r",
        status="completed",
        metrics=metrics,
        summary={"workflow": {"metric": "val_recall"}},
    )
    assert metric_columns([run])[:2] == ["test_recall", "val_recall"]
    assert metric_columns([run], "val_auc")[0] == "val_auc"  # a sort leads instead
