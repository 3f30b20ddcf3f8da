"""Learning-curve PNGs: one per stage, and one overlay of every stage's validation curves.

Each logged metric gets its own panel, in a grid of at most three columns: the loss,
the objective's metric, then the others as the history logs them (a binary run's
precision, recall and auc). `learning_rate` gets a panel only when it changed during
training (a schedule, or reduce_on_plateau lowering it): then it explains the bends in
the other curves; a constant rate would be a flat line taking a panel.

matplotlib is imported inside the functions with the Agg backend (no display),
so importing this module costs nothing. Files are written atomically.

Example:

```python
learning_curves({"loss": [...], "val_loss": [...]}, "val_accuracy", "small", run.path / "a.png")
overlay({"small": curves, "dropout": curves2}, "val_accuracy", run.path / "curves.png")
curve_panels({"loss": [...], "val_loss": [...], "auc": [...], "val_auc": [...]}, "val_auc")
# ['loss', 'auc']
```
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dlrun.runs.rundir import save_with

Curves = dict[str, list[float]]

LEARNING_RATE = "learning_rate"
# Panels per row: three keeps each panel wide enough to read at 100 dpi in a report.
MAX_COLUMNS = 3
# A panel's cell (width, height) and the figure's margins in inches: left, right, top,
# bottom, then the gaps across and down between panels. Fixed margins, not matplotlib's
# constrained layout and a tight bounding box, which measure every label and draw the
# figure twice: a stage's two-panel curves took 0.18-0.19 s to save that way and 0.08 s
# this way (5 saves each), 0.19-0.23 s and 0.09-0.10 s inside bench/own_time.py's runs.
PANEL = (4.8, 3.4)
MARGINS = (0.75, 0.2, 0.75, 0.5, 0.75, 0.85)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    save_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))


def _changes(values: list[float] | None) -> bool:
    return bool(values) and max(values) > min(values)


def curve_panels(curves: Curves | Iterable[Curves], metric: str) -> list[str]:
    """The metrics that get a panel, unprefixed: loss, the objective's metric (`metric`,
    a val_ name), the other logged metrics in their logged order, and `learning_rate`
    last when it changed in any of `curves` (one stage's, or every stage's)."""
    histories = [curves] if isinstance(curves, dict) else list(curves)
    objective = metric.removeprefix("val_")
    names: dict[str, None] = {"loss": None, objective: None}
    for history in histories:
        names.update((key.removeprefix("val_"), None) for key in history if key != LEARNING_RATE)
    panels = list(names)
    if any(_changes(h.get(LEARNING_RATE)) for h in histories):
        panels.append(LEARNING_RATE)
    return panels


def _grid(plt: Any, panels: int, title: str) -> tuple[Any, list[Any]]:
    """A figure with one axis per panel, row by row; the unused cells of the last row are
    removed, so that `fig.axes` is the panels."""
    columns = min(panels, 2 if panels == 4 else MAX_COLUMNS)  # 4 panels: 2 x 2, not 3 + 1
    rows = math.ceil(panels / columns)
    width, height = PANEL[0] * columns, PANEL[1] * rows
    fig, axes = plt.subplots(rows, columns, figsize=(width, height), squeeze=False)
    left, right, top, bottom, across, down = MARGINS
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=across * columns / (width - left - right - across * (columns - 1)),
        hspace=down * rows / (height - top - bottom - down * (rows - 1)),
    )
    cells = [ax for row in axes for ax in row]
    for ax in cells[panels:]:
        fig.delaxes(ax)
    fig.suptitle(title)
    return fig, cells[:panels]


def _decorate(ax: Any, title: str, objective: bool) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_title(f"{title} (objective)" if objective else title)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.grid(alpha=0.3)


def _plot(ax: Any, values: list[float] | None, style: str, label: str) -> None:
    if values:
        ax.plot(range(1, len(values) + 1), values, style, markersize=3, label=label)


def learning_curves(
    curves: Curves, metric: str, title: str, path: Path, best_epoch: int | None = None
) -> None:
    """Training against validation for every logged metric (see `curve_panels`), each on
    its own panel; `metric` (a val_ name) is the objective, marked in its panel's title."""
    plt = _pyplot()
    panels = curve_panels(curves, metric)
    fig, axes = _grid(plt, len(panels), title)
    try:
        for ax, name in zip(axes, panels, strict=True):
            if name == LEARNING_RATE:
                _plot(ax, curves.get(name), "o-", "learning rate")
            else:
                _plot(ax, curves.get(name), "o-", "training")
                _plot(ax, curves.get(f"val_{name}"), "s-", "validation")
            if best_epoch:
                best = f"best epoch {best_epoch}"
                ax.axvline(best_epoch, color="grey", linestyle=":", label=best)
            _decorate(ax, name, name == metric.removeprefix("val_"))
        # one legend: every metric panel has the same lines
        axes[0].legend()
        _save(fig, path)
    finally:
        plt.close(fig)


def overlay(stage_curves: dict[str, Curves], metric: str, path: Path) -> None:
    """Every stage's validation curve of every logged metric, a panel per metric (see
    `curve_panels`), a line per stage; `metric` is the objective the stages are chosen by."""
    plt = _pyplot()
    panels = curve_panels(stage_curves.values(), metric)
    fig, axes = _grid(plt, len(panels), "validation curves of every stage")
    try:
        for ax, name in zip(axes, panels, strict=True):
            key = name if name == LEARNING_RATE else f"val_{name}"
            for stage, curves in stage_curves.items():
                _plot(ax, curves.get(key), "o-", stage)
            _decorate(ax, key, key == metric)
        axes[0].legend()
        _save(fig, path)
    finally:
        plt.close(fig)
