"""What a careful practitioner concludes from a stage's learning curves; pure Python.

A stage's curves are Keras history columns (`loss`, `val_loss`, `accuracy`,
`val_accuracy`, ...; for K-fold the per-epoch mean over folds). "Better" is always the
workflow's `Objective`: higher for accuracy-like metrics, lower for losses and errors,
or whatever direction the config sets.

The gap is the train-minus-validation difference of the objective's metric, oriented by
the objective so that positive means the model does better on the data it was trained on.
When the objective has no training column, the loss's gap decides (and `gap` is None).

Overfitting: validation loss reached its minimum at epoch N, then stayed above it for at
least `AFTER` more epochs and ended more than `RISE` (relative) above it, while the
training loss kept falling; and the gap opened the wrong way: positive at the last epoch
and wider than at epoch N. Validation doing better than training (a negative gap, common
with dropout, which is active only while training) is not overfitting.

Still improving: the objective's best epoch is the last one, or one of the last `RECENT`
with the validation curve's trend (least-squares slope) over the last `WINDOW` epochs
still going the better way and the curve not worse at every epoch since its best. A
stage stopped early or pruned did not run out of epochs, so it is never said to be still
improving.

Example:

```python
curves = {"loss": [0.5, 0.3, 0.2, 0.1], "val_loss": [0.4, 0.3, 0.35, 0.45],
          "accuracy": [0.8, 0.9, 0.95, 0.99], "val_accuracy": [0.85, 0.88, 0.87, 0.86]}
accuracy = Objective.of("val_accuracy")
overfitting(curves, accuracy)      # Overfitting(overfits=True, after_epoch=2, gap=0.13)
still_improving(curves, accuracy)  # False: worse at each epoch since its best (2)
```
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

from dlrun.objective import Objective

Curves = dict[str, list[float]]

AFTER = 2  # epochs without improvement before "overfits" is said
RISE = 0.01  # relative rise of the validation loss above its minimum
RECENT = 2  # a best epoch this close to the end can still be part of a rise
WINDOW = 5  # the last epochs whose trend says whether the validation curve still rises

STILL_IMPROVING = "still improving at the last epoch: train longer"


@dataclass(frozen=True)
class Overfitting:
    overfits: bool
    after_epoch: int | None  # the last epoch before validation loss stopped improving
    gap: float | None  # train minus validation metric at the last epoch (positive: train better)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _objective(objective: Objective | str) -> Objective:
    return objective if isinstance(objective, Objective) else Objective.of(objective)


def metric_gap(curves: Curves, objective: Objective, epoch: int | None = None) -> float | None:
    """Train-minus-validation difference of the objective's metric at `epoch` (default: the
    last), positive when training does better by the objective's direction."""
    base = objective.base
    train, val = curves.get(base), curves.get(f"val_{base}")
    if not train or not val:
        return None
    i = (epoch or len(val)) - 1
    gap = objective.margin(train[i], val[i])
    return round(float(gap), 6)


def _opens_wrong_way(curves: Curves, objective: Objective, best: int) -> bool:
    """Whether training does better than validation at the last epoch, by more than at
    epoch `best` (1-based)."""
    if metric_gap(curves, objective) is None:
        objective = Objective.of("val_loss")
    last, at_best = metric_gap(curves, objective), metric_gap(curves, objective, best)
    return last is not None and at_best is not None and last > 0 and last > at_best


def overfitting(curves: Curves, objective: Objective | str) -> Overfitting:
    """Does validation loss turn up while training loss keeps falling and training pulls
    away from validation? A metric name stands for `Objective.of(name)`."""
    objective = _objective(objective)
    val, train = curves.get("val_loss") or [], curves.get("loss") or []
    if not val or not train or any(math.isnan(v) for v in val):
        return Overfitting(False, None, metric_gap(curves, objective))
    best = min(range(len(val)), key=val.__getitem__)
    last = len(val) - 1
    overfits = (
        last - best >= AFTER
        and val[last] > val[best] + RISE * abs(val[best])
        and train[last] < train[best]
        and _opens_wrong_way(curves, objective, best + 1)
    )
    return Overfitting(overfits, best + 1 if overfits else None, metric_gap(curves, objective))


def _slope(values: list[float]) -> float:
    """Least-squares slope of `values` against their epoch numbers."""
    n = len(values)
    x_mean, y_mean = (n - 1) / 2, sum(values) / n
    num = sum((x - x_mean) * (y - y_mean) for x, y in enumerate(values))
    den = sum((x - x_mean) ** 2 for x in range(n))
    return num / den


def still_improving(curves: Curves, objective: Objective, stopped: bool = False) -> bool:
    """Was the objective's validation curve still getting better when training ended?

    `stopped`: early stopping or a pruner ended the training, so it did not run out of
    epochs while improving."""
    values = curves.get(objective.name) or []
    best = objective.best_epoch(values)
    if stopped or best is None or len(values) - best > RECENT:
        return False
    since = values[best - 1 :]
    if len(since) == 1:
        return True
    # worse at every epoch since the best: the curve has turned, whatever came before
    turned = len(since) > 2 and all(objective.better(a, b) for a, b in pairwise(since))
    recent = values[-WINDOW:]
    return (
        not turned
        and all(math.isfinite(v) for v in recent)
        and objective.margin(_slope(recent), 0.0) > 0
    )


def verdict(
    role: str,
    score: float,
    objective: Objective,
    over: Overfitting,
    baseline: tuple[str, float] | None,
    best_so_far: bool,
    advice: str | None = None,
    improving: bool = False,
) -> str:
    """One line: against the baseline, about overfitting, whether the stage was still
    improving when it ended, and whether it leads.

    `advice` is what a stage that does not beat the baseline should try (a trending
    series that loses to persistence: `data.predict: change`); `improving` is
    `still_improving` of the stage's curves."""
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
        # the objective can still rise while validation loss turns: worth knowing, but
        # training longer is not the advice for a model that overfits
        still = f", though {objective.name} was still improving" if improving else ""
        parts.append(f"overfits after epoch {over.after_epoch}{gap}{still}")
    else:
        if role == "overfit":
            parts.append("does not overfit yet: scale up (more units/layers/epochs)")
        if improving:
            parts.append(STILL_IMPROVING)
    if best_so_far:
        parts.append("best so far")
    return "; ".join(parts)
