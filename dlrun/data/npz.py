"""`npz`: the user's own arrays, `x_train`, `y_train`, `x_test` and `y_test` in one .npz.

Inputs of 3 or more dimensions are images, others feature vectors. `dlrun check`
reads only the archive's index, the headers and `y_train`, never `x_train` itself.

Example:

```python
raw = npz_source(NpzConfig(source="npz", path="data.npz"))
```
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from dlrun.data.arrays import ArrayKeys
from dlrun.data.keras_files import check_splits, load_npz, npz_problems, read_member
from dlrun.data.splits import RawData, Split
from dlrun.errors import DataError
from dlrun.tasks import Labels

ARRAYS = ("x_train", "y_train", "x_test", "y_test")


class NpzConfig(ArrayKeys):
    """Arrays from an .npz file."""

    source: Literal["npz"] = Field(description="An .npz holding x_train, y_train, x_test, y_test.")
    path: str = Field(description="The .npz file.")

    def describe(self) -> str:
        return f"y_train of {self.path}"

    def input_problems(self) -> list[str]:
        return npz_problems(self.path, ARRAYS)

    def input_files(self) -> list[Path]:
        return [Path(self.path)] if Path(self.path).is_file() else []

    @property
    def representation(self) -> str | None:
        """images or features, from x_train's header; None while the file is unreadable."""
        shape = _header_shape(self.path, "x_train")
        if shape is None:
            return None
        return "images" if len(shape) >= 3 else "features"

    def peek_labels(self) -> Labels | None:
        try:
            with zipfile.ZipFile(self.path) as archive:
                y = read_member(archive, "y_train.npy")
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            return None
        return labels_of(np.asarray(y))


def labels_of(y: np.ndarray) -> Labels:
    """What an array of labels is: classes (integer-valued) or continuous, and its width."""
    if y.ndim == 2 and y.shape[1] > 1:
        return Labels(None, columns=int(y.shape[1]))
    y = y.reshape(-1)
    if y.dtype.kind in "fc" and not np.all(np.mod(y, 1) == 0):
        return Labels(None)
    values = np.unique(y)
    return Labels(len(values), binary=len(values) == 2 and bool(np.isin(values, [0, 1]).all()))


def _header_shape(path: str, name: str) -> tuple[int, ...] | None:
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{name}.npy") as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, _ = np.lib.format.read_array_header_1_0(fp)
            else:
                shape, _, _ = np.lib.format.read_array_header_2_0(fp)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return tuple(shape)


def npz_source(config: NpzConfig) -> RawData:
    arrays = load_npz(config.path)
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise DataError(
            f"{config.path} lacks the arrays {', '.join(missing)}.",
            hint="An npz data file holds x_train, y_train, x_test and y_test.",
        )
    check_splits(config.path, arrays)
    x_train = arrays["x_train"]
    kind = "images" if x_train.ndim >= 3 else "features"
    return RawData(
        Split(x_train, arrays["y_train"]), Split(arrays["x_test"], arrays["y_test"]), kind=kind
    )
