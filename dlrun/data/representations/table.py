"""`table`: CSV rows of raw strings, encoded column by column (`dlrun.data.tabular`).

Numeric columns get their training median for missing values and are standardized;
categorical columns are one-hot over the categories seen in training. New data is read
from a CSV whose header names the training columns, in any order, a chunk of rows at a
time (`read_chunks`), so a file of millions of rows is never held whole.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.representations.base import (
    MAPPING,
    NUMBER,
    TEXT,
    Check,
    Misfits,
    Representation,
    key_problem,
    list_of,
    one_of,
)
from dlrun.data.splits import RawData, Split
from dlrun.data.tabular import MISSING, fit_table, transform_table
from dlrun.errors import DataError

_COLUMN: dict[str, Check] = {"name": TEXT, "type": one_of("numeric", "categorical")}
_NUMERIC = {**_COLUMN, "fill": NUMBER, "mean": NUMBER, "std": NUMBER}
_CATEGORICAL = {**_COLUMN, "fill": TEXT, "categories": list_of(TEXT, "strings")}


class Table(Representation):
    name = "table"
    what = "a CSV table"
    state_keys = {"columns": list_of(MAPPING, "column objects")}

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        return fit_table(
            np.asarray(train.x), raw.feature_names or [], getattr(data, "categorical", None)
        )

    def apply(self, x: Any, state: dict[str, Any]) -> np.ndarray:
        return transform_table(np.asarray(x), state)

    def state_problem(self, state: dict[str, Any]) -> str | None:
        problem = super().state_problem(state)
        for number, spec in enumerate([] if problem else state["columns"], start=1):
            keys = _NUMERIC if spec.get("type") == "numeric" else _CATEGORICAL
            if column_problem := key_problem(spec, keys):
                return f"column {number} of 'columns': {column_problem}"
        return problem

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> np.ndarray:
        return next(self.read_chunks(path, state, data, rows=0))

    def read_chunks(
        self, path: Path, state: dict[str, Any], data: DataSection, rows: int
    ) -> Iterator[np.ndarray]:
        """The training columns of `path`, `rows` rows at a time (0: all at once). Blank
        lines are skipped, as in training."""
        self.refuse_arrays(path, "a CSV file")
        wanted = [spec["name"] for spec in state["columns"]]
        # utf-8-sig, as in training: a spreadsheet's byte-order mark is not part of a name
        with path.open(newline="", encoding="utf-8-sig") as fp:
            reader = csv.reader(fp, delimiter=getattr(data, "delimiter", ","))
            header = next((row for row in reader if row), [])
            missing = [name for name in wanted if name not in header]
            if header and missing:
                raise DataError(
                    f"{path} lacks the column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(repr(m) for m in missing)} the run was trained on.",
                    hint=f"Needed columns: {', '.join(wanted)}.",
                )
            index = [header.index(name) for name in wanted] if header else []
            chunk: list[list[str]] = []
            given = False
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataError(
                        f"{path}: line {reader.line_num} has a different number of fields than "
                        f"the header ({len(header)}).",
                        hint="Check the delimiter and quoting.",
                    )
                chunk.append([row[i] for i in index])
                if len(chunk) == rows:
                    yield np.array(chunk, dtype=object)
                    chunk, given = [], True
            if chunk:
                yield np.array(chunk, dtype=object)
            elif not given:
                raise DataError(f"{path} has no data rows under its header.")

    def misfits(self, x: Any, state: dict[str, Any], first_row: int, path: Path) -> Misfits:
        """Unseen categories and empty cells, counted; a number that is not finite, or text in
        a numeric column, is a DataError naming its data row (`first_row` + 1 is x's first)."""
        found = Misfits()
        for j, spec in enumerate(state["columns"]):
            name = spec["name"]
            values = [str(v).strip() for v in np.asarray(x)[:, j]]
            empty = [v.lower() in MISSING for v in values]
            if any(empty):
                found.empty[name] = sum(empty)
                fill = spec["fill"]
                found.fills[name] = (
                    f"the training median, {fill:g}"
                    if spec["type"] == "numeric"
                    else f"the most frequent training value, {fill!r}"
                )
            present = [(i, v) for i, (v, e) in enumerate(zip(values, empty, strict=True)) if not e]
            if spec["type"] == "numeric":
                for i, value in present:
                    _finite_number(value, name, first_row + i + 1, path)
                continue
            known = set(spec["categories"])
            unseen = Counter(v for _, v in present if v not in known)
            if unseen:
                found.unseen[name] = unseen
                found.known[name] = spec["categories"]
        return found


def _finite_number(value: str, column: str, row: int, path: Path) -> None:
    try:
        number = float(value)
    except ValueError:
        raise DataError(
            f"{path}: column '{column}' holds the text {value!r} in data row {row}, but it "
            "was numeric in training.",
            hint="Give a number there, or leave the cell empty to fill it with the training "
            "median.",
        ) from None
    if not math.isfinite(number):
        raise DataError(
            f"{path}: column '{column}' holds the value {value!r} in data row {row}, which is "
            "not a finite number.",
            hint="Fix or remove that value; an empty cell is filled with the training median.",
        )
