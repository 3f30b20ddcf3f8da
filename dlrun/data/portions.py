"""Evaluation protocols as data: the training split cut into (training, validation) portions.

One portion for holdout, K (times `repeats`) for K-fold. Preprocessing (normalization,
scaling) is fitted on each portion's training part only, so no validation statistic
leaks into a fold's model (the book normalizes the whole training split before folding,
which leaks a little; fitting per fold costs nothing here). The test split is not
prepared here at all: only a final evaluation reads it (`prepare_test`).

The workflow's stages and the sweep's K-fold trials both train on these portions.

Example:

```python
portions = make_portions(raw, config)     # [Portion("fold-1", prepared, ...), ...]
prepared = prepare_portion(raw, limited(raw.train, config.data.limit), None, config)
```
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlrun.config.schema import ConfigBase
from dlrun.data.prepare import (
    Prepared,
    fit_state,
    holdout_indices,
    input_spec,
    kfold_indices,
    limited,
    transform,
)
from dlrun.data.splits import RawData, Split


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
        fit_idx, val_idx = holdout_indices(len(train), v, config.seed)
        pairs = [("holdout", train.take(fit_idx), train.take(val_idx))]
    else:
        folds = kfold_indices(len(train), v.kfold, v.repeats, config.seed, v.shuffle)
        pairs = [
            (f"fold-{i}", train.take(fit), train.take(val))
            for i, (fit, val) in enumerate(folds, start=1)
        ]
    return [
        Portion(name, prepare_portion(raw, fit_part, val_part, config), fit_part.y, val_part.y)
        for name, fit_part, val_part in pairs
    ]
