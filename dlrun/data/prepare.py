"""From raw splits to model-ready splits: validation carving, preprocessing, labels.

Preprocessing is fitted on the training portion only; the fitted state is a
JSON-able dict saved with the run, and `apply_state` reuses it on any new data
(evaluate, predict). The test split is never used to fit anything.

Each kind of input (`RawData.kind`) is handled by its representation
(`dlrun.data.representations`); this module adds what all share: the fitted state's
task and outputs, target checks and label encoding.

Example:

```python
state = fit_state(raw, train, config)
split = transform(train, state, config.task)
input_spec(state, split.x), state["outputs"]
```
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dlrun.config.schema import ConfigBase, ValidationConfig
from dlrun.data.inputs import InputSpec
from dlrun.data.representations import REPRESENTATIONS, representation_of
from dlrun.data.splits import Features, RawData, Split
from dlrun.data.timeseries import Windows
from dlrun.errors import DataError
from dlrun.tasks import default_loss

# The seed of `data.limit`'s sample (the one that carves test splits, too).
LIMIT_SEED = 113


@dataclass
class Prepared:
    train: Split
    validation: Split | None
    test: Split
    input_spec: InputSpec
    outputs: int
    state: dict[str, Any]
    class_names: list[str] | None = None


def holdout_indices(
    n: int, validation: ValidationConfig, seed: int, classes: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (train, validation) index arrays for a holdout or fraction protocol; with
    `classes` (a classifier's labels), stratified: each part holds each class's share."""
    if not validation.shuffle:
        order = np.arange(n)
    elif classes is not None:
        order = stratified_order(classes, np.random.RandomState(seed))
    else:
        order = np.random.RandomState(seed).permutation(n)
    if validation.holdout is not None:
        n_val = validation.holdout
    else:
        n_val = int(round(n * (validation.fraction or 0.2)))
    if not 0 < n_val < n:
        raise DataError(
            f"data.validation holds out {n_val} of {n} training samples; "
            "it must leave some for both training and validation."
        )
    return order[n_val:], order[:n_val]


def kfold_indices(
    n: int,
    k: int,
    repeats: int = 1,
    seed: int = 0,
    shuffle: bool = True,
    classes: np.ndarray | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs for (iterated) K-fold, reshuffled on each repeat;
    with `classes` (a classifier's labels), each fold holds each class's share."""
    if k > n:
        raise DataError(f"data.validation.kfold is {k}, but there are only {n} training samples.")
    folds = []
    rng = np.random.RandomState(seed)
    for _ in range(repeats):
        if not shuffle:
            order = np.arange(n)
        elif classes is not None:
            order = stratified_order(classes, rng)
        else:
            order = rng.permutation(n)
        for part in np.array_split(order, k):
            folds.append((np.setdiff1d(order, part, assume_unique=True), part))
    return folds


def classes_of(y: np.ndarray, task: str) -> np.ndarray | None:
    """The labels a split is stratified by: a classifier's, None for other tasks."""
    return y if task in ("binary", "multiclass") else None


def fit_state(raw: RawData, train: Split, config: ConfigBase) -> dict[str, Any]:
    """Fit preprocessing on the training split; the result is JSON-able."""
    state: dict[str, Any] = {"kind": raw.kind, "task": config.task}
    state.update(REPRESENTATIONS[raw.kind].fit(train, raw, config.data))
    # Classes are counted over the whole training split: the validation carve-out or
    # data.limit may leave out the highest label, and the head would be too narrow.
    # A representation that fits the classes itself (a vocabulary) has set them.
    if "outputs" not in state:
        state["outputs"] = _outputs(raw.train.y, config.task, raw.class_names)
    state["class_names"] = raw.class_names
    scale = target_scale(train.y, raw.kind, config)
    if scale is not None:
        state["target_scale"] = scale
    return state


def target_scale(y: np.ndarray, kind: str, config: ConfigBase) -> dict[str, Any] | None:
    """`data.target_scale: standard` fitted on a fit's training targets `y`: each output's
    mean and standard deviation, and the scale the loss is divided by; None when the
    model learns the targets as they are (other tasks, `none`, a series by default).

    The model predicts in the targets' units (its last layer is (output * std + mean),
    `InputSpec.target_scale`), so every metric, prediction and baseline is in them as
    before, and the loss on its output is the loss in those units. Dividing that loss by
    its scale, std² for a squared error and std for the others (each grows linearly with
    a large error), makes it the loss on standardized targets: the weight penalties
    (l1, l2), the learning rate and clipnorm act as they do on a target of unit spread,
    rather than against a loss std² times larger.
    """
    chosen = config.data.target_scale or ("none" if kind == "series" else "standard")
    if config.task != "regression" or chosen == "none":
        return None
    values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    std = values.std(axis=0)
    std[std == 0] = 1.0  # a constant target has no spread to divide by
    squared = default_loss("regression") if config.train.loss == "auto" else config.train.loss
    power = 2 if squared in ("mse", "mean_squared_error") else 1
    return {
        "mean": values.mean(axis=0).tolist(),
        "std": std.tolist(),
        "loss_scale": float(np.mean(std**power)),
    }


def check_targets(y: np.ndarray, config: ConfigBase, class_names: list[str] | None) -> None:
    """Refuse training targets that the task's head cannot learn, before anything is fitted."""
    y = np.asarray(y)
    task = config.task
    if task == "multilabel" and y.ndim != 2:
        raise DataError(
            "task 'multilabel' needs a row of 0/1 flags per sample (labels of shape "
            f"(samples, labels)), but the labels have shape {y.shape}: one label per sample.",
            hint="Use task: multiclass for one label among several classes.",
        )
    if task == "regression" and class_names is not None:
        listed = ", ".join(repr(c) for c in class_names[:3])
        raise DataError(
            f"{config.data.describe()} holds classes, not numbers ({listed}"
            f"{', ...' if len(class_names) > 3 else ''}): a regression model would learn "
            "them as the numbers 0, 1, 2, ... of their sorted order.",
            hint="Use task: multiclass (or binary for two classes) to predict one of them, "
            "or choose a numeric data.target.",
        )
    if task not in ("binary", "multiclass"):
        return
    values = np.unique(y)
    if len(values) == 1:
        csv = config.data.source == "csv"
        value = repr(class_names[int(values[0])]) if class_names else f"{values[0]:g}"
        what = f"the target column '{config.data.target}'" if csv else "y_train"
        raise DataError(
            f"{what} has a single value in the training data, {value}: a {task} model has "
            "nothing to tell apart.",
            hint=f"Check {'data.target and ' if csv else ''}the file, or use task: regression "
            "if the target is a measurement.",
        )


def check_classes(y: np.ndarray, split: str, config: ConfigBase, raw: RawData) -> None:
    """Refuse a split of a classification task whose samples are all of one class: a
    model that always answers that class scores perfectly on it, so its scores mean
    nothing. `split` names it for the message ("test", "validation of fold-2")."""
    if config.task not in ("binary", "multiclass") or not len(y):
        return
    y = np.asarray(y)
    rows = y.reshape(len(y), -1)
    # every row against the first, not np.unique(axis=0): that sorts the rows as bytes
    # and took 16 ms on 25,000 labels, for each split checked
    if (rows != rows[0]).any():
        return
    value = rows[0][0] if y.ndim == 1 else rows[0]
    if raw.class_names:
        name = repr(raw.class_names[int(value)])
    else:
        name = f"{value:g}" if np.ndim(value) == 0 else str(value)
    limit = config.data.limit
    hint = (
        f"Raise data.limit (now {limit}: too few samples for each split to hold two "
        "classes), or check the labels of the data."
        if limit
        else f"Check the labels of {config.data.describe()}: every split needs at least "
        "two classes."
    )
    raise DataError(
        f"the {split} split holds 1 class ({name}, all {len(y)} samples): a {config.task} "
        f"model that always answers {name} is perfect on it, so its scores would mean "
        "nothing.",
        hint=hint,
    )


def apply_state(x: Features, state: dict[str, Any]) -> Features:
    """Transform raw inputs with a fitted state."""
    return representation_of(state).apply(x, state)


def prepare_labels(y: np.ndarray, task: str, outputs: int) -> np.ndarray:
    y = np.asarray(y)
    if task == "binary":
        values = np.unique(y)
        if not np.isin(values, [0, 1]).all():
            raise DataError(
                f"task 'binary' needs labels 0 and 1, but the data has {len(values)} distinct "
                f"labels ({', '.join(map(str, values[:5]))}{', ...' if len(values) > 5 else ''}).",
                hint=(
                    "Use task: multiclass for more than two classes."
                    if _integers(values)
                    else "Use task: regression for a continuous target."
                ),
            )
        return y.astype(np.float32)
    if task in ("multiclass", "language_model"):
        if y.ndim != 1 or not _integers(y):
            raise DataError(f"task '{task}' needs one integer class label per sample.")
        if y.min() < 0 or y.max() >= outputs:
            raise DataError(
                f"a label is outside the {outputs} classes seen in training (found {int(y.max())})."
            )
        # token ids, one per window: int32 halves millions of them
        return y.astype(np.int64 if task == "multiclass" else np.int32)
    return y.astype(np.float32)


def _integers(values: np.ndarray) -> bool:
    return bool(np.all(np.equal(np.mod(values, 1), 0)))


def input_spec(state: dict[str, Any], x: Features) -> InputSpec:
    """What the model's input layer receives, given applied inputs `x`, and the scale of
    its output when it learns standardized targets."""
    spec = representation_of(state).input_spec(x, state)
    scale = state.get("target_scale")
    if scale is None:
        return spec
    return replace(spec, target_scale=(tuple(scale["mean"]), tuple(scale["std"])))


def transform(split: Split, state: dict[str, Any], task: str) -> Split:
    """Apply fitted preprocessing to the inputs and encode the targets for `task`; with
    standardized targets, every sample weighs 1 / the loss's scale (`target_scale`)."""
    scale = state.get("target_scale")
    x = apply_state(split.x, state)
    # windows over a text are their own targets (the next token), whose vocabulary ids
    # exist only once the fitted vocabulary is applied
    y = x.targets() if hasattr(x, "targets") else split.y
    return Split(
        x,
        prepare_labels(y, task, state["outputs"]),
        None if scale is None else 1 / scale["loss_scale"],
    )


def limited(split: Split, limit: int | None) -> Split:
    """`limit` samples of the split (`data.limit`), in the split's order, or the whole split.

    Windows of a series are the first ones, since time order is what a series is. Other
    samples are a seeded sample stratified by target: sources whose files come class
    after class (text_dir, a CSV sorted by its label) would otherwise give every split
    one class. The seed is fixed, not the config's, so that runs with different seeds
    train on the same samples, and a final retrain on the same as its stages.
    """
    if not limit or limit >= len(split):
        return split
    if isinstance(split.x, Windows):
        return split.take(np.arange(limit))
    order = stratified_order(split.y, np.random.RandomState(LIMIT_SEED))
    return split.take(np.sort(order[:limit]))


def stratified_order(y: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """A seeded order of the samples in which every distinct target (a class, a row of
    flags) takes its share of each stretch: the first n, or any run of n in a row, hold
    each class's share of n, rounded. Targets every sample holds alone (measurements)
    make it a plain random order."""
    order = rng.permutation(len(y))
    targets = np.asarray(y)[order]
    groups = np.unique(targets.reshape(len(targets), -1), axis=0, return_inverse=True)[1]
    groups = groups.reshape(-1)
    counts = np.bincount(groups)
    by_group = np.argsort(groups, kind="stable")
    rank = np.empty(len(groups), dtype=np.int64)
    rank[by_group] = np.arange(len(groups)) - np.repeat(np.cumsum(counts) - counts, counts)
    # The k-th of a group's c samples goes to (k + 0.5) / c of the way, as systematic
    # sampling places it.
    return order[np.argsort((rank + 0.5) / counts[groups], kind="stable")]


def _outputs(y: np.ndarray, task: str, class_names: list[str] | None) -> int:
    y = np.asarray(y)
    if task == "multiclass":
        return len(class_names) if class_names else int(y.max()) + 1
    if task == "multilabel" or (task == "regression" and y.ndim == 2):
        return int(y.shape[1])
    return 1


def limited_test(raw: RawData, config: ConfigBase) -> Split:
    """The test split as `data.limit` leaves it, checked to hold more than one class."""
    test = limited(raw.test, config.data.limit)
    check_classes(test.y, "test", config, raw)
    return test


def prepare_test(raw: RawData, config: ConfigBase, state: dict[str, Any]) -> Split:
    """The test split only, transformed with an already fitted state (evaluate, predict)."""
    return transform(limited_test(raw, config), state, config.task)
