"""`dlrun export` of a CSV table run: a SavedModel whose `serve` takes the raw columns.

A tiny table (a numeric column with missing cells, a year, two categorical columns of
strings, one named with a space, a binary target) trains for 2 epochs; its export is
loaded with `tf.saved_model.load` and called with the cells of a new CSV as strings,
then compared with `dlrun predict` on the same file. A table with a text column too.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from dlrun.cli import run as dlrun
from dlrun.commands.export import check_supported
from dlrun.data.prepare import apply_state
from dlrun.errors import UsageError
from dlrun.tfenv import import_keras

COLORS = ("red", "green", "blue")
FLOORS = ("wood", "tile")
COLUMNS = ["area", "year", "color", "floor type"]
# New rows for predict and serve: spaces around cells, other spellings of numbers and of
# missing values, and row 1 has an unseen category and a missing number.
NEW_ROWS = [
    {"id": "a", "area": "120.5", "year": "1987", "color": "red", "floor type": "wood"},
    {"id": "b", "area": " NA ", "year": "2003", "color": "purple", "floor type": "tile"},
    {"id": "c", "area": "1e2", "year": "", "color": " blue ", "floor type": ""},
    {"id": "d", "area": " 64 ", "year": "?", "color": "green", "floor type": "marble"},
]
UNSEEN_AND_MISSING = 1


def house_rows(rng: np.random.RandomState, n: int) -> list[dict[str, str]]:
    rows = []
    for _ in range(n):
        area, year = rng.uniform(40, 200), rng.randint(1950, 2021)
        color, floor = COLORS[rng.randint(3)], FLOORS[rng.randint(2)]
        score = area / 60 + (color == "red") - (year < 1980) + rng.normal(0, 0.3)
        rows.append(
            {
                "area": "" if rng.rand() < 0.1 else f"{area:.1f}",
                "year": str(year),
                "color": color,
                "floor type": floor,
                "sold": str(int(score > 2.2)),
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fp:
        writer = csv.DictWriter(fp, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def train(cli, base: Path, config: dict) -> Path:
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    code, _, err = cli("train", path, "--runs-dir", base / "runs", "-q")
    assert code == 0, err
    (run,) = (base / "runs").iterdir()
    return run


def config(data: Path, **extra: object) -> dict:
    return {
        "name": "houses",
        "seed": 5,
        "task": "binary",
        "data": {"source": "csv", "path": str(data), "target": "sold", **extra},
        "model": {"kind": "mlp", "units": [8]},
        "train": {"epochs": 2, "batch_size": 16, "tensorboard": False},
    }


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("table")
    data = write_csv(
        base / "houses.csv", house_rows(np.random.RandomState(0), 160), [*COLUMNS, "sold"]
    )
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(config(data)), encoding="utf-8")
    assert dlrun(["train", str(path), "--runs-dir", str(base / "runs"), "-q"]) == 0
    (run,) = (base / "runs").iterdir()
    return run


def predicted(cli, run: Path, new: Path, tmp_path: Path) -> np.ndarray:
    """`dlrun predict RUN NEW`'s raw outputs."""
    output = tmp_path / "predictions.npz"
    code, _, err = cli("predict", run, new, "--output", output)
    assert code == 0, err
    with np.load(output) as saved:
        return saved["predictions"]


def raw_columns(rows: list[dict[str, str]], names: list[str]) -> dict[str, object]:
    """The cells of `rows` as `serve` takes them: one string tensor per column."""
    import tensorflow as tf

    return {name: tf.constant([row[name] for row in rows]) for name in names}


def test_table_saved_model_takes_raw_columns_and_agrees_with_predict(
    cli, table_run: Path, tmp_path: Path
) -> None:
    import tensorflow as tf

    target = tmp_path / "export"
    code, out, err = cli("export", table_run, "--output", target)
    assert code == 0, err
    assert "serve (raw CSV columns) and serve_vectors agree with dlrun predict on 16 rows" in out
    assert ".serve({'area': tf.constant([" in out and "'floor type': tf.constant([" in out
    assert "one string tensor per feature column (4)" in out

    # columns in another order, an id column predict ignores
    new = write_csv(tmp_path / "new.csv", NEW_ROWS, ["id", "floor type", "color", "year", "area"])
    expected = predicted(cli, table_run, new, tmp_path)
    reloaded = tf.saved_model.load(str(target / "saved_model"))  # held: its variables die with it
    served = np.asarray(reloaded.serve(raw_columns(NEW_ROWS, COLUMNS)))
    assert served.shape == expected.shape == (len(NEW_ROWS), 1)
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-5)
    # an unseen category and a missing number are served as predict predicts them
    np.testing.assert_allclose(
        served[UNSEEN_AND_MISSING], expected[UNSEEN_AND_MISSING], rtol=0, atol=1e-5
    )

    # TF Serving's default signature is the raw one; serve_vectors takes preprocessed rows
    # (its inputs are keyword arguments: 'floor type' is floor_type there)
    assert "the signatures (TF Serving) name the inputs 'floor type' as floor_type" in out
    default = reloaded.signatures["serving_default"]
    names = ["area", "year", "color", "floor_type"]
    assert sorted(default.structured_input_signature[1]) == sorted(names)
    columns = raw_columns(NEW_ROWS, COLUMNS)
    got = default(**{name: columns[column] for name, column in zip(names, COLUMNS, strict=True)})
    np.testing.assert_allclose(np.asarray(next(iter(got.values()))), expected, atol=1e-5)
    keras = import_keras()
    state = json.loads((target / "preprocessing.json").read_text())
    raw = np.array([[row[c] for c in COLUMNS] for row in NEW_ROWS], dtype=object)
    vectors = reloaded.serve_vectors(tf.constant(apply_state(raw, state)))
    np.testing.assert_allclose(np.asarray(vectors), expected, rtol=0, atol=1e-5)
    assert keras.saving.load_model(target / "model.keras").count_params() > 0


def test_text_in_a_numeric_column_is_refused_by_serve(table_run: Path, tmp_path: Path, cli) -> None:
    import tensorflow as tf

    target = tmp_path / "export"
    assert cli("export", table_run, "--output", target)[0] == 0
    reloaded = tf.saved_model.load(str(target / "saved_model"))
    rows = [{**NEW_ROWS[0], "area": "large"}]  # dlrun predict refuses it too
    with pytest.raises(tf.errors.InvalidArgumentError):
        reloaded.serve(raw_columns(rows, COLUMNS))


def test_an_export_that_disagrees_with_predict_is_not_written(
    cli, table_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlrun.data import serving

    call = serving.TableColumns.__call__
    monkeypatch.setattr(serving.TableColumns, "__call__", lambda self, raw: call(self, raw) * 1.5)
    target = tmp_path / "export"
    code, _, err = cli("export", table_run, "--output", target)
    assert code == 1
    assert "serve (raw CSV columns) disagrees with the Keras model" in err
    assert not target.exists() and not list(tmp_path.glob(".export*"))


def test_a_run_whose_csv_is_gone_is_checked_on_rows_made_from_its_state(
    cli, table_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / table_run.name
    shutil.copytree(table_run, run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"]["path"] = str(tmp_path / "moved.csv")
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    code, out, err = cli("export", run, "--output", tmp_path / "export")
    assert code == 0, err
    assert "agree with dlrun predict on 8 rows" in out


def test_table_with_a_text_column_serves_its_raw_text(cli, tmp_path: Path) -> None:
    import tensorflow as tf

    rng = np.random.RandomState(1)
    rows = house_rows(rng, 120)
    for row in rows:
        good = row["sold"] == "1"
        words = rng.choice(["bright", "quiet", "garden"] if good else ["dark", "noisy", "damp"], 4)
        row["notes"] = " ".join(words) + " house"
    names = [*COLUMNS, "notes"]
    data = write_csv(tmp_path / "houses.csv", rows, [*names, "sold"])
    run = train(cli, tmp_path, config(data, text_columns=["notes"], text={"output": "tf_idf"}))

    target = tmp_path / "export"
    code, out, err = cli("export", run, "--output", target)
    assert code == 0, err
    assert "'notes'" not in out  # the example shows the first 4 of 5 columns
    assert "one string tensor per feature column (5)" in out
    notes = ["quiet garden", "DAMP, noisy!", "", "unknown words"]
    new_rows = [{**row, "notes": text} for row, text in zip(NEW_ROWS, notes, strict=True)]
    new = write_csv(tmp_path / "new.csv", new_rows, ["id", *names])
    expected = predicted(cli, run, new, tmp_path)
    reloaded = tf.saved_model.load(str(target / "saved_model"))
    served = np.asarray(reloaded.serve(raw_columns(new_rows, names)))
    np.testing.assert_allclose(served, expected, rtol=0, atol=1e-5)


def test_a_table_saved_model_is_written_under_tensorflow_only() -> None:
    with pytest.raises(UsageError, match="tensorflow backend only") as refused:
        check_supported("saved_model", "jax", strings=False, sparse=False, columns=True)
    assert "KERAS_BACKEND=tensorflow" in (refused.value.hint or "")
