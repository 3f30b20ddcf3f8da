"""`table`: CSV rows of raw strings, encoded column by column (`dlrun.data.tabular`).

Numeric columns get their training median for missing values and are standardized;
categorical columns are one-hot over the categories seen in training. New data is read
from a CSV whose header names the training columns, in any order.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.representations.base import Representation
from dlrun.data.splits import RawData, Split
from dlrun.data.tabular import fit_table, transform_table
from dlrun.errors import DataError


class Table(Representation):
    name = "table"
    what = "a CSV table"

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        return fit_table(
            np.asarray(train.x), raw.feature_names or [], getattr(data, "categorical", None)
        )

    def apply(self, x: Any, state: dict[str, Any]) -> np.ndarray:
        return transform_table(np.asarray(x), state)

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> np.ndarray:
        self.refuse_arrays(path, "a CSV file")
        with path.open(newline="", encoding="utf-8") as fp:
            rows = list(csv.reader(fp, delimiter=getattr(data, "delimiter", ",")))
        if len(rows) < 2:
            raise DataError(f"{path} has no data rows under its header.")
        header, body = rows[0], rows[1:]
        wanted = [spec["name"] for spec in state["columns"]]
        missing = [name for name in wanted if name not in header]
        if missing:
            raise DataError(
                f"{path} lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(repr(m) for m in missing)} the run was trained on.",
                hint=f"Needed columns: {', '.join(wanted)}.",
            )
        bad = [i + 2 for i, row in enumerate(body) if len(row) != len(header)]
        if bad:
            raise DataError(
                f"{path}: line {bad[0]} has a different number of fields than the header."
            )
        index = [header.index(name) for name in wanted]
        return np.array([[row[i] for i in index] for row in body], dtype=object)
