"""Learning-curve PNGs: one per stage, and one overlay of every stage's validation curve.

matplotlib is imported inside the functions with the Agg backend (no display),
so importing this module costs nothing. Files are written atomically.

Example:

```python
learning_curves({"loss": [...], "val_loss": [...]}, "val_accuracy", "small", run.path / "a.png")
overlay({"small": curves, "dropout": curves2}, "val_accuracy", run.path / "curves.png")
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlrun.runs.rundir import save_with

Curves = dict[str, list[float]]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    save_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))


def learning_curves(
    curves: Curves, metric: str, title: str, path: Path, best_epoch: int | None = None
) -> None:
    """Training and validation loss, and `metric` (a val_ name), against the epoch."""
    plt = _pyplot()
    names = ["loss", metric.removeprefix("val_")] if metric != "val_loss" else ["loss"]
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for key, style, label in ((name, "o-", "training"), (f"val_{name}", "s-", "validation")):
            values = curves.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, markersize=3, label=label)
        if best_epoch:
            ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch {best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    try:
        _save(fig, path)
    finally:
        plt.close(fig)


def overlay(stage_curves: dict[str, Curves], metric: str, path: Path) -> None:
    """Every stage's validation `metric` and validation loss on shared axes."""
    plt = _pyplot()
    names = [metric, "val_loss"] if metric != "val_loss" else ["val_loss"]
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for stage, curves in stage_curves.items():
            values = curves.get(name)
            if values:
                ax.plot(range(1, len(values) + 1), values, "o-", markersize=3, label=stage)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("validation curves of every stage")
    try:
        _save(fig, path)
    finally:
        plt.close(fig)
