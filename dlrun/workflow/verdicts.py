"""What a careful practitioner concludes from a stage's learning curves; pure Python.

A stage's curves are Keras history columns (`loss`, `val_loss`, `accuracy`,
`val_accuracy`, ...; for K-fold the per-epoch mean over folds).

Overfitting: validation loss reached its minimum at epoch N, then stayed above
it for at least `AFTER` more epochs and ended more than `RISE` (relative) above
it, while the training loss kept falling. The gap is the train-minus-validation
difference of the metric at the last epoch (oriented so that positive means the
model does better on the data it was trained on).

Example:

```python
curves = {"loss": [0.5, 0.3, 0.2, 0.1], "val_loss": [0.4, 0.3, 0.35, 0.45],
          "accuracy": [0.8, 0.9, 0.95, 0.99], "val_accuracy": [0.85, 0.88, 0.87, 0.86]}
overfitting(curves, "val_accuracy")   # Overfitting(overfits=True, after_epoch=2, gap=0.13)
```
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from dlrun.objective import Objective

Curves = dict[str, list[float]]

AFTER = 2  # epochs without improvement before "overfits" is said
RISE = 0.01  # relative rise of the validation loss above its minimum


@dataclass(frozen=True)
class Overfitting:
    overfits: bool
    after_epoch: int | None  # the last epoch before validation loss stopped improving
    gap: float | None  # train minus validation metric at the last epoch (positive: train better)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def metric_gap(curves: Curves, metric: str, epoch: int | None = None) -> float | None:
    """Train-minus-validation difference of `metric` at `epoch` (default: the last)."""
    base = metric.removeprefix("val_")
    train, val = curves.get(base), curves.get(f"val_{base}")
    if not train or not val:
        return None
    i = (epoch or len(val)) - 1
    gap = Objective.of(base).margin(train[i], val[i])
    return round(float(gap), 6)


def overfitting(curves: Curves, metric: str) -> Overfitting:
    """Does validation loss turn up while training loss keeps falling?"""
    val, train = curves.get("val_loss") or [], curves.get("loss") or []
    if not val or not train or any(math.isnan(v) for v in val):
        return Overfitting(False, None, metric_gap(curves, metric))
    best = min(range(len(val)), key=val.__getitem__)
    last = len(val) - 1
    overfits = (
        last - best >= AFTER
        and val[last] > val[best] + RISE * abs(val[best])
        and train[last] < train[best]
    )
    return Overfitting(overfits, best + 1 if overfits else None, metric_gap(curves, metric))


def verdict(
    role: str,
    score: float,
    objective: Objective,
    over: Overfitting,
    baseline: tuple[str, float] | None,
    best_so_far: bool,
    advice: str | None = None,
) -> str:
    """One line: against the baseline, about overfitting, and whether it leads.

    `advice` is what a stage that does not beat the baseline should try (a trending
    series that loses to persistence: `data.predict: change`)."""
    parts = []
    if baseline is not None:
        margin = objective.margin(score, baseline[1])
        if margin > 0:
            parts.append(f"beats baseline by {margin:.3g}")
        else:
            parts.append(
                f"does not beat the baseline ({score:.3g} vs {baseline[1]:.3g})"
                + (f": {advice}" if advice else "")
            )
    if over.overfits:
        gap = f" (gap {over.gap:.2g})" if over.gap is not None else ""
        parts.append(f"overfits after epoch {over.after_epoch}{gap}")
    elif role == "overfit":
        parts.append("does not overfit yet: scale up (more units/layers/epochs)")
    if best_so_far:
        parts.append("best so far")
    return "; ".join(parts)
