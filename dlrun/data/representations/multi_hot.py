"""`multi_hot`: sparse multi-hot token sets (the book's IMDB and Reuters vectorization).

The sets stay in CSR layout (`Sequences`) and each batch becomes a `tf.SparseTensor`
on the fly, so IMDB never exists as a dense 25,000 x 10,000 float matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from dlrun.config.schema import DataSection
from dlrun.data.inputs import InputSpec
from dlrun.data.representations.base import INTEGER, Representation, sparse_batches
from dlrun.data.representations.tokens import TOKEN_FILE, read_token_lines
from dlrun.data.splits import RawData, Sequences, Split
from dlrun.errors import DataError


class MultiHot(Representation):
    name = "multi_hot"
    what = "token sequences"
    state_keys = {"num_words": INTEGER}

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        assert isinstance(train.x, Sequences)
        return {"num_words": train.x.num_words}

    def apply(self, x: Any, state: dict[str, Any]) -> Sequences:
        if not isinstance(x, Sequences):
            raise DataError(f"this run was trained on {self.what}; the new data is not.")
        return x.with_vocabulary(state["num_words"])

    def input_spec(self, x: Any, state: dict[str, Any]) -> InputSpec:
        return InputSpec(shape=(state["num_words"],), sparse=True)

    def batches(self, x: Sequences) -> Callable[[Any], Any]:
        return sparse_batches(x.values, x.row_splits, x.num_words)

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> Sequences:
        self.refuse_arrays(path, TOKEN_FILE)
        return Sequences.from_lists(read_token_lines(path), num_words=int(state["num_words"]))
