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
        problems = npz_problems(self.path, ARRAYS)
        if problems:
            return problems
        headers = {name: _header(self.path, name) for name in ARRAYS}
        try:
            for name, header in headers.items():
                if header is not None and header[1].hasobject:
                    raise _objects(self.path, name)
            if all(header is not None for header in headers.values()):
                check_splits(self.path, {k: h[0] for k, h in headers.items() if h is not None})
        except DataError as exc:
            return [str(exc).replace("\n", " ")]
        return []

    def input_files(self) -> list[Path]:
        return [Path(self.path)] if Path(self.path).is_file() else []

    @property
    def representation(self) -> str | None:
        """images or features, from x_train's header; None while the file is unreadable."""
        header = _header(self.path, "x_train")
        if header is None:
            return None
        return "images" if len(header[0]) >= 3 else "features"

    def peek_labels(self) -> Labels | None:
        header = _header(self.path, "y_train")
        if header is None or header[1].hasobject:  # input_problems names the array
            return None
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


def _header(path: str, name: str) -> tuple[tuple[int, ...], np.dtype] | None:
    """(shape, dtype) of an array, read from its header alone; None if unreadable."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{name}.npy") as fp:
            version = np.lib.format.read_magic(fp)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return tuple(shape), dtype


def _objects(path: str, name: str) -> DataError:
    return DataError(
        f"{path}: {name} is an array of Python objects, not of numbers (rows of different "
        "lengths are saved so), which a model cannot take.",
        hint=f"Save {name} as a numeric array: pad its rows to one length (e.g. "
        "keras.utils.pad_sequences), or cut them to one.",
    )


def npz_source(config: NpzConfig) -> RawData:
    for name in ARRAYS:
        header = _header(config.path, name)
        if header is not None and header[1].hasobject:  # refused before it is unpickled
            raise _objects(config.path, name)
    arrays = load_npz(config.path)
    missing = [k for k in ARRAYS if k not in arrays]
    if missing:
        raise DataError(
            f"{config.path} lacks the arrays {', '.join(missing)}.",
            hint="An npz data file holds x_train, y_train, x_test and y_test.",
        )
    check_splits(config.path, {name: arrays[name].shape for name in ARRAYS})
    for name in ARRAYS:
        refuse_non_finite(config.path, name, arrays[name])
    x_train = arrays["x_train"]
    kind = "images" if x_train.ndim >= 3 else "features"
    return RawData(
        Split(x_train, arrays["y_train"]), Split(arrays["x_test"], arrays["y_test"]), kind=kind
    )


def refuse_non_finite(path: str | Path, name: str, array: np.ndarray) -> None:
    """Refuse NaN or an infinite value in an array of inputs or labels: one in an input
    makes the loss and every later prediction NaN, and training then ends at a score
    that looks like a result. Checked a block of samples at a time, to keep memory flat."""
    if array.dtype.kind not in "fc" or not len(array):
        return
    per_block = max(1, (1 << 22) // max(1, array[0].size))
    for start in range(0, len(array), per_block):
        block = array[start : start + per_block]
        finite = np.isfinite(block).reshape(len(block), -1).all(axis=1)
        if not finite.all():
            first = start + int(np.argmin(finite))
            count = int(np.count_nonzero(~np.isfinite(array)))
            raise DataError(
                f"{path}: {name} holds {count} value{'s' if count > 1 else ''} that "
                f"{'are' if count > 1 else 'is'} not a finite number (NaN or infinite), the "
                f"first in sample {first}.",
                hint="Fill or remove those samples and save the file again.",
            )
