"""`table_text`: CSV rows with one free-text column next to numeric and categorical ones.

The other columns are encoded as a `table` (fills, standardization, one-hot), the text
column as `text` (TextVectorization adapted on the training portion, multi_hot, count or
tf_idf), and each row becomes one sparse vector: the table's values in the first
columns, the text's vector after them. An mlp reads it as it reads multi-hot sets.

Example config:

```yaml
data: {source: csv, path: tickets.csv, target: urgent, text_columns: [body],
       text: {output: tf_idf, ngrams: 2}}
```
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.inputs import InputSpec
from dlrun.data.representations.base import MAPPING, TEXT, Misfits, Representation
from dlrun.data.representations.table import Table
from dlrun.data.representations.text import RawText, WeightedRows
from dlrun.data.splits import RawData, Split


class TableText(Representation):
    name = "table_text"
    what = "a CSV table with a text column"
    state_keys = {"table": MAPPING, "text": MAPPING, "text_column": TEXT}

    def __init__(self) -> None:
        self.table, self.text = Table(), RawText()

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        x = np.asarray(train.x)
        names = raw.feature_names or []
        table_raw = RawData(train, train, kind="table", feature_names=names[:-1])
        return {
            "table": self.table.fit(Split(x[:, :-1], train.y), table_raw, data),
            "text": self.text.fit(Split(x[:, -1], train.y), raw, data),
            "text_column": names[-1],
        }

    def apply(self, x: Any, state: dict[str, Any]) -> WeightedRows:
        x = np.asarray(x)
        table = self.table.apply(x[:, :-1], state["table"])
        text = self.text.apply(x[:, -1], state["text"])
        n, k = table.shape
        lengths = np.diff(text.row_splits) + k
        row_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        # each row: the k table columns first, then the text's entries shifted past them
        text_rows = np.repeat(np.arange(n), np.diff(text.row_splits))
        at = (
            row_splits[:-1][text_rows]
            + k
            + (np.arange(len(text.values)) - text.row_splits[text_rows])
        )
        values = np.empty(row_splits[-1], np.int64)
        weights = np.empty(row_splits[-1], np.float32)
        table_at = (row_splits[:-1][:, None] + np.arange(k)).reshape(-1)
        values[table_at], weights[table_at] = np.tile(np.arange(k), n), table.reshape(-1)
        values[at], weights[at] = text.values + k, text.weights
        return WeightedRows(values, weights, row_splits, k + text.width)

    def input_spec(self, x: Any, state: dict[str, Any]) -> InputSpec:
        return InputSpec(shape=(x.width,), sparse=True)

    def state_problem(self, state: dict[str, Any]) -> str | None:
        if problem := super().state_problem(state):
            return problem
        for part, rep in (("table", self.table), ("text", self.text)):
            if problem := rep.state_problem(state[part]):
                return f"in '{part}', {problem}"
        return None

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> np.ndarray:
        return next(self.read_chunks(path, state, data, rows=0))

    def read_chunks(
        self, path: Path, state: dict[str, Any], data: DataSection, rows: int
    ) -> Iterator[np.ndarray]:
        columns = {"columns": [*state["table"]["columns"], {"name": state["text_column"]}]}
        return self.table.read_chunks(path, columns, data, rows)

    def misfits(self, x: Any, state: dict[str, Any], first_row: int, path: Path) -> Misfits:
        return self.table.misfits(np.asarray(x)[:, :-1], state["table"], first_row, path)
