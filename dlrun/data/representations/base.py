"""The representation protocol: how one kind of input is fitted, applied, batched and read.

A data source says which representation its raw splits are in (`RawData.kind`). The
representation then owns every step between those raw splits and the model:

- `fit(train, raw, data)`: learn what preprocessing needs from the training portion only,
  as a JSON-able state saved with the run (`preprocessing.json`);
- `apply(x, state)`: turn raw inputs (any split, or new data) into model inputs;
- `input_spec(x, state)`: what the model's input layer receives;
- `batches(x)`: the TensorFlow function that builds one batch from a tensor of indices,
  so a `tf.data` pipeline gathers batches without ever holding a dense copy it does not
  need (`dlrun.data.pipeline`);
- `read(path, state, data)`: new inputs from a file a user has, for `dlrun predict`, or
  `read_chunks` for a chunk of rows at a time (a big CSV);
- `misfits(x, state, first_row, path)`: what in new inputs does not fit the training data
  (an unseen category, an empty cell), which predict warns of; a DataError for inputs
  nothing can be predicted from (a number that is not finite);
- `outputs(predictions, x, state)`: the model's outputs as a user reads them, with columns
  that say what each row is (a series: the forecast in the target's units, and its time);
- `state_keys`: what each key of a fitted state holds, so a state read back from a run
  (`dlrun.data.representations.load_state`) is checked before anything uses it.

Inputs that are not numpy arrays (token sets, ordered token lists, series windows) are
record containers with `len()` and `take(index)`, so validation carving and K-fold pick
records by index and never densify them.

Example:

```python
rep = REPRESENTATIONS[raw.kind]
state = rep.fit(train, raw, config.data)
x = rep.apply(train.x, state)
spec = rep.input_spec(x, state)     # InputSpec((10000,), sparse=True)
```
"""

from __future__ import annotations

import difflib
import json
import numbers
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.held import held
from dlrun.data.inputs import InputSpec
from dlrun.data.splits import RawData, Split
from dlrun.errors import DataError

ARRAY_SUFFIXES = (".npz", ".npy")

# What a key of a fitted state must hold: (test of the value, what the test wants, in words).
Check = tuple[Callable[[Any], bool], str]
_ABSENT = object()


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


NUMBER: Check = (_is_number, "a number")
INTEGER: Check = (
    lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
    "a whole number",
)
TEXT: Check = (lambda v: isinstance(v, str), "a string")
FLAG: Check = (lambda v: isinstance(v, bool), "true or false")
MAPPING: Check = (lambda v: isinstance(v, dict), "an object")


def list_of(check: Check, what: str) -> Check:
    return (
        lambda v: isinstance(v, list | tuple) and all(check[0](i) for i in v),
        f"a list of {what}",
    )


def one_of(*values: Any) -> Check:
    return (lambda v: any(v == value for value in values), " or ".join(map(json.dumps, values)))


def nullable(check: Check) -> Check:
    return (lambda v: v is None or check[0](v), f"{check[1]} or null")


def absent_or(check: Check) -> Check:
    """A key that states fitted by some versions or configs do not have."""
    return (lambda v: v is _ABSENT or check[0](v), check[1])


def key_problem(state: Any, keys: dict[str, Check]) -> str | None:
    """The first key of `state` that does not hold what `keys` says, in words; or None."""
    if not isinstance(state, dict):
        return f"it holds {_shown(state)}, not an object"
    for key, (test, wanted) in keys.items():
        value = state.get(key, _ABSENT)
        if not test(value):
            if value is _ABSENT:
                return f"it lacks '{key}'"
            return f"'{key}' is {_shown(value)}, not {wanted}"
    return None


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass
class Misfits:
    """Values of new inputs that the run's preprocessing takes, but that its training data
    never held, counted per column over every chunk of one input (`dlrun predict` warns
    of them, and refuses them under --strict)."""

    # column -> a category never seen in training -> rows holding it
    unseen: dict[str, Counter[str]] = field(default_factory=dict)
    # column -> rows with an empty cell, filled as in training
    empty: dict[str, int] = field(default_factory=dict)
    # column -> what an empty cell becomes ("the training median, 41")
    fills: dict[str, str] = field(default_factory=dict)
    # column -> its training categories, to suggest the one an unseen value may mean
    known: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.unseen or self.empty)

    def add(self, other: Misfits) -> None:
        for name, counts in other.unseen.items():
            self.unseen.setdefault(name, Counter()).update(counts)
        for name, n in other.empty.items():
            self.empty[name] = self.empty.get(name, 0) + n
        self.fills.update(other.fills)
        self.known.update(other.known)

    def messages(self) -> list[str]:
        """One sentence per column and kind of misfit."""
        said = []
        for name, counts in self.unseen.items():
            rows = sum(counts.values())
            listed = ", ".join(f"{value!r} ({n})" for value, n in counts.most_common(5))
            if len(counts) > 5:
                listed += f" and {len(counts) - 5} more"
            what = "a category" if len(counts) == 1 else "categories"
            message = (
                f"column '{name}': {rows} {_rows(rows)} {_hold(rows)} {what} never seen in "
                f"training ({listed}), encoded as no category at all."
            )
            guesses = [
                f"{guess!r} for {value!r}"
                for value, _ in counts.most_common(5)
                if (guess := _closest(value, self.known.get(name, [])))
            ]
            if guesses:
                message += f" Did you mean {', '.join(guesses)}?"
            said.append(message)
        for name, n in self.empty.items():
            said.append(
                f"column '{name}': {n} {_rows(n)} {'has' if n == 1 else 'have'} no value, "
                f"filled with {self.fills.get(name, 'the training fill')}."
            )
        return said


def _rows(n: int) -> str:
    return "row" if n == 1 else "rows"


def _hold(n: int) -> str:
    return "holds" if n == 1 else "hold"


def _closest(value: str, known: list[str]) -> str | None:
    """The training category `value` most likely means: the same but for case, else one
    spelled nearly alike."""
    same = [k for k in known if k.casefold() == value.casefold()]
    if same:
        return same[0]
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.8)
    return close[0] if close else None


def refuse_non_finite(x: np.ndarray, first_row: int, path: Path) -> None:
    """A DataError naming the first sample of an array input that holds NaN or infinity:
    the model would answer NaN for it."""
    values = np.asarray(x)
    if not np.issubdtype(values.dtype, np.floating):
        return
    bad = np.argwhere(~np.isfinite(values))
    if len(bad):
        at = tuple(int(i) for i in bad[0])
        raise DataError(
            f"{path}: sample {first_row + at[0] + 1} holds {values[at]} at x{list(at)}, "
            "which is not a finite number.",
            hint="Fix or remove that sample; the model would answer NaN for it.",
        )


class Representation(ABC):
    """One kind of model input. Subclasses set `name` and `what` and implement the steps."""

    name: ClassVar[str]
    # how an error message names this kind of data: "this run was trained on <what>"
    what: ClassVar[str]
    # whether `read` takes a folder of inputs (image files) besides a file
    reads_folders: ClassVar[bool] = False
    # what each key of a fitted state holds (the keys every state has are checked by
    # `load_state`)
    state_keys: ClassVar[dict[str, Check]] = {}

    @abstractmethod
    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        """The preprocessing state fitted on the training portion; JSON-able."""

    @abstractmethod
    def apply(self, x: Any, state: dict[str, Any]) -> Any:
        """Raw inputs, transformed with a fitted state, ready for `batches`."""

    def input_spec(self, x: Any, state: dict[str, Any]) -> InputSpec:
        """What the model receives: by default, the shape of one applied sample."""
        return InputSpec(shape=tuple(int(d) for d in np.shape(x)[1:]))

    def batches(self, x: Any) -> Callable[[Any], Any]:
        """index tensor -> feature tensor, gathered from `x` held once in memory.

        The pipeline traces it without autograph (`dlrun.data.pipeline._plain`): it may
        branch on Python values, and on tensors only through TensorFlow's ops
        (`tf.cond`, `tf.map_fn`)."""
        import tensorflow as tf

        array = held(x, "features")
        return lambda index: tf.gather(array.read_value(), index)

    def arrays(self, x: Any) -> Callable[[np.ndarray], Any] | None:
        """index array -> feature array, gathered by numpy from `x` held once in memory,
        for a backend fed without tf.data (`dlrun.data.pipeline`); None where a batch
        needs TensorFlow to be made (sparse token sets, decoded files, strings)."""
        if not isinstance(x, np.ndarray) or x.dtype == object:
            return None
        return lambda index: x[index]

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> Any:
        """New raw inputs from a file: by default an .npz with an array `x`, or an .npy."""
        if path.suffix.lower() not in ARRAY_SUFFIXES:
            raise DataError(
                f"{path}: this run was trained on {self.what}; give an .npz with an array 'x' "
                "(or an .npy)."
            )
        try:
            if path.suffix.lower() == ".npy":
                return np.load(path, allow_pickle=False)
            with np.load(path, allow_pickle=False) as arrays:
                if "x" not in arrays:
                    raise DataError(
                        f"{path} has no array 'x' (it has: {', '.join(arrays.files) or 'none'})."
                    )
                return arrays["x"]
        except (ValueError, OSError) as exc:
            raise DataError(f"cannot read {path}: {exc}") from None

    def read_chunks(
        self, path: Path, state: dict[str, Any], data: DataSection, rows: int
    ) -> Iterator[Any]:
        """New raw inputs from a file, about `rows` samples at a time; by default all at once."""
        yield self.read(path, state, data)

    def misfits(self, x: Any, state: dict[str, Any], first_row: int, path: Path) -> Misfits:
        """What in new raw inputs `x` (rows `first_row`... of `path`) does not fit the data
        the run was trained on. Raises a DataError for what nothing can be predicted from."""
        return Misfits()

    def state_problem(self, state: dict[str, Any]) -> str | None:
        """What makes a fitted state read back from a file unusable, in words; or None."""
        return key_problem(state, self.state_keys)

    def outputs(
        self, predictions: np.ndarray, x: Any, state: dict[str, Any]
    ) -> tuple[np.ndarray, dict[str, list[str]]]:
        """The model's outputs as a user reads them, and leading columns naming each row;
        by default the outputs as they are, and no column."""
        return predictions, {}

    def refuse_arrays(self, path: Path, give: str) -> None:
        """For text-like inputs: an array file is the wrong kind of input."""
        if path.suffix.lower() in ARRAY_SUFFIXES:
            raise DataError(f"{path}: this run was trained on {self.what}; give {give}.")


def sparse_batches(
    columns: np.ndarray, row_splits: np.ndarray, width: int, weights: np.ndarray | None = None
) -> Callable[[Any], Any]:
    """index tensor -> `tf.SparseTensor` of those CSR rows (`weights`, else ones), each row
    `width` wide; the CSR arrays are lent to TensorFlow (`dlrun.data.held`).

    A batch is two kernels, `RaggedGather` (the rows) and `RaggedTensorToSparse` (each
    value's row), not `tf.RaggedTensor`'s Python methods: its `value_rowids` builds
    `tf.repeat` out of some thirty ops. Tracing a batch took 0.05-0.07 s instead of
    0.02 s (a probe: 25,000 rows of 20-250 ids), once for each of a run's three datasets,
    and dlrun's own work on IMDB dense went from 0.97-1.06 s to 0.84-0.91 s (two runs
    each of bench/own_time.py's child)."""
    import tensorflow as tf

    splits = held(row_splits, "row_splits")
    held_columns = held(columns, "columns")
    held_weights = None if weights is None else held(weights, "weights")
    wide = tf.constant(width, tf.int64)
    # checked once here (it raises on splits that do not fit the columns), not every batch
    tf.RaggedTensor.from_row_splits(held_columns.read_value(), splits.read_value())

    def gathered(values: Any, index: Any) -> tuple[Any, Any]:
        """(row splits, values) of the rows `index` of the CSR `values`."""
        (chosen_splits,), chosen = tf.raw_ops.RaggedGather(
            params_nested_splits=[splits.read_value()],
            params_dense_values=values.read_value(),
            indices=index,
            OUTPUT_RAGGED_RANK=1,
        )
        return chosen_splits, chosen

    def features(index: Any) -> Any:
        chosen_splits, chosen = gathered(held_columns, index)
        rows = tf.raw_ops.RaggedTensorToSparse(
            rt_nested_splits=[chosen_splits], rt_dense_values=chosen
        ).sparse_indices[:, :1]
        positions = tf.concat([rows, chosen[:, None]], axis=1)
        shape = tf.stack([tf.cast(tf.size(index), tf.int64), wide])
        if held_weights is None:
            return tf.SparseTensor(positions, tf.ones_like(chosen, tf.float32), shape)
        return tf.SparseTensor(positions, gathered(held_weights, index)[1], shape)

    return features
