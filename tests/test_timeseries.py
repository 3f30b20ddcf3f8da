"""Time series: windows over a CSV, chronological portions, walk-forward folds, the
persistence and seasonal-naive baselines, predict on recent rows, and the clean errors.

Every series here is written by the test (a trend, a weekly cycle and seeded noise over
daily rows), small enough that a whole `dlrun train` takes seconds. The accuracy tests
on the real CO2 series are `slow`.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from dlrun.data.portions import final_training, make_portions
from dlrun.data.sources import load_raw
from dlrun.data.timeseries import TimeseriesConfig, Windows, series_source, walk_forward
from dlrun.data.timestamps import format_time, parse_times
from dlrun.errors import DataError, DataWarning
from dlrun.objective import Objective
from dlrun.spec import validate
from dlrun.workflow.baselines import advice, compute_baselines, persistence, seasonal_naive
from dlrun.workflow.verdicts import Overfitting, verdict
from tests.conftest import shared_file

ROOT = Path(__file__).resolve().parents[1]


def series_rows(n: int = 200, seed: int = 0, start: str = "2020-01-01") -> list[list[str]]:
    """Daily rows: date, temp (trend + weekly cycle + noise), other (a second measurement)."""
    rng = np.random.RandomState(seed)
    days = np.datetime64(start) + np.arange(n)
    t = np.arange(n)
    temp = 10 + 0.05 * t + 3 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 0.3, n)
    other = np.cos(2 * np.pi * t / 7) + rng.normal(0, 0.1, n)
    return [[str(d), f"{a:.3f}", f"{b:.3f}"] for d, a, b in zip(days, temp, other, strict=True)]


def write_series(path: Path, rows: list[list[str]], header=("date", "temp", "other")) -> Path:
    with path.open("w", newline="") as fp:
        writer = csv.writer(fp)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def data_config(path: Path, **keys) -> dict:
    return {
        "source": "timeseries",
        "path": str(path),
        "time_column": "date",
        "target": "temp",
        "lookback": 10,
        "horizon": 2,
        **keys,
    }


def series_config(path: Path, **keys) -> TimeseriesConfig:
    return TimeseriesConfig(**data_config(path, **keys))


def full_config(path: Path, data: dict | None = None, **top) -> dict:
    return {
        "name": "series",
        "seed": 3,
        "task": "regression",
        "data": data_config(path, **(data or {})),
        "model": {"kind": "mlp", "units": [8]},  # the dense baseline: it flattens windows
        "train": {"batch_size": 16, "epochs": 2},
        **top,
    }


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    return write_series(tmp_path / "series.csv", series_rows())


# -- portions, windows, normalization ---------------------------------------------------


def test_portions_are_chronological_and_no_window_crosses_a_boundary(csv_file: Path) -> None:
    raw = series_source(series_config(csv_file))
    train, val, test = raw.train.x, raw.validation.x, raw.test.x
    assert raw.kind == "series" and raw.feature_names == ["temp", "other"]
    # 200 rows: 100 train, 50 validation, 50 test; a window and its target span 12 rows
    assert (len(train), len(val), len(test)) == (100 - 11, 50 - 11, 50 - 11)
    assert train.target_rows.max() < 100 <= val.starts.min()
    assert val.target_rows.max() < 150 <= test.starts.min()
    # every validation time (history and target) is later than every training time
    assert train.times[train.target_rows].max() < val.times[val.starts].min()
    assert val.times[val.target_rows].max() < test.times[test.starts].min()


def test_features_are_every_column_but_time_and_drop_or_a_list(csv_file: Path) -> None:
    assert series_source(series_config(csv_file, drop=["other"])).feature_names == ["temp"]
    listed = series_source(series_config(csv_file, features=["other"])).train.x
    assert listed.series.shape == (200, 1)  # the target is read, but is no feature
    assert listed.target[0] == pytest.approx(float(series_rows()[0][1]))


def test_labels_are_in_the_targets_units(csv_file: Path) -> None:
    value = series_source(series_config(csv_file)).train
    temp = value.x.target
    offset = temp[:100].mean()  # predict: value subtracts the training rows' mean
    assert value.x.offset == pytest.approx(offset)
    assert value.y[0] == pytest.approx(temp[11] - offset, abs=1e-5)
    change = series_source(series_config(csv_file, predict="change")).train
    assert change.y[0] == pytest.approx(temp[11] - temp[9], abs=1e-5)  # last row 9, +2


def test_normalization_is_fitted_on_training_rows_only(csv_file: Path) -> None:
    config = validate(full_config(csv_file)).config
    raw = load_raw(config.data)
    (portion,) = make_portions(raw, config)
    state = portion.prepared.state
    series = raw.train.x.series.astype(np.float64)
    assert state["mean"] == pytest.approx(series[:100].mean(axis=0).tolist())
    assert state["std"] == pytest.approx(series[:100].std(axis=0).tolist())
    # the trend makes the whole series' mean different: it was not used
    assert state["mean"][0] != pytest.approx(series[:, 0].mean(), abs=0.5)
    assert state["target_std"] == pytest.approx(raw.train.x.target[:100].std())


@pytest.mark.parametrize("predict", ["value", "change"])
def test_batches_gather_the_windows_numpy_would_build(csv_file: Path, predict: str) -> None:
    import tensorflow as tf

    from dlrun.data.representations import REPRESENTATIONS

    config = validate(full_config(csv_file, data={"sampling": 3, "predict": predict})).config
    (portion,) = make_portions(load_raw(config.data), config)
    x = portion.prepared.validation.x
    assert portion.prepared.input_spec.shape == (4, 2)  # lookback 10 every 3rd: rows 0,3,6,9
    index = np.array([0, 5, 17])
    batch = REPRESENTATIONS["series"].batches(x)(tf.constant(index)).numpy()
    rows = x.starts[index][:, None] + np.arange(4) * 3
    windows = x.series[rows]
    expected = (windows - windows[:, -1:] if predict == "change" else windows - x.mean) / x.std
    np.testing.assert_allclose(batch, expected, rtol=1e-5, atol=1e-5)


# -- baselines --------------------------------------------------------------------------


def tiny_windows(change: bool) -> Windows:
    target = np.array([1.0, 2.0, 4.0, 7.0, 11.0, 16.0, 22.0, 29.0])
    return Windows(
        series=target[:, None].astype(np.float32),
        target=target,
        times=None,
        starts=np.array([0, 1, 2, 3]),
        steps=2,
        sampling=1,
        horizon=2,
        change=change,
        offset=5.0,
    )


@pytest.mark.parametrize("change", [False, True])
def test_persistence_equals_a_hand_computation(change: bool) -> None:
    # windows [1 2] [2 4] [4 7] [7 11]: the last values 2, 4, 7, 11 forecast the values
    # two rows later, 7, 11, 16, 22; the errors are 5, 7, 9, 11
    found = persistence(tiny_windows(change), target_std=2.0)
    assert found["mae"] == pytest.approx((5 + 7 + 9 + 11) / 4)
    assert found["mse"] == pytest.approx((25 + 49 + 81 + 121) / 4)
    assert found["mae_normalized"] == pytest.approx(8 / 2)


def test_seasonal_naive_takes_the_value_a_season_before() -> None:
    # season 3, horizon 2: the target row t is forecast by row t - 3 (known at t - 2)
    # targets rows 3..6 (7, 11, 16, 22) from rows 0..3 (1, 2, 4, 7): errors 6, 9, 12, 15
    assert seasonal_naive(tiny_windows(False), 3, 1.0)["mae"] == pytest.approx(10.5)
    # season 1 < horizon 2: two seasons back, the latest row known (the window's last)
    assert seasonal_naive(tiny_windows(True), 1, 1.0)["mae"] == pytest.approx(8)


def test_series_baselines_come_from_the_validation_windows(csv_file: Path) -> None:
    config = validate(full_config(csv_file, data={"season": 7})).config
    portions = make_portions(load_raw(config.data), config)
    values = compute_baselines("regression", "auto", portions)
    assert set(values) == {"persistence", "seasonal_naive"}
    val = portions[0].prepared.validation.x
    temp = val.target
    hand = np.abs(temp[val.target_rows] - temp[val.last_rows]).mean()
    assert values["persistence"]["mae"] == pytest.approx(hand)
    # the trend carries the validation targets above the training range
    assert 0.3 < values["persistence"]["beyond_training_range"] < 1


def test_workflow_baseline_can_name_one_series_baseline(csv_file: Path) -> None:
    config = validate(
        full_config(csv_file, data={"season": 7}, workflow={"baseline": "seasonal_naive"})
    ).config
    portions = make_portions(load_raw(config.data), config)
    assert set(compute_baselines("regression", "seasonal_naive", portions)) == {"seasonal_naive"}


@pytest.mark.parametrize(
    ("baseline", "series", "message"),
    [
        ("persistence", False, "needs data.source: timeseries"),
        ("seasonal_naive", True, "needs data.season"),
    ],
)
def test_a_series_baseline_the_data_cannot_give_is_a_check_error(
    cli, tmp_path, write_config, csv_file, baseline, series, message
) -> None:
    config = full_config(csv_file, workflow={"baseline": baseline})
    if not series:
        table = tmp_path / "table.csv"
        table.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i / 2}\n" for i in range(40)))
        config["data"] = {"source": "csv", "path": str(table), "target": "y"}
    code, _, err = cli("check", write_config(config))
    assert code == 2, err
    assert f"workflow.baseline '{baseline}'" in err and message in " ".join(err.split())


def test_a_stage_that_loses_to_persistence_on_a_trend_is_told_to_predict_change() -> None:
    data = series_config(Path("x.csv"))
    hint = advice({"persistence": {"beyond_training_range": 0.8}}, data)
    assert "80% of the validation targets" in hint and "data.predict: change" in hint
    text = verdict(
        "small",
        3.68,
        Objective.of("val_mae"),
        Overfitting(False, None, None),
        ("persistence", 1.1),
        best_so_far=False,
        advice=hint,
    )
    assert text.startswith("does not beat the baseline (3.68 vs 1.1): 80% of the")
    # no trend, or already predicting change: nothing to point to
    assert advice({"persistence": {"beyond_training_range": 0.0}}, data) is None
    changing = data.model_copy(update={"predict": "change"})
    assert advice({"persistence": {"beyond_training_range": 0.8}}, changing) is None
    assert advice({"mean": {"mae": 1.0}}, data) is None  # not a series


# -- walk-forward folds ----------------------------------------------------------------


def test_walk_forward_folds_expand_and_validate_later_rows(csv_file: Path) -> None:
    config = validate(full_config(csv_file, data={"validation": {"kfold": 3}})).config
    raw = load_raw(config.data)
    # under K-fold the folds walk over train and validation rows together: 150 rows
    assert raw.validation is None and raw.train.x.rows() == (0, 150)
    folds = walk_forward(raw.train.x, 3)
    x = raw.train.x
    edges = [37, 75, 112, 150]  # 150 rows in 4 chunks
    for i, (fit, val) in enumerate(folds):
        assert x.target_rows[fit].max() < edges[i] <= x.starts[val].min()
        assert x.target_rows[val].max() < edges[i + 1]
    assert [len(f) for f, _ in folds] == sorted(len(f) for f, _ in folds)  # expanding
    portions = make_portions(raw, config)
    assert [p.name for p in portions] == ["fold-1", "fold-2", "fold-3"]
    # each fold's normalization comes from its own training rows
    first = portions[0].prepared.state["mean"][0]
    assert first == pytest.approx(raw.train.x.series[: edges[0], 0].mean(), rel=1e-5)


def test_the_final_retrain_trains_on_train_and_validation_rows(csv_file: Path) -> None:
    raw = series_source(series_config(csv_file))
    joined = final_training(raw, None)
    # windows over rows 0..149, those across the train/validation boundary included
    assert joined.x.rows() == (0, 150) and len(joined) == 150 - 11


# -- time column, order, gaps, missing values ------------------------------------------


def test_times_parse_iso_and_day_first_dates_column_wise() -> None:
    where = str
    times, fmt = parse_times(
        np.array([b"01.01.2009 00:10:00", b"29.02.2012 23:59:59"]), None, where
    )
    assert fmt == "%d.%m.%Y %H:%M:%S"
    assert times.tolist() == [
        np.datetime64("2009-01-01T00:10:00").item(),
        np.datetime64("2012-02-29T23:59:59").item(),
    ]
    assert format_time(times[1], fmt) == "29.02.2012 23:59:59"
    iso, fmt = parse_times(np.array([b"1958-03-29", b"1958-04-05"]), None, where)
    assert fmt == "%Y-%m-%d" and format_time(iso[1], None) == "1958-04-05"
    # not zero-padded: strptime row by row gives the same times
    loose, _ = parse_times(np.array([b"1/2/2009", b"13/2/2009"]), "%d/%m/%Y", where)
    assert str(loose[0]) == "2009-02-01T00:00:00"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([b"2020-01-01", b"2020-02-30"], "data row 2 holds the time '2020-02-30'"),
        ([b"2020-01-01", b"2020-01-0x"], "data row 2 holds the time '2020-01-0x'"),
        ([b"2020-01-01", b""], "data row 2 has no time"),
        ([b"03/04/2020", b"05/06/2020"], "read both day first and month first"),
    ],
)
def test_times_that_do_not_parse_name_the_row(values: list[bytes], message: str) -> None:
    with pytest.raises(DataError, match=message):
        parse_times(np.array(values), None, lambda i: f"data row {i + 1}")


def test_unsorted_times_are_sorted_with_a_warning_or_refused(tmp_path: Path) -> None:
    rows = series_rows(60)
    rows[10], rows[11] = rows[11], rows[10]
    path = write_series(tmp_path / "s.csv", rows)
    # data row 12 (2020-01-11) now comes after data row 11 (2020-01-12)
    with pytest.warns(DataWarning, match="not in time order .data row 12 .line 13."):
        raw = series_source(series_config(path, lookback=3))
    assert np.all(np.diff(raw.train.x.times) > np.timedelta64(0))
    with pytest.raises(DataError, match="not in time order"):
        series_source(series_config(path, lookback=3, strict_time=True))


def test_gaps_are_reported_with_the_largest(tmp_path: Path) -> None:
    rows = series_rows(80)
    del rows[30:33]  # three days missing after 2020-01-30
    del rows[50]
    path = write_series(tmp_path / "s.csv", rows)
    with pytest.warns(DataWarning) as caught:
        series_source(series_config(path, lookback=3))
    text = " ".join(str(w.message) for w in caught)
    assert "2 gaps (steps longer than the usual 1 day), the largest 4 days after 2020-01-30" in (
        text
    )


@pytest.mark.parametrize("missing", ["interpolate", "ffill", "drop"])
def test_missing_values_are_filled_or_dropped(tmp_path: Path, missing: str) -> None:
    rows = series_rows(60)
    rows[20][1] = ""  # temp on 2020-01-21
    rows[21][2] = "NA"
    path = write_series(tmp_path / "s.csv", rows)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = series_source(series_config(path, lookback=3, missing=missing))
    said = " ".join(str(w.message) for w in caught)
    x = raw.train.x
    if missing == "drop":
        assert len(x.target) == 58 and "dropped 2 rows with missing values" in said
        assert "1 gap (steps longer than the usual 1 day), the largest 3 days" in said
        return
    assert "missing values (1 in 'temp', 1 in 'other')" in said
    before, after = float(rows[19][1]), float(rows[21][1])
    expected = (before + after) / 2 if missing == "interpolate" else before
    assert x.target[20] == pytest.approx(expected, abs=1e-3)
    assert x.series[20, 0] == pytest.approx(expected, abs=1e-3)
    assert x.series[21, 1] == pytest.approx(
        float(rows[20][2]) if missing == "ffill" else (float(rows[20][2]) + float(rows[22][2])) / 2,
        abs=1e-3,
    )


def test_missing_error_names_the_row(tmp_path: Path) -> None:
    rows = series_rows(60)
    rows[20][1] = ""
    path = write_series(tmp_path / "s.csv", rows)
    with pytest.raises(DataError, match="column 'temp' has no value in data row 21 .line 22."):
        series_source(series_config(path, lookback=3, missing="error"))


# -- clean errors through the real CLI --------------------------------------------------


def _bad_time(rows: list[list[str]]) -> None:
    rows[41][0] = "2020-13-01"


def _text_target(rows: list[list[str]]) -> None:
    rows[7][1] = "warm"


def _constant(rows: list[list[str]]) -> None:
    for row in rows:
        row[2] = "1.5"


@pytest.mark.parametrize(
    ("spoil", "data", "message", "hint"),
    [
        (
            _bad_time,
            {},
            "column 'date', data row 42 (line 43), holds the time '2020-13-01', which does "
            "not parse as '%Y-%m-%d'",
            "data.time_format",
        ),
        (
            _text_target,
            {},
            "the target column 'temp' holds 'warm' in data row 8 (line 9), which is not a number",
            "numeric data.target",
        ),
        (
            None,
            {"lookback": 45, "horizon": 10},
            "a window and its target need 55 rows (data.lookback 45 and data.horizon 10), "
            "but the validation portion has 50",
            "larger share",
        ),
        (
            _constant,
            {},
            "column 'other' is constant over the training rows (every value is 1.5)",
            "data.drop: [other]",
        ),
        (
            None,
            {"validation": {"kfold": 3, "shuffle": True}},
            "a random (shuffled or repeated) K-fold on a series",
            "walk-forward",
        ),
    ],
)
def test_bad_input_is_a_clean_error_before_training(
    cli, runs_dir, tmp_path, write_config, spoil, data, message, hint
) -> None:
    rows = series_rows()
    if spoil is not None:
        spoil(rows)
    path = write_series(tmp_path / "s.csv", rows)
    config = write_config(full_config(path, data=data))
    for command in ("check", "train"):
        code, _, err = cli(command, config)
        flat = " ".join(err.split())
        assert code == 2, err
        assert message in flat and hint in flat
        assert "Traceback" not in err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_check_reads_the_series_without_tensorflow(csv_file: Path, write_config) -> None:
    config = write_config(full_config(csv_file))
    code = (
        "import sys; from dlrun.cli import run; assert run(['check', sys.argv[1]]) == 0; "
        "assert 'tensorflow' not in sys.modules, 'check imported TensorFlow'"
    )
    subprocess.run([sys.executable, "-c", code, str(config)], check=True, cwd=ROOT)


def test_a_window_longer_than_a_big_files_validation_portion_is_caught_by_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a file larger than the peek: check counts its rows instead of reading them all
    monkeypatch.setattr("dlrun.data.timeseries.PEEK_ROWS", 50)
    path = write_series(tmp_path / "s.csv", series_rows())
    problems = series_config(path, lookback=45, horizon=10).input_problems()
    assert len(problems) == 1 and "the validation portion has 50" in problems[0]
    assert series_config(path).input_problems() == []


# -- train, then predict from recent rows -----------------------------------------------


@pytest.mark.parametrize("predict", ["value", "change"])
def test_train_then_predict_the_horizon_from_recent_rows(
    cli, runs_dir, tmp_path, write_config, predict
) -> None:
    path = write_series(tmp_path / "s.csv", series_rows())
    config = full_config(
        path, data={"predict": predict, "season": 7}, workflow={"baseline": "auto"}
    )
    code, out, err = cli("train", write_config(config), "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["baseline"]["reference"]["name"] in ("persistence", "seasonal_naive")
    assert set(summary["baseline"]["values"]) == {"persistence", "seasonal_naive"}
    assert summary["final"]["test"]["samples"] == 39
    # the retrain saw the validation rows too: windows over rows 0..149
    assert summary["final"]["samples"] == 139

    code, out, err = cli("evaluate", run)  # the test windows again, from the saved state
    assert code == 0 and f"{summary['final']['test']['mae']:.4f}"[:5] in out, err

    recent = write_series(tmp_path / "recent.csv", series_rows(230)[-15:])
    code, out, err = cli("predict", run, recent)
    assert code == 0, err
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["time"] == "2020-08-19"  # the last row, 2020-08-17, and 2 days ahead

    from dlrun.tfenv import import_keras

    model = import_keras().saving.load_model(run / "final" / "model.keras")
    state = json.loads((run / "preprocessing.json").read_text())
    values = np.array([[float(v) for v in r[1:]] for r in series_rows(230)[-10:]])
    window = (values - (values[-1] if predict == "change" else state["mean"])) / state["std"]
    expected = model.predict(window[None].astype(np.float32), verbose=0)[0, 0]
    expected += values[-1, 0] if predict == "change" else state["offset"]
    assert float(row["prediction"]) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize(
    ("model", "layer"),
    [
        ({"kind": "rnn", "cell": "gru", "units": [4]}, "GRU"),
        (
            {"kind": "conv1d", "filters": [4], "kernel_size": 3, "pool_size": 2, "units": [4]},
            "Conv1D",
        ),
    ],
)
def test_sequence_kinds_read_the_windows_step_by_step(
    cli, runs_dir, tmp_path, write_config, model, layer
) -> None:
    from dlrun.tfenv import import_keras

    config = full_config(write_series(tmp_path / "s.csv", series_rows()), model=model)
    config["train"]["epochs"] = 1
    code, _, err = cli("train", write_config(config), "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    trained = import_keras().saving.load_model(run / "final" / "model.keras")
    assert trained.input_shape == (None, 10, 2)  # 10 steps of (temp, other), not flattened
    kinds = [type(each).__name__ for each in trained.layers]
    assert layer in kinds and "Flatten" not in kinds[: kinds.index(layer)]


@pytest.mark.parametrize(
    ("model", "setting", "xla"),
    [
        ({"kind": "rnn", "cell": "gru", "units": [4]}, None, True),
        ({"kind": "rnn", "cell": "gru", "units": [4]}, "false", False),
        ({"kind": "conv1d", "filters": [4], "kernel_size": 3, "units": [4]}, None, False),
        ({"kind": "conv1d", "filters": [4], "kernel_size": 3, "units": [4]}, "true", True),
    ],
)
def test_recurrent_models_step_with_xla_on_tensorflow_unless_told_not_to(
    tmp_path, write_config, model, setting, xla
) -> None:
    """On a CPU Keras leaves XLA off under TensorFlow; a recurrent layer's loop of small
    ops per time step runs about twice as fast compiled, so dlrun compiles rnn models
    (train.jit_compile: false keeps Keras's choice off; true asks for it on any kind)."""
    from dlrun.data.portions import make_portions
    from dlrun.data.sources import load_raw
    from dlrun.spec import load_config
    from dlrun.training import compiled_model

    path = write_config(full_config(write_series(tmp_path / "s.csv", series_rows()), model=model))
    config = load_config(path, [f"train.jit_compile={setting}"] if setting else []).config
    (portion,) = make_portions(load_raw(config.data), config)
    assert compiled_model(config, portion.prepared).jit_compile is xla


def test_predict_refuses_too_few_recent_rows(cli, runs_dir, tmp_path, write_config) -> None:
    path = write_series(tmp_path / "s.csv", series_rows())
    assert cli("train", write_config(full_config(path)), "-q")[0] == 0
    (run,) = runs_dir.iterdir()
    recent = write_series(tmp_path / "recent.csv", series_rows(30)[-6:])
    code, _, err = cli("predict", run, recent)
    assert code == 1 and "has 6 rows; a forecast needs the last 10" in " ".join(err.split())


# -- the real CO2 series (slow) ---------------------------------------------------------


def co2_config(**data) -> dict:
    path = shared_file("co2/co2_weekly_mlo.csv")
    return {
        "name": "co2",
        "seed": 1337,
        "task": "regression",
        "data": {
            "source": "timeseries",
            "path": str(path),
            "time_column": "date",
            "target": "co2",
            "lookback": 52,
            "horizon": 4,
            "season": 52,
            **data,
        },
        "model": {"kind": "mlp", "units": [32]},
        "train": {"batch_size": 32, "epochs": 40, "early_stopping": {"patience": 5}},
        "workflow": {"baseline": "auto", "final": "keep_best"},
    }


def test_co2_reads_weekly_with_its_59_missing_values() -> None:
    config = validate(co2_config()).config
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = series_source(config.data)
    assert "59 in 'co2'" in " ".join(str(w.message) for w in caught)
    assert len(raw.train.x.target) == 2284 and not np.isnan(raw.train.x.target).any()
    assert str(raw.train.x.times[0]) == "1958-03-29T00:00:00"


@pytest.mark.slow
def test_co2_a_dense_model_on_changes_beats_persistence(cli, runs_dir, write_config) -> None:
    code, _, err = cli("train", write_config(co2_config(predict="change")), "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    persistence_mae = summary["baseline"]["values"]["persistence"]["mae"]
    assert 0.9 < persistence_mae < 1.3  # ppm, 4 weeks ahead
    assert summary["stages"]["small"]["score"] < 0.8 * persistence_mae
    assert summary["final"]["test"]["mae"] < persistence_mae
