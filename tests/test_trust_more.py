"""What `dlrun check` finds before a run starts, and what predict labels right (issue 23):
a regression on a text target, a K-fold or holdout larger than a bundled set, a table too
wide to prepare; a forecast of a yearly or monthly series is for the right year or month,
and predict refuses the same oversized images training refuses.

Each test writes a tiny data file into tmp_path and checks what a user would notice:
the exit code and message of `dlrun check`, `train` or `predict`.
"""

from __future__ import annotations

import csv
import io
import itertools

import numpy as np
import pytest

from dlrun.data.sources import load_raw
from dlrun.spec import validate


def _config(data: dict, task: str, **top) -> dict:
    return {
        "name": "more",
        "seed": 5,
        "task": task,
        "data": data,
        "model": {"kind": "mlp", "units": [4]},
        "train": {"epochs": 1, "batch_size": 16, "tensorboard": False},
        **top,
    }


def _one_paragraph(err: str) -> str:
    assert "Traceback" not in err
    assert err.count("error:") == 1, err
    return " ".join(err.split())


# --- a regression on a text target is refused by check ------------------------------------


def _countries(path, countries: list[str]):
    rng = np.random.RandomState(0)
    rows = [f"{rng.uniform(0, 9):.2f},{countries[i % len(countries)]}\n" for i in range(30)]
    path.write_text("size,country\n" + "".join(rows))
    return path


@pytest.mark.parametrize(
    ("countries", "task"),
    [(["Germany", "France", "Spain"], "multiclass"), (["Germany", "France"], "binary")],
)
def test_check_refuses_a_regression_on_a_column_of_text(
    cli, write_config, tmp_path, countries, task
) -> None:
    path = _countries(tmp_path / "countries.csv", countries)
    data = {"source": "csv", "path": str(path), "target": "country"}
    config = write_config(_config(data, "regression"))
    code, _, err = cli("check", config)
    assert code == 2
    assert (
        f"task 'regression' needs numbers, but column 'country' of {path} holds text: a "
        "regression model would learn its values as the numbers 0, 1, 2, ... of their sorted "
        "order. Use task: multiclass (or binary for two classes) to predict one of them, or "
        "choose a numeric data.target."
    ) in _one_paragraph(err)
    # the same file as classes is fine
    code, _, err = cli("check", config, f"task={task}")
    assert code == 0, err


def test_check_still_takes_a_regression_on_a_numeric_column(cli, write_config, tmp_path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("size,price\n" + "".join(f"{i},{3 * i + 0.5}\n" for i in range(30)))
    data = {"source": "csv", "path": str(path), "target": "price"}
    code, _, err = cli("check", write_config(_config(data, "regression")))
    assert code == 0, err


# --- kfold and holdout larger than a bundled set ------------------------------------------


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "iris", "wine", "diabetes"])
def test_a_bundled_sets_known_size_is_what_loading_it_gives(name) -> None:
    # `dlrun check` knows the sizes without loading: they must be what sklearn ships
    config = validate(
        _config({"source": f"sklearn.{name}", "test_fraction": 0.3}, "regression")
    ).config
    assert config.data.training_samples() == len(load_raw(config.data).train)


@pytest.mark.parametrize(
    ("validation", "key", "fix"),
    [
        ({"kfold": 121}, "data.validation.kfold is 121", "Use kfold: 120 or fewer"),
        ({"holdout": 120}, "data.validation.holdout is 120", "Hold out fewer than 120"),
    ],
)
def test_check_refuses_kfold_or_holdout_larger_than_a_bundled_set(
    cli, write_config, validation, key, fix
) -> None:
    # iris: 150 samples, 30 of them the test split
    data = {"source": "sklearn.iris", "validation": validation}
    code, _, err = cli("check", write_config(_config(data, "multiclass")))
    assert code == 2
    message = _one_paragraph(err)
    assert key in message and "at most 120 training samples" in message and fix in message


def test_check_holds_kfold_to_the_limit_or_the_set_whichever_is_smaller(cli, write_config) -> None:
    data = {"source": "sklearn.wine", "test_fraction": 0.5, "validation": {"kfold": 90}}
    config = write_config(_config(data, "multiclass"))
    code, _, err = cli("check", config)
    assert code == 2 and "at most 89 training samples" in _one_paragraph(err)
    code, _, err = cli("check", config, "data.validation.kfold=89")
    assert code == 0, err
    code, _, err = cli("check", config, "data.validation.kfold=89", "data.limit=40")
    assert code == 2 and "at most 40 training samples (data.limit)" in _one_paragraph(err)


# --- a forecast of a yearly or monthly series is for the right year or month --------------


def _series(path, times: list[str]):
    rng = np.random.RandomState(1)
    values = 10 + np.sin(np.arange(len(times)) / 3) + rng.normal(0, 0.1, len(times))
    path.write_text(
        "when,level\n" + "".join(f"{t},{v:.3f}\n" for t, v in zip(times, values, strict=True))
    )
    return path


@pytest.mark.parametrize(
    ("times", "horizon", "expected"),
    [
        # 2 years after 1931; two steps of the median gap, 365 days, end in leap 1932
        ([str(y) for y in range(1850, 1932)], 2, "1933"),
        # 60 months after 2023-04; 60 steps of the median gap, 31 days, end in 2028-05
        ([f"{1990 + m // 12}-{m % 12 + 1:02d}" for m in range(400)], 60, "2028-04"),
    ],
    ids=["years", "months"],
)
def test_a_forecast_is_labelled_with_calendar_steps(
    cli, runs_dir, write_config, tmp_path, times, horizon, expected
) -> None:
    path = _series(tmp_path / "series.csv", times)
    data = {
        "source": "timeseries",
        "path": str(path),
        "time_column": "when",
        "target": "level",
        "lookback": 4,
        "horizon": horizon,
    }
    code, _, err = cli("train", write_config(_config(data, "regression")), "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    recent = tmp_path / "recent.csv"
    lines = path.read_text().splitlines(keepends=True)
    recent.write_text("".join([lines[0], *lines[-6:]]))
    code, out, err = cli("predict", run, recent)
    assert code == 0, err
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["time"] == expected


# --- predict refuses an image larger than data.max_pixels, as training does ---------------


def _png(path, height: int, width: int):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width), 128, np.uint8)).save(path)
    return path


def test_predict_refuses_an_image_over_the_runs_max_pixels(
    cli, runs_dir, write_config, tmp_path
) -> None:
    root = tmp_path / "images"
    for split, label, i in itertools.product(("train", "test"), ("a", "b"), range(4)):
        _png(root / split / label / f"{i}.png", 8, 8)
    config = {
        **_config(
            {
                "source": "image_dir",
                "path": str(root),
                "color_mode": "grayscale",
                "max_pixels": 100,
            },
            "binary",
        ),
        "model": {"kind": "convnet", "filters": [2], "units": [2]},
    }
    code, _, err = cli("train", write_config(config), "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    code, out, err = cli("predict", run, _png(tmp_path / "new" / "small.png", 9, 9))
    assert code == 0, err
    large = _png(tmp_path / "new" / "large.png", 16, 16)
    for given in (large, large.parent):
        code, out, err = cli("predict", run, given)
        assert code == 1 and out == "", err  # a DataError, as every unusable input
        assert (
            f"{large}: its header says 16x16, 256 pixels, more than data.max_pixels (100)"
        ) in _one_paragraph(err)


# --- a table too wide to prepare is refused by check --------------------------------------


def _wide_csv(path, columns: int, rows: int = 12):
    rng = np.random.RandomState(2)
    header = ",".join([*(f"c{j}" for j in range(columns - 1)), "label"])
    body = "".join(
        ",".join([*(f"{v:.2f}" for v in rng.uniform(0, 1, columns - 1)), str(i % 2)]) + "\n"
        for i in range(rows)
    )
    path.write_text(header + "\n" + body)
    return path


def test_check_refuses_a_table_wider_than_max_columns(cli, write_config, tmp_path) -> None:
    path = _wide_csv(tmp_path / "wide.csv", 20_001)
    data = {"source": "csv", "path": str(path), "target": "label"}
    code, _, err = cli("check", write_config(_config(data, "binary")))
    assert code == 2
    assert (
        f"data.path {path} has 20,001 columns, more than data.max_columns (10,000). Keep the "
        "columns that matter in the file, or raise data.max_columns if the table is meant to "
        "be this wide."
    ) in _one_paragraph(err)


def test_max_columns_can_be_lowered_and_raised(cli, write_config, tmp_path) -> None:
    path = _wide_csv(tmp_path / "narrow.csv", 12)
    config = write_config(
        _config({"source": "csv", "path": str(path), "target": "label"}, "binary")
    )
    code, _, err = cli("check", config, "data.max_columns=11")
    assert code == 2 and "has 12 columns, more than data.max_columns (11)" in _one_paragraph(err)
    code, _, err = cli("check", config, "data.max_columns=12")
    assert code == 0, err


# --- a run: base whose input shape the data does not give is refused by check -------------


def test_check_refuses_a_run_base_of_another_input_shape(
    cli, runs_dir, write_config, tmp_path
) -> None:
    for size, folder in ((8, "small"), (12, "large")):
        for split, label, i in itertools.product(("train", "test"), ("a", "b"), range(4)):
            _png(tmp_path / folder / split / label / f"{i}.png", size, size)
    data = {"source": "image_dir", "path": str(tmp_path / "small"), "color_mode": "grayscale"}
    base = {**_config(data, "binary"), "model": {"kind": "convnet", "filters": [2], "units": [2]}}
    code, _, err = cli("train", write_config(base, "base.yaml"), "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()

    model = {"kind": "pretrained", "base": f"run:{run}", "units": [2]}
    transfer = {**_config({**data, "path": str(tmp_path / "large")}, "binary"), "model": model}
    config = write_config(transfer, "transfer.yaml")
    code, _, err = cli("check", config)
    assert code == 2
    assert (
        f"model.base run:{run} takes inputs of shape (8, 8, 1), but the data gives "
        "(12, 12, 1). Set data.image_size and data.color_mode to what that run was trained on."
    ) in _one_paragraph(err)
    code, _, err = cli("check", config, "data.image_size=[8,8]", "data.color_mode=rgb")
    assert code == 2 and "but the data gives (8, 8, 3)" in _one_paragraph(err)
    code, _, err = cli("check", config, "data.image_size=[8,8]")
    assert code == 0, err
    code, _, err = cli("train", config, "data.image_size=[8,8]", "-q")
    assert code == 0, err
