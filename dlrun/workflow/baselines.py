"""Common-sense baselines, computed from the labels (never assumed), numpy only.

Each baseline is "fitted" on the training portion's targets and scored on the
validation portion's targets, so it answers the same question a model does:
how well can you do on data you have not seen, knowing only the training labels?

- majority class: always predict the most frequent training class (multilabel:
  each label's most frequent value), scored as accuracy.
- shuffled labels: the book's random classifier (Reuters 0.18-0.19): the
  validation labels against a random permutation of themselves, averaged over
  `SHUFFLES` seeded permutations (its expectation is sum_k p_k^2).
- mean of train: predict the training mean for every sample; MAE and MSE.

Series persistence ("tomorrow = today") needs a time-series data source, which
dlrun does not have yet; it will join `BASELINES` with it.

Example:

```python
majority_class(np.array([0, 0, 1]), np.array([0, 1, 0, 0]))   # {"accuracy": 0.75}
mean_of_train(np.array([1.0, 3.0]), np.array([0.0, 4.0]))      # {"mae": 2.0, "mse": 4.0}
```
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlrun.objective import Objective

SHUFFLES = 100

Metrics = dict[str, float]


def majority_class(train_y: np.ndarray, val_y: np.ndarray) -> Metrics:
    """Accuracy of always predicting the training split's most frequent class."""
    train_y, val_y = np.asarray(train_y), np.asarray(val_y)
    if train_y.ndim == 2:  # multilabel: the most frequent value of each label
        guess = (train_y.mean(axis=0) >= 0.5).astype(val_y.dtype)
        accuracy = float((val_y == guess).mean())
        return {"binary_accuracy": accuracy, "accuracy": accuracy}
    values, counts = np.unique(train_y, return_counts=True)
    return {"accuracy": float((val_y == values[counts.argmax()]).mean())}


def shuffled_labels(train_y: np.ndarray, val_y: np.ndarray, seed: int = 0) -> Metrics:
    """Accuracy of a random classifier: labels against a shuffled copy of themselves."""
    val_y = np.asarray(val_y)
    rng = np.random.RandomState(seed)
    hits = [float((val_y == val_y[rng.permutation(len(val_y))]).mean()) for _ in range(SHUFFLES)]
    accuracy = float(np.mean(hits))
    if val_y.ndim == 2:
        return {"binary_accuracy": accuracy, "accuracy": accuracy}
    return {"accuracy": accuracy}


def mean_of_train(train_y: np.ndarray, val_y: np.ndarray) -> Metrics:
    """MAE and MSE of predicting the training targets' mean for every sample."""
    train_y = np.asarray(train_y, dtype=np.float64)
    errors = np.asarray(val_y, dtype=np.float64) - train_y.mean(axis=0)
    mae, mse = float(np.abs(errors).mean()), float((errors**2).mean())
    return {"mae": mae, "mse": mse, "mean_absolute_error": mae, "mean_squared_error": mse}


@dataclass(frozen=True)
class Baseline:
    key: str
    label: str  # what the stage table shows in its model column
    compute: Callable[[np.ndarray, np.ndarray], Metrics]
    tasks: tuple[str, ...]


BASELINES = {
    "majority": Baseline(
        "majority", "majority class", majority_class, ("binary", "multiclass", "multilabel")
    ),
    "shuffled": Baseline(
        "shuffled", "shuffled labels", shuffled_labels, ("binary", "multiclass", "multilabel")
    ),
    "mean": Baseline("mean", "mean of train", mean_of_train, ("regression",)),
}


def baselines_for(task: str, choice: str) -> list[Baseline]:
    """The baselines a config asks for: `auto` is every one that fits the task."""
    if choice == "none":
        return []
    if choice == "auto":
        return [b for b in BASELINES.values() if task in b.tasks]
    return [BASELINES[choice]]


def compute_baselines(
    task: str, choice: str, portions: list[tuple[np.ndarray, np.ndarray]]
) -> dict[str, Metrics]:
    """Each chosen baseline averaged over the (train labels, validation labels) portions."""
    found = {}
    for baseline in baselines_for(task, choice):
        scores = [baseline.compute(train_y, val_y) for train_y, val_y in portions]
        found[baseline.key] = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
    return found


def reference(baselines: dict[str, Metrics], objective: Objective) -> tuple[str, float] | None:
    """The strongest baseline for the objective's metric: (key, value), or None."""
    scored = {key: m[objective.base] for key, m in baselines.items() if objective.base in m}
    best = objective.pick(scored)
    return None if best is None else (best, scored[best])
