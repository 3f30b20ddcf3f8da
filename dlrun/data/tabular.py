"""CSV tables: their typed config, reading, and the preprocessing fitted on the training
split only.

Numeric columns: missing values filled with the training median, then
standardized with the training mean and std. Categorical columns: missing
values filled with the most frequent training value, then one-hot encoded over
the training categories (an unseen category encodes as all zeros). The fitted
state is a plain dict, saved with the run so evaluate and predict reuse it.

Example:

```python
table = read_csv(CsvConfig(source="csv", path="houses.csv", target="price"))
state = fit_table(table.x[:80], table.columns, categorical=None)
features = transform_table(table.x, state)   # float32, shape (n, n_features)
```
"""

from __future__ import annotations

import csv
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from dlrun.config.schema import DataSection
from dlrun.data.splits import RawData, with_test_split
from dlrun.data.text import TextKeys
from dlrun.errors import DataError, DataWarning
from dlrun.tasks import Labels

MISSING = {"", "na", "nan", "null", "none", "?"}
# `dlrun check` looks at the labels of the first rows only, so it stays fast on big files.
PEEK_ROWS = 10_000
# A categorical column is worth a warning with more than MANY_CATEGORIES distinct values
# when most of its rows are distinct (an id, a name), or with more than TOO_MANY_CATEGORIES.
MANY_CATEGORIES, TOO_MANY_CATEGORIES = 50, 1000
_ZIP_MAGIC = b"PK\x03\x04"
# A table of 1,000,000 columns and 12 rows took 8 minutes, 2.7 GB and a 115 MB
# preprocessing.json: far wider than any table a dense model is meant for.
MAX_COLUMNS = 10_000


class CsvConfig(DataSection):
    """A CSV table with a header row: one column is the target, the others the features.

    Numeric columns are always filled and standardized, categorical ones one-hot encoded,
    with statistics fitted on the training split; a seeded test split is carved from it.
    """

    gives_words: ClassVar[bool] = True

    source: Literal["csv"] = Field(description="A CSV file with a header row.")
    path: str = Field(description="The CSV file.")
    target: str = Field(description="The target column.")
    drop: list[str] = Field(default_factory=list, description="Columns to ignore.")
    categorical: list[str] | None = Field(
        None, description="Columns to one-hot encode (default: the non-numeric ones)."
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="Field delimiter.")
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share held out as the test split.")
    text_columns: list[str] = Field(
        default_factory=list,
        description="A column of free text (a review, a ticket), vectorized as data.text says, "
        "next to the other columns.",
    )
    text: TextKeys = Field(default_factory=TextKeys)
    max_columns: int = Field(
        MAX_COLUMNS,
        ge=1,
        description="Refuse a file with more columns than this, from its header: every "
        "column is read, fitted and recorded in the run's preprocessing.json.",
    )

    @property
    def representation(self) -> str:
        if not self.text_columns:
            return "table"
        return "sequence" if self.text.output == "int" else "multi_hot"

    def problems(self) -> list[str]:
        if len(self.text_columns) > 1:
            return [
                f"data.text_columns names {len(self.text_columns)} columns; one text column is "
                "supported: join the texts into one column in the file."
            ]
        return []

    def describe(self) -> str:
        return f"column '{self.target}' of {self.path}"

    def input_problems(self) -> list[str]:
        path = Path(self.path)
        if not path.is_file():
            what = "a directory" if path.is_dir() else "not found"
            return [f"data.path {path}: {what}; give the CSV file (paths are relative to here)."]
        with path.open("rb") as fp:
            if fp.read(4) == _ZIP_MAGIC:
                return [f"data.path {path} is a zip or .npz archive, not a CSV: use source: npz."]
        try:
            header = next(self._rows(1), None)
        except UnicodeDecodeError as exc:
            return [str(not_utf8(path, exc))]
        if header is None:
            return [f"data.path {path} is empty; a CSV needs a header row."]
        if len(header) > self.max_columns:
            return [
                f"data.path {path} has {len(header):,} columns, more than data.max_columns "
                f"({self.max_columns:,}). Keep the columns that matter in the file, or raise "
                "data.max_columns if the table is meant to be this wide."
            ]
        named = [self.target, *self.drop, *(self.categorical or []), *self.text_columns]
        missing = [c for c in named if c not in header]
        if missing:
            return [
                f"data.path {path} has no column '{missing[0]}' (named in data.target, drop, "
                f"categorical or text_columns). Columns: {', '.join(header)}."
            ]
        others = [c for c in header if c not in (self.target, *self.drop, *self.text_columns)]
        if self.text_columns and self.text.output == "int" and others:
            return [
                f"data.text.output int gives the text column alone to a sequence model, but "
                f"{path} has other feature columns ({', '.join(others)}). Drop them with "
                f"data.drop: [{', '.join(others)}], or use output multi_hot, count or tf_idf, "
                "which puts the text's vector next to them."
            ]
        return self._infinite_values(header)

    def _infinite_values(self, header: list[str]) -> list[str]:
        """A numeric column holding inf among the rows check reads: training would refuse
        it later (`_check_column`), after the run directory was made."""
        skipped = {*self.drop, *self.text_columns, *(self.categorical or [])}
        columns = [i for i, name in enumerate(header) if name not in skipped]
        try:
            # a million cells at most: check stays quick on a wide table
            limit = min(PEEK_ROWS, max(100, 1_000_000 // len(header)))
            rows = [r for r in self._rows(limit + 1) if len(r) == len(header)][1:]
        except (OSError, UnicodeDecodeError, csv.Error):
            return []
        for i in columns:
            values = np.array([row[i] for row in rows], dtype=object)
            numbers = _as_float(values)
            bad = np.flatnonzero(np.isinf(numbers)) if numbers is not None else []
            if len(bad):
                return [
                    f"{self.path}: column '{header[i]}' holds the value '{values[bad[0]]}' in "
                    f"data row {int(bad[0]) + 1}, which is not a finite number. Fix or remove "
                    "that value (a missing value is filled with the training median), or drop "
                    f"the column with data.drop: [{header[i]}]."
                ]
        return []

    def peek_labels(self) -> Labels | None:
        try:
            rows = self._rows(PEEK_ROWS + 1)
            header = next(rows)
            index = header.index(self.target)
            values = [row[index] for row in rows if len(row) == len(header)]
        except (OSError, UnicodeDecodeError, StopIteration, ValueError, csv.Error):
            return None
        values = [v for v in values if not _is_missing(v)]
        if not values:
            return None
        partial = len(values) >= PEEK_ROWS
        numbers = _as_float(np.array(values, dtype=object))
        if numbers is not None and not np.all(np.mod(numbers, 1) == 0):
            return Labels(None, partial=partial)
        distinct = set(numbers.tolist()) if numbers is not None else set(values)
        # the reader encodes two text values as 0 and 1
        binary = len(distinct) == 2 and (numbers is None or distinct == {0.0, 1.0})
        names = tuple(sorted(distinct)) if numbers is None and not partial else None
        return Labels(
            len(distinct), binary=binary, partial=partial, text=numbers is None, names=names
        )

    def _rows(self, limit: int) -> Any:
        with Path(self.path).open(newline="", encoding="utf-8-sig") as fp:
            reader = csv.reader(fp, delimiter=self.delimiter)
            for n, row in enumerate(row for row in reader if row):
                if n >= limit:
                    return
                yield row


def csv_source(config: CsvConfig) -> RawData:
    table = read_csv(config)
    x, kind = table.x, "table"
    if config.text_columns:
        # the text column last: the table part is every column before it
        text = table.columns.index(config.text_columns[0])
        order = [i for i in range(len(table.columns)) if i != text] + [text]
        x, table.columns = x[:, order], [table.columns[i] for i in order]
        kind = "table_text" if len(order) > 1 else "text"
        if kind == "text":
            x = x[:, 0]
    return with_test_split(x, table.y, config.test_fraction, kind, table.class_names, table.columns)


@dataclass
class Table:
    x: np.ndarray  # (n, columns) of str
    y: np.ndarray
    columns: list[str]
    class_names: list[str] | None


def read_csv(config: CsvConfig) -> Table:
    path = Path(config.path)
    if not path.is_file():
        raise DataError(f"CSV file not found: {path}", hint="Check data.path.")
    # utf-8-sig: spreadsheet exports start with a byte-order mark that would otherwise
    # become part of the first column's name. Blank lines (often at the end) are skipped.
    try:
        with path.open(newline="", encoding="utf-8-sig") as fp:
            reader = csv.reader(fp, delimiter=config.delimiter)
            numbered = [(reader.line_num, row) for row in reader if row]
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    if len(numbered) < 2:
        raise DataError(f"{path} has no data rows under its header.")
    header, body = numbered[0][1], [row for _, row in numbered[1:]]
    bad = [line for line, row in numbered[1:] if len(row) != len(header)]
    if bad:
        raise DataError(
            f"{path}: line {bad[0]} has a different number of fields than the header "
            f"({len(header)}).",
            hint="Check data.delimiter and quoting.",
        )
    named = [config.target, *config.drop, *(config.categorical or []), *config.text_columns]
    missing = [c for c in named if c not in header]
    if missing:
        raise DataError(f"{path} has no column '{missing[0]}'. Columns: {', '.join(header)}.")
    data = np.array(body, dtype=object)
    target_index = header.index(config.target)
    keep = [i for i, c in enumerate(header) if i != target_index and c not in config.drop]
    y_raw = data[:, target_index]
    if any(str(v).strip().lower() in MISSING for v in y_raw):
        raise DataError(f"{path}: the target column '{config.target}' has missing values.")
    y, class_names = _encode_target(y_raw)
    lines = [line for line, _ in numbered[1:]]
    for i in keep:
        if header[i] not in config.text_columns:
            _check_column(path, header[i], data[:, i], lines, config.categorical)
    return Table(x=data[:, keep], y=y, columns=[header[i] for i in keep], class_names=class_names)


def _check_column(
    path: Path, name: str, column: np.ndarray, lines: list[int], categorical: list[str] | None
) -> None:
    """Refuse non-finite numbers while rows are in file order (fitting sees a shuffled part),
    and warn of a categorical column that one-hot encoding turns into very many features."""
    numbers = None if categorical is not None and name in categorical else _as_float(column)
    if numbers is None:
        # Text in a column left out of data.categorical is refused by fit_table instead.
        if categorical is None or name in categorical:
            _warn_if_id_like(path, name, column)
        return
    bad = np.flatnonzero(np.isinf(numbers))
    if len(bad):
        row = int(bad[0])
        raise DataError(
            f"{path}: column '{name}' holds the value '{column[row]}' in data row {row + 1} "
            f"(line {lines[row]}), which is not a finite number.",
            hint="Fix or remove that value (a missing value is filled with the training "
            f"median), or drop the column with data.drop: [{name}].",
        )


def _warn_if_id_like(path: Path, name: str, column: np.ndarray) -> None:
    distinct = len({str(v).strip() for v in column if not _is_missing(v)})
    if distinct > max(MANY_CATEGORIES, min(TOO_MANY_CATEGORIES, len(column) // 2)):
        warnings.warn(
            f"{path}: the categorical column '{name}' has {distinct} distinct values in "
            f"{len(column)} rows, so one-hot encoding makes up to {distinct} features of it. "
            "If it identifies rows (an id, a name) rather than describing them, drop it with "
            f"data.drop: [{name}].",
            DataWarning,
            stacklevel=2,
        )


def not_utf8(path: Path, error: UnicodeDecodeError) -> DataError:
    """The error for a text file that is not UTF-8, naming the line of its first bad byte."""
    # A decoding stream counts error.start within its current chunk, not within the file.
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        error = exc
    line = data.count(b"\n", 0, error.start) + 1
    return DataError(
        f"{path} is not UTF-8 text: line {line} has the byte 0x{error.object[error.start]:02x} "
        f"({error.reason}).",
        hint=f"Save it as UTF-8, e.g. iconv -f latin1 -t utf-8 {path} > utf8-{path.name}",
    )


def _encode_target(values: np.ndarray) -> tuple[np.ndarray, list[str] | None]:
    try:
        return np.array([float(v) for v in values], dtype=np.float64), None
    except ValueError:
        names = sorted({str(v) for v in values})
        lookup = {name: i for i, name in enumerate(names)}
        return np.array([lookup[str(v)] for v in values], dtype=np.int64), names


def _is_missing(value: Any) -> bool:
    return str(value).strip().lower() in MISSING


def _as_float(column: np.ndarray) -> np.ndarray | None:
    out = np.empty(len(column), dtype=np.float64)
    for i, value in enumerate(column):
        if _is_missing(value):
            out[i] = np.nan
            continue
        try:
            out[i] = float(value)
        except ValueError:
            return None
    return out


def _numeric_column(
    column: np.ndarray, name: str, categorical: list[str] | None
) -> np.ndarray | None:
    """The column as floats, or None when it is categorical (listed, or holds text)."""
    if categorical is not None and name in categorical:
        return None
    numbers = _as_float(column)
    if numbers is None and categorical is not None:
        raise DataError(
            f"CSV column '{name}' holds text but is not listed in data.categorical.",
            hint=f"Add '{name}' to data.categorical, or drop it with data.drop.",
        )
    if numbers is not None and np.all(np.isnan(numbers)):
        return None
    return numbers


def fit_table(x: np.ndarray, columns: list[str], categorical: list[str] | None) -> dict[str, Any]:
    """Fit fills, category lists and standardization on training rows only."""
    specs = []
    for j, name in enumerate(columns):
        numbers = _numeric_column(x[:, j], name, categorical)
        if numbers is not None:
            present = numbers[~np.isnan(numbers)]
            fill = float(np.median(present)) if len(present) else 0.0
            filled = np.where(np.isnan(numbers), fill, numbers)
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                mean, std = float(filled.mean()), float(filled.std())
            if not (np.isfinite(mean) and np.isfinite(std)):
                raise DataError(
                    f"the values of column '{name}' are too large to standardize (up to "
                    f"{np.abs(present).max():.2g}): their mean or spread overflows.",
                    hint="Rescale the column in the file (other units, or its logarithm), "
                    f"or drop it with data.drop: [{name}].",
                )
            specs.append(
                {
                    "name": name,
                    "type": "numeric",
                    "fill": fill,
                    "mean": mean,
                    "std": std if std > 0 else 1.0,
                }
            )
        else:
            values = [str(v).strip() for v in x[:, j] if not _is_missing(v)]
            counts = Counter(values)
            specs.append(
                {
                    "name": name,
                    "type": "categorical",
                    "fill": counts.most_common(1)[0][0] if counts else "",
                    "categories": sorted(counts),
                }
            )
    return {"kind": "table", "columns": specs}


def transform_table(x: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    """Apply a fitted state to rows of raw strings; returns float32 features."""
    parts = []
    for j, spec in enumerate(state["columns"]):
        column = x[:, j]
        if spec["type"] == "numeric":
            numbers = _as_float(column)
            if numbers is None:
                raise DataError(
                    f"column '{spec['name']}' holds text, but it was numeric in training."
                )
            numbers = np.where(np.isnan(numbers), spec["fill"], numbers)
            parts.append(((numbers - spec["mean"]) / spec["std"])[:, None])
        else:
            lookup = {c: i for i, c in enumerate(spec["categories"])}
            onehot = np.zeros((len(column), len(lookup)), dtype=np.float64)
            for i, value in enumerate(column):
                key = spec["fill"] if _is_missing(value) else str(value).strip()
                if key in lookup:
                    onehot[i, lookup[key]] = 1.0
            parts.append(onehot)
    return np.concatenate(parts, axis=1).astype(np.float32)
