"""The representation protocol: how one kind of input is fitted, applied, batched and read.

A data source says which representation its raw splits are in (`RawData.kind`). The
representation then owns every step between those raw splits and the model:

- `fit(train, raw, data)`: learn what preprocessing needs from the training portion only,
  as a JSON-able state saved with the run (`preprocessing.json`);
- `apply(x, state)`: turn raw inputs (any split, or new data) into model inputs;
- `input_spec(x, state)`: what the model's input layer receives;
- `batches(x)`: the TensorFlow function that builds one batch from a tensor of indices,
  so a `tf.data` pipeline gathers batches without ever holding a dense copy it does not
  need (`dlrun.data.pipeline`);
- `read(path, state, data)`: new inputs from a file a user has, for `dlrun predict`;
- `outputs(predictions, x, state)`: the model's outputs as a user reads them, with columns
  that say what each row is (a series: the forecast in the target's units, and its time).

Inputs that are not numpy arrays (token sets, ordered token lists, series windows) are
record containers with `len()` and `take(index)`, so validation carving and K-fold pick
records by index and never densify them.

Example:

```python
rep = REPRESENTATIONS[raw.kind]
state = rep.fit(train, raw, config.data)
x = rep.apply(train.x, state)
spec = rep.input_spec(x, state)     # InputSpec((10000,), sparse=True)
```
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.inputs import InputSpec
from dlrun.data.splits import RawData, Split
from dlrun.errors import DataError

ARRAY_SUFFIXES = (".npz", ".npy")


class Representation(ABC):
    """One kind of model input. Subclasses set `name` and `what` and implement the steps."""

    name: ClassVar[str]
    # how an error message names this kind of data: "this run was trained on <what>"
    what: ClassVar[str]
    # whether `read` takes a folder of inputs (image files) besides a file
    reads_folders: ClassVar[bool] = False

    @abstractmethod
    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        """The preprocessing state fitted on the training portion; JSON-able."""

    @abstractmethod
    def apply(self, x: Any, state: dict[str, Any]) -> Any:
        """Raw inputs, transformed with a fitted state, ready for `batches`."""

    def input_spec(self, x: Any, state: dict[str, Any]) -> InputSpec:
        """What the model receives: by default, the shape of one applied sample."""
        return InputSpec(shape=tuple(int(d) for d in np.shape(x)[1:]))

    def batches(self, x: Any) -> Callable[[Any], Any]:
        """index tensor -> feature tensor, gathered from `x` held once in memory."""
        import tensorflow as tf

        array = tf.constant(x)
        return lambda index: tf.gather(array, index)

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> Any:
        """New raw inputs from a file: by default an .npz with an array `x`, or an .npy."""
        if path.suffix.lower() not in ARRAY_SUFFIXES:
            raise DataError(
                f"{path}: this run was trained on {self.what}; give an .npz with an array 'x' "
                "(or an .npy)."
            )
        try:
            if path.suffix.lower() == ".npy":
                return np.load(path, allow_pickle=False)
            with np.load(path, allow_pickle=False) as arrays:
                if "x" not in arrays:
                    raise DataError(
                        f"{path} has no array 'x' (it has: {', '.join(arrays.files) or 'none'})."
                    )
                return arrays["x"]
        except (ValueError, OSError) as exc:
            raise DataError(f"cannot read {path}: {exc}") from None

    def outputs(
        self, predictions: np.ndarray, x: Any, state: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, list[str]]]:
        """The model's outputs as a user reads them, and leading columns naming each row;
        by default the outputs as they are, and no column."""
        return predictions, {}

    def refuse_arrays(self, path: Path, give: str) -> None:
        """For text-like inputs: an array file is the wrong kind of input."""
        if path.suffix.lower() in ARRAY_SUFFIXES:
            raise DataError(f"{path}: this run was trained on {self.what}; give {give}.")


def sparse_batches(
    columns: np.ndarray, row_splits: np.ndarray, width: int, weights: np.ndarray | None = None
) -> Callable[[Any], Any]:
    """index tensor -> `tf.SparseTensor` of those CSR rows (`weights`, else ones), each row
    `width` wide; the rows are held once as ragged tensors."""
    import tensorflow as tf

    splits = tf.constant(row_splits)
    ragged = tf.RaggedTensor.from_row_splits(tf.constant(columns), splits)
    values = (
        None if weights is None else tf.RaggedTensor.from_row_splits(tf.constant(weights), splits)
    )
    wide = tf.constant(width, tf.int64)

    def features(index: Any) -> Any:
        rows = tf.gather(ragged, index)
        positions = tf.stack([rows.value_rowids(), rows.values], axis=1)
        shape = tf.stack([tf.cast(tf.size(index), tf.int64), wide])
        if values is None:
            return tf.SparseTensor(positions, tf.ones_like(rows.values, tf.float32), shape)
        return tf.SparseTensor(positions, tf.gather(values, index).values, shape)

    return features
