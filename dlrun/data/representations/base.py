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
- `read(path, state, data)`: new inputs from a file a user has, for `dlrun predict`.

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

    def refuse_arrays(self, path: Path, give: str) -> None:
        """For text-like inputs: an array file is the wrong kind of input."""
        if path.suffix.lower() in ARRAY_SUFFIXES:
            raise DataError(f"{path}: this run was trained on {self.what}; give {give}.")
