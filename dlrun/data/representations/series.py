"""`series`: windows over a time series (`dlrun.data.timeseries.Windows`), (steps, features).

Fitting takes each feature's mean and standard deviation over the rows the training
windows cover, and nothing else. Batches are gathered in TensorFlow from the series held
once: window rows are `starts[index][:, None] + offsets`, standardized per batch, and
under `predict: change` taken relative to the window's last row. So no window exists
outside its batch (Jena's 420,551 x 14 rows would be 30 GB as windows), and TensorFlow
reads the numpy series itself, with no copy.

`read` takes a CSV of recent rows (at least a window's worth) and forecasts from the
last window; `outputs` turns the model's output back into the target's units, with the
time it forecasts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.held import held
from dlrun.data.inputs import InputSpec
from dlrun.data.representations.base import (
    INTEGER,
    NUMBER,
    TEXT,
    Representation,
    absent_or,
    list_of,
    nullable,
    one_of,
)
from dlrun.data.splits import RawData, Split
from dlrun.data.timeseries import (
    TimeseriesConfig,
    Windows,
    check_variation,
    prepare_recent,
    read_table,
)
from dlrun.data.timestamps import format_time, step_unit, steps_after, time_steps
from dlrun.errors import DataError


class SeriesWindows(Representation):
    name = "series"
    what = "time-series windows"
    state_keys = {
        "columns": list_of(TEXT, "strings"),
        "mean": list_of(NUMBER, "numbers"),
        "std": list_of(NUMBER, "numbers"),
        "target_std": NUMBER,
        "offset": NUMBER,
        "predict": one_of("value", "change"),
        "lookback": INTEGER,
        "steps": INTEGER,
        "sampling": INTEGER,
        "horizon": INTEGER,
        "season": absent_or(nullable(INTEGER)),
        "time_format": nullable(TEXT),
        "step_seconds": absent_or(nullable(NUMBER)),
        "step_months": absent_or(nullable(NUMBER)),
    }

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        windows = _windows(train.x)
        assert isinstance(data, TimeseriesConfig)
        lo, hi = windows.rows()
        columns = raw.feature_names or []
        check_variation(windows.series, windows.target, columns, data.target, lo, hi)
        # column by column, so no float64 copy of the whole series exists at once
        rows = [windows.series[lo:hi, j] for j in range(windows.series.shape[1])]
        target = windows.target[lo:hi]
        step = None
        if windows.times is not None and hi - lo > 1:
            step = float(np.median(time_steps(windows.times[lo:hi], windows.time_format)))
        return {
            "columns": columns,
            "target": data.target,
            "mean": [float(c.mean(dtype=np.float64)) for c in rows],
            "std": [float(c.std(dtype=np.float64)) for c in rows],
            # the baselines' "normalized" MAE is in these units
            "target_std": float(target.std()),
            "offset": windows.offset,
            "predict": data.predict,
            "lookback": data.lookback,
            "steps": windows.steps,
            "sampling": windows.sampling,
            "horizon": windows.horizon,
            "season": data.season,
            "time_column": data.time_column,
            "time_format": windows.time_format,
            _step_key(windows.time_format): step,
        }

    def apply(self, x: Any, state: dict[str, Any]) -> Windows:
        windows = _windows(x)
        if windows.series.shape[1] != len(state["columns"]):
            raise DataError(
                f"this run was trained on windows of {len(state['columns'])} columns, the new "
                f"data has {windows.series.shape[1]}."
            )
        return replace(
            windows,
            mean=np.asarray(state["mean"], dtype=np.float32),
            std=np.asarray(state["std"], dtype=np.float32),
        )

    def input_spec(self, x: Any, state: dict[str, Any]) -> InputSpec:
        return InputSpec(shape=(state["steps"], len(state["columns"])))

    def batches(self, x: Windows) -> Callable[[Any], Any]:
        import tensorflow as tf

        series = held(x.series, "series")
        starts = held(x.starts.astype(np.int64, copy=False), "window_starts")
        offsets = tf.constant(np.arange(x.steps, dtype=np.int64) * x.sampling)
        assert x.mean is not None and x.std is not None, "apply the fitted state first"
        mean, scale = tf.constant(x.mean), tf.constant(1 / x.std)
        change = x.change

        def features(index: Any) -> Any:
            rows = tf.gather(starts.read_value(), index)[:, None] + offsets
            windows = tf.gather(series.read_value(), rows)
            if change:  # relative to the last row, which also cancels the mean
                return (windows - windows[:, -1:, :]) * scale
            return (windows - mean) * scale

        return features

    def arrays(self, x: Windows) -> Callable[[np.ndarray], np.ndarray]:
        offsets = np.arange(x.steps, dtype=np.int64) * x.sampling
        assert x.mean is not None and x.std is not None, "apply the fitted state first"
        mean, scale = x.mean, 1 / x.std

        def features(index: np.ndarray) -> np.ndarray:
            windows = x.series[x.starts[index][:, None] + offsets]
            if x.change:
                return (windows - windows[:, -1:, :]) * scale
            return (windows - mean) * scale

        return features

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> Windows:
        """The last window of a CSV of recent rows (the columns the run was trained on)."""
        self.refuse_arrays(path, "a CSV file of recent rows")
        assert isinstance(data, TimeseriesConfig)
        config = data.model_copy(
            update={
                "path": str(path),
                "features": state["columns"],
                "drop": [],
                "time_format": state["time_format"],
            }
        )
        table = read_table(config)
        prepare_recent(table, config)
        span = (state["steps"] - 1) * state["sampling"] + 1
        if len(table) < span:
            raise DataError(
                f"{path} has {len(table)} rows; a forecast needs the last {span} "
                f"(data.lookback {state['lookback']}).",
                hint=f"Give at least the {span} most recent rows, oldest first.",
            )
        return Windows(
            series=table.features,
            target=table.target,
            times=table.times,
            starts=np.array([len(table) - span], dtype=np.int64),
            steps=state["steps"],
            sampling=state["sampling"],
            horizon=state["horizon"],
            change=state["predict"] == "change",
            offset=state["offset"],
            time_format=state["time_format"],
        )

    def outputs(
        self, predictions: np.ndarray, x: Any, state: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, list[str]]]:
        """Forecasts in the target's units, and the time each one is for."""
        windows = _windows(x)
        forecast = predictions.reshape(len(windows), -1) + np.asarray(
            windows.target[windows.last_rows] if windows.change else windows.offset
        ).reshape(-1, 1)
        step = state.get(_step_key(state["time_format"]))
        if windows.times is None or step is None:
            return forecast, {}
        times = steps_after(
            windows.times[windows.last_rows], step * windows.horizon, state["time_format"]
        )
        return forecast, {"time": [format_time(t, state["time_format"]) for t in times]}


def _step_key(time_format: str | None) -> str:
    """The state key of the series' usual step, named for its unit (`step_unit`). A run
    from before steps were counted in months holds only step_seconds: for a series of
    months or years, predict then gives no time rather than a wrong one."""
    return "step_months" if step_unit(time_format) == "M" else "step_seconds"


def _windows(x: Any) -> Windows:
    if not isinstance(x, Windows):
        raise DataError("this run was trained on time-series windows; the new data is not.")
    return x
