"""Evaluation protocols as data: the training split cut into (training, validation) portions.

One portion for holdout, K (times `repeats`) for K-fold; for windows over a series,
K-fold walks forward (`dlrun.data.timeseries.walk_forward`), since a shuffled fold would
train on the future of what it validates. Preprocessing (normalization,
scaling) is fitted on each portion's training part only, so no validation statistic
leaks into a fold's model (the book normalizes the whole training split before folding,
which leaks a little; fitting per fold costs nothing here). The test split is not
prepared here at all: only a final evaluation reads it (`prepare_test`).

The workflow's stages and the sweep's K-fold trials both train on these portions.

Example:

```python
portions = make_portions(raw, config)     # [Portion("fold-1", prepared, ...), ...]
prepared = prepare_portion(raw, final_training(raw, config.data.limit), None, config)
```
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlrun.config.schema import ConfigBase, ValidationConfig
from dlrun.data.prepare import (
    Prepared,
    check_classes,
    check_targets,
    classes_of,
    fit_state,
    holdout_indices,
    input_spec,
    kfold_indices,
    limited,
    limited_test,
    transform,
)
from dlrun.data.splits import RawData, Split
from dlrun.data.timeseries import Windows, walk_forward


@dataclass
class Portion:
    """One training/validation pair, prepared with preprocessing fitted on its training part."""

    name: str  # "holdout" or "fold-<i>"
    prepared: Prepared
    train_y: np.ndarray  # raw targets, for the baselines
    val_y: np.ndarray


def prepare_portion(
    raw: RawData, train: Split, validation: Split | None, config: ConfigBase
) -> Prepared:
    """Fit preprocessing on `train`, apply it to both parts; the test split stays untouched."""
    state = fit_state(raw, train, config)
    fitted = transform(train, state, config.task)
    return Prepared(
        train=fitted,
        validation=transform(validation, state, config.task) if validation is not None else None,
        # Prepared wants a test split: an empty placeholder, never read here.
        test=fitted.take(np.arange(0)),
        input_spec=input_spec(state, fitted.x),
        outputs=state["outputs"],
        state=state,
        class_names=state.get("class_names"),
    )


def make_portions(raw: RawData, config: ConfigBase) -> list[Portion]:
    """The holdout portion, or one portion per fold (and repeat) of K-fold."""
    train = limited(raw.train, config.data.limit)
    v = config.data.validation
    if v.kfold is None and raw.validation is not None:
        pairs = [("holdout", train, limited(raw.validation, config.data.limit))]
    elif v.kfold is None:
        classes = classes_of(train.y, config.task)
        fit_idx, val_idx = holdout_indices(len(train), v, config.seed, classes)
        pairs = [("holdout", train.take(fit_idx), train.take(val_idx))]
    else:
        pairs = [
            (f"fold-{i}", train.take(fit), train.take(val))
            for i, (fit, val) in enumerate(_folds(train, v, config), start=1)
        ]
    # Every split is checked before any is prepared: a split of one class is found
    # before preprocessing is fitted, and long before the test split is read.
    check_targets(raw.train.y, config, raw.class_names)
    for name, fit_part, val_part in pairs:
        within = "" if name == "holdout" else f" of {name}"
        check_classes(fit_part.y, f"train{within}", config, raw)
        check_classes(val_part.y, f"validation{within}", config, raw)
    limited_test(raw, config)
    return [
        Portion(name, prepare_portion(raw, fit_part, val_part, config), fit_part.y, val_part.y)
        for name, fit_part, val_part in pairs
    ]


def final_training(raw: RawData, limit: int | None) -> Split:
    """What a final retrain trains on: the training split, and after it the source's own
    validation split for a series (windows over both portions' rows, those across their
    boundary included)."""
    train = limited(raw.train, limit)
    if raw.validation is None or not isinstance(train.x, Windows):
        return train
    last = limited(raw.validation, limit).x
    assert isinstance(last, Windows)
    windows = train.x.through(last)
    return Split(windows, windows.labels().astype(np.float32))


def _folds(
    train: Split, v: ValidationConfig, config: ConfigBase
) -> list[tuple[np.ndarray, np.ndarray]]:
    """K-fold's (training, validation) index pairs: walk-forward for windows of a series,
    else seeded (stratified for a classifier) and, with `repeats`, reshuffled."""
    assert v.kfold is not None
    if isinstance(train.x, Windows):
        return walk_forward(train.x, v.kfold)
    classes = classes_of(train.y, config.task)
    return kfold_indices(len(train), v.kfold, v.repeats, config.seed, v.shuffle, classes)
