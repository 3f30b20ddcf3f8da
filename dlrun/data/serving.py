"""A CSV table run's preprocessing as Keras preprocessing layers, for its SavedModel.

`TableColumns(state)` turns a dict of raw CSV columns (one string tensor per feature
column, each cell as the CSV holds it) into the rows dlrun's own preprocessing gives
(`dlrun.data.tabular.transform_table`, then a `table_text` run's text column), configured
from the saved state alone, never adapted again:

- numeric: a missing cell (one of `tabular.MISSING`, stripped and lowercased) takes the
  training median, the others are parsed as float64; then a float64 `Normalization`
  with the saved mean, and the saved std squared as its variance;
- categorical: a missing cell takes the most frequent training value; then a
  `StringLookup` over the saved categories, one-hot, without its out-of-vocabulary
  column (an unseen category is all zeros, as in dlrun);
- a `table_text` run's text column: the run's `TextVectorization` (`text.vectorizer`),
  its counts times the saved idf for tf_idf; the text's vector comes after the table's.

TensorFlow ops only: the serving model is written under the tensorflow backend.

Example:

```python
columns = TableColumns(state)
x = columns({"area": tf.constant(["120.5"]), "age": tf.constant([""]),
             "color": tf.constant(["red"])})   # float32, shape (1, n_features)
```
"""

from __future__ import annotations

import keyword
import re
from typing import Any

import numpy as np

from dlrun.data.tabular import MISSING
from dlrun.errors import DataError

KINDS = ("table", "table_text")
# The characters Python's str.strip() removes (str.isspace), which dlrun strips from a
# cell; tf.strings.strip removes ASCII whitespace only, and RE2's \s lacks \v.
_SPACE = r"[\t-\r\x1c-\x1f\x85\p{Z}]"
_STRIP = rf"^{_SPACE}+|{_SPACE}+$"
_VALID = re.compile("[A-Za-z][A-Za-z0-9_]*")  # a signature input name (`signature_names`)


def parts(state: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any] | None, str]:
    """(the table's column specs, the text state or None, the text column's name or '')."""
    if state["kind"] == "table_text":
        return state["table"]["columns"], state["text"], state["text_column"]
    return state["columns"], None, ""


def column_names(state: dict[str, Any]) -> list[str]:
    """The CSV columns the model reads, in the order of the preprocessed row."""
    columns, _, text_column = parts(state)
    return [spec["name"] for spec in columns] + ([text_column] if text_column else [])


def signature_names(state: dict[str, Any]) -> dict[str, str]:
    """Each column's input name in the SavedModel's signatures (TF Serving's).

    TensorFlow makes them keyword arguments and op names: a column named as a Python
    identifier that starts with a letter (not a keyword) keeps its name; another gets
    `_` for each other character, `c_` before a leading non-letter, `_` after a keyword,
    and a number after a name taken already ('floor type' -> 'floor_type').
    """
    columns = column_names(state)
    fits = [c for c in columns if _VALID.fullmatch(c) and not keyword.iskeyword(c)]
    names, taken = {c: c for c in fits}, set(fits)
    for column in columns:
        if column in names:
            continue
        base = re.sub(r"[^A-Za-z0-9_]", "_", column)
        base = base if re.match("[A-Za-z]", base) else f"c_{base}"
        base = f"{base}_" if keyword.iskeyword(base) else base
        name, number = base, 2
        while name in taken:
            name, number = f"{base}_{number}", number + 1
        names[column] = name
        taken.add(name)
    return {column: names[column] for column in columns}


def input_signature(state: dict[str, Any]) -> dict[str, Any]:
    """One string tensor of shape (n,) per feature column, keyed by its CSV header name."""
    import tensorflow as tf

    return {
        column: tf.TensorSpec([None], tf.string, name=name)
        for column, name in signature_names(state).items()
    }


class TableColumns:
    """Raw CSV columns -> float32 rows, as dlrun's preprocessing of `state` gives them."""

    def __init__(self, state: dict[str, Any]) -> None:
        import keras

        columns, text, self.text_column = parts(state)
        self.columns = columns
        numeric = [spec for spec in columns if spec["type"] == "numeric"]
        # Normalization divides by max(sqrt(variance), epsilon): a smaller std would be
        # served differently from how dlrun trained on it.
        tiny = [s for s in numeric if s["std"] < keras.config.epsilon()]
        if tiny:
            raise DataError(
                f"column '{tiny[0]['name']}' has a standard deviation of {tiny[0]['std']:.3g}, "
                f"below {keras.config.epsilon():g}, the least Keras's Normalization divides by, "
                "so the SavedModel could not standardize it as dlrun did.",
                hint="Rescale the column in the file (other units) and train again, or drop "
                f"it with data.drop: [{tiny[0]['name']}].",
            )
        # float64, as transform_table computes: float32 rounds a mean of 2000 (a year) by
        # up to 6e-5 before the division by std; sqrt(std**2) gives the saved std exactly.
        self.normalize = (
            keras.layers.Normalization(
                mean=np.array([s["mean"] for s in numeric], np.float64),
                variance=np.array([s["std"] for s in numeric], np.float64) ** 2,
                dtype="float64",
            )
            if numeric
            else None
        )
        # "" as the out-of-vocabulary token: no category is empty (an empty cell is
        # missing), and Keras refuses a vocabulary that holds the token ("[UNK]" could be).
        self.lookups = {
            spec["name"]: keras.layers.StringLookup(
                vocabulary=spec["categories"], oov_token="", output_mode="one_hot"
            )
            for spec in columns
            if spec["type"] == "categorical" and spec["categories"]
        }
        self.vectorizer, self.idf = None, None
        if text is not None:
            from dlrun.data.representations.text import vectorizer

            tf_idf = text["output"] == "tf_idf"
            self.vectorizer = vectorizer(text, "count" if tf_idf else None)
            self.idf = np.asarray(text["idf"], np.float32) if tf_idf else None

    def layers(self) -> list[Any]:
        """The Keras layers to track in an export archive (once they are built)."""
        found = [self.normalize, *self.lookups.values(), self.vectorizer]
        return [layer for layer in found if layer is not None]

    def __call__(self, raw: dict[str, Any]) -> Any:
        import tensorflow as tf

        numbers: list[Any] = []
        blocks: list[Any] = []  # per column in order: its index in `numbers`, or its one-hot
        for spec in self.columns:
            cell = tf.strings.regex_replace(raw[spec["name"]], _STRIP, "")
            # ASCII lowercasing is Python's for these words: no other letter lowers to
            # one of theirs.
            lowered = tf.strings.lower(cell)
            missing = tf.reduce_any(
                tf.equal(lowered[:, None], tf.constant(sorted(MISSING))[None, :]), axis=1
            )
            if spec["type"] == "numeric":
                parsed = tf.strings.to_number(tf.where(missing, "0", cell), tf.float64)
                blocks.append(len(numbers))
                numbers.append(tf.where(missing, tf.constant(spec["fill"], tf.float64), parsed))
            elif spec["name"] in self.lookups:
                key = tf.where(missing, tf.constant(spec["fill"]), cell)
                onehot = self.lookups[spec["name"]](key)[:, 1:]  # without the unseen column
                blocks.append(tf.cast(onehot, tf.float32))
            # a categorical column without categories (empty in training) gives no feature
        if self.normalize is not None:  # there are numeric columns
            standardized = tf.cast(self.normalize(tf.stack(numbers, axis=1)), tf.float32)
        features = [standardized[:, b : b + 1] if isinstance(b, int) else b for b in blocks]
        if self.vectorizer is not None:
            vector = tf.cast(self.vectorizer(raw[self.text_column]), tf.float32)
            features.append(vector * self.idf if self.idf is not None else vector)
        return tf.concat(features, axis=1)


def sample_rows(state: dict[str, Any], n: int, seed: int = 0) -> np.ndarray:
    """`n` raw rows (strings, in `column_names` order) that touch every path of the
    preprocessing: numbers around the training mean, categories with spaces around
    them, missing cells spelled in several ways, an unseen category, texts of the
    vocabulary's words."""
    columns, text, _ = parts(state)
    rng = np.random.RandomState(seed)
    missing = ["", " NA ", "?", "null"]
    rows = []
    for i in range(n):
        row = []
        for j, spec in enumerate(columns):
            if (i + j) % 3 == 1:
                row.append(missing[(i + j) % len(missing)])
            elif spec["type"] == "numeric":
                row.append(repr(float(spec["mean"] + spec["std"] * rng.normal())))
            elif (i + j) % 3 == 2 or not spec["categories"]:
                # longer than every category, so none of them
                row.append(max(spec["categories"], key=len, default="") + " (unseen)")
            else:
                row.append(f" {spec['categories'][i % len(spec['categories'])]} ")
        if text is not None:
            row.append(" ".join(rng.choice(text["vocabulary"], size=8)))
        rows.append(row)
    out = np.empty((n, len(column_names(state))), dtype=object)
    out[:] = rows
    return out
