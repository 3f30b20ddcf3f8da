"""Bad data files get one paragraph that names the file, the column or the array, and the fix.

Each test trains (or tries to) on a tiny file written in tmp_path through the CLI, as a user
would, and checks the exit code and what the user reads.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import one_paragraph, train_data


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _csv(path: Path, header: str, rows: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


# --- npz arrays that do not pair up ------------------------------------------------------


@pytest.mark.parametrize(
    ("split", "sizes"),
    [("train", {"x_train": 200, "y_train": 150}), ("test", {"x_test": 40, "y_test": 30})],
)
def test_npz_arrays_of_different_lengths_are_refused(
    cli, runs_dir, write_config, tmp_path, split, sizes
) -> None:
    rng = np.random.RandomState(0)
    n = {"x_train": 200, "y_train": 200, "x_test": 40, "y_test": 40, **sizes}
    path = _npz(
        tmp_path / "data.npz",
        x_train=rng.rand(n["x_train"], 3),
        y_train=rng.rand(n["y_train"]),
        x_test=rng.rand(n["x_test"], 3),
        y_test=rng.rand(n["y_test"]),
    )
    code, _, err = train_data(cli, write_config, {"source": "npz", "path": str(path)}, "regression")
    assert code == 2  # read from the headers by the config check, before any run exists
    x, y = sizes
    assert one_paragraph(err) == (
        f"error: invalid config ({tmp_path / 'config.yaml'}): "
        f"{path}: x_{split} has {sizes[x]} samples but y_{split} has {sizes[y]}; "
        f"each sample needs its label. Rebuild the file so that x_{split} and y_{split} have "
        "the same length."
    )


def test_npz_test_split_with_other_features_than_training(
    cli, runs_dir, write_config, tmp_path
) -> None:
    rng = np.random.RandomState(0)
    path = _npz(
        tmp_path / "data.npz",
        x_train=rng.rand(50, 5),
        y_train=rng.rand(50),
        x_test=rng.rand(10, 4),
        y_test=rng.rand(10),
    )
    code, _, err = train_data(cli, write_config, {"source": "npz", "path": str(path)}, "regression")
    assert code == 2  # read from the headers by the config check, before any run exists
    assert one_paragraph(err) == (
        f"error: invalid config ({tmp_path / 'config.yaml'}): "
        f"{path}: the samples of x_train have shape (5,) but those of x_test (4,); "
        "the model is trained on one and tested on the other, so both need the same features. "
        "Rebuild the file with the same features (in the same order) in both splits."
    )


# --- targets with one class --------------------------------------------------------------


@pytest.mark.parametrize("task", ["binary", "multiclass"])
def test_csv_target_with_a_single_class_is_refused(
    cli, runs_dir, write_config, tmp_path, task
) -> None:
    path = _csv(tmp_path / "t.csv", "size,label", [f"{i},cat" for i in range(40)])
    data = {"source": "csv", "path": str(path), "target": "label"}
    code, _, err = train_data(cli, write_config, data, task)
    assert code == 2  # the config check looks at the labels before any run directory exists
    assert not runs_dir.exists() or not list(runs_dir.iterdir())
    assert f"column 'label' of {path} has a single value: a {task} model has nothing to " in (
        one_paragraph(err)
    )


def test_a_single_class_left_after_the_validation_carve_is_refused(tmp_path) -> None:
    # What the cheap look cannot see: the training portion itself has one class.
    from dlrun.data.prepare import check_targets
    from dlrun.errors import DataError
    from dlrun.spec import validate

    path = _csv(tmp_path / "t.csv", "size,label", ["1,cat", "2,dog"])
    config = validate(
        {"name": "t", "task": "binary", "data": {"source": "csv", "path": str(path),
         "target": "label"}}
    ).config  # fmt: skip
    with pytest.raises(DataError, match="a single value in the training data, 'cat'"):
        check_targets(np.array([0, 0, 0]), config, ["cat", "dog"])


def test_npz_binary_labels_all_one_are_refused(cli, runs_dir, write_config, tmp_path) -> None:
    rng = np.random.RandomState(0)
    path = _npz(
        tmp_path / "data.npz",
        x_train=rng.rand(30, 3),
        y_train=np.ones(30),
        x_test=rng.rand(10, 3),
        y_test=np.ones(10),
    )
    code, _, err = train_data(cli, write_config, {"source": "npz", "path": str(path)}, "binary")
    assert code == 2
    assert "y_train of" in err and "has a single value: a binary model" in one_paragraph(err)


# --- non-finite CSV values ---------------------------------------------------------------


@pytest.mark.parametrize("bad", ["inf", "-Infinity", "1e400"])
def test_csv_infinite_value_names_the_column_and_row(
    cli, runs_dir, write_config, tmp_path, bad
) -> None:
    rows = [f"{i},{i % 3},{i % 2}" for i in range(40)]
    rows[6] = f"6,{bad},0"
    path = _csv(tmp_path / "t.csv", "size,weight,label", rows)
    data = {"source": "csv", "path": str(path), "target": "label"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = train_data(cli, write_config, data, "binary")
    assert code == 2  # found by the check before any run, from the rows it reads
    assert one_paragraph(err).endswith(
        f"{path}: column 'weight' holds the value '{bad}' in data row 7, which is not a "
        "finite number. Fix or remove that value (a missing value is filled with the "
        "training median), or drop the column with data.drop: [weight]."
    )
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_csv_values_too_large_to_standardize(cli, runs_dir, write_config, tmp_path) -> None:
    rows = [f"{i},{'-' if i % 2 else ''}1e300,{i % 2}" for i in range(40)]
    path = _csv(tmp_path / "t.csv", "size,weight,label", rows)
    data = {"source": "csv", "path": str(path), "target": "label"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = train_data(cli, write_config, data, "binary")
    assert code == 1
    message = one_paragraph(err)
    assert message.startswith(
        "error: the values of column 'weight' are too large to standardize (up to 1e+300): "
    )
    assert "Rescale the column" in message
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]


# --- a CSV that is not UTF-8 -----------------------------------------------------------


def test_csv_that_is_not_utf8_names_the_line(cli, runs_dir, write_config, tmp_path) -> None:
    rows = [f"{i},{'café' if i == 3 else 'tea'},{i % 2}" for i in range(20)]
    path = _csv(tmp_path / "t.csv", "size,drink,label", rows, encoding="latin-1")
    data = {"source": "csv", "path": str(path), "target": "label"}
    code, _, err = train_data(cli, write_config, data, "binary")
    assert code == 2  # `check` reads the header, so it finds this before any run exists
    assert one_paragraph(err).endswith(
        f"{path} is not UTF-8 text: line 5 has the byte 0xe9 (invalid continuation "
        f"byte). Save it as UTF-8, e.g. iconv -f latin1 -t utf-8 {path} > utf8-{path.name}"
    )


def test_predict_on_a_csv_that_is_not_utf8_says_the_same(
    cli, runs_dir, write_config, tmp_path
) -> None:
    rows = [f"{i},{'tea' if i % 2 else 'milk'},{i % 2}" for i in range(40)]
    data = {"source": "csv", "path": str(_csv(tmp_path / "t.csv", "size,drink,label", rows))}
    code, _, err = train_data(cli, write_config, {**data, "target": "label"}, "binary")
    assert code == 0, err
    new = _csv(tmp_path / "new.csv", "size,drink", ["1,tea", "2,café"], encoding="latin-1")
    code, _, err = cli("predict", "last", new)
    assert code == 1
    assert one_paragraph(err) == (
        f"error: {new} is not UTF-8 text: line 3 has the byte 0xe9 (invalid continuation "
        f"byte). Save it as UTF-8, e.g. iconv -f latin1 -t utf-8 {new} > utf8-{new.name}"
    )


# --- labels that do not fit the task ---------------------------------------------------


def test_multilabel_task_on_one_label_per_sample(cli, runs_dir, write_config, tmp_path) -> None:
    rng = np.random.RandomState(0)
    path = _npz(
        tmp_path / "data.npz",
        x_train=rng.rand(30, 3),
        y_train=rng.randint(0, 4, 30),
        x_test=rng.rand(10, 3),
        y_test=rng.randint(0, 4, 10),
    )
    code, _, err = train_data(cli, write_config, {"source": "npz", "path": str(path)}, "multilabel")
    assert code == 2  # the config check peeks at y_train before any run exists
    assert "task 'multilabel' needs one 0/1 column per label" in one_paragraph(err)
    assert "Use task: multiclass" in err


@pytest.mark.parametrize(
    ("labels", "fix"),
    [
        (np.linspace(0.5, 9.5, 30), "has continuous labels. Use task: regression."),
        (np.arange(30) % 4, "has 4 classes. Use task: multiclass."),
    ],
)
def test_binary_task_hint_fits_the_labels(
    cli, runs_dir, write_config, tmp_path, labels, fix
) -> None:
    rng = np.random.RandomState(0)
    path = _npz(
        tmp_path / "data.npz",
        x_train=rng.rand(30, 3),
        y_train=labels,
        x_test=rng.rand(10, 3),
        y_test=labels[:10],
    )
    code, _, err = train_data(cli, write_config, {"source": "npz", "path": str(path)}, "binary")
    assert code == 2  # found by the config check's look at y_train
    message = one_paragraph(err)
    assert "task 'binary' needs " in message
    assert message.endswith(fix)


# --- an id-like categorical column -------------------------------------------------------


def test_id_like_categorical_column_warns_and_says_how_to_drop_it(
    cli, runs_dir, write_config, tmp_path
) -> None:
    rows = [f"user-{i:04d},{['red', 'blue'][i % 2]},{i % 5},{i % 2}" for i in range(200)]
    path = _csv(tmp_path / "t.csv", "user,color,size,label", rows)
    data = {"source": "csv", "path": str(path), "target": "label"}
    code, _, err = train_data(cli, write_config, data, "binary")
    assert code == 0, err
    assert " ".join(err.split()).startswith(
        f"warning: {path}: the categorical column 'user' has 200 distinct values in 200 rows, "
        "so one-hot encoding makes up to 200 features of it. If it identifies rows (an id, a "
        "name) rather than describing them, drop it with data.drop: [user]. "
    )
    assert err.count("categorical column") == 1  # said once, not again at the test step
