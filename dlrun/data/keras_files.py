"""Keras's built-in datasets: through `keras.datasets`, or from a local copy.

Keras's loaders reject any file whose hash differs from the original and then try
to download. `load_local` reads a local copy of the same format with the same
semantics as Keras 3.15 (`RandomState(113)` shuffle, start/oov/index_from,
`num_words`, the 80/20 split of reuters and boston_housing), numpy only.

Example:

```python
(x_train, y_train), (x_test, y_test) = load_local("imdb", "../shared/datasets/imdb/imdb.npz",
                                                  num_words=10000)
```
"""

from __future__ import annotations

import os
import pickle
import zipfile
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.errors import DataError

# dataset -> (file name in Keras's cache, kind of data)
KERAS_DATASETS = {
    "imdb": ("imdb.npz", "sequences"),
    "reuters": ("reuters.npz", "sequences"),
    "mnist": ("mnist.npz", "images"),
    "fashion_mnist": ("fashion-mnist/", "images"),
    "cifar10": ("cifar-10-batches-py/", "images"),
    "boston_housing": ("boston_housing.npz", "features"),
}
LOCAL_COPY_FORMATS = ("imdb", "reuters", "mnist", "boston_housing")

_ALLOWED_PICKLE = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}

Arrays = tuple[tuple[Any, np.ndarray], tuple[Any, np.ndarray]]


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def load_builtin(name: str, num_words: int | None) -> Arrays:
    """Load through `keras.datasets`; an offline failure names the file and where it goes."""
    import keras

    module = getattr(keras.datasets, name)
    kwargs = {"num_words": num_words} if name in ("imdb", "reuters") else {}
    try:
        return module.load_data(**kwargs)
    except Exception as exc:  # noqa: BLE001 - any download failure gets the same advice
        file_name = KERAS_DATASETS[name][0]
        target = keras_cache_dir() / file_name
        local = (
            f" or put any copy of the file somewhere and set data.path to it "
            f"(dlrun reads {file_name} copies with Keras's semantics)."
            if name in LOCAL_COPY_FORMATS
            else "."
        )
        raise DataError(
            f"could not load the Keras dataset '{name}': {type(exc).__name__}: {exc}",
            hint=(
                f"Keras downloads it on first use, which needs the network. Offline, put "
                f"Keras's original {file_name} at {target}{local}"
            ),
        ) from None


def load_local(name: str, path: str | Path, num_words: int | None = None) -> Arrays:
    """Read a local copy of a Keras dataset file with Keras's own semantics."""
    if name not in LOCAL_COPY_FORMATS:
        raise DataError(
            f"data.path is not supported for keras.{name}: "
            f"local copies work for {', '.join(LOCAL_COPY_FORMATS)}.",
            hint=f"Put Keras's original files under {keras_cache_dir()} and remove data.path.",
        )
    arrays = load_npz(path)
    try:
        if name == "imdb":
            return _imdb(arrays, num_words)
        if name == "reuters":
            return _reuters(arrays, num_words)
        if name == "mnist":
            check_splits(path, arrays)
            return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
        return _boston(arrays)
    except KeyError as exc:
        raise DataError(
            f"{path} is not a copy of Keras's {KERAS_DATASETS[name][0]}: it lacks the array {exc}."
        ) from None


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Like `np.load(allow_pickle=True)`, but only numpy arrays may be unpickled."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}", hint="Check data.path.")
    out: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                key = member[:-4] if member.endswith(".npy") else member
                out[key] = _read_member(archive, member)
    except (zipfile.BadZipFile, ValueError, pickle.UnpicklingError) as exc:
        raise DataError(f"{path} is not a readable .npz file: {exc}") from None
    return out


def check_splits(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Refuse x/y arrays that do not pair up, which would otherwise be cut to the shorter one."""
    for split in ("train", "test"):
        x, y = f"x_{split}", f"y_{split}"
        if len(arrays[x]) != len(arrays[y]):
            raise DataError(
                f"{path}: {x} has {len(arrays[x])} samples but {y} has {len(arrays[y])}; "
                "each sample needs its label.",
                hint=f"Rebuild the file so that {x} and {y} have the same length.",
            )
    train, test = arrays["x_train"].shape[1:], arrays["x_test"].shape[1:]
    if train != test:
        raise DataError(
            f"{path}: the samples of x_train have shape {train} but those of x_test {test}; "
            "the model is trained on one and tested on the other, so both need the same features.",
            hint="Rebuild the file with the same features (in the same order) in both splits.",
        )


def _read_member(archive: zipfile.ZipFile, member: str) -> np.ndarray:
    with archive.open(member) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            _, _, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            _, _, dtype = np.lib.format.read_array_header_2_0(fp)
        if dtype.hasobject:
            return _NumpyOnlyUnpickler(fp).load()
    with archive.open(member) as fp:
        return np.lib.format.read_array(fp, allow_pickle=False)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_PICKLE:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")


def _shuffled(*arrays: np.ndarray, rng: np.random.RandomState | None = None) -> list[np.ndarray]:
    rng = rng if rng is not None else np.random.RandomState(113)
    indices = np.arange(len(arrays[0]))
    rng.shuffle(indices)
    return [a[indices] for a in arrays]


def _encode(
    rows: Any, num_words: int | None, start_char: int = 1, oov_char: int = 2, index_from: int = 3
) -> list[list[int]]:
    """Keras's start/index_from/oov encoding, computed on one flat array (fast on IMDB)."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
    flat += index_from
    if not num_words:
        # Keras takes the largest index as the bound, so that word itself becomes oov.
        num_words = int(max(flat.max(initial=start_char), start_char))
    values = np.where(flat < num_words, flat, oov_char).tolist()
    start = start_char if start_char < num_words else oov_char
    bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    return [[start, *values[a:b]] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def _imdb(arrays: dict[str, np.ndarray], num_words: int | None) -> Arrays:
    # Keras shuffles the test split with the same generator, continuing after train.
    rng = np.random.RandomState(113)
    x_train, y_train = _shuffled(arrays["x_train"], arrays["y_train"], rng=rng)
    x_test, y_test = _shuffled(arrays["x_test"], arrays["y_test"], rng=rng)
    # Keras picks the default vocabulary over train and test together.
    encoded = _encode(list(x_train) + list(x_test), num_words)
    n = len(x_train)
    return (encoded[:n], y_train), (encoded[n:], y_test)


def _reuters(arrays: dict[str, np.ndarray], num_words: int | None) -> Arrays:
    xs, labels = _shuffled(arrays["x"], arrays["y"])
    encoded = _encode(list(xs), num_words)
    n = int(len(encoded) * 0.8)
    return (encoded[:n], labels[:n]), (encoded[n:], labels[n:])


def _boston(arrays: dict[str, np.ndarray]) -> Arrays:
    x, y = _shuffled(arrays["x"], arrays["y"])
    n = int(len(x) * 0.8)
    return (x[:n], y[:n]), (x[n:], y[n:])
