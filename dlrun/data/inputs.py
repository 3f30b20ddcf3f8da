"""What a model's input layer receives, as the data layer describes it (numpy only).

Example:

```python
InputSpec((10000,), sparse=True)                        # multi-hot token sets
InputSpec((500,), dtype="int32", vocabulary=10000)      # ordered token ids, 0 = padding
InputSpec((150, 150, 3), augment=(("flip", "horizontal"), ("rotation", 0.1)))
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InputSpec:
    """The shape of one sample (no batch axis) and how its values are typed.

    Args:
        shape: one sample's shape.
        sparse: batches are `tf.SparseTensor`s (multi-hot token sets).
        dtype: the values' dtype; "int32" for token ids.
        vocabulary: for token ids, how many ids exist (id 0 is padding), which an
            Embedding layer needs as its input_dim.
        augment: data augmentation the model applies to its inputs in training only, as
            (transformation, factor) pairs in order (`data.augment`; built into Keras
            preprocessing layers by `dlrun.models.augment`).
    """

    shape: tuple[int, ...]
    sparse: bool = False
    dtype: str = "float32"
    vocabulary: int | None = None
    augment: tuple[tuple[str, Any], ...] = ()
