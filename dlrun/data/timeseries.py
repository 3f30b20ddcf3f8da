"""`timeseries`: a CSV of measurements in time order, cut into windows (book ch. 6).

The rows are split in time order into train, validation and test portions
(`data.split`); each window holds `lookback` rows of history (every `sampling`-th one)
and its target is the target column `horizon` rows after the window's last row. No
window, target included, crosses a portion boundary, and the representation
(`dlrun.data.representations.series`) normalizes with statistics of training rows only.
`data.validation: {kfold: K}` walks forward instead (`walk_forward`).

Reading: one `numpy.loadtxt` pass over the used columns (faster than `pandas.read_csv`
on Jena's layout, and a third of its memory), the time column parsed by
`dlrun.data.timestamps`. Rows out of time order are sorted with a warning (refused under
`data.strict_time`); gaps and irregular steps are reported; missing values are
interpolated in time within each portion (so no later portion fills an earlier one),
carried forward, dropped with their rows, or refused (`data.missing`).

Targets are in the target column's units, so every MAE is too: with `predict: value`
the target minus its training mean (so a model starts near it), with `predict: change`
the change from the window's last value.

Example:

```python
config = TimeseriesConfig(source="timeseries", path="co2.csv", time_column="date",
                          target="co2", lookback=52, horizon=4)
raw = series_source(config)
raw.train.x.take(np.arange(3)).starts    # array([0, 1, 2])
```
"""

from __future__ import annotations

import csv
import io
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, PrivateAttr, model_validator

from dlrun.config.schema import DataSection, Section, ValidationConfig
from dlrun.data.held import aligned, aligned_empty
from dlrun.data.splits import RawData, Split
from dlrun.data.tabular import MISSING, not_utf8
from dlrun.data.timestamps import format_time, parse_times, step_text, time_steps
from dlrun.errors import DataError, DataWarning
from dlrun.tasks import Labels

# `dlrun check` reads this many rows; a file that has no more is checked entirely.
PEEK_ROWS = 10_000
_ZIP_MAGIC = b"PK\x03\x04"


class SplitFractions(Section):
    """Shares of the rows, in time order: train first, then validation, the rest test."""

    train: float = Field(0.5, gt=0, lt=1, description="Share of the rows, from the start.")
    validation: float = Field(
        0.25, ge=0, lt=1, description="Share of the rows after the training ones."
    )


class SeriesValidation(ValidationConfig):
    """For a series the holdout is `data.split.validation`; `kfold: K` walks forward.

    Without `kfold`, `fraction` is set to stand for that holdout (the config checks ask
    for a protocol), and is left out of every dump of the config, so a `fraction` that
    is read back is always one a user wrote, which `TimeseriesConfig.problems` refuses.
    """

    fraction: float | None = Field(
        None,
        gt=0,
        lt=1,
        exclude=True,
        description="Not for a series: its validation rows are data.split.validation.",
    )
    shuffle: bool = Field(
        False,
        description="Must stay false for a series: shuffled folds train on windows later "
        "than the ones they validate on.",
    )
    _given_fraction: bool = PrivateAttr(False)

    @model_validator(mode="wrap")
    @classmethod
    def _holdout_of_the_split(cls, data: Any, handler: Any) -> SeriesValidation:
        if isinstance(data, SeriesValidation):  # built already: its fraction may be implied
            return data
        validation = handler(data)
        validation._given_fraction = validation.fraction is not None
        if validation.holdout is None and validation.fraction is None and validation.kfold is None:
            validation.fraction = 0.2
        return validation

    @property
    def given_fraction(self) -> bool:
        """Whether the config itself sets `fraction`."""
        return self._given_fraction


class TimeseriesConfig(DataSection):
    """A CSV of measurements in time order: windows of its rows forecast one column."""

    source: Literal["timeseries"] = Field(description="A CSV time series, cut into windows.")
    path: str = Field(description="The CSV file (a header row, one row per time step).")
    time_column: str | None = Field(
        None, description="The column of timestamps (default: none, rows are in time order)."
    )
    time_format: str | None = Field(
        None,
        description="strftime format of the time column, e.g. '%d.%m.%Y %H:%M:%S', with "
        "%q for a quarter (last), or 'index' for a plain integer index (default: found from "
        "its first rows: dates and times, months 2001-07, quarters 2001Q3, years 1850, an "
        "index).",
    )
    target: str = Field(description="The column to forecast.")
    features: Literal["all"] | list[str] = Field(
        "all",
        description="Columns a window holds: all (every column but the time column and "
        "data.drop) or a list.",
    )
    drop: list[str] = Field(default_factory=list, description="Columns to ignore.")
    sampling: int = Field(1, ge=1, description="Keep one row in N inside each window.")
    lookback: int = Field(ge=1, description="Rows of history per window.")
    horizon: int = Field(1, ge=1, description="Forecast this many rows after a window's last.")
    split: SplitFractions = Field(
        default_factory=SplitFractions,
        description="Chronological portions: train first, then validation, the rest test.",
    )
    validation: SeriesValidation = Field(
        default_factory=SeriesValidation,
        description="{kfold: K}: walk-forward folds over the rows before the test portion; "
        "otherwise the holdout is data.split.validation.",
    )
    missing: Literal["interpolate", "ffill", "drop", "error"] = Field(
        "interpolate",
        description="Missing values: interpolate (linearly in time), ffill (the last value "
        "before), drop (their rows) or error.",
    )
    predict: Literal["value", "change"] = Field(
        "value",
        description="value: the target itself; change: its change since the window's last "
        "row (for a series that trends out of its training range).",
    )
    season: int | None = Field(
        None,
        ge=1,
        description="Rows per season (52 for weekly data, a year): the seasonal-naive baseline.",
    )
    strict_time: bool = Field(
        False, description="Refuse rows out of time order instead of sorting them."
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="Field delimiter.")

    @property
    def steps(self) -> int:
        """Time steps a window holds: every `sampling`-th of its `lookback` rows."""
        return -(-self.lookback // self.sampling)

    @property
    def needs(self) -> int:
        """Rows a window and its target span."""
        return (self.steps - 1) * self.sampling + 1 + self.horizon

    def describe(self) -> str:
        return f"column '{self.target}' of {self.path}"

    def input_files(self) -> list[Path]:
        return [Path(self.path)] if Path(self.path).is_file() else []

    def peek_labels(self) -> Labels | None:
        return Labels(None)  # a forecast is a number: only task: regression fits

    def problems(self) -> list[str]:
        problems = []
        v = self.validation
        if v.kfold is not None and (v.shuffle or v.repeats > 1):
            problems.append(
                "data.validation: a random (shuffled or repeated) K-fold on a series trains "
                "on windows later than the ones it validates on, and neighbouring windows "
                "share rows, so its score flatters the model. For a series {kfold: K} alone "
                "is walk-forward validation (expanding window): remove shuffle and repeats."
            )
        given = {"holdout": v.holdout is not None, "fraction": v.given_fraction}
        problems += [
            f"data.validation.{key} does not apply to a series: its validation rows are "
            "data.split.validation (a share of the rows, after the training ones)."
            for key, is_set in given.items()
            if is_set
        ]
        if self.split.train + self.split.validation >= 1:
            problems.append(
                f"data.split gives {self.split.train:g} + {self.split.validation:g} of the "
                "rows to train and validation, leaving none to test: keep their sum below 1."
            )
        if v.kfold is None and self.split.validation == 0:
            problems.append(
                "data.split.validation is 0: a holdout needs validation rows. Set it, or use "
                "data.validation: {kfold: K} for walk-forward folds."
            )
        named = [self.target, *(self.features if isinstance(self.features, list) else [])]
        if self.time_column is not None and self.time_column in named:
            problems.append(
                f"data.time_column '{self.time_column}' is also the target or a feature; "
                "times are not measurements."
            )
        if self.target in self.drop:
            problems.append(f"data.drop lists the target '{self.target}'; remove it there.")
        if self.features == []:
            problems.append("data.features is empty; list columns, or write features: all.")
        return problems

    def input_problems(self) -> list[str]:
        path = Path(self.path)
        if not path.is_file():
            what = "a directory" if path.is_dir() else "not found"
            return [f"data.path {path}: {what}; give the CSV file (paths are relative to here)."]
        with path.open("rb") as fp:
            if fp.read(4) == _ZIP_MAGIC:
                return [f"data.path {path} is a zip archive, not a CSV."]
        try:
            with warnings.catch_warnings():
                # the load reports gaps and fills; the check would say it all twice
                warnings.simplefilter("ignore", DataWarning)
                table = read_table(self, limit=PEEK_ROWS)
                if table.complete:
                    bounds = prepare(table, self)
                    check_variation(
                        table.features, table.target, table.columns, self.target, *bounds[0]
                    )
                else:  # a big file: its first rows, and the row count
                    if table.times is not None and self.strict_time:
                        _in_time_order(table, self)
                    check_fits(self, count_rows(path))
        except DataError as exc:
            return [str(exc)]
        return []


@dataclass
class SeriesTable:
    """The columns a series config reads: features, target, times, in row order."""

    path: Path
    features: np.ndarray  # (rows, features) float32, NaN where missing
    target: np.ndarray  # (rows,) float64
    times: np.ndarray | None  # (rows,) datetime64[s]
    rows: np.ndarray  # each row's data-row number in the file (0-based), for messages
    columns: list[str]  # the features' names
    time_format: str | None  # the format the times were parsed with
    complete: bool  # False when only the first rows were read (dlrun check)

    def __len__(self) -> int:
        return len(self.target)

    def where(self, row: int) -> str:
        """A row named as a user finds it in the file."""
        return _where(self.path, int(self.rows[row]))

    def keep(self, index: np.ndarray) -> None:
        """Keep these rows, in this order."""
        self.features, self.target, self.rows = (
            self.features[index],
            self.target[index],
            self.rows[index],
        )
        if self.times is not None:
            self.times = self.times[index]


def read_table(config: TimeseriesConfig, limit: int | None = None) -> SeriesTable:
    """The used columns of the CSV (its first `limit` rows), parsed; times as datetime64."""
    path = Path(config.path)
    header = _header(path, config.delimiter)
    time_index, columns = _columns(header, config, path)
    numeric = [header.index(c) for c in columns]
    if config.target not in columns:
        numeric.append(header.index(config.target))
    usecols = ([time_index] if time_index is not None else []) + numeric
    width = _time_width(path, config.delimiter, time_index)
    while True:
        dtype = ([("time", f"S{width}")] if time_index is not None else []) + [
            (f"c{i}", "<f4") for i in range(len(numeric))
        ]
        parsed = _loadtxt(path, config, usecols, dtype, limit, {i: header[i] for i in numeric})
        if time_index is None or not np.any(np.char.str_len(parsed["time"]) >= width):
            break
        width *= 4  # a longer time than the first rows had: read again, wider
    times, time_format = None, config.time_format
    if time_index is not None:
        column = header[time_index]
        times, time_format = parse_times(
            parsed["time"],
            config.time_format,
            where=lambda i: f"{path}: column '{column}', {_where(path, i)},",
        )
    n = len(parsed)
    features = aligned_empty((n, len(columns)), np.float32)
    # the numeric fields lie side by side in each record: copy them as one strided block
    features[:] = np.ndarray(
        (n, len(columns)),
        dtype="<f4",
        buffer=parsed,
        offset=parsed.dtype.fields["c0"][1],
        strides=(parsed.dtype.itemsize, 4),
    )
    # the target is a feature's column, or the one read after them
    at = columns.index(config.target) if config.target in columns else len(columns)
    target = parsed[f"c{at}"].astype(np.float64)
    del parsed
    _refuse_infinite(path, [*columns, config.target], features, target)
    return SeriesTable(
        path=path,
        features=features,
        target=target,
        times=times,
        rows=np.arange(n, dtype=np.int64),
        columns=columns,
        time_format=time_format,
        complete=limit is None or n < limit,
    )


def prepare(table: SeriesTable, config: TimeseriesConfig) -> list[tuple[int, int]]:
    """Order the rows in time, handle missing values, and return the portions' row ranges
    (train, validation, test; train and test under K-fold), each checked to hold a window."""
    if table.times is not None:
        _in_time_order(table, config)
    if config.missing == "drop":
        _drop_missing(table)
    if table.times is not None:
        _report_steps(table)
    bounds = portion_bounds(len(table), config)
    check_fits(config, len(table))
    _fill_missing(table, config, bounds)
    return bounds


def prepare_recent(table: SeriesTable, config: TimeseriesConfig) -> None:
    """Recent rows for a forecast (`dlrun predict`): ordered and filled as in training,
    over the whole file (it is one portion)."""
    if table.times is not None:
        _in_time_order(table, config)
    if config.missing == "drop":
        _drop_missing(table)
    _fill_missing(table, config, [(0, len(table))])
    table.features = aligned(table.features)


def portion_bounds(n: int, config: TimeseriesConfig) -> list[tuple[int, int]]:
    """Row ranges [lo, hi) of train, validation and test; under K-fold, of the rows the
    folds walk over (train and validation together) and test."""
    n_train = int(n * config.split.train)
    n_val = int(n * config.split.validation)
    if config.validation.kfold is not None:
        return [(0, n_train + n_val), (n_train + n_val, n)]
    return [(0, n_train), (n_train, n_train + n_val), (n_train + n_val, n)]


def check_fits(config: TimeseriesConfig, n: int) -> None:
    """Every portion (and every walk-forward fold) must hold at least one window."""
    if n == 0:
        raise DataError(f"{config.path} has no data rows under its header.")
    bounds = portion_bounds(n, config)
    names = (
        ["training", "test"]
        if config.validation.kfold is not None
        else ["training", "validation", "test"]
    )
    keys = {"training": "train", "validation": "validation"}
    need = config.needs
    for name, (lo, hi) in zip(names, bounds, strict=True):
        if hi - lo < need:
            share = (
                f"data.split.{keys[name]} {getattr(config.split, keys[name]):g}"
                if name in keys
                else "the rest"
            )
            raise DataError(
                f"a window and its target need {need} rows (data.lookback {config.lookback}"
                f"{f', sampled every {config.sampling}' if config.sampling > 1 else ''} and "
                f"data.horizon {config.horizon}), but the {name} portion has {hi - lo} "
                f"({share} of {n} rows): no {name} window fits.",
                hint=f"Give the {name} portion a larger share in data.split, or shorten "
                "data.lookback or data.horizon.",
            )
    k = config.validation.kfold
    if k is not None and (bounds[0][1] - bounds[0][0]) // (k + 1) < need:
        rows = bounds[0][1] - bounds[0][0]
        raise DataError(
            f"data.validation.kfold {k} cuts the {rows} rows before the test portion into "
            f"{k + 1} walk-forward chunks of about {rows // (k + 1)} rows, fewer than the "
            f"{need} a window and its target need.",
            hint="Use fewer folds, or shorten data.lookback or data.horizon.",
        )


def check_variation(
    features: np.ndarray,
    target: np.ndarray,
    columns: list[str],
    target_name: str,
    lo: int,
    hi: int,
) -> None:
    """Refuse a column that is constant over the training rows [lo, hi): standardizing it
    divides by a standard deviation of 0, and a constant target has nothing to forecast."""
    rows = features[lo:hi]
    constant = np.flatnonzero(rows.max(axis=0) == rows.min(axis=0)) if len(rows) else []
    if len(constant):
        name = columns[int(constant[0])]
        if name != target_name:
            listed = ", ".join(c for c in columns if c != name)
            raise DataError(
                f"column '{name}' is constant over the training rows (every value is "
                f"{rows[0, constant[0]]:g}): normalizing it divides by a standard deviation "
                "of 0, and it tells the model nothing.",
                hint=f"Drop it with data.drop: [{name}], or list data.features: [{listed}].",
            )
    span = target[lo:hi]
    if len(span) and span.max() == span.min():
        raise DataError(
            f"the target '{target_name}' is constant over the training rows (every value is "
            f"{span[0]:g}): there is nothing to forecast.",
            hint="Check data.target and data.split.",
        )


def count_rows(path: Path) -> int:
    """About how many data rows lie under the header, counted without parsing (blank
    lines split across two blocks are counted as rows)."""
    lines = blank = 0
    tail = b"\n"
    with path.open("rb") as fp:
        for block in iter(lambda: fp.read(1 << 24), b""):
            lines += block.count(b"\n")
            blank += block.count(b"\n\n")
            tail = block[-1:]
    lines += tail != b"\n"  # a last line without its newline
    return max(lines - blank - 1, 0)


@dataclass
class Windows:
    """Windows over one series: window i is `steps` rows from `starts[i]`, every `sampling`-th,
    and its target the target column `horizon` rows after its last.

    Every split's windows share the series (float32, features in their units, aligned so
    TensorFlow reads it without a copy); `take` picks windows by index, so no window is
    ever materialized outside a batch. `mean` and `std` are the normalization the
    representation applies per batch (None until fitted).
    """

    series: np.ndarray  # (rows, features) float32
    target: np.ndarray  # (rows,) float64, the target column in its units
    times: np.ndarray | None  # (rows,) datetime64[s]
    starts: np.ndarray  # (windows,) int64
    steps: int
    sampling: int
    horizon: int
    change: bool  # targets are the change since the window's last row
    offset: float  # predict value: the training mean, subtracted from the targets
    time_format: str | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    representation: ClassVar[str] = "series"

    def __len__(self) -> int:
        return len(self.starts)

    def take(self, index: np.ndarray) -> Windows:
        return replace(self, starts=self.starts[np.asarray(index, dtype=np.int64)])

    @property
    def span(self) -> int:
        """Rows from a window's first to its last."""
        return (self.steps - 1) * self.sampling + 1

    @property
    def last_rows(self) -> np.ndarray:
        return self.starts + self.span - 1

    @property
    def target_rows(self) -> np.ndarray:
        return self.last_rows + self.horizon

    def rows(self) -> tuple[int, int]:
        """[lo, hi): the rows the windows and their targets cover."""
        if not len(self):
            return 0, 0
        return int(self.starts.min()), int(self.target_rows.max()) + 1

    def through(self, later: Windows) -> Windows:
        """Every window from this one's first start to `later`'s last (same series)."""
        return replace(self, starts=np.arange(int(self.starts.min()), int(later.starts.max()) + 1))

    def labels(self) -> np.ndarray:
        """What the model learns to forecast, in the target's units."""
        return self.target[self.target_rows] - self._reference()

    def persistence(self) -> np.ndarray:
        """The book's common sense, as `labels` are: the target at the horizon equals the
        target at the window's last row."""
        return self.target[self.last_rows] - self._reference()

    def seasonal(self, season: int) -> np.ndarray:
        """Seasonal naive, as `labels` are: the target a whole number of seasons before
        the target row, the latest such value known at the window's last row (NaN for a
        window whose series starts less than that before)."""
        earlier = self.target_rows - math.ceil(self.horizon / season) * season
        known = np.where(earlier >= 0, self.target[np.maximum(earlier, 0)], np.nan)
        return known - self._reference()

    def _reference(self) -> np.ndarray | float:
        return self.target[self.last_rows] if self.change else self.offset


def walk_forward(windows: Windows, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Walk-forward (expanding window) folds: the rows are cut into k + 1 chunks in time
    order; fold i trains on the windows of chunks 1..i and validates on those inside
    chunk i + 1. No window (target included) crosses a chunk boundary.

    Example:

    ```python
    folds = walk_forward(raw.train.x, 3)     # [(fit_index, val_index), ...], 3 folds
    ```
    """
    lo, hi = windows.rows()
    edges = [lo + (hi - lo) * j // (k + 1) for j in range(k + 2)]
    starts, ends = windows.starts, windows.target_rows
    folds = []
    for i in range(1, k + 1):
        fit = np.flatnonzero(ends < edges[i])
        val = np.flatnonzero((starts >= edges[i]) & (ends < edges[i + 1]))
        if not len(fit) or not len(val):
            raise DataError(
                f"data.validation.kfold {k}: walk-forward fold {i} has no "
                f"{'training' if not len(fit) else 'validation'} window (the {hi - lo} rows "
                f"cut into {k + 1} chunks of about {(hi - lo) // (k + 1)}).",
                hint="Use fewer folds, or shorten data.lookback or data.horizon.",
            )
        folds.append((fit, val))
    return folds


def series_source(config: TimeseriesConfig) -> RawData:
    table = read_table(config)
    bounds = prepare(table, config)
    return windows_data(table, bounds, config)


def windows_data(
    table: SeriesTable, bounds: list[tuple[int, int]], config: TimeseriesConfig
) -> RawData:
    """One `Windows` split per portion of rows, all over the same series."""
    lo, hi = bounds[0]
    offset = 0.0 if config.predict == "change" else float(table.target[lo:hi].mean())
    base = Windows(
        series=aligned(table.features),
        target=table.target,
        times=table.times,
        starts=np.zeros(0, dtype=np.int64),
        steps=config.steps,
        sampling=config.sampling,
        horizon=config.horizon,
        change=config.predict == "change",
        offset=offset,
        time_format=table.time_format,
    )
    splits = []
    for lo, hi in bounds:
        windows = replace(base, starts=np.arange(lo, hi - config.needs + 1, dtype=np.int64))
        splits.append(Split(windows, windows.labels().astype(np.float32)))
    return RawData(
        train=splits[0],
        validation=splits[1] if len(splits) == 3 else None,
        test=splits[-1],
        kind="series",
        feature_names=table.columns,
    )


def _in_time_order(table: SeriesTable, config: TimeseriesConfig) -> None:
    assert table.times is not None
    steps = np.diff(table.times).astype(np.int64)
    back = np.flatnonzero(steps < 0)
    if len(back):
        row = int(back[0]) + 1
        if config.strict_time:
            raise DataError(
                f"{table.path}: the rows are not in time order: {table.where(row)} "
                f"({format_time(table.times[row], table.time_format)}) is earlier than the "
                f"row before it ({format_time(table.times[row - 1], table.time_format)}).",
                hint="Sort the file by time, or remove data.strict_time to let dlrun sort it.",
            )
        warnings.warn(
            f"{table.path}: the rows are not in time order ({table.where(row)} is earlier "
            f"than the row before it); sorted them by '{config.time_column}'.",
            DataWarning,
            stacklevel=3,
        )
        table.keep(np.argsort(table.times, kind="stable"))
        steps = np.diff(table.times).astype(np.int64)
    repeated = np.flatnonzero(steps == 0)
    if len(repeated):
        row = int(repeated[0]) + 1
        what = (
            f"{table.path}: {len(repeated)} row{'s' if len(repeated) > 1 else ''} repeat the "
            f"time of the row before, the first {table.where(row)} "
            f"({format_time(table.times[row], table.time_format)})"
        )
        if config.strict_time:
            raise DataError(
                f"{what}.", hint="Remove the repeated rows, or remove data.strict_time."
            )
        warnings.warn(f"{what}; kept in file order.", DataWarning, stacklevel=3)


def _report_steps(table: SeriesTable) -> None:
    """Warn of gaps (steps longer than the usual one) and of shorter steps."""
    assert table.times is not None
    step = time_steps(table.times, table.time_format)
    moving = step[step > 0]
    if not len(moving):
        return
    usual = int(np.median(moving))
    longer, shorter = np.flatnonzero(step > usual), np.flatnonzero((step > 0) & (step < usual))
    if not len(longer) and not len(shorter):
        return
    parts = []
    if len(longer):
        widest = int(longer[np.argmax(step[longer])])
        parts.append(
            f"{len(longer)} gap{'s' if len(longer) > 1 else ''} (steps longer than the usual "
            f"{step_text(usual, table.time_format)}), the largest "
            f"{step_text(int(step[widest]), table.time_format)} after "
            f"{format_time(table.times[widest], table.time_format)}"
        )
    if len(shorter):
        parts.append(f"{len(shorter)} step{'s' if len(shorter) > 1 else ''} shorter than usual")
    warnings.warn(
        f"{table.path}: {' and '.join(parts)}. Windows take rows as evenly spaced.",
        DataWarning,
        stacklevel=3,
    )


def _missing(table: SeriesTable) -> np.ndarray:
    """(rows, columns) mask of missing values, the target last when it is no feature."""
    columns = [np.isnan(table.features)]
    return np.concatenate([*columns, np.isnan(table.target)[:, None]], axis=1)


def _drop_missing(table: SeriesTable) -> None:
    gone = _missing(table).any(axis=1)
    if gone.any():
        table.keep(np.flatnonzero(~gone))
        warnings.warn(
            f"{table.path}: dropped {int(gone.sum())} rows with missing values "
            "(data.missing: drop).",
            DataWarning,
            stacklevel=3,
        )


def _fill_missing(
    table: SeriesTable, config: TimeseriesConfig, bounds: list[tuple[int, int]]
) -> None:
    mask = _missing(table)
    if not mask.any():
        return
    names = [*table.columns, config.target]
    counts = {names[j]: int(mask[:, j].sum()) for j in np.flatnonzero(mask.any(axis=0))}
    if config.missing == "error":
        row, column = (int(i) for i in np.argwhere(mask)[0])
        raise DataError(
            f"{table.path}: column '{names[column]}' has no value in {table.where(row)} "
            f"({sum(counts.values())} missing values in all).",
            hint="Set data.missing: interpolate, ffill or drop.",
        )
    position = (
        table.times.astype(np.int64).astype(np.float64)
        if table.times is not None
        else np.arange(len(table), dtype=np.float64)
    )
    columns = [table.features[:, j] for j in range(table.features.shape[1])] + [table.target]
    for name, values in zip(names, columns, strict=True):
        if name not in counts:
            continue
        for lo, hi in bounds if config.missing == "interpolate" else [(0, len(table))]:
            _fill(values[lo:hi], position[lo:hi], config.missing, name, table)
    listed = ", ".join(f"{n} in '{c}'" for c, n in counts.items())
    how = (
        "interpolated linearly in time within each portion"
        if config.missing == "interpolate"
        else "filled with the last value before each"
    )
    warnings.warn(f"{table.path}: missing values ({listed}), {how}.", DataWarning, stacklevel=3)


def _fill(
    values: np.ndarray, position: np.ndarray, how: str, name: str, table: SeriesTable
) -> None:
    """Fill NaNs in place: linear interpolation, or the last value before (the first
    present value for a leading run)."""
    gone = np.isnan(values)
    if not gone.any():
        return
    if gone.all():
        raise DataError(
            f"{table.path}: column '{name}' has no value at all in a portion of the rows.",
            hint="Drop the column (data.drop), or set data.missing: drop.",
        )
    present = np.flatnonzero(~gone)
    if how == "interpolate":
        values[gone] = np.interp(position[gone], position[present], values[present])
    else:
        last = np.maximum.accumulate(np.where(gone, 0, np.arange(len(values))))
        last[: present[0]] = present[0]
        values[:] = values[last]


def _header(path: Path, delimiter: str) -> list[str]:
    if not path.is_file():
        raise DataError(f"CSV file not found: {path}", hint="Check data.path.")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fp:
            header = next(csv.reader(fp, delimiter=delimiter), None)
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    if not header:
        raise DataError(f"{path} is empty; a series needs a header row.")
    return header


def _columns(
    header: list[str], config: TimeseriesConfig, path: Path
) -> tuple[int | None, list[str]]:
    """The time column's index and the feature columns, each checked to be in the header."""
    named = [config.target, *config.drop]
    if config.time_column is not None:
        named.append(config.time_column)
    if isinstance(config.features, list):
        named += config.features
    missing = [c for c in named if c not in header]
    if missing:
        raise DataError(
            f"{path} has no column '{missing[0]}' (named in data.target, time_column, "
            f"features or drop). Columns: {', '.join(header)}."
        )
    if isinstance(config.features, list):
        columns = list(dict.fromkeys(config.features))
    else:
        columns = [c for c in header if c != config.time_column and c not in config.drop]
    time_index = header.index(config.time_column) if config.time_column is not None else None
    return time_index, columns


def _time_width(path: Path, delimiter: str, index: int | None) -> int:
    """A bytes width for the time column: its longest value in the first rows, and room."""
    if index is None:
        return 0
    longest = 0
    for _, _, record in _records(path, delimiter, limit=200):
        if index < len(record):
            longest = max(longest, len(record[index].encode()))
    return longest + 8


def _loadtxt(
    path: Path,
    config: TimeseriesConfig,
    usecols: list[int],
    dtype: list[tuple[str, str]],
    limit: int | None,
    numeric: dict[int, str],
) -> np.ndarray:
    """The used columns as a structured array; missing cells (empty, NA, ...) as NaN."""
    options: dict[str, Any] = {
        "delimiter": config.delimiter,
        "skiprows": 1,
        "usecols": usecols,
        "dtype": dtype,
        "quotechar": '"',
        "comments": None,
        "max_rows": limit,
        "ndmin": 1,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # loadtxt's notes on blank lines
        try:
            try:
                return np.loadtxt(path, **options)
            except ValueError as exc:
                if not _missing_cell(exc):
                    raise _bad_cell(path, config, numeric) from None
            # Only files with missing cells pay for this second, slower read.
            text = _missing_as_nan(path.read_bytes(), config.delimiter.encode())
            try:
                return np.loadtxt(io.BytesIO(text), **options)
            except ValueError:
                raise _bad_cell(path, config, numeric) from None
        except UnicodeDecodeError as exc:
            raise not_utf8(path, exc) from None


_CANNOT_CONVERT = re.compile(r"could not convert string '(.*)' to")
_MARKERS = "|".join(re.escape(m) for m in sorted(MISSING - {"", "nan"}, key=len, reverse=True))


def _missing_cell(error: ValueError) -> bool:
    found = _CANNOT_CONVERT.search(str(error))
    return found is not None and found.group(1).strip().lower() in MISSING


def _missing_as_nan(data: bytes, sep: bytes) -> bytes:
    """The file with every missing cell written `nan`, which loadtxt reads as NaN."""
    data = data.replace(b"\r\n", b"\n")
    text_markers = re.compile(
        rb"(?<![^"
        + re.escape(sep)
        + rb"\n])[ \t]*(?:"
        + _MARKERS.encode()
        + rb")[ \t]*(?=["
        + re.escape(sep)
        + rb"\n]|$)",
        re.IGNORECASE,
    )
    data = text_markers.sub(b"nan", data)
    for _ in range(2):  # ",,," needs two passes: the matches overlap
        data = data.replace(sep + sep, sep + b"nan" + sep)
    data = data.replace(sep + b"\n", sep + b"nan\n").replace(b"\n" + sep, b"\nnan" + sep)
    return data + b"nan" if data.endswith(sep) else data


def _bad_cell(path: Path, config: TimeseriesConfig, numeric: dict[int, str]) -> DataError:
    """The error for the first cell loadtxt could not read, found by reading row by row."""
    width = None
    for row, line, record in _records(path, config.delimiter):
        if width is None:
            width = len(record)
            continue
        if len(record) != width:
            return DataError(
                f"{path}: line {line} has {len(record)} fields, the header has {width}.",
                hint="Check data.delimiter and quoting.",
            )
        for index, name in numeric.items():
            value = record[index]
            if value.strip().lower() in MISSING:
                continue
            try:
                float(value)
            except ValueError:
                return _not_numeric(path, name, value, f"data row {row} (line {line})", config)
    return DataError(f"{path} could not be read as a table of numbers.")


def _not_numeric(
    path: Path, name: str, value: str, where: str, config: TimeseriesConfig
) -> DataError:
    if name == config.target:
        return DataError(
            f"{path}: the target column '{name}' holds '{value[:40]}' in {where}, which is "
            "not a number: a series forecasts numbers.",
            hint="Fix that value (an empty cell counts as missing, see data.missing), or "
            "choose a numeric data.target.",
        )
    return DataError(
        f"{path}: column '{name}' holds '{value[:40]}' in {where}, which is not a number; "
        "a window holds numbers only.",
        hint=f"Drop the column with data.drop: [{name}], or list data.features without it.",
    )


def _refuse_infinite(
    path: Path, names: list[str], features: np.ndarray, target: np.ndarray
) -> None:
    """Refuse an infinite value, or one too large for float32 (it reads as infinite)."""
    infinite = np.isinf(features)
    bad = np.argwhere(infinite) if infinite.any() else np.argwhere(np.isinf(target)[:, None])
    if len(bad):
        row, column = int(bad[0][0]), int(bad[0][1]) if infinite.any() else len(names) - 1
        raise DataError(
            f"{path}: column '{names[column]}' holds a value that is not a finite float32 "
            f"number in {_where(path, row)}.",
            hint="Fix or remove that value, rescale the column, or drop it (data.drop).",
        )


def _records(
    path: Path, delimiter: str, limit: int | None = None
) -> Iterator[tuple[int, int, list[str]]]:
    """(data row number, line number, fields) of the header (row 0) and each non-blank row."""
    with path.open(newline="", encoding="utf-8-sig") as fp:
        reader = csv.reader(fp, delimiter=delimiter)
        row = 0
        for record in reader:
            if not record or not "".join(record).strip():
                continue
            yield row, reader.line_num, record
            row += 1
            if limit is not None and row > limit:
                return


def _where(path: Path, row: int) -> str:
    """'data row N (line L)' for a 0-based data row, as loadtxt counts rows (blank lines
    skipped); only error messages ask, so the file is read again for it."""
    with path.open(encoding="utf-8-sig", errors="replace") as fp:
        rows = (line for line, text in enumerate(fp, start=1) if text.strip())
        next(rows, None)  # the header
        for number, line in enumerate(rows):
            if number == row:
                return f"data row {row + 1} (line {line})"
    return f"data row {row + 1}"
