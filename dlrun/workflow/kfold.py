"""Evaluation protocols: holdout, K-fold and iterated K-fold, and averaging over folds.

A *portion* is one (training part, validation part) pair of the training split:
one for holdout, K (times `repeats`) for K-fold. Preprocessing (normalization,
scaling) is fitted on each portion's training part only, per fold, so no
validation statistic leaks into a fold's model (the book normalizes the whole
training split before folding, which leaks a little; fitting per fold costs
nothing here and keeps the validation estimate honest). The final model refits
preprocessing on the whole training split, which is all it trains on.

The test split is not prepared here at all: only the final stage reads it.

K-fold results: the per-epoch validation curves are averaged over folds (up to
the shortest fold, when early stopping ended folds at different epochs) and the
best epoch is read off the averaged curve (the book's Boston recipe).

Example:

```python
portions = make_portions(raw, config)            # [Portion("fold-1", ...), ...]
mean_curves([{"val_mae": [3, 2, 1]}, {"val_mae": [5, 4, 3]}])   # {"val_mae": [4.0, 3.0, 2.0]}
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dlrun.config.schema import DlrunConfig
from dlrun.data.prepare import (
    Prepared,
    apply_state,
    fit_state,
    holdout_indices,
    input_spec,
    kfold_indices,
    prepare_labels,
)
from dlrun.data.splits import RawData, Split


@dataclass
class Portion:
    """One training/validation pair, prepared with preprocessing fitted on its training part."""

    name: str  # "holdout" or "fold-<i>"
    prepared: Prepared
    train_y: np.ndarray  # raw targets, for the baselines
    val_y: np.ndarray


def training_split(raw: RawData, config: DlrunConfig) -> Split:
    """The training split, cut to `data.limit` like `prepare` does."""
    if config.data.limit:
        return raw.train.take(np.arange(min(config.data.limit, len(raw.train))))
    return raw.train


def prepare_portion(
    raw: RawData, train: Split, validation: Split | None, config: DlrunConfig
) -> Prepared:
    """Fit preprocessing on `train`, apply it to both parts; the test split stays untouched."""
    state = fit_state(raw, train, config)
    if config.task == "multiclass" and not raw.class_names:
        # A fold may miss the rarest class; the head needs every class of the training split.
        everything = training_split(raw, config).y
        state["outputs"] = max(state["outputs"], int(np.max(everything)) + 1)
    return Prepared(
        train=transform(train, state, config),
        validation=transform(validation, state, config) if validation is not None else None,
        # Prepared wants a test split: an empty placeholder, never read. The workflow
        # prepares the real test split only for the final evaluation.
        test=train.take(np.arange(0)),
        input_spec=input_spec(state, train),
        outputs=state["outputs"],
        state=state,
        class_names=state.get("class_names"),
    )


def transform(split: Split, state: dict[str, Any], config: DlrunConfig) -> Split:
    """Apply fitted preprocessing to inputs and encode the targets."""
    labels = prepare_labels(split.y, config.task, state["outputs"])
    return Split(apply_state(split.x, state), labels)


def make_portions(raw: RawData, config: DlrunConfig) -> list[Portion]:
    """The holdout portion, or one portion per fold (and repeat) of K-fold."""
    train = training_split(raw, config)
    v = config.data.validation
    if v.kfold is None:
        pairs = [("holdout", *holdout_indices(len(train), v, config.seed))]
    else:
        folds = kfold_indices(len(train), v.kfold, v.repeats, config.seed, v.shuffle)
        pairs = [(f"fold-{i}", fit, val) for i, (fit, val) in enumerate(folds, start=1)]
    portions = []
    for name, fit_idx, val_idx in pairs:
        fit_part, val_part = train.take(fit_idx), train.take(val_idx)
        prepared = prepare_portion(raw, fit_part, val_part, config)
        portions.append(Portion(name, prepared, fit_part.y, val_part.y))
    return portions


def mean_curves(histories: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Per-epoch mean of each history column over folds, up to the shortest fold."""
    keys = [k for k in histories[0] if all(k in h for h in histories)]
    length = min(len(h[k]) for h in histories for k in keys) if keys else 0
    return {k: [float(np.mean([h[k][e] for h in histories])) for e in range(length)] for k in keys}


def fold_spread(values: list[float]) -> tuple[float, float]:
    """Mean and (population) standard deviation of one number over the folds."""
    return float(np.mean(values)), float(np.std(values))
