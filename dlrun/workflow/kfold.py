"""K-fold results: the per-epoch validation curves are averaged over folds (up to
the shortest fold, when early stopping ended folds at different epochs) and the
best epoch is read off the averaged curve (the book's Boston recipe). The folds
themselves (with preprocessing fitted per fold) come from `dlrun.data.portions`.

Example:

```python
mean_curves([{"val_mae": [3, 2, 1]}, {"val_mae": [5, 4, 3]}])   # {"val_mae": [4.0, 3.0, 2.0]}
```
"""

from __future__ import annotations

import numpy as np


def mean_curves(histories: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Per-epoch mean of each history column over folds, up to the shortest fold."""
    keys = [k for k in histories[0] if all(k in h for h in histories)]
    length = min(len(h[k]) for h in histories for k in keys) if keys else 0
    return {k: [float(np.mean([h[k][e] for h in histories])) for e in range(length)] for k in keys}


def fold_spread(values: list[float]) -> tuple[float, float]:
    """Mean and (population) standard deviation of one number over the folds."""
    return float(np.mean(values)), float(np.std(values))
