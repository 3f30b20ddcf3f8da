"""`dlrun predict` on inputs that do not fit the run (issue 23): unseen categories, case
mismatches and empty cells are counted and warned of per column, or refused with
--strict; numbers that are not finite are refused; a damaged preprocessing.json and a
bad image are named; a CSV read in chunks predicts exactly what it predicts in one go."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dlrun.cli import run as dlrun
from dlrun.commands.predict import predict
from dlrun.console import Output

COUNTRIES = ("Germany", "France", "Spain")


def train(base: Path, config: str) -> Path:
    (base / "config.yaml").write_text(config)
    runs = base / "runs"
    assert dlrun(["train", str(base / "config.yaml"), "--runs-dir", str(runs), "-q"]) == 0
    (run,) = runs.iterdir()
    return run


def write_rows(path: Path, rows: list[list[str]], header: str = "area,age,country") -> Path:
    with path.open("w", newline="") as fp:
        writer = csv.writer(fp)
        writer.writerow(header.split(","))
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A binary classifier on a numeric 'area' and 'age' and a categorical 'country'."""
    base = tmp_path_factory.mktemp("countries")
    rng = np.random.RandomState(0)
    rows = []
    for _ in range(80):
        area, country = rng.uniform(40, 200), COUNTRIES[rng.randint(3)]
        big = int(area > 120 or country == "Germany")
        rows.append([f"{area:.1f}", str(rng.randint(0, 80)), country, str(big)])
    data = write_rows(base / "houses.csv", rows, "area,age,country,big")
    return train(
        base,
        f"name: countries\nseed: 3\ntask: binary\n"
        f"data: {{source: csv, path: {data}, target: big}}\n"
        "model: {units: [4]}\ntrain: {epochs: 1, batch_size: 16}\n",
    )


def misfit_rows() -> list[list[str]]:
    return [
        ["100", "20", "germany"],
        ["120", "", "Narnia"],
        ["90", "30", "germany"],
        ["80", "10", "France"],
    ]


def test_unseen_categories_and_empty_cells_are_counted_per_column_and_warned_of(
    cli, csv_run: Path, tmp_path: Path
) -> None:
    new = write_rows(tmp_path / "new.csv", misfit_rows())
    code, out, err = cli("predict", csv_run, new)
    assert code == 0, err
    assert out.splitlines()[0] == "predicted,probability" and len(out.splitlines()) == 5
    assert (
        f"warning: {new}: column 'country': 3 rows hold categories never seen in training "
        "('germany' (2), 'Narnia' (1))"
    ) in err
    assert "Did you mean 'Germany' for 'germany'?" in err
    assert "Narnia' for" not in err  # nothing in training is spelled like it
    assert f"warning: {new}: column 'age': 1 row has no value, filled with the training median" in (
        err
    )
    assert "column 'area'" not in err

    code, out, err = cli(
        "predict", csv_run, write_rows(tmp_path / "fits.csv", [["90", "3", "Spain"]])
    )
    assert code == 0 and "warning" not in err


def test_strict_refuses_what_does_not_fit_and_writes_nothing(
    cli, csv_run: Path, tmp_path: Path
) -> None:
    new = write_rows(tmp_path / "new.csv", misfit_rows())
    output = tmp_path / "predictions.csv"
    code, out, err = cli("predict", csv_run, new, "--strict", "--output", output)
    # a DataError, as every input that does not fit the run (a missing column, a wrong
    # shape): exit 1; 2 is for a command line or config that cannot work at all
    assert code == 1, err
    assert err.startswith(f"error: {new} does not fit the data the run was trained on:")
    assert "column 'country': 3 rows hold categories never seen in training" in err
    assert "column 'age': 1 row has no value" in err
    assert "--strict" in err and "Traceback" not in err
    assert out == "" and not output.exists()

    fits = write_rows(tmp_path / "fits.csv", [["90", "3", "Spain"], ["150", "60", "Germany"]])
    code, out, err = cli("predict", csv_run, fits, "--strict")
    assert code == 0 and len(out.splitlines()) == 3, err


@pytest.mark.parametrize("value", ["inf", "-inf", "1e999"])
def test_a_number_that_is_not_finite_is_refused_naming_column_and_row(
    cli, csv_run: Path, tmp_path: Path, value: str
) -> None:
    new = write_rows(
        tmp_path / "new.csv",
        [["100", "20", "Spain"], ["110", "5", "France"], [value, "1", "Spain"]],
    )
    output = tmp_path / "predictions.csv"
    code, out, err = cli("predict", csv_run, new, "--output", output)
    assert code == 1, err
    assert err.startswith(
        f"error: {new}: column 'area' holds the value '{value}' in data row 3, which is not a "
        "finite number."
    )
    assert "nan" not in out and not output.exists() and "Traceback" not in err


def test_text_in_a_numeric_column_names_its_row(cli, csv_run: Path, tmp_path: Path) -> None:
    new = write_rows(tmp_path / "new.csv", [["100", "20", "Spain"], ["large", "5", "France"]])
    code, _, err = cli("predict", csv_run, new)
    assert code == 1
    assert f"{new}: column 'area' holds the text 'large' in data row 2" in err


def test_non_finite_array_inputs_are_refused(
    cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = train(
        tmp_path,
        "name: digits\ntask: multiclass\ndata: {source: sklearn.digits, limit: 200}\n"
        "model: {units: [4]}\ntrain: {epochs: 1, batch_size: 32}\n",
    )
    capsys.readouterr()  # what training printed
    new = np.zeros((4, 64))
    new[2, 1] = np.inf
    np.savez(tmp_path / "new.npz", x=new)
    code, out, err = cli("predict", run, tmp_path / "new.npz")
    assert code == 1 and out == ""
    assert f"{tmp_path / 'new.npz'}: sample 3 holds inf at x[2, 1]" in err


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ({"kind": "table", "columns": 7}, "'columns' is 7, not a list of column objects"),
        ([1, 2], "it holds [1, 2], not an object"),
        ({"kind": "tabel"}, "'kind' is \"tabel\""),
        ("no outputs", "it lacks 'outputs'"),
        ("no categories", "column 3 of 'columns': it lacks 'categories'"),
        ("fill is text", "column 1 of 'columns': 'fill' is \"x\", not a number"),
    ],
)
def test_a_damaged_preprocessing_json_is_named_not_a_traceback(
    cli, csv_run: Path, tmp_path: Path, damage: object, problem: str
) -> None:
    run = tmp_path / "runs" / csv_run.name
    shutil.copytree(csv_run, run)
    path = run / "preprocessing.json"
    state = json.loads(path.read_text())
    if damage == "no outputs":
        del state["outputs"]
    elif damage == "no categories":
        del state["columns"][2]["categories"]
    elif damage == "fill is text":
        state["columns"][0]["fill"] = "x"
    else:
        state = damage
    path.write_text(json.dumps(state))
    new = write_rows(tmp_path / "new.csv", [["100", "20", "Spain"]])
    code, out, err = cli("predict", run, new)
    assert code == 2, err
    message = " ".join(err.split())
    assert message.startswith(f"error: {path} is damaged: {problem}"), message
    assert "cannot be used to evaluate, predict" in message and "dlrun train" in message
    assert "Traceback" not in err and out == ""


def test_a_chunked_prediction_is_the_one_shot_prediction(
    cli, csv_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlrun.data.representations import REPRESENTATIONS

    rng = np.random.RandomState(4)
    rows = [
        [f"{rng.uniform(40, 200):.1f}", str(rng.randint(80)), COUNTRIES[rng.randint(3)]]
        for _ in range(53)
    ]
    rows[5][2], rows[40][2], rows[47][1] = "germany", "germany", ""  # misfits in three chunks
    new = write_rows(tmp_path / "new.csv", rows)
    state = json.loads((csv_run / "preprocessing.json").read_text())
    chunks = list(REPRESENTATIONS["table"].read_chunks(new, state, None, 7))
    assert [len(c) for c in chunks] == [7] * 7 + [4]

    code, one_shot, err = cli("predict", csv_run, new)
    assert code == 0, err
    for output in ("once.csv", "once.npz"):
        assert cli("predict", csv_run, new, "--output", tmp_path / output)[0] == 0

    def chunked(output: Path | None) -> tuple[str, str]:
        predict(csv_run, new, output=output, runs_dir=tmp_path, out=Output(), chunk_rows=7)
        captured = capsys.readouterr()
        return captured.out, captured.err

    out, err = chunked(None)
    assert out == one_shot
    assert "column 'country': 2 rows hold a category never seen in training" in err
    assert "column 'age': 1 row has no value" in err
    chunked(tmp_path / "chunked.csv")
    assert (tmp_path / "chunked.csv").read_text() == (tmp_path / "once.csv").read_text()
    chunked(tmp_path / "chunked.npz")
    with np.load(tmp_path / "chunked.npz") as got, np.load(tmp_path / "once.npz") as want:
        for name in ("predictions", "labels"):
            np.testing.assert_array_equal(got[name], want[name])


def test_predict_names_a_bad_image_and_skips_none(
    cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    rng = np.random.RandomState(2)
    for label in ("a", "b"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(12):
            pixels = rng.randint(0, 255, (8, 8, 3)).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{i}.png")
    run = train(
        tmp_path,
        f"name: tiny-images\ntask: binary\n"
        f"data: {{source: image_dir, path: {tmp_path / 'images'}, skip_bad_files: true}}\n"
        "model: {kind: convnet, filters: [2], units: [2]}\n"
        "train: {epochs: 1, batch_size: 4, tensorboard: false}\n",
    )
    folder = tmp_path / "new"
    folder.mkdir()
    shutil.copy(tmp_path / "images" / "a" / "0.png", folder / "good.png")
    (folder / "fake.png").write_bytes(b"not an image at all")
    capsys.readouterr()  # what training printed
    code, out, err = cli("predict", run, folder)
    assert code == 1, err
    message = " ".join(err.split())
    assert message.startswith(f"error: {folder / 'fake.png'} is not a readable image")
    # the training config skips bad files, but a new input left out would get no prediction
    assert "dlrun skips no new input" in message
    assert "set data.skip_bad_files" not in message and out == ""


def test_evaluate_refuses_a_damaged_preprocessing_json_before_any_work(
    cli, csv_run: Path, tmp_path: Path
) -> None:
    run = tmp_path / "runs" / csv_run.name
    shutil.copytree(csv_run, run)
    (run / "preprocessing.json").write_text(json.dumps({"kind": "table", "columns": 7}))
    code, out, err = cli("evaluate", run)
    assert code == 2, err
    assert "preprocessing.json is damaged: 'columns' is 7" in " ".join(err.split())
    assert "Traceback" not in err and "loading data" not in out
