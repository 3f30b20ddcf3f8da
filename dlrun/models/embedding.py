"""The token embedding the sequence kinds (embedding_bag, conv1d, rnn) start from.

`model.embedding` turns each token id into a vector of `dim` numbers, learned from scratch
or started from pretrained word vectors: `weights` names a GloVe-format text file, one word
and its `dim` numbers per line (`the 0.418 0.24968 ...`). The `count dim` first line of
word2vec / fastText `.vec` text files is understood too. The data's vocabulary
(`InputSpec.tokens`) puts each word's vector on its id's row; ids whose word the file lacks
(and id 0, padding) start at zero. `dlrun check` reads only the file's first line, for the
dimension; the builder reads the whole file.

Example config:

```yaml
model:
  kind: rnn
  embedding: {dim: 100, weights: glove.6B.100d.txt, trainable: false}
```
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from dlrun.config.schema import Section, Units
from dlrun.data.inputs import InputSpec
from dlrun.errors import ConfigError

DEFAULT_DIM = 32
# A GloVe line is a few kilobytes; a file without a newline this early is not one.
_FIRST_LINE_LIMIT = 1 << 20


class EmbeddingConfig(Section):
    """Token ids to vectors: a Keras Embedding layer, learned or from pretrained vectors."""

    dim: Units = Field(DEFAULT_DIM, description="Size of each token's vector.")
    mask_zero: bool | None = Field(
        None,
        description="Treat id 0 as padding that the layers after the embedding skip; null: "
        "yes for embedding_bag and rnn, no for conv1d (Conv1D layers cannot skip steps).",
    )
    weights: str | None = Field(
        None,
        description="Pretrained word vectors: a GloVe-format text file (word v1 ... vdim per "
        "line) whose dimension is embedding.dim; null learns the vectors from scratch.",
        examples=["glove.6B.100d.txt"],
    )
    trainable: bool = Field(
        True, description="Let training update the vectors; false freezes pretrained ones."
    )

    def describe(self) -> str:
        """'' for the default (learned, 32-d), else e.g. ' + embedding 100 pretrained frozen'."""
        if self.dim == DEFAULT_DIM and self.weights is None and self.trainable:
            return ""
        pretrained = " pretrained" if self.weights is not None else ""
        frozen = "" if self.trainable else " frozen"
        return f" + embedding {self.dim}{pretrained}{frozen}"

    def masks(self, kind_can_mask: bool) -> bool:
        """Whether the embedding masks id 0 in a kind whose layers can (or cannot) skip steps.
        Unset, it follows the kind, so the embedding keys stay valid when a workflow stage
        switches between rnn and conv1d."""
        return kind_can_mask if self.mask_zero is None else self.mask_zero

    def problems(self) -> list[str]:
        """Rules between the embedding's keys."""
        if not self.trainable and self.weights is None:
            return [
                "model.embedding.trainable: false would freeze randomly initialized vectors; "
                "give model.embedding.weights (a GloVe-format file) or set trainable: true."
            ]
        return []

    def input_problems(self) -> list[str]:
        """A missing or unreadable weights file, or one of another dimension than `dim`."""
        if self.weights is None:
            return []
        try:
            file_dim, _ = vector_file_dim(self.weights)
        except ConfigError as exc:
            return [exc.message]
        return [] if file_dim == self.dim else [dim_problem(self.weights, file_dim, self.dim)]


def vector_file_dim(path: str) -> tuple[int, bool]:
    """The vector dimension of a GloVe-format file, read from its first line only, and
    whether that line is a word2vec/fastText `count dim` header; ConfigError if it is neither."""
    file = Path(path)
    where = f"model.embedding.weights {path}"
    if not file.is_file():
        what = "a directory" if file.is_dir() else "not found"
        raise ConfigError(
            f"{where}: {what}; give a GloVe-format text file such as glove.6B.100d.txt "
            "(paths are relative to the directory dlrun runs in), or remove embedding.weights "
            "to learn the vectors from scratch."
        )
    with file.open("rb") as fp:
        fields = fp.readline(_FIRST_LINE_LIMIT).decode("utf-8", errors="replace").split()
    if not fields:
        raise ConfigError(f"{where}: the file is empty; give a GloVe-format text file.")
    if len(fields) == 2 and all(f.isdigit() for f in fields):
        return int(fields[1]), True
    if len(fields) == 1 or not all(_is_number(f) for f in fields[1:]):
        raise ConfigError(
            f"{where}: the first line is not a word followed by numbers; give a GloVe-format "
            "text file (word v1 v2 ... per line; binary word2vec files are not read)."
        )
    return len(fields) - 1, False


def dim_problem(path: str, file_dim: int, dim: int) -> str:
    return (
        f"model.embedding.weights {path} holds {file_dim}-dimensional vectors but "
        f"model.embedding.dim is {dim}; set embedding.dim: {file_dim}, or give a file of "
        f"{dim}-dimensional vectors."
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def embedding_matrix(path: str, tokens: Sequence[str], dim: int) -> np.ndarray:
    """One row per id: the file's vector of the id's token, zeros where the file has none.

    Args:
        path: a GloVe-format text file of `dim`-dimensional vectors.
        tokens: the vocabulary, `tokens[i]` the token of id i; id 0 (padding) stays zero.
        dim: the vector size the embedding is configured with.

    Example:

    ```python
    embedding_matrix("glove.6B.50d.txt", ["", "[UNK]", "the", "movie"], 50).shape  # (4, 50)
    ```
    """
    file_dim, header = vector_file_dim(path)
    if file_dim != dim:
        raise ConfigError(dim_problem(path, file_dim, dim))
    ids = {token: i for i, token in enumerate(tokens) if i > 0}
    matrix = np.zeros((len(tokens), dim), dtype="float32")
    found = 0
    with open(path, encoding="utf-8", errors="replace") as file:
        if header:
            next(file)
        for number, line in enumerate(file, start=2 if header else 1):
            # Most of a GloVe file is words the data never uses: skip them unparsed.
            if line.partition(" ")[0] not in ids:
                continue
            # Split from the right: a few glove.840B words hold spaces themselves.
            word, *values = line.rstrip().rsplit(" ", dim)
            if word not in ids:
                continue
            try:
                matrix[ids[word]] = np.asarray(values, dtype="float32")
            except ValueError:
                raise ConfigError(
                    f"model.embedding.weights {path}, line {number}: not a word and {dim} numbers."
                ) from None
            found += 1
    if not found:
        raise ConfigError(
            f"model.embedding.weights {path} has a vector for none of the data's "
            f"{len(tokens) - 1} tokens.",
            hint="Is it the right file? GloVe's words are lowercase, as TextVectorization "
            "makes the text by default.",
        )
    return matrix


def model_inputs(
    spec: InputSpec, embedding: EmbeddingConfig, kind: str, series: bool, mask_zero: bool
) -> tuple[Any, Any]:
    """The Input of a sequence kind and the tensor its body starts from: the embedded
    token ids (masking id 0 with `mask_zero`), or (when the kind takes `series`) a float
    time-series window as it is."""
    import keras

    if spec.vocabulary is not None and len(spec.shape) == 1:
        inputs = keras.Input(shape=spec.shape, dtype=spec.dtype, name="inputs")
        return inputs, _embed(inputs, embedding, spec, mask_zero)
    if series and len(spec.shape) == 2:
        if embedding.weights is not None:
            raise ConfigError(
                f"model.embedding.weights gives word vectors, but the data are time-series "
                f"windows (steps, features) = {spec.shape}, with no words to embed.",
                hint="Remove model.embedding.weights.",
            )
        inputs = keras.Input(shape=spec.shape, dtype=spec.dtype, name="inputs")
        return inputs, inputs
    wanted = "token sequences (maxlen,)"
    if series:
        wanted += " or time-series windows (steps, features)"
    if len(spec.shape) == 2 and not series:
        hint = "model.kind: conv1d and rnn take time-series windows."
    else:
        hint = (
            "For text, use ordered token ids (data.vectorize: sequence, or data.text.output: "
            "int); model.kind: mlp takes vectors."
        )
    raise ConfigError(
        f"model.kind '{kind}' needs {wanted}; the data gives shape {spec.shape}"
        f"{' (multi-hot token sets)' if spec.sparse else ''}.",
        hint=hint,
    )


def _embed(inputs: Any, config: EmbeddingConfig, spec: InputSpec, mask_zero: bool) -> Any:
    import keras

    weights = None
    if config.weights is not None:
        if spec.tokens is None:
            raise ConfigError(
                "model.embedding.weights needs the data's vocabulary to find each id's word, "
                "and this data gives token ids without their words.",
                hint="Use a source whose vocabulary dlrun builds (raw text), or remove "
                "model.embedding.weights.",
            )
        weights = embedding_matrix(config.weights, spec.tokens, config.dim)
    return keras.layers.Embedding(
        spec.vocabulary,
        config.dim,
        mask_zero=mask_zero,
        weights=weights,
        trainable=config.trainable,
        name="embedding",
    )(inputs)
