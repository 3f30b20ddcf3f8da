"""Batches over prepared splits: tf.data pipelines, or numpy batches for a backend fed
numpy (imports TensorFlow).

Batches are gathered by index, each as its representation builds them
(`Representation.batches`): from tensors held once in memory, so shuffling is cheap,
and token sets become sparse multi-hot batches on the fly, so IMDB never exists as a
dense 25,000 x 10,000 float matrix.

A training dataset's order is a function of (seed, epoch) alone: epoch 7 sees the same
batches whether the fit ran from epoch 1 or resumed at epoch 6, so a resumed run
reproduces the uninterrupted one.

Three things follow the runtime (`dlrun.runtime`): a backend fed numpy batches (JAX,
PyTorch) gets them gathered by numpy where the representation can
(`dlrun.data.array_batches`; the same batches in the same order), sparse batches are
made dense for a backend that takes none, and `shard` cuts each batch for a JAX data-parallel
fit: to a multiple of the replicas (JAX refuses a batch its devices cannot split evenly;
at most replicas - 1 rows of a batch are left out, all of them in the last batch of an
epoch), then to this process's own contiguous part of it.

Example:

```python
train_ds, steps = training_dataset(prepared.train, 512, seed=1337, epochs=(0, 20))
model.fit(train_ds, steps_per_epoch=steps, epochs=20)
val_ds = make_dataset(prepared.validation, batch_size=512)
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from dlrun.data.held import held
from dlrun.data.representations import REPRESENTATIONS
from dlrun.data.splits import Split, representation_name
from dlrun.runtime import Shard, current

# What one batch is (a training contract's choice): (x, y), (x, x) or x alone.
Batch = Literal["xy", "xx", "x"]


def make_dataset(
    split: Split,
    batch_size: int,
    *,
    one_hot: int | None = None,
    shard: Shard | None = None,
    batch: Batch = "xy",
) -> Any:
    """The split's batches of (features, labels) in order: a `tf.data.Dataset`, or
    `ArrayBatches` for a backend fed numpy; `one_hot=N` one-hot encodes labels; `batch`
    is the training contract's form of a batch ("xx": the features are the target too,
    "x": features alone)."""
    arrays = _arrays(split)
    if arrays is not None:

        def index(i: int) -> np.ndarray:
            rows = np.arange(i * batch_size, min((i + 1) * batch_size, len(split)))
            return rows if shard is None else _cut(rows, shard)

        count = -(-len(split) // batch_size)
        if count and not len(index(count - 1)):
            count -= 1  # as the tf.data path's filter drops a batch left empty
        return _array_batches(arrays, split, one_hot, batch, index, count)
    import tensorflow as tf

    indices = tf.data.Dataset.range(len(split)).batch(batch_size)
    return _batches(_sharded(indices, shard), split, one_hot, batch)


def kept_rows(rows: int, batch_size: int, shard: Shard | None) -> int:
    """How many of `rows` a pass over them in batches feeds the model (all, unshared)."""
    if shard is None:
        return rows
    last = rows % batch_size // shard.multiple * shard.multiple
    return rows // batch_size * (batch_size // shard.multiple * shard.multiple) + last


def training_dataset(
    split: Split,
    batch_size: int,
    *,
    seed: int,
    epochs: tuple[int, int],
    one_hot: int | None = None,
    shard: Shard | None = None,
    batch: Batch = "xy",
) -> tuple[Any, int]:
    """Shuffled batches for epochs `first..last-1` (0-based) and the steps in one epoch.

    Each epoch is a stateless permutation keyed by (`seed`, epoch number), and the
    epochs follow each other in one dataset (fit with `steps_per_epoch`).
    """
    import tensorflow as tf

    n = len(split)
    steps = -(-n // batch_size)
    if shard is not None and n % batch_size and n % batch_size < shard.multiple:
        steps -= 1  # the last batch is too small to share out: it is left out
    first, last = epochs

    def epoch_order(epoch: Any) -> Any:
        # One permutation tensor per epoch (8 bytes a sample), not a shuffle buffer of n
        # dataset elements: on Jena's 210,000 windows the buffer was estimated at 45 MB.
        return tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64),
            seed=tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)]),
            alg="philox",
        )

    arrays = _arrays(split)
    if arrays is not None:
        orders: dict[int, np.ndarray] = {}

        def index(i: int) -> np.ndarray:
            epoch, step = divmod(i, steps)
            if epoch not in orders:  # the same permutation as the tf.data path's
                orders.clear()
                orders[epoch] = epoch_order(first + epoch).numpy()
            rows = orders[epoch][step * batch_size : (step + 1) * batch_size]
            return rows if shard is None else _cut(rows, shard)

        count = steps * (last - first)
        return _array_batches(arrays, split, one_hot, batch, index, count), steps

    indices = tf.data.Dataset.range(first, last).flat_map(
        _plain(
            lambda epoch: tf.data.Dataset.from_tensor_slices(epoch_order(epoch)).batch(batch_size)
        )
    )
    return _batches(_sharded(indices, shard), split, one_hot, batch), steps


def _arrays(split: Split) -> Callable[[np.ndarray], Any] | None:
    """The split's numpy gather when this process's backend is fed numpy batches and the
    representation can gather them; None: tf.data makes the batches."""
    if not current().backend.array_batches:
        return None
    return REPRESENTATIONS[representation_name(split.x)].arrays(split.x)


def _array_batches(
    arrays: Callable[[np.ndarray], Any],
    split: Split,
    one_hot: int | None,
    form: Batch,
    index: Callable[[int], np.ndarray],
    count: int,
) -> Any:
    from dlrun.data.array_batches import ArrayBatches

    labels = np.eye(one_hot, dtype=np.float32)[split.y] if one_hot else np.asarray(split.y)
    return ArrayBatches(arrays, labels, index, count, form, split.loss_weight)


def _cut(rows: np.ndarray, shard: Shard) -> np.ndarray:
    """`_sharded`'s cut of one batch of row indices, in numpy."""
    part = len(rows) // shard.multiple * shard.multiple // shard.count
    return rows[shard.index * part : (shard.index + 1) * part]


def _sharded(indices: Any, shard: Shard | None) -> Any:
    """Each index batch cut to a multiple of the replicas, then to this process's part;
    a batch left empty is dropped."""
    if shard is None:
        return indices
    import tensorflow as tf

    def cut(batch: Any) -> Any:
        kept = tf.shape(batch)[0] // shard.multiple * shard.multiple
        part = kept // shard.count
        return batch[shard.index * part : (shard.index + 1) * part]

    return indices.map(_plain(cut)).filter(_plain(lambda batch: tf.size(batch) > 0))


def _plain(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` traced as it is written, not converted by autograph first.

    The pipeline's functions (and the representations' gathers they call) branch on
    Python values only, so autograph has nothing to convert; converting them took about
    0.1 s a dataset, 0.28 s of dlrun's own 1.4 s in an IMDB dense run (bench/own_time.py).
    """
    import tensorflow as tf

    return tf.autograph.experimental.do_not_convert(function)


def _batches(indices: Any, split: Split, one_hot: int | None, form: Batch = "xy") -> Any:
    """Batches of (features, labels), and the samples' loss weights when the split has
    them, gathered by each batch of indices; dense ones when this process's backend
    (or its strategy) takes no sparse batches."""
    import tensorflow as tf

    runtime = current()
    dense = not runtime.backend.sparse_batches(runtime.strategy)

    held_labels = held(split.y, "labels")

    def labels(index: Any) -> Any:
        chosen = tf.gather(held_labels.read_value(), index)
        return tf.one_hot(chosen, one_hot) if one_hot else chosen

    gather = REPRESENTATIONS[representation_name(split.x)].batches(split.x)

    def features(index: Any) -> Any:
        batch = gather(index)
        return tf.sparse.to_dense(batch) if dense and isinstance(batch, tf.SparseTensor) else batch

    # No autotuning thread: deleting an iterator waits for it to wake, and with another
    # training process on the machine that wait held fit's return for 47-56 s in 7 of 10
    # processes (gdb: ~RootDataset::Iterator in Model::OptimizeLoop). AUTOTUNE still resolves,
    # to one call per core and a prefetch buffer that grows as needed.
    options = tf.data.Options()
    options.autotune.enabled = False
    weight = split.loss_weight

    def batch(index: Any) -> Any:
        if form == "x":
            return features(index)
        if form == "xx":
            x = features(index)
            return x, x
        if weight is None:
            return features(index), labels(index)
        # Keras divides the weighted sum of the losses by the batch size, so a constant
        # weight divides the loss by exactly 1 / weight (`dlrun.data.prepare.target_scale`).
        weights = tf.fill(tf.shape(index), tf.constant(weight, tf.float32))
        return features(index), labels(index), weights

    return (
        indices.map(_plain(batch), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )
