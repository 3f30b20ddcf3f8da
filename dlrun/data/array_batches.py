"""Batches gathered by numpy, for a backend that Keras feeds without TensorFlow (imports
Keras).

JAX and PyTorch take numpy batches. Through tf.data they also run TensorFlow's iterator
and its threads beside the engine's own on the same cores; a `keras.utils.PyDataset`
that gathers each batch with numpy feeds them the way Keras feeds its own arrays. The
batches, their order and their sharding are `dlrun.data.pipeline`'s: this class only
gathers them.

Example:

```python
data = ArrayBatches(split.x.__getitem__, split.y, [np.arange(0, 32), np.arange(32, 50)])
x, y = data[1]   # the features and labels of rows 32..49
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np


class ArrayBatches(keras.utils.PyDataset):
    """The batches whose row indices `index(i)` gives, i < `count`.

    Args:
        features: row indices -> their features (a representation's `arrays`).
        labels: every row's label (one-hot already where the fit wants it).
        index: batch number -> its row indices.
        count: how many batches there are.
        form: what a batch is: "xy", "xx" (the features are the target) or "x".
        weight: every sample's loss weight (None: no weights in the batch).
    """

    def __init__(
        self,
        features: Callable[[np.ndarray], Any],
        labels: np.ndarray,
        index: Callable[[int], np.ndarray],
        count: int,
        form: str = "xy",
        weight: float | None = None,
    ) -> None:
        super().__init__()  # one worker, no enqueuer: each batch is gathered when asked
        self._features, self._labels, self._index = features, labels, index
        self._count, self._form, self._weight = count, form, weight

    @property
    def num_batches(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> Any:
        if not 0 <= i < self._count:
            raise IndexError(i)  # ends iteration over the dataset, as a sequence does
        index = self._index(i)
        x = self._features(index)
        if self._form == "x":
            return x
        if self._form == "xx":
            return x, x
        if self._weight is None:
            return x, self._labels[index]
        return x, self._labels[index], np.full(len(index), self._weight, np.float32)
