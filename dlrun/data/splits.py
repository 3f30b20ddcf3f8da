"""Containers for data on its way from a source to the model; numpy only.

Example:

```python
seqs = Sequences.from_lists([[1, 5, 5, 7], [2]], num_words=10)
split = Split(seqs, np.array([1, 0]))
split.take(np.array([1])).y   # array([0])
```
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any, ClassVar, Literal

import numpy as np

from dlrun.data.held import aligned_empty

# a source's representation (`dlrun.data.representations.REPRESENTATIONS`)
Kind = Literal[
    "features",
    "table",
    "images",
    "multi_hot",
    "sequence",
    "text",
    "table_text",
    "series",
    "image_files",
    "token_windows",
]

# Keras's IMDB and Reuters: 0 pads, 1 starts a sequence, 2 stands for a word out of the
# vocabulary, real words start at 3.
OOV = 2


@dataclass(frozen=True)
class Rows:
    """Rows of token ids as one flat array and each row's length: what a Keras text file
    holds once decoded, without a Python int per id (IMDB's 12 million ids as Python
    lists took ~100 MB more at the load's peak than the ordered run's whole fit).
    Iterating gives each row as a list, like Keras's loaders."""

    values: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[list[int]]:
        for row in np.split(self.values, np.cumsum(self.lengths)[:-1]):
            yield row.tolist()

    def __getitem__(self, index: int | slice) -> Any:
        """Row `index` as a list, or a contiguous part as Rows."""
        bounds = np.concatenate([[0], np.cumsum(self.lengths)])
        if not isinstance(index, slice):
            row = range(len(self))[index]
            return self.values[bounds[row] : bounds[row + 1]].tolist()
        start, stop, step = index.indices(len(self))
        assert step == 1, "Rows are cut into contiguous parts only"
        return Rows(self.values[bounds[start] : bounds[stop]], self.lengths[start:stop])


# kept ids `TokenLists.padded` places at a time (its index arrays: 8 MB each)
_PADDED_IDS = 1 << 20


@dataclass
class TokenLists:
    """Ordered token ids in CSR layout: row i is `values[row_splits[i]:row_splits[i+1]]`.

    Picking rows by index (`take`) copies only their ids, so validation carving and
    K-fold never build the padded matrix; `padded` does, once per prepared portion.
    """

    values: np.ndarray
    row_splits: np.ndarray
    num_words: int

    @classmethod
    def from_lists(cls, rows: Any, num_words: int | None = None) -> TokenLists:
        """Rows of token ids in order; ids >= `num_words` become the out-of-vocabulary id."""
        lengths, flat = _flatten(rows)
        if num_words is None:
            num_words = int(flat.max(initial=OOV)) + 1
        values = np.where(flat < num_words, flat, OOV)
        row_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return cls(values=values, row_splits=row_splits, num_words=int(num_words))

    def __len__(self) -> int:
        return len(self.row_splits) - 1

    def take(self, index: np.ndarray) -> TokenLists:
        index = np.asarray(index, dtype=np.int64)
        lengths = np.diff(self.row_splits)[index]
        row_splits = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        # Position of every kept value in self.values, without a Python loop over rows.
        offsets = np.repeat(self.row_splits[:-1][index] - row_splits[:-1], lengths)
        # aligned: the pipeline lends the values to TensorFlow without a copy
        values = aligned_empty(int(row_splits[-1]), self.values.dtype)
        np.take(self.values, np.arange(row_splits[-1]) + offsets, out=values)
        return type(self)(values=values, row_splits=row_splits, num_words=self.num_words)

    def padded(
        self,
        maxlen: int,
        padding: str = "pre",
        truncating: str = "pre",
        num_words: int | None = None,
    ) -> np.ndarray:
        """An int32 (rows, maxlen) array, as `keras.utils.pad_sequences` makes it; with
        `num_words`, ids of `num_words` and above become the out-of-vocabulary id.

        Rows are padded `_PADDED_IDS // maxlen` at a time: padding all 25,000 IMDB test
        reviews at once made int64 index arrays of every kept id, which raised the peak
        RSS of an LSTM run by 205 MB above its training (bench/sequence_imdb.py).
        """
        out = aligned_empty((len(self), maxlen), np.int32)  # lent to TensorFlow as it is
        out.fill(0)
        lengths = np.diff(self.row_splits)
        step = max(1, _PADDED_IDS // maxlen)
        for lo in range(0, len(self), step):
            hi = min(lo + step, len(self))
            kept = np.minimum(lengths[lo:hi], maxlen)
            # where each row's kept ids start in `values`, and in its output row
            source = self.row_splits[lo:hi] + (lengths[lo:hi] - kept if truncating == "pre" else 0)
            target = maxlen - kept if padding == "pre" else np.zeros_like(kept)
            rows = np.repeat(np.arange(hi - lo), kept)
            within = np.arange(int(kept.sum())) - np.repeat(np.cumsum(kept) - kept, kept)
            ids = self.values[np.repeat(source, kept) + within]
            if num_words is not None:
                ids = np.where(ids < num_words, ids, OOV)
            out[lo:hi][rows, np.repeat(target, kept) + within] = ids
        return out


@dataclass
class Sequences(TokenLists):
    """Token sets in CSR layout, for multi-hot vectors.

    Stored deduplicated and sorted per row, which is all a multi-hot vector needs,
    so the sparse batches built from it are valid SparseTensors as they are.
    """

    representation: ClassVar[str] = "multi_hot"

    @classmethod
    def from_lists(cls, rows: Any, num_words: int | None = None) -> Sequences:
        """Rows of token ids (any order, repeats allowed); ids >= `num_words` are dropped."""
        lengths, flat = _flatten(rows)
        if num_words is None:
            num_words = int(flat.max(initial=0)) + 1
        row_ids = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        keep = flat < num_words
        # One sort of row * num_words + token orders every row at once; dropping repeats
        # by hand, as np.unique (hash-based in numpy 2.4) is ~60x slower here.
        keys = np.sort(row_ids[keep] * num_words + flat[keep])
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys
        counts = np.bincount(keys // num_words, minlength=len(rows))
        row_splits = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(values=keys % num_words, row_splits=row_splits, num_words=int(num_words))

    def with_vocabulary(self, num_words: int) -> Sequences:
        """The same rows over a vocabulary of `num_words`; larger token ids are dropped."""
        if num_words >= self.num_words:
            return Sequences(self.values, self.row_splits, num_words)
        keep = self.values < num_words
        kept_before = np.concatenate([[0], np.cumsum(keep)])
        return Sequences(self.values[keep], kept_before[self.row_splits], num_words)

    def to_dense(self) -> np.ndarray:
        """Multi-hot matrix; only for small data (tests, baselines)."""
        out = np.zeros((len(self), self.num_words), dtype=np.float32)
        rows = np.repeat(np.arange(len(self)), np.diff(self.row_splits))
        out[rows, self.values] = 1.0
        return out


def _flatten(rows: Any) -> tuple[np.ndarray, np.ndarray]:
    """(length of each row, all ids in one int64 array)."""
    if isinstance(rows, Rows):
        return rows.lengths, rows.values
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
    return lengths, flat


Features = np.ndarray | TokenLists


def take(x: Features, index: np.ndarray) -> Features:
    return x[index] if isinstance(x, np.ndarray) else x.take(index)


@dataclass
class Split:
    """Inputs and targets of one split (train, validation or test)."""

    x: Features
    y: np.ndarray
    # Every sample's weight in the loss (None: 1), set when the targets are standardized
    # inside the model (`dlrun.data.prepare.target_scale`): 1 / the loss's scale.
    loss_weight: float | None = None

    def __len__(self) -> int:
        return len(self.y)

    def take(self, index: np.ndarray) -> Split:
        return Split(take(self.x, index), self.y[index], self.loss_weight)


@dataclass
class RawData:
    """What a data source returns: unprepared train and test splits and what they are.

    `validation` is a split the source itself defines (a `validation/` folder, the
    chronological middle of a series); holdout training uses it instead of carving one
    out of train.
    """

    train: Split
    test: Split
    kind: Kind
    class_names: list[str] | None = None
    feature_names: list[str] | None = None
    validation: Split | None = None


def with_test_split(
    x: np.ndarray,
    y: np.ndarray,
    test_fraction: float,
    kind: Kind,
    class_names: list[str] | None,
    feature_names: list[str] | None,
) -> RawData:
    """Carve a seeded test split for sources that ship without one."""
    rng = np.random.RandomState(113)
    order = rng.permutation(len(y))
    n_test = size_of_test_split(len(y), test_fraction)
    test, train = order[:n_test], order[n_test:]
    return RawData(
        Split(x[train], y[train]),
        Split(x[test], y[test]),
        kind=kind,
        class_names=class_names,
        feature_names=feature_names,
    )


def size_of_test_split(samples: int, test_fraction: float) -> int:
    """How many of `samples` `with_test_split` holds out for the test split."""
    return max(1, int(round(samples * test_fraction)))


def representation_name(x: Features) -> str:
    """Which representation batches an applied input: a record container names it in its
    `representation` class attribute; arrays are gathered as they are."""
    return getattr(type(x), "representation", "features")
