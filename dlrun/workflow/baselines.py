"""Common-sense baselines, computed from the labels (never assumed), numpy only.

Each baseline is "fitted" on the training portion's targets and scored on the
validation portion's targets, so it answers the same question a model does:
how well can you do on data you have not seen, knowing only the training labels?

- majority class: always predict the most frequent training class (multilabel:
  each label's most frequent value), scored as accuracy.
- shuffled labels: the book's random classifier (Reuters 0.18-0.19): the
  validation labels against a random permutation of themselves, in expectation
  (sum_k p_k^2), computed exactly rather than drawn.
- mean of train: predict the training mean for every sample; MAE and MSE.

A training contract brings its own (`Contract.baselines`): the mean training image of an
autoencoder, the unigram frequencies of a language model.

A series (windows of `dlrun.data.timeseries`) has its own, on the validation windows,
in the target's units and normalized (divided by the training rows' standard
deviation of the target, the book's "0.29" for Jena):

- persistence: the target at the horizon equals the target at the window's last row
  (the book's "the temperature in 24 hours equals the temperature now");
- seasonal naive (with `data.season`): it equals the target one season earlier.

Example:

```python
majority_class(np.array([0, 0, 1]), np.array([0, 1, 0, 0]))   # {"accuracy": 0.75}
mean_of_train(np.array([1.0, 3.0]), np.array([0.0, 4.0]))      # {"mae": 2.0, "mse": 4.0}
persistence(portion.prepared.validation.x, target_std=8.4)     # {"mae": 2.57, ...}
```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlrun.config.schema import ConfigBase, DataSection
from dlrun.contracts import CONTRACTS
from dlrun.data.portions import Portion, final_training
from dlrun.data.prepare import limited_test
from dlrun.data.splits import RawData, Split
from dlrun.data.timeseries import Windows
from dlrun.objective import Objective

# Share of the validation targets outside the training targets' range above which a
# series is said to trend (CO2: most of them; Jena: next to none).
TRENDING = 0.05

Metrics = dict[str, float]
# (training labels, validation labels): all the label baselines need
Pair = tuple[np.ndarray, np.ndarray]


def majority_class(train_y: np.ndarray, val_y: np.ndarray) -> Metrics:
    """Accuracy of always predicting the training split's most frequent class."""
    train_y, val_y = np.asarray(train_y), np.asarray(val_y)
    if train_y.ndim == 2:  # multilabel: the most frequent value of each label
        guess = (train_y.mean(axis=0) >= 0.5).astype(val_y.dtype)
        accuracy = float((val_y == guess).mean())
        return {"binary_accuracy": accuracy, "accuracy": accuracy}
    values, counts = np.unique(train_y, return_counts=True)
    return {"accuracy": float((val_y == values[counts.argmax()]).mean())}


def shuffled_labels(train_y: np.ndarray, val_y: np.ndarray) -> Metrics:
    """Accuracy of a random classifier: the labels against a shuffled copy of themselves,
    in expectation.

    A uniform permutation sends each label to every position alike, so a label of class
    k meets its own class with probability p_k, the class's share, and the expected
    accuracy is sum_k p_k^2 (each label's, averaged, for multilabel rows). Exact and
    deterministic: 100 seeded permutations, as the book draws them, took 0.035 s on
    IMDB's 25,000 test labels and gave 0.5006 where the expectation is 0.5.
    """
    val_y = np.asarray(val_y)
    columns = val_y.reshape(len(val_y), -1).T if len(val_y) else []
    shares = [np.unique(column, return_counts=True)[1] / len(val_y) for column in columns]
    # no labels, no expectation: NaN, as the mean of the drawn shuffles was
    accuracy = float(np.mean([np.sum(share**2) for share in shares])) if shares else math.nan
    if val_y.ndim == 2:
        return {"binary_accuracy": accuracy, "accuracy": accuracy}
    return {"accuracy": accuracy}


def mean_of_train(train_y: np.ndarray, val_y: np.ndarray) -> Metrics:
    """MAE and MSE of predicting the training targets' mean for every sample."""
    train_y = np.asarray(train_y, dtype=np.float64)
    errors = np.asarray(val_y, dtype=np.float64) - train_y.mean(axis=0)
    mae, mse = float(np.abs(errors).mean()), float((errors**2).mean())
    return {"mae": mae, "mse": mse, "mean_absolute_error": mae, "mean_squared_error": mse}


def persistence(windows: Windows, target_std: float) -> Metrics:
    """Errors of forecasting the target at the window's last row, on `windows`."""
    return _errors(windows.labels() - windows.persistence(), target_std)


def seasonal_naive(windows: Windows, season: int, target_std: float) -> Metrics:
    """Errors of forecasting the target one season (`season` rows) earlier, on the windows
    whose series reaches back that far."""
    errors = windows.labels() - windows.seasonal(season)
    return _errors(errors[~np.isnan(errors)], target_std)


def _errors(errors: np.ndarray, target_std: float) -> Metrics:
    mae, mse = float(np.abs(errors).mean()), float((errors**2).mean())
    return {
        "mae": mae,
        "mse": mse,
        "mean_absolute_error": mae,
        "mean_squared_error": mse,
        "mae_normalized": mae / target_std if target_std > 0 else float("nan"),
    }


@dataclass(frozen=True)
class Scored:
    """What a baseline is fitted on and scored on: the raw targets of both parts, and for
    a series the windows of both and the fitted state (the target's spread)."""

    train_y: np.ndarray
    eval_y: np.ndarray
    train_x: Any = None
    eval_x: Any = None
    state: dict[str, Any] | None = None
    # train_x as the source gave it (the test's baselines), not prepared by `state`
    raw_train: bool = False

    @classmethod
    def of(cls, portion: Portion | Pair) -> Scored:
        if not isinstance(portion, Portion):
            return cls(*portion)
        prepared = portion.prepared
        validation = prepared.validation.x if prepared.validation is not None else None
        return cls(portion.train_y, portion.val_y, prepared.train.x, validation, prepared.state)


@dataclass(frozen=True)
class Baseline:
    key: str
    label: str  # what the stage table shows in its model column
    # the metrics on the evaluated part, or None when the baseline does not apply to it
    compute: Callable[[Scored], Metrics | None]
    tasks: tuple[str, ...]
    series: bool = False  # computed on a series' windows


def _on_labels(score: Callable[[np.ndarray, np.ndarray], Metrics]) -> Callable[..., Metrics]:
    def compute(scored: Scored) -> Metrics:
        return score(scored.train_y, scored.eval_y)

    return compute


def _series(scored: Scored) -> tuple[Windows, Windows, dict] | None:
    """(training windows, evaluated windows, fitted state) of a series."""
    train, evaluated = scored.train_x, scored.eval_x
    if not isinstance(evaluated, Windows) or not isinstance(train, Windows) or not scored.state:
        return None
    return train, evaluated, scored.state


def _persistence(portion: Scored) -> Metrics | None:
    found = _series(portion)
    if found is None:
        return None
    train, val, state = found
    metrics = persistence(val, state["target_std"])
    lo, hi = train.rows()
    seen = train.target[lo:hi]
    ahead = val.target[val.target_rows]
    outside = (ahead < seen.min()) | (ahead > seen.max())
    metrics["beyond_training_range"] = float(outside.mean())
    return metrics


def _seasonal(portion: Scored) -> Metrics | None:
    found = _series(portion)
    if found is None or not found[2].get("season"):
        return None
    _, val, state = found
    return seasonal_naive(val, int(state["season"]), state["target_std"])


BASELINES = {
    "majority": Baseline(
        "majority",
        "majority class",
        _on_labels(majority_class),
        ("binary", "multiclass", "multilabel"),
    ),
    "shuffled": Baseline(
        "shuffled",
        "shuffled labels",
        _on_labels(shuffled_labels),
        ("binary", "multiclass", "multilabel"),
    ),
    "mean": Baseline("mean", "mean of train", _on_labels(mean_of_train), ("regression",)),
    # the training contracts' own (a generative task's baselines)
    **{
        key: Baseline(key, label, compute, contract.tasks)
        for contract in CONTRACTS.values()
        for key, (label, compute) in contract.baselines.items()
    },
    "persistence": Baseline(
        "persistence", "persistence", _persistence, ("regression",), series=True
    ),
    "seasonal_naive": Baseline(
        "seasonal_naive", "seasonal naive", _seasonal, ("regression",), series=True
    ),
}


def baselines_for(task: str, choice: str, series: bool = False) -> list[Baseline]:
    """The baselines a config asks for: `auto` is every one that fits the task, and for a
    series its own (persistence, seasonal naive) rather than the label ones."""
    if choice == "none":
        return []
    if choice == "auto":
        return [b for b in BASELINES.values() if task in b.tasks and b.series == series]
    return [BASELINES[choice]]


def compute_baselines(
    task: str, choice: str, portions: Sequence[Portion | Pair | Scored]
) -> dict[str, Metrics]:
    """Each chosen baseline averaged over the portions: the workflow's, (train labels,
    validation labels) pairs for the baselines that look at labels only, or the test
    split (`Scored`, see `on_test`)."""
    scored = [p if isinstance(p, Scored) else Scored.of(p) for p in portions]
    series = any(_series(s) is not None for s in scored)
    found = {}
    for baseline in baselines_for(task, choice, series):
        scores = [baseline.compute(s) for s in scored]
        if any(s is None for s in scores):
            continue
        found[baseline.key] = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
    return found


def advice(baselines: dict[str, Metrics], data: DataSection) -> str | None:
    """What a stage that does not beat the baseline should try, when the data says: on a
    series whose validation targets leave the training range, forecasting changes."""
    trend = baselines.get("persistence", {}).get("beyond_training_range", 0.0)
    if getattr(data, "predict", None) != "value" or trend <= TRENDING:
        return None
    return (
        f"{trend:.0%} of the validation targets lie outside the training range (the series "
        "trends), which windows normalized on the training rows extrapolate badly: set "
        "data.predict: change to forecast the change since each window's last row"
    )


def reference(baselines: dict[str, Metrics], objective: Objective) -> tuple[str, float] | None:
    """The strongest baseline for the objective's metric: (key, value), or None."""
    scored = {key: m[objective.base] for key, m in baselines.items() if objective.base in m}
    best = objective.pick(scored)
    return None if best is None else (best, scored[best])


def on_test(config: ConfigBase, raw: RawData, test: Split, state: dict[str, Any]) -> dict:
    """The common-sense baselines scored on the test split next to the final model: the
    workflow's choice (every one that fits the task without a workflow), fitted on the
    training split's targets as the final model was, on the same test rows or windows."""
    choice = config.workflow.baseline if config.workflow is not None else "auto"
    train = final_training(raw, config.data.limit)
    target = limited_test(raw, config).y
    scored = Scored(train.y, target, train.x, test.x, state, raw_train=True)
    return compute_baselines(config.task, choice, [scored])


def judge_on_test(
    baselines: dict[str, Metrics], objective: Objective, test: dict[str, Any]
) -> dict[str, Any] | None:
    """Whether the final model beat the strongest baseline on test, by the objective's
    metric (or, when no baseline has it, the first test metric one has); None without
    a baseline to compare with."""
    names = [objective.base, *(k for k in test if k != objective.base)]
    for name in names:
        judged = Objective.of(name) if name != objective.base else objective
        ref = reference(baselines, judged)
        model = test.get(name)
        if ref is None or not isinstance(model, int | float) or isinstance(model, bool):
            continue
        key, value = ref
        label = BASELINES[key].label
        beaten = judged.better(float(model), value)
        if beaten:
            verdict = (
                f"beats {label} on test: {name} {model:.4g} against {value:.4g} "
                f"(by {judged.margin(float(model), value):.3g})"
            )
        else:
            verdict = (
                f"does not beat {label} on test: {name} {model:.4g} against {value:.4g}; "
                "on unseen data the model adds nothing over the common-sense baseline"
            )
        return {
            "values": baselines,
            "reference": {"name": key, "label": label, "metric": name, "value": value},
            "model": float(model),
            "beaten": beaten,
            "verdict": verdict,
        }
    return None
