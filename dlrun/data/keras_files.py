"""Keras's built-in datasets: their typed configs, and loading through `keras.datasets`
or from a local copy.

Keras's loaders reject any file whose hash differs from the original and then try
to download. `load_local` reads a local copy of the same format with the same
semantics as Keras 3.15 (`RandomState(113)` shuffle, start/oov/index_from,
`num_words`, the 80/20 split of reuters and boston_housing, fashion-mnist's idx
files, cifar10's pickled batches in channels-last order), numpy only.

Example:

```python
raw = keras_source("imdb", KerasTextConfig(source="keras.imdb", path="imdb.npz", num_words=10000))
(x_train, y_train), (x_test, y_test) = load_local("imdb", "../shared/datasets/imdb/imdb.npz",
                                                  num_words=10000)
```
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import tarfile
import zipfile
from itertools import chain
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from dlrun.config.schema import DataSection
from dlrun.data.arrays import ArrayKeys
from dlrun.data.splits import RawData, Rows, Sequences, Split, TokenLists
from dlrun.errors import DataError
from dlrun.tasks import Labels

# dataset -> (what Keras 3.15 looks for in its cache, its representation; "text" is
# multi_hot or sequence, as data.vectorize says)
KERAS_DATASETS = {
    "imdb": ("imdb.npz", "text"),
    "reuters": ("reuters.npz", "text"),
    "mnist": ("mnist.npz", "images"),
    "fashion_mnist": ("fashion-mnist/", "images"),
    # cifar10's get_file(extract=True) keeps the download under this name, checks its
    # sha256 and extracts it again on every load; an extracted folder alone is not used.
    "cifar10": ("cifar-10-batches-py-target_archive", "images"),
    "boston_housing": ("boston_housing.npz", "features"),
}
FASHION_FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
CIFAR_ARCHIVE, CIFAR_DIR = "cifar-10-python.tar.gz", "cifar-10-batches-py"
CIFAR_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR_BATCHES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
# Where the cached file is not simply Keras's original under its own name:
# dataset -> (what to put at the cache path, what data.path may name instead).
_OFFLINE = {
    "fashion_mnist": (
        f"the four files {', '.join(FASHION_FILES)} in",
        "the directory holding those four files",
    ),
    "cifar10": (
        f"the original {CIFAR_ARCHIVE} (sha256 {CIFAR_SHA256}), renamed to",
        f"{CIFAR_ARCHIVE} or the {CIFAR_DIR}/ directory extracted from it",
    ),
}
LOCAL_COPY_FORMATS = ("imdb", "reuters", "mnist", "fashion_mnist", "cifar10", "boston_housing")
# the arrays a local copy holds, and what its labels are
_LOCAL_ARRAYS = {
    "imdb": ("x_train", "y_train", "x_test", "y_test"),
    "reuters": ("x", "y"),
    "mnist": ("x_train", "y_train", "x_test", "y_test"),
    "boston_housing": ("x", "y"),
}
_LABELS = {
    "imdb": Labels(2, binary=True),
    "reuters": Labels(46),
    "mnist": Labels(10),
    "fashion_mnist": Labels(10),
    "cifar10": Labels(10),
    "boston_housing": Labels(None),
}

_ALLOWED_PICKLE = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}

Arrays = tuple[tuple[Any, np.ndarray], tuple[Any, np.ndarray]]

TEXT_SOURCES = ("keras.imdb", "keras.reuters")
ARRAY_SOURCES = ("keras.mnist", "keras.fashion_mnist", "keras.cifar10", "keras.boston_housing")


class _KerasSection(DataSection):
    path: str | None = Field(
        None, description="A local copy of the Keras dataset file (offline machines)."
    )

    @property
    def dataset(self) -> str:
        return self.source.removeprefix("keras.")

    def input_problems(self) -> list[str]:
        if self.path is None:
            return []
        if self.dataset not in LOCAL_COPY_FORMATS:
            return [
                f"data.path is not supported for {self.source}: local copies work for "
                f"{', '.join(f'keras.{n}' for n in LOCAL_COPY_FORMATS)}. Put Keras's original "
                f"files under {keras_cache_dir()} and remove data.path."
            ]
        if self.dataset in _OFFLINE:  # a directory of files or an archive, not an npz
            if not Path(self.path).exists():
                return [f"data.path {self.path}: not found; give {_OFFLINE[self.dataset][1]}."]
            return []
        return npz_problems(self.path, _LOCAL_ARRAYS[self.dataset])

    def peek_labels(self) -> Labels | None:
        return _LABELS[self.dataset]

    def input_files(self) -> list[Path]:
        if self.path is not None:
            return [Path(self.path)] if Path(self.path).is_file() else []
        cached = keras_cache_dir() / KERAS_DATASETS[self.dataset][0]
        return [cached] if cached.is_file() else []


class KerasTextConfig(_KerasSection):
    """IMDB reviews and Reuters newswires: token ids, as sparse multi-hot sets or ordered."""

    source: Literal["keras.imdb", "keras.reuters"] = Field(description="A Keras text dataset.")
    num_words: int | None = Field(
        None, ge=3, description="Keep the N most frequent words (default: every word)."
    )
    vectorize: Literal["auto", "multi_hot", "sequence"] = Field(
        "auto",
        description="multi_hot: sparse multi-hot vectors built on the fly (auto); sequence: "
        "ordered token ids padded or truncated to maxlen.",
    )
    maxlen: int | None = Field(
        None, ge=1, description="sequence: the length every sequence is padded or cut to."
    )
    padding: Literal["pre", "post"] = Field(
        "pre", description="sequence: pad short sequences before (pre) or after (post)."
    )
    truncating: Literal["pre", "post"] = Field(
        "pre", description="sequence: cut long sequences at the start (pre) or end (post)."
    )

    @property
    def representation(self) -> Literal["multi_hot", "sequence"]:
        return "sequence" if self.vectorize == "sequence" else "multi_hot"

    def problems(self) -> list[str]:
        if self.vectorize == "sequence" and self.maxlen is None:
            return ["data.vectorize 'sequence' needs data.maxlen: the length of every sequence."]
        if self.vectorize != "sequence" and self.maxlen is not None:
            return ["data.maxlen applies to vectorize: sequence; remove it or set that."]
        return []


class KerasArraysConfig(ArrayKeys, _KerasSection):
    """MNIST, Fashion-MNIST and CIFAR-10 images; Boston housing feature vectors."""

    source: Literal[
        "keras.mnist", "keras.fashion_mnist", "keras.cifar10", "keras.boston_housing"
    ] = Field(description="A Keras image or feature dataset.")


def npz_problems(path: str, arrays: tuple[str, ...]) -> list[str]:
    """Why `data.path` is not an .npz holding `arrays` (read from its index only), or []."""
    file = Path(path)
    if not file.is_file():
        what = "a directory" if file.is_dir() else "not found"
        return [f"data.path {path}: {what}; give the .npz file (paths are relative to here)."]
    try:
        with zipfile.ZipFile(file) as archive:
            names = {n.removesuffix(".npy") for n in archive.namelist()}
    except (zipfile.BadZipFile, OSError) as exc:
        return [f"data.path {path} is not an .npz file ({exc})."]
    missing = [a for a in arrays if a not in names]
    if missing:
        return [
            f"data.path {path} lacks the array{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}; it needs {', '.join(arrays)}."
        ]
    return []


def keras_source(name: str, config: KerasTextConfig | KerasArraysConfig) -> RawData:
    """Load a Keras dataset (from `config.path` when given) as raw train and test splits."""
    num_words = config.num_words if isinstance(config, KerasTextConfig) else None
    if config.path:
        (x_train, y_train), (x_test, y_test) = load_local(name, config.path, num_words)
    else:
        (x_train, y_train), (x_test, y_test) = load_builtin(name, num_words)
    if isinstance(config, KerasTextConfig):
        rows = Sequences if config.representation == "multi_hot" else TokenLists
        train_x = rows.from_lists(x_train, num_words)
        return RawData(
            Split(train_x, np.asarray(y_train).reshape(-1)),
            Split(rows.from_lists(x_test, train_x.num_words), np.asarray(y_test).reshape(-1)),
            kind=config.representation,  # type: ignore[arg-type]
        )
    return RawData(
        Split(np.asarray(x_train), _labels(y_train)),
        Split(np.asarray(x_test), _labels(y_test)),
        kind=KERAS_DATASETS[name][1],  # type: ignore[arg-type]
    )


def _labels(y: object) -> np.ndarray:
    """CIFAR's labels come as (n, 1); every other source uses (n,)."""
    y = np.asarray(y)
    return y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y


def keras_cache_dir() -> Path:
    """Where Keras 3.15's get_file looks: $KERAS_HOME or ~/.keras, else /tmp/.keras."""
    if "KERAS_HOME" in os.environ:
        home = Path(os.environ["KERAS_HOME"]).expanduser()
    else:
        home = (Path.home() if os.access(Path.home(), os.W_OK) else Path("/tmp")) / ".keras"
    # get_file falls back to /tmp/.keras when it cannot write the home it was given.
    return (home if os.access(home, os.W_OK) else Path("/tmp/.keras")) / "datasets"


def load_builtin(name: str, num_words: int | None) -> Arrays:
    """Load through `keras.datasets`; an offline failure names the file and where it goes."""
    import keras

    module = getattr(keras.datasets, name)
    kwargs = {"num_words": num_words} if name in ("imdb", "reuters") else {}
    try:
        return module.load_data(**kwargs)
    except Exception as exc:  # noqa: BLE001 - any download failure gets the same advice
        file_name = KERAS_DATASETS[name][0]
        put, local = _OFFLINE.get(
            name, (f"Keras's original {file_name} at", f"any copy of {file_name}")
        )
        raise DataError(
            f"could not load the Keras dataset '{name}': {type(exc).__name__}: {exc}",
            hint=(
                f"Keras downloads it on first use, which needs the network. Offline, put {put} "
                f"{keras_cache_dir() / file_name}, or set data.path to {local} (dlrun reads it "
                "with Keras's semantics)."
            ),
        ) from None


def load_local(name: str, path: str | Path, num_words: int | None = None) -> Arrays:
    """Read a local copy of a Keras dataset file with Keras's own semantics."""
    if name == "fashion_mnist":
        return _fashion_mnist(Path(path))
    if name == "cifar10":
        return _cifar10(Path(path))
    arrays = load_npz(path)
    try:
        if name == "imdb":
            return _imdb(arrays, num_words)
        if name == "reuters":
            return _reuters(arrays, num_words)
        if name == "mnist":
            check_splits(path, {name: a.shape for name, a in arrays.items()})
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
                out[key] = read_member(archive, member)
    except (zipfile.BadZipFile, ValueError, pickle.UnpicklingError) as exc:
        raise DataError(f"{path} is not a readable .npz file: {exc}") from None
    return out


def check_splits(path: str | Path, shapes: dict[str, tuple[int, ...]]) -> None:
    """Refuse x/y arrays that do not pair up, which would otherwise be cut to the shorter
    one; `shapes` are the arrays' shapes (`dlrun check` reads them from the headers)."""
    for split in ("train", "test"):
        x, y = f"x_{split}", f"y_{split}"
        n_x, n_y = (shapes[x] or (1,))[0], (shapes[y] or (1,))[0]
        if n_x != n_y:
            raise DataError(
                f"{path}: {x} has {n_x} samples but {y} has {n_y}; each sample needs its label.",
                hint=f"Rebuild the file so that {x} and {y} have the same length.",
            )
    train, test = shapes["x_train"][1:], shapes["x_test"][1:]
    if train != test:
        raise DataError(
            f"{path}: the samples of x_train have shape {train} but those of x_test {test}; "
            "the model is trained on one and tested on the other, so both need the same features.",
            hint="Rebuild the file with the same features (in the same order) in both splits.",
        )


def read_member(archive: zipfile.ZipFile, member: str) -> np.ndarray:
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


def _fashion_mnist(folder: Path) -> Arrays:
    """The four idx files as Keras downloads them: a header, then one uint8 per label/pixel."""
    missing = [name for name in FASHION_FILES if not (folder / name).is_file()]
    if missing:
        raise DataError(
            f"{folder} does not hold {', '.join(missing)}.",
            hint="For keras.fashion_mnist, data.path is a directory with "
            f"{', '.join(FASHION_FILES)} (as Keras keeps them in its cache's fashion-mnist/).",
        )

    def read(name: str, header: int) -> np.ndarray:
        try:
            with gzip.open(folder / name, "rb") as fp:
                return np.frombuffer(fp.read(), np.uint8, offset=header)
        except (OSError, EOFError, ValueError) as exc:
            raise DataError(f"{folder / name} is not a gzipped idx file: {exc}") from None

    splits = []
    for labels, images in (FASHION_FILES[:2], FASHION_FILES[2:]):
        y, pixels = read(labels, 8), read(images, 16)
        if len(pixels) != len(y) * 28 * 28:
            raise DataError(
                f"{folder / images} holds {len(pixels)} pixels, not 28x28 for each of the "
                f"{len(y)} labels in {labels}."
            )
        splits.append((pixels.reshape(len(y), 28, 28), y))
    return splits[0], splits[1]


def _cifar10(path: Path) -> Arrays:
    """cifar-10-python.tar.gz, or the cifar-10-batches-py/ directory extracted from it."""
    if path.is_dir():
        folder = path / CIFAR_DIR if (path / CIFAR_DIR).is_dir() else path
        missing = [name for name in CIFAR_BATCHES if not (folder / name).is_file()]
        if missing:
            raise DataError(
                f"{folder} is not an extracted {CIFAR_ARCHIVE}: it lacks {', '.join(missing)}.",
                hint=f"Set data.path to {CIFAR_ARCHIVE} itself, or to its {CIFAR_DIR}/.",
            )
        batches = [
            _cifar_batch(folder / name, (folder / name).read_bytes()) for name in CIFAR_BATCHES
        ]
    elif path.is_file():
        batches = _cifar_archive(path)
    else:
        raise DataError(f"data file not found: {path}", hint="Check data.path.")
    x_train = np.concatenate([x for x, _ in batches[:-1]])
    y_train = np.concatenate([y for _, y in batches[:-1]])
    x_test, y_test = batches[-1]
    # Keras's layout: labels as (n, 1), images channels-last as Keras's default format.
    return (
        (x_train.transpose(0, 2, 3, 1), y_train.reshape(-1, 1)),
        (x_test.transpose(0, 2, 3, 1), y_test.reshape(-1, 1)),
    )


def _cifar_archive(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    # Members are read in memory by their known names: nothing is extracted to disk.
    try:
        with tarfile.open(path, "r:*") as archive:
            batches = []
            for name in CIFAR_BATCHES:
                member = archive.extractfile(f"{CIFAR_DIR}/{name}")
                if member is None:
                    raise KeyError(name)
                batches.append(_cifar_batch(path / name, member.read()))
            return batches
    except KeyError as exc:
        raise DataError(
            f"{path} is not {CIFAR_ARCHIVE}: it lacks {CIFAR_DIR}/{exc.args[0]}."
        ) from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{path} is not a readable {CIFAR_ARCHIVE}: {exc}") from None


def _cifar_batch(where: Path, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch, read as Keras's `cifar.load_batch` does, but numpy-only."""
    try:
        batch = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
        batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
        pixels = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.uint8)
        if len(labels) != len(pixels):
            raise ValueError(f"{len(pixels)} images but {len(labels)} labels")
        return pixels.reshape(len(pixels), 3, 32, 32), labels
    except (pickle.UnpicklingError, EOFError, AttributeError, KeyError, ValueError) as exc:
        raise DataError(f"{where} is not a CIFAR-10 batch: {type(exc).__name__}: {exc}") from None


def _shuffled(*arrays: np.ndarray, rng: np.random.RandomState | None = None) -> list[np.ndarray]:
    rng = rng if rng is not None else np.random.RandomState(113)
    indices = np.arange(len(arrays[0]))
    rng.shuffle(indices)
    return [a[indices] for a in arrays]


def _encode(
    rows: Any, num_words: int | None, start_char: int = 1, oov_char: int = 2, index_from: int = 3
) -> Rows:
    """Keras's start/index_from/oov encoding, computed on one flat array (fast on IMDB),
    and kept flat (`Rows`)."""
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
    flat += index_from
    if not num_words:
        # Keras takes the largest index as the bound, so that word itself becomes oov.
        num_words = int(max(flat.max(initial=start_char), start_char))
    # in place: a copy was 94 MB more at the peak of loading IMDB, beside its Python lists
    flat[flat >= num_words] = oov_char
    start = start_char if start_char < num_words else oov_char
    # each row gets the start id in front: one insert at every row's first position
    values = np.insert(flat, np.concatenate([[0], np.cumsum(lengths)[:-1]]), start)
    return Rows(values, lengths + 1)


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
