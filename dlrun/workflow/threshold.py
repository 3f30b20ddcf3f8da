"""A binary task's decision threshold, chosen on validation predictions (`workflow.threshold`).

A sample is predicted positive when its probability is above the threshold (`p > t`), as
at the default 0.5 and in Keras's metrics. The candidates lie halfway between consecutive
distinct scores (and between the extreme scores and 0 or 1), so each one separates the
validation samples differently and none sits on a validation score.

- `f1`: the threshold with the best F1 (the lowest on ties);
- `youden`: the best recall minus false-positive rate (Youden's J; the lowest on ties);
- `precision@P`: the lowest threshold whose precision is at least P (the most recall at
  that precision); when none reaches P, the one with the best precision, marked unreached;
- `recall@R`: the highest threshold whose recall is at least R; when none reaches R, the
  lowest, marked unreached;
- a number: that threshold, with what it gives on validation.

Example:

```python
chosen = choose_threshold("f1", np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1]))
chosen.value, chosen.f1  # 0.225, 0.8
```
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dlrun.config.checks import threshold_rule

DEFAULT = 0.5


@dataclass(frozen=True)
class Threshold:
    """The chosen threshold and what it gives on the validation predictions."""

    rule: str | float
    value: float
    reached: bool  # False: the rule's target was out of reach (or one class only)
    samples: int
    positives: int
    precision: float | None  # None: nothing predicted positive
    recall: float | None  # None: no positive sample
    f1: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def candidates(scores: np.ndarray) -> np.ndarray:
    """Thresholds, ascending, that split `scores` in every way `p > t` can (within [0, 1])."""
    points = np.unique(np.concatenate([[0.0], np.clip(scores, 0.0, 1.0), [1.0]]))
    return (points[:-1] + points[1:]) / 2


def choose_threshold(rule: str | float, scores: np.ndarray, truth: np.ndarray) -> Threshold:
    """The threshold `rule` (a workflow.threshold value) picks for `scores` (probabilities
    of the positive class) against `truth` (0 or 1); 0.5, unreached, when the validation
    samples hold one class only."""
    parsed = threshold_rule(rule)
    if parsed is None:
        raise ValueError(f"unknown threshold rule {rule!r}")
    kind, target = parsed
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    truth = np.asarray(truth).reshape(-1).astype(bool)
    positives = int(truth.sum())
    if kind == "fixed":
        assert target is not None
        return _at(rule, target, True, scores, truth)
    if positives in (0, len(truth)):
        return _at(rule, DEFAULT, False, scores, truth)
    thresholds = candidates(scores)
    order = np.argsort(scores, kind="stable")
    below = np.searchsorted(scores[order], thresholds, side="right")
    # positives among the samples at or below each threshold
    cumulative = np.concatenate([[0], np.cumsum(truth[order])])
    tp = positives - cumulative[below]
    flagged = len(scores) - below
    fp = flagged - tp
    recall = tp / positives
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(flagged > 0, tp / flagged, np.nan)
    if kind == "f1":
        index, reached = int(np.argmax(2 * tp / (flagged + positives))), True
    elif kind == "youden":
        index = int(np.argmax(recall - fp / (len(scores) - positives)))
        reached = True
    elif kind == "precision":
        assert target is not None
        ok = np.flatnonzero(precision >= target)
        reached = len(ok) > 0
        index = int(ok[0]) if reached else int(np.nanargmax(precision))
    else:
        assert target is not None
        ok = np.flatnonzero(recall >= target)
        reached = len(ok) > 0
        index = int(ok[-1]) if reached else 0
    return _at(rule, float(thresholds[index]), reached, scores, truth)


def _at(
    rule: str | float, value: float, reached: bool, scores: np.ndarray, truth: np.ndarray
) -> Threshold:
    predicted = scores > value
    tp = int((predicted & truth).sum())
    flagged, positives = int(predicted.sum()), int(truth.sum())
    precision = tp / flagged if flagged else None
    recall = tp / positives if positives else None
    f1 = 2 * tp / (flagged + positives) if flagged + positives else None
    return Threshold(rule, value, reached, len(scores), positives, precision, recall, f1)
