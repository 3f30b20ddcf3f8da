"""`sequence`: ordered token ids, padded or truncated to `maxlen` (book ch. 6).

As `keras.utils.pad_sequences` does: short sequences are padded with id 0 before
(`padding: pre`) or after, long ones cut at the start (`truncating: pre`) or the end.
Ids outside the vocabulary become the out-of-vocabulary id 2, as Keras's IMDB loader
gives them. The model sees int32 arrays of shape (samples, maxlen).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.inputs import InputSpec
from dlrun.data.representations.base import INTEGER, Representation, one_of
from dlrun.data.representations.tokens import TOKEN_FILE, read_token_lines
from dlrun.data.splits import RawData, Split, TokenLists
from dlrun.errors import DataError


class TokenSequences(Representation):
    name = "sequence"
    what = "ordered token sequences"
    state_keys = {
        "num_words": INTEGER,
        "maxlen": INTEGER,
        "padding": one_of("pre", "post"),
        "truncating": one_of("pre", "post"),
    }

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        assert isinstance(train.x, TokenLists)
        return {
            "num_words": train.x.num_words,
            # every source that gives sequences has these keys (KerasTextConfig, ...)
            "maxlen": int(data.maxlen),  # type: ignore[attr-defined]
            "padding": data.padding,  # type: ignore[attr-defined]
            "truncating": data.truncating,  # type: ignore[attr-defined]
        }

    def apply(self, x: Any, state: dict[str, Any]) -> np.ndarray:
        if not isinstance(x, TokenLists):
            raise DataError(f"this run was trained on {self.what}; the new data is not.")
        return x.padded(
            state["maxlen"], state["padding"], state["truncating"], num_words=state["num_words"]
        )

    def input_spec(self, x: Any, state: dict[str, Any]) -> InputSpec:
        return InputSpec(shape=(state["maxlen"],), dtype="int32", vocabulary=state["num_words"])

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> TokenLists:
        self.refuse_arrays(path, TOKEN_FILE)
        return TokenLists.from_lists(read_token_lines(path), num_words=int(state["num_words"]))
