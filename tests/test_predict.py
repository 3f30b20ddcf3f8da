"""`dlrun predict` (CSV, npz, token lines) against `model.predict` after the same
preprocessing, and `dlrun export`'s SavedModel reloaded with `tf.saved_model.load`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_reviews_npz

from dlrun.cli import run as dlrun
from dlrun.data.prepare import apply_state
from dlrun.data.splits import Sequences
from dlrun.tfenv import import_keras

COLORS = ("red", "green", "blue")


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def train(base: Path, config: str, *overrides: str) -> Path:
    config_file = base / "config.yaml"
    config_file.write_text(config)
    runs_dir = base / "runs"
    assert dlrun(["train", str(config_file), *overrides, "--runs-dir", str(runs_dir), "-q"]) == 0
    (run,) = runs_dir.iterdir()
    return run


def house_rows(rng: np.random.RandomState, n: int) -> list[dict[str, str]]:
    rows = []
    for _ in range(n):
        area, age = rng.uniform(40, 200), rng.uniform(0, 80)
        color = COLORS[rng.randint(3)]
        price = 2 * area - age + (30 if color == "red" else 0) + rng.normal(0, 5)
        rows.append(
            {
                "area": f"{area:.1f}",
                "age": "" if rng.rand() < 0.1 else f"{age:.0f}",  # missing values get filled
                "color": color,
                "price": f"{price:.2f}",
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="") as fp:
        writer = csv.DictWriter(fp, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("csv")
    data = write_csv(
        base / "houses.csv",
        house_rows(np.random.RandomState(0), 300),
        ["area", "age", "color", "price"],
    )
    return train(
        base,
        f"name: houses\ntask: regression\n"
        f"data: {{source: csv, path: {data}, target: price}}\n"
        "model: {units: [16]}\ntrain: {epochs: 3, batch_size: 32}\n",
    )


@pytest.fixture(scope="module")
def npz_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("npz")
    rng = np.random.RandomState(1)
    x = rng.normal(3.0, 2.0, size=(400, 6))
    y = (x[:, 0] + x[:, 1] > 6).astype(np.int64)
    np.savez(base / "data.npz", x_train=x[:300], y_train=y[:300], x_test=x[300:], y_test=y[300:])
    return train(
        base,
        f"name: points\ntask: binary\ndata: {{source: npz, path: {base / 'data.npz'}}}\n"
        "model: {units: [8]}\ntrain: {epochs: 3, batch_size: 32}\n",
    )


@pytest.fixture(scope="module")
def token_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny file in Keras's imdb.npz format: lists of word ids, trained as multi-hot."""
    base = tmp_path_factory.mktemp("tokens")
    path = write_reviews_npz(base)
    return train(
        base,
        f"name: reviews\ntask: binary\n"
        f"data: {{source: keras.imdb, path: {path}, num_words: 90, vectorize: multi_hot}}\n"
        "model: {units: [8]}\ntrain: {epochs: 2, batch_size: 32}\n",
    )


def load(run: Path, keras) -> tuple[object, dict]:
    model = keras.saving.load_model(run / "final" / "model.keras")
    return model, json.loads((run / "preprocessing.json").read_text())


def read_predictions(path: Path) -> list[dict[str, str]]:
    with path.open() as fp:
        return list(csv.DictReader(fp))


def test_predict_csv_matches_model_after_the_saved_preprocessing(
    cli, csv_run: Path, tmp_path: Path, keras
) -> None:
    rows = house_rows(np.random.RandomState(7), 25)
    # columns in another order, an extra id column, no target: matched by name
    for i, row in enumerate(rows):
        row["id"] = str(i)
    new = write_csv(tmp_path / "new.csv", rows, ["id", "color", "age", "area"])
    output = tmp_path / "predictions.csv"
    code, _, err = cli("predict", csv_run, new, "--output", output)
    assert code == 0, err
    got = np.array([float(r["prediction"]) for r in read_predictions(output)])

    model, state = load(csv_run, keras)
    raw = np.array([[r["area"], r["age"], r["color"]] for r in rows], dtype=object)
    expected = model.predict(apply_state(raw, state), verbose=0).reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)

    code, out, err = cli("predict", csv_run, new)  # to stdout
    assert code == 0, err
    assert out.splitlines()[0] == "prediction" and len(out.splitlines()) == 26


def test_predict_csv_names_a_missing_column(cli, csv_run: Path, tmp_path: Path) -> None:
    new = write_csv(tmp_path / "new.csv", house_rows(np.random.RandomState(3), 3), ["area", "age"])
    code, _, err = cli("predict", csv_run, new)
    assert code == 1
    assert "lacks the column 'color'" in err and "area, age, color" in err


def test_regression_report_has_predicted_vs_true(csv_run: Path) -> None:
    report = (csv_run / "report.md").read_text()
    assert "![Predicted vs true](predicted_vs_true.png)" in report
    assert (csv_run / "predicted_vs_true.png").read_bytes()[:4] == b"\x89PNG"
    samples = json.loads((csv_run / "summary.json").read_text())["final"]["test"]["samples"]
    rows = read_predictions(csv_run / "final" / "test_predictions.csv")
    assert len(rows) == samples and set(rows[0]) == {"true", "predicted"}


def test_predict_npz_matches_model(cli, npz_run: Path, tmp_path: Path, keras) -> None:
    x = np.random.RandomState(9).normal(3.0, 2.0, size=(40, 6))
    np.savez(tmp_path / "new.npz", x=x)
    output = tmp_path / "predictions.npz"
    code, _, err = cli("predict", npz_run, tmp_path / "new.npz", "-o", output)
    assert code == 0, err
    with np.load(output) as saved:
        got, labels = saved["predictions"], saved["labels"]
    model, state = load(npz_run, keras)
    expected = model.predict(apply_state(x, state), verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(labels, (expected.reshape(-1) > 0.5).astype(int))

    code, _, err = cli("predict", npz_run, tmp_path / "new.npz", "-o", tmp_path / "p.json")
    assert code == 2 and "--output must end in .csv or .npz" in err


def test_predict_token_lines_matches_model(cli, token_run: Path, tmp_path: Path, keras) -> None:
    lines = ["1 2 3 60 61", "55,56,57,99", "4  5\t6", "120 7"]  # 99 and 120 exceed num_words
    (tmp_path / "reviews.txt").write_text("\n".join(lines) + "\n")
    code, out, err = cli("predict", token_run, tmp_path / "reviews.txt")
    assert code == 0, err
    rows = [line.split(",") for line in out.splitlines()[1:]]
    got = np.array([float(r[1]) for r in rows])

    model, state = load(token_run, keras)
    tokens = [[int(t) for t in line.replace(",", " ").split()] for line in lines]
    multi_hot = Sequences.from_lists(tokens, num_words=state["num_words"]).to_dense()
    expected = model.predict(multi_hot, verbose=0).reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)

    (tmp_path / "bad.txt").write_text("1 2 three\n")
    code, _, err = cli("predict", token_run, tmp_path / "bad.txt")
    assert code == 1 and "line 1: expected token ids" in err


@pytest.mark.parametrize("fixture", ["npz_run", "token_run"])
def test_export_saved_model_reloads_and_agrees(
    cli, request, fixture: str, tmp_path: Path, keras
) -> None:
    import tensorflow as tf

    run = request.getfixturevalue(fixture)
    target = tmp_path / "export"
    code, out, err = cli("export", run, "--format", "saved_model", "--output", target)
    assert code == 0, err
    assert "exported to" in out
    assert (target / "preprocessing.json").read_text() == (run / "preprocessing.json").read_text()
    assert keras.saving.load_model(target / "model.keras").count_params() > 0

    model, state = load(run, keras)
    if fixture == "npz_run":
        x = apply_state(np.random.RandomState(4).normal(3.0, 2.0, size=(16, 6)), state)
        served_input = tf.constant(x)
    else:
        rows = [[1, 2, 60], [70, 71, 72, 3], [5]]
        x = Sequences.from_lists(rows, num_words=state["num_words"]).to_dense()
        served_input = tf.constant(x)  # Keras exports a dense signature for sparse inputs
    reloaded = tf.saved_model.load(str(target / "saved_model"))
    np.testing.assert_allclose(
        np.asarray(reloaded.serve(served_input)), model.predict(x, verbose=0), atol=1e-5
    )
    code, _, err = cli("export", run, "--format", "tflite")
    assert code == 2 and "unknown export format 'tflite'" in err


def test_export_never_replaces_a_directory_it_did_not_write(
    cli, npz_run: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "serving"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, _, err = cli("export", npz_run, "--output", mine)
    assert code == 2 and "is not a dlrun export" in err
    assert (mine / "notes.txt").read_text() == "keep me"

    target = tmp_path / "export"
    for _ in range(2):  # an earlier dlrun export is replaced as a whole
        code, _, err = cli("export", npz_run, "--output", target)
        assert code == 0, err
    assert (target / "saved_model").is_dir()
    assert not list(tmp_path.glob(".export*"))  # no staging or old copies left behind


def test_predict_and_export_need_a_final_model(cli, npz_run: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / npz_run.name
    shutil.copytree(npz_run, copy)
    (copy / "final" / "model.keras").unlink()
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 6)))
    code, _, err = cli("predict", copy, tmp_path / "x.npz")
    assert code == 2 and "has no final model" in err
    code, _, err = cli("export", copy)
    assert code == 2 and "has no final model" in err


def run_copy(run: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "runs" / run.name
    shutil.copytree(run, copy)
    return copy


def commands(run: Path, tmp_path: Path) -> list[tuple]:
    """evaluate, predict and export of `run`: the three commands that load its final model."""
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 6)))
    return [
        ("evaluate", run),
        ("predict", run, tmp_path / "x.npz"),
        ("export", run, "--output", tmp_path / "export"),
    ]


@pytest.mark.parametrize("damage", ["empty", "cut off", "weights cut off"])
def test_a_damaged_final_model_is_named_not_a_traceback(
    cli, npz_run: Path, tmp_path: Path, damage: str
) -> None:
    import zipfile

    run = run_copy(npz_run, tmp_path)
    model = run / "final" / "model.keras"
    data = model.read_bytes()
    if damage == "weights cut off":  # a readable archive whose weights file is truncated
        with (
            zipfile.ZipFile(npz_run / "final" / "model.keras") as good,
            zipfile.ZipFile(model, "w") as bad,
        ):
            for item in good.infolist():
                content = good.read(item)
                bad.writestr(item, content[:100] if item.filename.endswith(".h5") else content)
    else:
        model.write_bytes(b"" if damage == "empty" else data[: len(data) // 2])
    for args in commands(run, tmp_path):
        code, out, err = cli(*args)
        assert code == 2, (args[0], err)
        assert err.startswith(f"error: {model} is damaged"), (args[0], err)
        assert "File not found" not in err and "Traceback" not in err
        assert "dlrun train" in err  # what to do: train it again
    assert not (tmp_path / "export").exists()


def test_a_model_safe_mode_refuses_is_named_not_a_traceback(
    cli, npz_run: Path, tmp_path: Path, keras
) -> None:
    run = run_copy(npz_run, tmp_path)
    inputs = keras.Input((6,))
    doubled = keras.layers.Lambda(lambda x: x * 2)(inputs)
    keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(doubled)).save(
        run / "final" / "model.keras"
    )
    for args in commands(run, tmp_path):
        code, out, err = cli(*args)
        assert code == 2, (args[0], err)
        message = " ".join(err.split())
        assert message.startswith(f"error: {run / 'final' / 'model.keras'} holds a Lambda layer")
        assert "safe mode" in message and "Traceback" not in err


def test_predict_input_of_the_wrong_shape_names_the_expected_shape(
    cli, npz_run: Path, tmp_path: Path
) -> None:
    for shape in ((3, 5), (3, 2, 3), (4,)):
        path = tmp_path / "x.npz"
        np.savez(path, x=np.zeros(shape))
        code, out, err = cli("predict", npz_run, path)
        assert code == 1, err
        message = " ".join(err.split())
        assert message.startswith(f"error: {path}: its samples have shape {shape[1:]}")
        assert "the run's model takes samples of shape (6,)" in message
        assert "Traceback" not in err and out == ""
