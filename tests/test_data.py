"""Data sources on tiny data in the real formats, preparation fitted on train only, pipelines."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from dlrun.config.schema import ValidationConfig
from dlrun.data.keras_files import KerasArraysConfig, KerasTextConfig, load_local, load_npz
from dlrun.data.npz import NpzConfig
from dlrun.data.portions import make_portions
from dlrun.data.prepare import holdout_indices, prepare_test
from dlrun.data.sklearn_sets import SklearnConfig
from dlrun.data.sources import SOURCES, load_raw
from dlrun.data.splits import Sequences
from dlrun.data.tabular import CsvConfig, transform_table
from dlrun.errors import DataError, DataWarning
from dlrun.spec import validate
from tests.conftest import shared_file


def ragged(rows: list[list[int]]) -> np.ndarray:
    """An object array of Python lists: how Keras stores imdb/reuters sequences."""
    out = np.empty(len(rows), dtype=object)
    for i, row in enumerate(rows):
        out[i] = list(row)
    return out


def random_rows(rng: np.random.RandomState, n: int, vocabulary: int) -> list[list[int]]:
    # word ranks from 1 (Keras's files have no start char and no offset)
    return [[int(w) for w in rng.randint(1, vocabulary, size=rng.randint(1, 12))] for _ in range(n)]


@pytest.fixture(scope="module")
def keras():
    from dlrun.tfenv import import_keras

    return import_keras()


@pytest.fixture
def tiny_imdb(tmp_path: Path) -> Path:
    rng = np.random.RandomState(0)
    path = tmp_path / "imdb.npz"
    np.savez(
        path,
        x_train=ragged(random_rows(rng, 40, 60)),
        y_train=rng.randint(0, 2, 40).astype(np.int64),
        x_test=ragged(random_rows(rng, 30, 60)),
        y_test=rng.randint(0, 2, 30).astype(np.int64),
        allow_pickle=True,
    )
    return path


@pytest.fixture
def tiny_reuters(tmp_path: Path) -> Path:
    rng = np.random.RandomState(1)
    path = tmp_path / "reuters.npz"
    np.savez(
        path,
        x=ragged(random_rows(rng, 53, 80)),
        y=rng.randint(0, 5, 53).astype(np.int64),
        allow_pickle=True,
    )
    return path


def as_lists(xs) -> list[list[int]]:
    return [[int(w) for w in row] for row in xs]


# --- local copies of Keras files: Keras's own loader code is the reference ---------------


@pytest.mark.parametrize("num_words", [None, 20])
def test_local_imdb_matches_keras_loader(keras, tiny_imdb, monkeypatch, num_words) -> None:
    from keras.src.datasets import imdb

    monkeypatch.setattr(imdb, "get_file", lambda *args, **kwargs: str(tiny_imdb))
    (kx_train, ky_train), (kx_test, ky_test) = imdb.load_data(num_words=num_words)
    (x_train, y_train), (x_test, y_test) = load_local("imdb", tiny_imdb, num_words)
    assert as_lists(x_train) == as_lists(kx_train)
    assert as_lists(x_test) == as_lists(kx_test)  # the test split continues the same RNG
    np.testing.assert_array_equal(y_train, ky_train)
    np.testing.assert_array_equal(y_test, ky_test)
    assert all(row[0] == 1 for row in as_lists(x_train))  # start_char
    if num_words:
        assert max(max(row) for row in as_lists(x_train)) < num_words
        assert any(2 in row for row in as_lists(x_train))  # oov_char


@pytest.mark.parametrize("num_words", [None, 30])
def test_local_reuters_matches_keras_loader(keras, tiny_reuters, monkeypatch, num_words) -> None:
    from keras.src.datasets import reuters

    monkeypatch.setattr(reuters, "get_file", lambda *args, **kwargs: str(tiny_reuters))
    (kx_train, ky_train), (kx_test, ky_test) = reuters.load_data(num_words=num_words)
    (x_train, y_train), (x_test, y_test) = load_local("reuters", tiny_reuters, num_words)
    assert len(x_train) == int(53 * 0.8) == len(kx_train)
    assert as_lists(x_train) == as_lists(kx_train)
    assert as_lists(x_test) == as_lists(kx_test)
    np.testing.assert_array_equal(y_train, ky_train)
    np.testing.assert_array_equal(y_test, ky_test)


def test_local_boston_and_mnist_match_keras_loaders(keras, tmp_path, monkeypatch) -> None:
    from keras.src.datasets import boston_housing, mnist

    rng = np.random.RandomState(2)
    boston = tmp_path / "boston_housing.npz"
    np.savez(boston, x=rng.rand(31, 13), y=rng.rand(31) * 50)
    monkeypatch.setattr(boston_housing, "get_file", lambda *a, **k: str(boston))
    expected = boston_housing.load_data()
    got = load_local("boston_housing", boston)
    assert len(got[0][0]) == int(31 * 0.8)
    for (ex, ey), (gx, gy) in zip(expected, got, strict=True):
        np.testing.assert_array_equal(gx, ex)
        np.testing.assert_array_equal(gy, ey)

    digits = tmp_path / "mnist.npz"
    arrays = {
        "x_train": rng.randint(0, 256, (12, 28, 28)).astype(np.uint8),
        "y_train": rng.randint(0, 10, 12).astype(np.uint8),
        "x_test": rng.randint(0, 256, (5, 28, 28)).astype(np.uint8),
        "y_test": rng.randint(0, 10, 5).astype(np.uint8),
    }
    np.savez_compressed(digits, **arrays)
    monkeypatch.setattr(mnist, "get_file", lambda *a, **k: str(digits))
    for (ex, ey), (gx, gy) in zip(mnist.load_data(), load_local("mnist", digits), strict=True):
        np.testing.assert_array_equal(gx, ex)
        np.testing.assert_array_equal(gy, ey)


def write_fashion_mnist(folder: Path, rng: np.random.RandomState) -> Path:
    """The four gzipped idx files, headers and all, as Keras downloads them."""
    folder.mkdir()
    for prefix, n in (("train", 12), ("t10k", 5)):
        labels = struct.pack(">II", 2049, n) + rng.randint(0, 10, n).astype(np.uint8).tobytes()
        images = (
            struct.pack(">IIII", 2051, n, 28, 28)
            + rng.randint(0, 256, n * 784).astype(np.uint8).tobytes()
        )
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
    return folder


def test_local_fashion_mnist_matches_keras_loader(keras, tmp_path, monkeypatch) -> None:
    from keras.src.datasets import fashion_mnist

    folder = write_fashion_mnist(tmp_path / "fashion-mnist", np.random.RandomState(5))
    monkeypatch.setattr(fashion_mnist, "get_file", lambda fname, **_: str(folder / fname))
    expected = fashion_mnist.load_data()
    got = load_local("fashion_mnist", folder)
    assert got[0][0].shape == (12, 28, 28)
    for (ex, ey), (gx, gy) in zip(expected, got, strict=True):
        np.testing.assert_array_equal(gx, ex)
        np.testing.assert_array_equal(gy, ey)

    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"fashion-mnist does not hold t10k-labels-idx1-ubyte.gz"):
        load_raw(KerasArraysConfig(source="keras.fashion_mnist", path=str(folder)))


def test_train_on_a_local_fashion_mnist(cli, runs_dir, write_config, tmp_path, keras) -> None:
    folder = write_fashion_mnist(tmp_path / "fashion-mnist", np.random.RandomState(8))
    config = write_config(
        {
            "name": "fashion",
            "task": "multiclass",
            "data": {"source": "keras.fashion_mnist", "path": str(folder)},
            "model": {"units": [4]},
            "train": {"epochs": 1, "tensorboard": False},
        }
    )
    code, out, err = cli("train", config, "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    # the final model was scored on the folder's own 5 test images and their labels
    labels = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())[8:]
    metrics = json.loads((run / "final" / "metrics.json").read_text())
    assert metrics["samples"] == 5
    rows = [sum(row) for row in metrics["confusion_matrix"]]
    assert rows == np.bincount(np.frombuffer(labels, np.uint8), minlength=10).tolist()
    model = keras.saving.load_model(run / "final" / "model.keras")
    assert model.input_shape[1:] in ((28, 28), (28, 28, 1)) and model.output_shape == (None, 10)


def write_cifar10(root: Path, rng: np.random.RandomState, batch: int = 3) -> Path:
    """cifar-10-python.tar.gz in its real layout: a folder of pickled dicts with bytes keys."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]:
        content = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in rng.randint(0, 10, batch)],
            b"data": rng.randint(0, 256, (batch, 3072)).astype(np.uint8),
            b"filenames": [f"{name}-{i}.png".encode() for i in range(batch)],
        }
        (folder / name).write_bytes(pickle.dumps(content, protocol=4))
    archive = root / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    return archive


def test_local_cifar10_reads_batches_as_keras_does(keras, tmp_path) -> None:
    from keras.src.datasets.cifar import load_batch

    archive = write_cifar10(tmp_path, np.random.RandomState(6))
    folder = tmp_path / "cifar-10-batches-py"
    (x_train, y_train), (x_test, y_test) = load_local("cifar10", archive)
    assert (x_train.shape, y_train.shape) == ((15, 32, 32, 3), (15, 1))
    assert (x_test.shape, y_test.shape, x_train.dtype) == ((3, 32, 32, 3), (3, 1), np.uint8)
    # Keras's own batch parser, then its load_data's concatenation and channels-last transpose
    parsed = [load_batch(str(folder / f"data_batch_{i}")) for i in range(1, 6)]
    np.testing.assert_array_equal(
        x_train, np.concatenate([x for x, _ in parsed]).transpose(0, 2, 3, 1)
    )
    np.testing.assert_array_equal(y_train[:, 0], np.concatenate([y for _, y in parsed]))
    kx_test, ky_test = load_batch(str(folder / "test_batch"))
    np.testing.assert_array_equal(x_test, kx_test.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y_test[:, 0], ky_test)
    # the extracted folder, or the folder it was extracted into, read the same
    for path in (folder, tmp_path):
        (gx_train, gy_train), (gx_test, gy_test) = load_local("cifar10", path)
        for got, want in ((gx_train, x_train), (gy_train, y_train), (gx_test, x_test)):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(gy_test, y_test)

    raw = load_raw(KerasArraysConfig(source="keras.cifar10", path=str(archive)))
    assert (raw.kind, raw.train.y.shape) == ("images", (15,))


def test_malicious_pickle_in_a_cifar_batch_is_refused(tmp_path) -> None:
    archive = write_cifar10(tmp_path, np.random.RandomState(7), batch=1)
    marker = tmp_path / "pwned"
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(DataError, match=r"test_batch is not a CIFAR-10 batch: .*refusing"):
        load_local("cifar10", tmp_path / "cifar-10-batches-py")
    archive.unlink()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    with pytest.raises(DataError, match=r"test_batch is not a CIFAR-10 batch: .*refusing"):
        load_local("cifar10", archive)
    assert not marker.exists()


def test_images_are_scaled_and_keep_their_shape_whatever_the_model(tmp_path) -> None:
    path = tmp_path / "mnist.npz"
    rng = np.random.RandomState(4)
    np.savez_compressed(
        path,
        x_train=rng.randint(0, 256, (20, 28, 28)).astype(np.uint8),
        y_train=np.arange(20, dtype=np.uint8) % 10,
        x_test=rng.randint(0, 256, (5, 28, 28)).astype(np.uint8),
        y_test=np.arange(5, dtype=np.uint8),
    )
    raw_config = {"name": "m", "task": "multiclass", "data": {"source": "keras.mnist"}}
    raw_config["data"].update(path=str(path), validation={"holdout": 4})
    config = validate(raw_config).config
    prepared = make_portions(load_raw(config.data), config)[0].prepared
    assert prepared.state["scale"] == pytest.approx(1 / 255)
    assert prepared.train.x.shape == (16, 28, 28, 1)  # the mlp flattens them itself
    assert prepared.train.x.dtype == np.float32
    assert prepared.train.x.min() >= 0.0 and prepared.train.x.max() <= 1.0
    assert prepared.outputs == 10
    raw_config["model"] = {"kind": "convnet"}
    config = validate(raw_config).config
    assert make_portions(load_raw(config.data), config)[0].prepared.state == prepared.state


def test_keras_source_builds_multi_hot_sequences(tiny_imdb) -> None:
    raw = load_raw(KerasTextConfig(source="keras.imdb", path=str(tiny_imdb), num_words=20))
    (x_train, _), (x_test, _) = load_local("imdb", tiny_imdb, 20)
    assert raw.kind == "multi_hot"
    assert raw.train.x.num_words == raw.test.x.num_words == 20
    expected = np.zeros((len(x_train), 20), np.float32)
    for i, row in enumerate(x_train):
        expected[i, row] = 1.0
    np.testing.assert_array_equal(raw.train.x.to_dense(), expected)
    assert len(raw.test) == len(x_test)


def test_local_copy_lacking_an_array_is_named(tmp_path) -> None:
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=ragged([[1, 2]]), y_train=np.array([1]))
    with pytest.raises(DataError, match=r"is not a copy of Keras's imdb.npz: it lacks the array"):
        load_local("imdb", path)


class _Exploit:
    """Unpickling this runs a shell command; a safe loader never gets that far."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_in_an_npz_is_refused(tmp_path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "imdb.npz"
    evil = np.empty(1, dtype=object)
    evil[0] = _Exploit(marker)
    np.savez(path, x_train=evil, y_train=np.array([1]), allow_pickle=True)
    with pytest.raises(DataError, match=r"is not a readable \.npz file: refusing to unpickle"):
        load_npz(path)
    with pytest.raises(DataError):
        load_raw(KerasTextConfig(source="keras.imdb", path=str(path)))
    assert not marker.exists()


def test_real_imdb_matches_the_book() -> None:
    path = shared_file("imdb/imdb.npz")
    (x_train, y_train), (x_test, _) = load_local("imdb", path, num_words=10000)
    assert list(x_train[0][:10]) == [1, 14, 22, 16, 43, 530, 973, 1622, 1385, 65]
    assert list(y_train[:10]) == [1, 0, 0, 1, 0, 0, 1, 0, 1, 0]
    assert len(x_train) == len(x_test) == 25000
    # the well-known first test review ("please give this one a miss ..."): Keras shuffles
    # the test split with the generator that shuffled train
    assert list(x_test[0][:12]) == [1, 591, 202, 14, 31, 6, 717, 10, 10, 2, 2, 5]


def test_real_reuters_and_boston_match_the_book() -> None:
    (x_train, y_train), (x_test, _) = load_local(
        "reuters", shared_file("reuters/reuters.npz"), num_words=10000
    )
    assert (len(x_train), len(x_test)) == (8982, 2246)
    assert y_train[10] == 3
    (x_train, y_train), (x_test, _) = load_local(
        "boston_housing", shared_file("boston_housing/boston_housing.npz")
    )
    assert (len(x_train), len(x_test)) == (404, 102)
    np.testing.assert_allclose(
        x_train[0], [1.23247, 0, 8.14, 0, 0.538, 6.142, 91.7, 3.9769, 4, 307, 21, 396.9, 18.72]
    )
    np.testing.assert_allclose(y_train[-3:], [19.4, 19.4, 29.1])


# --- scikit-learn bundled data -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rows", "shape", "kind"),
    [
        ("digits", 1797, (8, 8), "images"),
        ("breast_cancer", 569, (30,), "features"),
        ("iris", 150, (4,), "features"),
        ("wine", 178, (13,), "features"),
        ("diabetes", 442, (10,), "features"),
    ],
)
def test_sklearn_sources(name, rows, shape, kind) -> None:
    config = SklearnConfig(source=f"sklearn.{name}", test_fraction=0.2)
    raw = SOURCES[f"sklearn.{name}"].load(config)
    assert raw.kind == kind
    assert len(raw.test) == round(rows * 0.2)
    assert len(raw.train) + len(raw.test) == rows
    assert raw.train.x.shape[1:] == shape
    again = SOURCES[f"sklearn.{name}"].load(config)
    np.testing.assert_array_equal(again.test.x, raw.test.x)  # the test split is stable
    np.testing.assert_array_equal(again.test.y, raw.test.y)


# --- CSV tables --------------------------------------------------------------------------


def write_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("size,color,weight,id,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def csv_rows(n: int = 60) -> list[str]:
    rows = []
    colors = ["red", "green", "blue"]
    for i in range(n):
        size = "" if i % 7 == 3 else str(i * i)  # squares: every subset has its own mean
        color = "NA" if i % 11 == 5 else colors[i % 3]
        label = "dog" if i % 2 else "cat"
        rows.append(f"{size},{color},{i % 5 + 0.5},{i},{label}")
    return rows


def csv_config(path: Path, **data) -> object:
    raw = {
        "name": "t",
        "task": "binary",
        "data": {"source": "csv", "path": str(path), "target": "label", "drop": ["id"], **data},
    }
    return validate(raw).config


def test_csv_one_hot_fills_and_train_only_statistics(tmp_path) -> None:
    config = csv_config(write_csv(tmp_path / "t.csv", csv_rows()))
    raw = load_raw(config.data)
    assert raw.class_names == ["cat", "dog"]  # a string target becomes class indices
    assert raw.feature_names == ["size", "color", "weight"]
    prepared = make_portions(raw, config)[0].prepared
    size, color, weight = prepared.state["columns"]
    assert color == {
        "name": "color",
        "type": "categorical",
        "fill": color["fill"],
        "categories": ["blue", "green", "red"],
    }

    # the rows the model is fitted on: raw train minus the seeded validation holdout
    fit_idx, _ = holdout_indices(len(raw.train), config.data.validation, config.seed, raw.train.y)
    fit_sizes = np.array([float(v) for v in raw.train.x[fit_idx, 0] if v != ""])
    all_sizes = np.array([(i * i) for i in range(60) if i % 7 != 3], dtype=float)
    assert size["fill"] == pytest.approx(np.median(fit_sizes))
    filled = np.array(
        [float(v) if v != "" else size["fill"] for v in raw.train.x[fit_idx, 0]], dtype=float
    )
    assert size["mean"] == pytest.approx(filled.mean())
    assert size["std"] == pytest.approx(filled.std())
    assert abs(size["mean"] - all_sizes.mean()) > 1.0  # not the statistics of all the data

    # training features are standardized: mean 0, std 1 on the fitted rows
    assert prepared.train.x.shape == (len(fit_idx), 1 + 3 + 1)
    assert prepared.train.x[:, 0].mean() == pytest.approx(0.0, abs=1e-5)
    assert prepared.train.x[:, 0].std() == pytest.approx(1.0, abs=1e-4)
    # one-hot rows: exactly one category per row, missing ones filled with the mode
    np.testing.assert_array_equal(prepared.train.x[:, 1:4].sum(axis=1), 1.0)
    fitted_colors = [v for v in raw.train.x[fit_idx, 1] if v != "NA"]
    assert color["fill"] == max(set(fitted_colors), key=fitted_colors.count)
    assert weight["type"] == "numeric"


def test_csv_missing_and_unseen_values_in_new_data(tmp_path) -> None:
    config = csv_config(write_csv(tmp_path / "t.csv", csv_rows()))
    state = make_portions(load_raw(config.data), config)[0].prepared.state
    size, color, _ = state["columns"]
    new = np.array([["", "purple", "1.5"], ["4", "", "2.5"]], dtype=object)
    features = transform_table(new, state)
    np.testing.assert_array_equal(features[0, 1:4], [0, 0, 0])  # unseen category: all zeros
    assert features[0, 0] == pytest.approx((size["fill"] - size["mean"]) / size["std"])
    expected = np.zeros(3)
    expected[color["categories"].index(color["fill"])] = 1
    np.testing.assert_array_equal(features[1, 1:4], expected)  # missing: the training mode


def test_csv_text_in_a_column_not_declared_categorical(tmp_path) -> None:
    config = csv_config(write_csv(tmp_path / "t.csv", csv_rows()), categorical=["size"])
    # the squares in 'size' are all distinct: as a category, nearly one feature per row
    with pytest.warns(DataWarning, match="column 'size' has 51 distinct values in 60 rows"):
        raw = load_raw(config.data)
    with pytest.raises(DataError, match="CSV column 'color' holds text but is not listed"):
        make_portions(raw, config)


def test_csv_missing_column_is_named(tmp_path) -> None:
    config = csv_config(write_csv(tmp_path / "t.csv", csv_rows()), drop=["colour"])
    with pytest.raises(DataError, match="has no column 'colour'. Columns: size, color,"):
        load_raw(config.data)


def test_evaluate_reuses_the_saved_preprocessing(cli, runs_dir, write_config, monkeypatch) -> None:
    data = write_csv(runs_dir.parent / "t.csv", csv_rows(120))
    config = write_config(
        {
            "name": "csv",
            "task": "binary",
            "data": {"source": "csv", "path": str(data), "target": "label", "drop": ["id"]},
            "model": {"units": [4]},
            "train": {"epochs": 1, "batch_size": 32, "tensorboard": False},
        }
    )
    code, out, err = cli("train", config, "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    state = json.loads((run / "preprocessing.json").read_text())
    assert [c["name"] for c in state["columns"]] == ["size", "color", "weight"]

    import dlrun.data.prepare

    def no_refit(*args, **kwargs):
        raise AssertionError("evaluate refitted the preprocessing")

    monkeypatch.setattr(dlrun.data.prepare, "fit_state", no_refit)
    code, out, err = cli("evaluate", run)
    assert code == 0, err
    evaluated = json.loads((run / "final" / "evaluation.json").read_text())
    trained = json.loads((run / "final" / "metrics.json").read_text())
    assert evaluated["accuracy"] == pytest.approx(trained["accuracy"])
    assert evaluated["loss"] == pytest.approx(trained["loss"], rel=1e-5)

    # another data set scored with the same (saved) preprocessing
    other_csv = write_csv(runs_dir.parent / "other.csv", csv_rows(40))
    other = write_config(
        {
            "name": "other",
            "task": "binary",
            "data": {"source": "csv", "path": str(other_csv), "target": "label", "drop": ["id"]},
        },
        "other.yaml",
    )
    code, out, err = cli("evaluate", run, "--data", other)
    assert code == 0, err
    scored = json.loads((run / "final" / "evaluation-other.json").read_text())
    assert scored["samples"] == 8  # the 20 % test split of 40 rows


# --- npz arrays --------------------------------------------------------------------------


def test_npz_source_and_its_missing_array_error(tmp_path) -> None:
    path = tmp_path / "data.npz"
    rng = np.random.RandomState(3)
    np.savez(
        path,
        x_train=rng.rand(20, 3),
        y_train=rng.rand(20),
        x_test=rng.rand(6, 3),
        y_test=rng.rand(6),
    )
    raw = load_raw(NpzConfig(source="npz", path=str(path)))
    assert (raw.kind, raw.train.x.shape, raw.test.x.shape) == ("features", (20, 3), (6, 3))

    np.savez(path, x_train=rng.rand(20, 3), y_train=rng.rand(20))
    with pytest.raises(DataError) as info:
        load_raw(NpzConfig(source="npz", path=str(path)))
    assert str(info.value) == (
        f"{path} lacks the arrays x_test, y_test.\n"
        "An npz data file holds x_train, y_train, x_test and y_test."
    )


def test_npz_missing_array_through_the_cli(cli, runs_dir, write_config, tmp_path) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, x_train=np.zeros((4, 2)), y_train=np.zeros(4))
    config = write_config(
        {"name": "n", "task": "regression", "data": {"source": "npz", "path": str(path)}}
    )
    code, out, err = cli("train", config, "-q")
    assert code == 2  # found when the config loads, before any run directory exists
    assert f"data.path {path} lacks the arrays x_test, y_test;" in err
    assert "Traceback" not in err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


# --- multi-hot pipeline, splits ----------------------------------------------------------


def test_multi_hot_batches_from_the_pipeline(keras) -> None:
    import tensorflow as tf

    from dlrun.data.pipeline import make_dataset
    from dlrun.data.splits import Split

    rows = [[1, 5, 5, 7], [2, 9, 12], [], [3, 3, 3, 11, 4]]
    seqs = Sequences.from_lists(rows, num_words=10)  # 11 and 12 are beyond the vocabulary
    expected = np.zeros((4, 10), np.float32)
    for i, row in enumerate(rows):
        for token in row:
            if token < 10:
                expected[i, token] = 1.0  # duplicates count once
    np.testing.assert_array_equal(seqs.to_dense(), expected)

    dataset = make_dataset(Split(seqs, np.array([0, 1, 0, 1])), batch_size=3)
    batches = list(dataset)
    assert [b[0].dense_shape.numpy().tolist() for b in batches] == [[3, 10], [1, 10]]
    dense = np.concatenate([tf.sparse.to_dense(x).numpy() for x, _ in batches])
    np.testing.assert_array_equal(dense, expected)
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in batches]), [0, 1, 0, 1])


@pytest.mark.parametrize("protocol", [{"holdout": 30}, {"fraction": 0.25}])
def test_validation_holdout_is_seeded_and_disjoint(protocol) -> None:
    validation = ValidationConfig(**protocol)
    train, val = holdout_indices(120, validation, seed=5)
    assert len(val) == 30
    assert set(train).isdisjoint(val)
    assert sorted([*train, *val]) == list(range(120))
    again_train, again_val = holdout_indices(120, validation, seed=5)
    np.testing.assert_array_equal(val, again_val)
    other_train, other_val = holdout_indices(120, validation, seed=6)
    assert set(other_val) != set(val)


def test_validation_that_leaves_nothing_to_train_on() -> None:
    with pytest.raises(DataError, match="holds out 10 of 10 training samples"):
        holdout_indices(10, ValidationConfig(holdout=10), seed=0)


def test_test_split_is_never_in_train_or_validation(tmp_path) -> None:
    path = tmp_path / "ids.npz"
    # each sample's single feature is its id, so the splits can be traced back
    np.savez(
        path,
        x_train=np.arange(100, dtype=float)[:, None],
        y_train=np.arange(100, dtype=float),
        x_test=np.arange(100, 130, dtype=float)[:, None],
        y_test=np.arange(100, 130, dtype=float),
    )
    config = validate(
        {
            "name": "ids",
            "task": "regression",
            "data": {"source": "npz", "path": str(path), "normalize": False},
        }
    ).config
    raw = load_raw(config.data)
    prepared = make_portions(raw, config)[0].prepared
    tested = prepare_test(raw, config, prepared.state)
    train, val, test = (set(s.y.tolist()) for s in (prepared.train, prepared.validation, tested))
    assert train | val == set(range(100))
    assert not train & val
    assert test == set(range(100, 130))

    # sources without a test split (csv, sklearn) carve a seeded test split that is disjoint
    table = write_csv(tmp_path / "t.csv", csv_rows(50))
    raw = load_raw(CsvConfig(source="csv", path=str(table), target="label"))
    train_ids, test_ids = set(raw.train.x[:, 3]), set(raw.test.x[:, 3])
    assert len(test_ids) == 10 and not train_ids & test_ids
    assert train_ids | test_ids == {str(i) for i in range(50)}


def test_class_count_comes_from_all_training_labels(tmp_path) -> None:
    # labels as they come out of Keras's seed-113 shuffle: the first 10 training wires have
    # topics 0-1 only, later ones 2-3; with data.limit=10 the head still needs 4 outputs
    shuffled = [0, 1] * 5 + [2, 3] * 3 + [0, 1, 2, 3]
    order = np.arange(len(shuffled))
    np.random.RandomState(113).shuffle(order)
    y = np.empty(len(shuffled), np.int64)
    y[order] = shuffled
    path = tmp_path / "reuters.npz"
    np.savez(path, x=ragged([[5, 6]] * len(y)), y=y, allow_pickle=True)
    raw_config = {
        "name": "r",
        "task": "multiclass",
        "data": {"source": "keras.reuters", "path": str(path), "limit": 10},
    }
    config = validate(raw_config).config
    raw = load_raw(config.data)
    np.testing.assert_array_equal(raw.train.y, shuffled[:16])
    prepared = make_portions(raw, config)[0].prepared  # the test split holds topics 2 and 3
    assert prepared.outputs == 4
    np.testing.assert_array_equal(prepare_test(raw, config, prepared.state).y, [0, 1, 2, 3])


def test_csv_from_a_spreadsheet_bom_and_blank_lines(tmp_path) -> None:
    path = tmp_path / "t.csv"
    lines = ["size,color,weight,id,label", *csv_rows(20)]
    path.write_text("\ufeff" + "\n".join(lines[:10]) + "\n\n" + "\n".join(lines[10:]) + "\n\n")
    table = load_raw(csv_config(path).data)
    assert table.feature_names == ["size", "color", "weight"]  # not '\ufeffsize'
    assert len(table.train) + len(table.test) == 20


def test_csv_row_with_a_wrong_field_count_names_its_line(tmp_path) -> None:
    path = tmp_path / "t.csv"
    lines = ["size,color,weight,id,label", *csv_rows(8)]
    lines[6] += ",extra"
    path.write_text("\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n")
    with pytest.raises(DataError) as info:
        load_raw(csv_config(path).data)
    assert str(info.value) == (
        f"{path}: line 8 has a different number of fields than the header (5).\n"
        "Check data.delimiter and quoting."
    )
