"""What a model's input layer receives, as the data layer describes it (numpy only).

Example:

```python
InputSpec((10000,), sparse=True)                        # multi-hot token sets
InputSpec((500,), dtype="int32", vocabulary=10000)      # ordered token ids, 0 = padding
InputSpec((4,), dtype="int32", vocabulary=4,
          tokens=("", "[UNK]", "good", "bad"))          # ... and the word of each id
InputSpec((120, 14))                                    # time-series windows: steps, features
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
        tokens: for token ids, the token of each id (`tokens[i]` is id i), as
            `TextVectorization.get_vocabulary()` gives them: "" (padding) at 0, "[UNK]"
            (out of vocabulary) at 1. Pretrained word vectors (`model.embedding.weights`)
            need it to find each id's word; None when the source has no words.
        augment: data augmentation the model applies to its inputs in training only, as
            (transformation, factor) pairs in order (`data.augment`; built into Keras
            preprocessing layers by `dlrun.models.augment`).
        target_scale: (means, standard deviations) of the training targets, one per
            output, when the model learns standardized targets (`data.target_scale`):
            its last layer multiplies its output by the deviations and adds the means,
            so it predicts the targets in their units (`dlrun.models.build_model`).
    """

    shape: tuple[int, ...]
    sparse: bool = False
    dtype: str = "float32"
    vocabulary: int | None = None
    tokens: tuple[str, ...] | None = None
    augment: tuple[tuple[str, Any], ...] = ()
    target_scale: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    def __post_init__(self) -> None:
        # The embedding matrix has one row per id: a vocabulary of another length would
        # put the words on the wrong rows.
        if self.tokens is not None and len(self.tokens) != self.vocabulary:
            raise ValueError(
                f"InputSpec has {len(self.tokens)} tokens for a vocabulary of {self.vocabulary}."
            )
