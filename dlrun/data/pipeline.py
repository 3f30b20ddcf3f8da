"""tf.data pipelines over prepared splits (imports TensorFlow).

Batches are gathered by index from tensors held once in memory, so shuffling is
cheap, and token sequences become sparse multi-hot batches on the fly: IMDB never
exists as a dense 25,000 x 10,000 float matrix.

Example:

```python
train_ds = make_dataset(prepared.train, batch_size=512, shuffle=True, seed=1337)
```
"""

from __future__ import annotations

from typing import Any

from dlrun.data.splits import Sequences, Split


def make_dataset(
    split: Split,
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int = 0,
    one_hot: int | None = None,
) -> Any:
    """A batched `tf.data.Dataset` of (features, labels); `one_hot=N` one-hot encodes labels."""
    import tensorflow as tf

    labels = tf.constant(split.y)
    if one_hot:
        labels = tf.one_hot(labels, one_hot)
    if isinstance(split.x, Sequences):
        ragged = tf.RaggedTensor.from_row_splits(
            tf.constant(split.x.values), tf.constant(split.x.row_splits)
        )
        width = tf.constant(split.x.num_words, tf.int64)

        def features(index: Any) -> Any:
            rows = tf.gather(ragged, index)
            positions = tf.stack([rows.value_rowids(), rows.values], axis=1)
            shape = tf.stack([tf.cast(tf.size(index), tf.int64), width])
            return tf.SparseTensor(positions, tf.ones_like(rows.values, tf.float32), shape)
    else:
        array = tf.constant(split.x)

        def features(index: Any) -> Any:
            return tf.gather(array, index)

    dataset = tf.data.Dataset.range(len(split))
    if shuffle:
        dataset = dataset.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)
    return (
        dataset.batch(batch_size)
        .map(
            lambda index: (features(index), tf.gather(labels, index)),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .prefetch(tf.data.AUTOTUNE)
    )
