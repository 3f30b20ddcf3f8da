"""Arrays held once in memory and lent to TensorFlow's pipelines, not copied into them.

A `tf.data` pipeline gathers its batches from arrays it captures. Captured as constants,
an array is copied: `tf.constant` of a numpy array holds two copies until the tensor is
first used, and tf.data's default graph optimizations copy every captured constant into
the dataset's graph. A 400 MB int32 array captured that way raised RSS by 1,242 MB while
a dataset over it was iterated, and left 842 MB behind. A variable is passed by
reference, and a variable made through DLPack over a 64-byte aligned numpy buffer is that
buffer: the same dataset then raised RSS by 18 MB (`python bench/held_arrays.py`,
2026-12-07, batches of 512).

`held(array)` is that variable. The arrays that training gathers from are made aligned
where they are made (`aligned_empty`), so that it copies nothing; any other array is
copied once, into an aligned buffer. Read it whole in the gather, `tf.gather(
variable.read_value(), index)`: a sparse read of the variable itself would copy it.

Example:

```python
ids = aligned_empty((25_000, 500), np.int32)
table = held(ids, "sequences")
gather = lambda index: tf.gather(table.read_value(), index)
```
"""

from __future__ import annotations

from typing import Any

import numpy as np

# TensorFlow takes a numpy buffer without copying it only when it is this aligned.
ALIGN = 64
# dtypes TensorFlow imports through DLPack; the others (bool, strings) are copied.
_DLPACK_KINDS = "iuf"


def aligned_empty(shape: int | tuple[int, ...], dtype: Any) -> np.ndarray:
    """An empty array whose data starts on an `ALIGN`-byte boundary.

    Example:

    ```python
    aligned_empty((10, 3), np.float32).ctypes.data % 64    # 0
    ```
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    buffer = np.empty(size + ALIGN, dtype=np.uint8)
    skip = -buffer.ctypes.data % ALIGN
    return buffer[skip : skip + size].view(dtype).reshape(shape)


def aligned(array: np.ndarray) -> np.ndarray:
    """`array` itself when it is contiguous and aligned, else an aligned copy of it."""
    if array.flags.c_contiguous and array.ctypes.data % ALIGN == 0:
        return array
    out = aligned_empty(array.shape, array.dtype)
    out[...] = array
    return out


def held(array: np.ndarray, name: str) -> Any:
    """A `tf.Variable` over `array`'s own buffer (over an aligned copy when it is not
    aligned; a plain copy for empty arrays and dtypes DLPack does not carry)."""
    import tensorflow as tf

    array = np.asarray(array)
    if not array.size or array.dtype.kind not in _DLPACK_KINDS:
        return tf.Variable(array, trainable=False, name=name)
    buffer = aligned(array)
    return tf.Variable(
        tf.experimental.dlpack.from_dlpack(buffer.__dlpack__()), trainable=False, name=name
    )
