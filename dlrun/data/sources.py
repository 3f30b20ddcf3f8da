"""Data sources registry: a name -> a function(DataConfig) -> RawData.

Adding a source is one function and one line in `SOURCES`. Sources return raw
train and test splits; `dlrun.data.prepare` carves validation out of train and
fits preprocessing on train only.

Example:

```python
raw = SOURCES["sklearn.digits"](DataConfig(source="sklearn.digits"))
raw.train.x.shape   # (1437, 64)
```
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from dlrun.config.schema import DataConfig
from dlrun.data.keras_files import KERAS_DATASETS, check_splits, load_builtin, load_local, load_npz
from dlrun.data.splits import RawData, Sequences, Split
from dlrun.data.tabular import read_csv
from dlrun.errors import DataError

Source = Callable[[DataConfig], RawData]

SKLEARN_DATASETS = {
    "digits": ("load_digits", "images"),
    "breast_cancer": ("load_breast_cancer", "features"),
    "iris": ("load_iris", "features"),
    "wine": ("load_wine", "features"),
    "diabetes": ("load_diabetes", "features"),
}


def keras_source(name: str, config: DataConfig) -> RawData:
    if config.path:
        (x_train, y_train), (x_test, y_test) = load_local(name, config.path, config.num_words)
    else:
        (x_train, y_train), (x_test, y_test) = load_builtin(name, config.num_words)
    kind = KERAS_DATASETS[name][1]
    if kind == "sequences":
        train_x = Sequences.from_lists(x_train, config.num_words)
        test_x = Sequences.from_lists(x_test, train_x.num_words)
        return RawData(
            Split(train_x, np.asarray(y_train).reshape(-1)),
            Split(test_x, np.asarray(y_test).reshape(-1)),
            kind="sequences",
        )
    return RawData(
        Split(np.asarray(x_train), _labels(y_train)),
        Split(np.asarray(x_test), _labels(y_test)),
        kind=kind,
    )


def _labels(y: object) -> np.ndarray:
    """CIFAR's labels come as (n, 1); every other source uses (n,)."""
    y = np.asarray(y)
    return y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y


def sklearn_source(name: str, config: DataConfig) -> RawData:
    import sklearn.datasets

    loader_name, kind = SKLEARN_DATASETS[name]
    bunch = getattr(sklearn.datasets, loader_name)()
    x = np.asarray(bunch.data)
    if kind == "images":
        x = np.asarray(bunch.images)
    y = np.asarray(bunch.target)
    class_names = [str(c) for c in bunch.target_names] if "target_names" in bunch else None
    return _with_test_split(x, y, config, kind, class_names, list(bunch.get("feature_names", [])))


def csv_source(config: DataConfig) -> RawData:
    table = read_csv(config)
    return _with_test_split(table.x, table.y, config, "table", table.class_names, table.columns)


def npz_source(config: DataConfig) -> RawData:
    arrays = load_npz(config.path or "")
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise DataError(
            f"{config.path} lacks the arrays {', '.join(missing)}.",
            hint="An npz data file holds x_train, y_train, x_test and y_test.",
        )
    check_splits(config.path or "", arrays)
    x_train = arrays["x_train"]
    kind = "images" if x_train.ndim >= 3 else "features"
    return RawData(
        Split(x_train, arrays["y_train"]), Split(arrays["x_test"], arrays["y_test"]), kind=kind
    )


def _with_test_split(
    x: np.ndarray,
    y: np.ndarray,
    config: DataConfig,
    kind: str,
    class_names: list[str] | None,
    feature_names: list[str] | None,
) -> RawData:
    """Carve a seeded test split for sources that ship without one."""
    rng = np.random.RandomState(113)
    order = rng.permutation(len(y))
    n_test = max(1, int(round(len(y) * config.test_fraction)))
    test, train = order[:n_test], order[n_test:]
    return RawData(
        Split(x[train], y[train]),
        Split(x[test], y[test]),
        kind=kind,  # type: ignore[arg-type]
        class_names=class_names,
        feature_names=feature_names,
    )


SOURCES: dict[str, Source] = {
    **{f"keras.{name}": partial(keras_source, name) for name in KERAS_DATASETS},
    **{f"sklearn.{name}": partial(sklearn_source, name) for name in SKLEARN_DATASETS},
    "csv": csv_source,
    "npz": npz_source,
}


def load_raw(config: DataConfig) -> RawData:
    """Run the configured source."""
    return SOURCES[config.source](config)
