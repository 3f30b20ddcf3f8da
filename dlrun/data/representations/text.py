"""`text`: raw strings, vectorized by a Keras `TextVectorization` layer (book ch. 11, 2nd ed.).

`fit` adapts the layer on the training portion only, so a word seen only in the
validation or test split is out of vocabulary; the vocabulary (and the tf-idf weights)
are the state saved with the run, from which `apply` rebuilds the same layer.

- `output: int` gives ordered token ids padded or cut to `sequence_length` (int32
  arrays; ids are the vocabulary's indices, 0 pads, 1 is out of vocabulary);
- `multi_hot`, `count` and `tf_idf` give one sparse vector per text, vectorized once
  and kept as CSR rows (`WeightedRows`): each batch becomes a `tf.SparseTensor`, so no
  dense texts x vocabulary matrix ever exists. tf-idf is count x idf, as Keras computes
  it (its sparse tf_idf output fails in Keras 3.15, so the counts are weighted here).

New inputs for `predict` are a text file with one text per line. Adapting and
vectorizing show their progress a chunk of texts at a time (`dlrun.console.progress`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.console import Step, progress
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
    sparse_batches,
)
from dlrun.data.splits import RawData, Split
from dlrun.errors import DataError

# texts vectorized per call: bounds the memory of one dense int chunk or sparse batch
_CHUNK = 2048


@dataclass
class WeightedRows:
    """Sparse rows in CSR layout: row i has `weights[a:b]` at columns `values[a:b]`."""

    representation: ClassVar[str] = "text"

    values: np.ndarray
    weights: np.ndarray
    row_splits: np.ndarray
    width: int

    def __len__(self) -> int:
        return len(self.row_splits) - 1

    def take(self, index: np.ndarray) -> WeightedRows:
        index = np.asarray(index, dtype=np.int64)
        lengths = np.diff(self.row_splits)[index]
        row_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        positions = np.arange(row_splits[-1]) + np.repeat(
            self.row_splits[:-1][index] - row_splits[:-1], lengths
        )
        return WeightedRows(self.values[positions], self.weights[positions], row_splits, self.width)

    def to_dense(self) -> np.ndarray:
        """texts x vocabulary; only for small data (tests)."""
        out = np.zeros((len(self), self.width), dtype=np.float32)
        out[np.repeat(np.arange(len(self)), np.diff(self.row_splits)), self.values] = self.weights
        return out


class RawText(Representation):
    name = "text"
    what = "raw text"
    state_keys = {
        "output": one_of("int", "multi_hot", "count", "tf_idf"),
        "max_tokens": nullable(INTEGER),
        "ngrams": INTEGER,
        "sequence_length": nullable(INTEGER),
        "standardize": nullable(TEXT),
        "vocabulary": list_of(TEXT, "strings"),
        "idf": absent_or(list_of(NUMBER, "numbers")),
    }

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        keys = data.text  # type: ignore[attr-defined] - every text source has `text`
        state: dict[str, Any] = {
            "output": keys.output,
            "max_tokens": keys.max_tokens,
            "ngrams": keys.ngrams,
            "sequence_length": keys.sequence_length,
            "standardize": keys.standardize,
        }

        layer = vectorizer(state, "tf_idf" if keys.output == "tf_idf" else None)
        # adapt takes any iterable of batches (Keras >= 3): the chunks count what it took
        with progress("adapting the vectorizer", len(train.x), "texts") as step:
            layer.adapt(_chunks(train.x, step))
        vocabulary = [str(t) for t in layer.get_vocabulary(include_special_tokens=False)]
        if not vocabulary:
            raise DataError("the training texts hold no tokens to build a vocabulary from.")
        state["vocabulary"] = vocabulary
        if keys.output == "tf_idf":
            idf = np.asarray(layer._lookup_layer.idf_weights, dtype=np.float64)
            state["idf"] = idf.tolist()  # index = column, the out-of-vocabulary one first
        return state

    def apply(self, x: Any, state: dict[str, Any]) -> Any:
        with progress("vectorizing", len(x), "texts") as step:
            if state["output"] == "int":
                layer = _in_graph(vectorizer(state))
                parts = [np.asarray(layer(texts)) for texts in _chunks(x, step)]
                width = state["sequence_length"]
                return np.concatenate(parts).astype(np.int32) if parts else np.zeros((0, width))
            mode = "multi_hot" if state["output"] == "multi_hot" else "count"
            layer = _in_graph(vectorizer(state, mode, True), sparse=True)
            rows = [_csr(layer(texts[:, None])) for texts in _chunks(x, step)]
        values = np.concatenate([r[0] for r in rows]) if rows else np.zeros(0, np.int64)
        weights = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0, np.float32)
        lengths = np.concatenate([r[2] for r in rows]) if rows else np.zeros(0, np.int64)
        if state["output"] == "tf_idf":
            weights = weights * np.asarray(state["idf"], dtype=np.float32)[values]
        row_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return WeightedRows(values, weights.astype(np.float32), row_splits, _width(state))

    def input_spec(self, x: Any, state: dict[str, Any]) -> InputSpec:
        if state["output"] == "int":
            # ids index the vocabulary after the padding and out-of-vocabulary ids
            return InputSpec(
                shape=(state["sequence_length"],),
                dtype="int32",
                vocabulary=len(state["vocabulary"]) + 2,
                tokens=("", "[UNK]", *state["vocabulary"]),
            )
        return InputSpec(shape=(_width(state),), sparse=True)

    def batches(self, x: Any) -> Callable[[Any], Any]:
        if isinstance(x, np.ndarray):
            return super().batches(x)
        return sparse_batches(x.values, x.row_splits, x.width, x.weights)

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> np.ndarray:
        self.refuse_arrays(path, "a text file with one text per line")
        return text_lines(path.read_text(encoding="utf-8").splitlines())


def text_lines(lines: list[str]) -> np.ndarray:
    """Texts as the representation takes them: an object array, trailing blank lines cut."""
    while lines and not lines[-1].strip():
        lines.pop()
    out = np.empty(len(lines), dtype=object)
    out[:] = lines
    return out


def _chunks(x: Any, step: Step) -> Iterator[Any]:
    """The texts `_CHUNK` at a time as string tensors; each chunk is counted done by `step`
    when the next is asked for, that is once its consumer is through with it."""
    for start in range(0, len(x), _CHUNK):
        yield _strings(x, start, start + _CHUNK)
        step(min(_CHUNK, len(x) - start))


def _strings(x: Any, start: int, stop: int) -> Any:
    """Texts `start:stop` as a string tensor. Not via a numpy str array: its fixed width is
    the longest text's, which made 20,000 reviews take a gigabyte."""
    import tensorflow as tf

    return tf.constant([str(t) for t in x[start:stop]], tf.string)


def _width(state: dict[str, Any]) -> int:
    return len(state["vocabulary"]) + 1  # the out-of-vocabulary column comes first


def vectorizer(state: dict[str, Any], mode: str | None = None, sparse: bool = False) -> Any:
    """The TextVectorization layer of `state`, in `mode` (default: the state's output);
    with the state's vocabulary when it has one, else ready to adapt.

    A tf_idf state's layer is used in count mode, then weighted by `state["idf"]`
    (`apply`, and the exported string model), which is what Keras's tf_idf computes.
    Keras makes `sparse` layers on the TensorFlow backend only: elsewhere the layer is
    dense and `_in_graph` makes its chunks sparse (2,048 texts x 20,000 words is 164 MB
    of float32 for the moment it takes).
    """
    import keras

    sparse = sparse and keras.backend.backend() == "tensorflow"
    mode = mode or state["output"]
    layer = keras.layers.TextVectorization(
        max_tokens=state["max_tokens"],
        standardize=state["standardize"],
        ngrams=state["ngrams"] if state["ngrams"] > 1 else None,
        output_mode=mode,
        output_sequence_length=state["sequence_length"] if mode == "int" else None,
        sparse=sparse,
    )
    if "vocabulary" in state:
        layer.set_vocabulary(state["vocabulary"])
    return layer


def _in_graph(layer: Any, sparse: bool = False) -> Any:
    """`layer` called inside a TensorFlow graph: TextVectorization then returns TensorFlow
    tensors on every Keras backend, where eagerly it converts them to the backend's (and
    PyTorch has no sparse tensors). `sparse`: a sparse result, from a dense layer if need
    be (`vectorizer`)."""
    import tensorflow as tf

    if sparse and not layer.get_config()["sparse"]:
        return tf.function(lambda texts: tf.sparse.from_dense(layer(texts)), reduce_retracing=True)
    return tf.function(layer, reduce_retracing=True)


def _csr(batch: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(columns, weights, entries per row) of one sparse batch, rows in order."""
    indices = np.asarray(batch.indices)
    rows, n = indices[:, 0], int(batch.dense_shape[0])
    order = np.lexsort((indices[:, 1], rows))
    lengths = np.bincount(rows, minlength=n)
    return indices[order, 1], np.asarray(batch.values, dtype=np.float32)[order], lengths
