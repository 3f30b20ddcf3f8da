"""`embedding_bag`: token embeddings pooled into one vector, then a dense head.

The model sees which words a text holds, not their order (a bag of word vectors, as
fastText does): a fast baseline for the order-aware `conv1d` and `rnn`. It takes
ordered token ids (the `sequence` representation); the pooling leaves out the padding
(id 0) unless `embedding.mask_zero` is false.

Example config:

```yaml
model:
  kind: embedding_bag
  embedding: {dim: 32}         # mask_zero: padding is left out of the pooling by default
  pooling: mean               # mean | max
  units: [16]
  dropout: 0.5
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dlrun.config.schema import Units
from dlrun.data.inputs import InputSpec
from dlrun.models.embedding import EmbeddingConfig, model_inputs
from dlrun.models.layers import DenseKeys, dense_stack, head_layer, join
from dlrun.tasks import Head


class EmbeddingBagConfig(DenseKeys):
    """Embedding, mean or max pooling over the steps, then the dense layers of `units`."""

    kind: Literal["embedding_bag"] = Field(
        description="Pooled token embeddings: a bag of word vectors, blind to word order."
    )
    embedding: EmbeddingConfig = Field(
        default_factory=EmbeddingConfig, description="The token embedding."
    )
    pooling: Literal["mean", "max"] = Field(
        "mean",
        description="How the steps' vectors become one: their mean or element-wise max "
        "(padding left out unless embedding.mask_zero is false).",
    )
    units: list[Units] = Field(
        default_factory=list, description="Hidden Dense layer sizes after the pooling."
    )

    def describe(self) -> str:
        dense = f" + {join(self.units)}" if self.units else ""
        return (
            f"embedding_bag {self.pooling}{dense}{self.regularization()}{self.embedding.describe()}"
        )

    def problems(self) -> list[str]:
        return [*super().problems(), *self.embedding.problems()]

    def input_problems(self) -> list[str]:
        return self.embedding.input_problems()


def build_embedding_bag(
    config: EmbeddingBagConfig, spec: InputSpec, outputs: int, head: Head
) -> Any:
    """Embedding -> masked mean or max pooling -> hidden Dense layers -> the task's head.

    Args:
        config: the kind's keys; `pooling` is "mean" or "max" over the non-padding steps.
        spec: ordered token ids, `InputSpec((maxlen,), dtype="int32", vocabulary=N)`.
        outputs: units of the head.
        head: the task's last-layer activation.

    Example:

    ```python
    config = EmbeddingBagConfig(kind="embedding_bag", pooling="max", units=[16])
    model = build_embedding_bag(config, InputSpec((200,), dtype="int32", vocabulary=5000), 1,
                                head_for("binary"))
    config.describe()  # 'embedding_bag max + 16'
    ```
    """
    import keras

    mask_zero = config.embedding.masks(kind_can_mask=True)
    inputs, x = model_inputs(spec, config.embedding, "embedding_bag", False, mask_zero)
    x = _pool(inputs, x, config.pooling, mask_zero)
    x = dense_stack(x, config)
    return keras.Model(inputs, head_layer(x, outputs, head), name="embedding_bag")


def _pool(ids: Any, x: Any, pooling: str, mask_zero: bool) -> Any:
    import keras
    from keras import ops

    if not mask_zero:
        layers = keras.layers
        pool = layers.GlobalAveragePooling1D if pooling == "mean" else layers.GlobalMaxPooling1D
        return pool(name="pool")(x)
    # GlobalMaxPooling1D ignores the mask, and GlobalAveragePooling1D divides by zero on a
    # sequence of padding only (an empty text), whose NaN would spread through training: so
    # the padding steps are left out here, and such a sequence pools to zeros.
    mask = ops.expand_dims(ops.cast(ops.not_equal(ids, 0), x.dtype), -1)
    count = ops.sum(mask, axis=1)
    if pooling == "mean":
        return ops.sum(x * mask, axis=1) / ops.maximum(count, 1.0)
    pooled = keras.layers.GlobalMaxPooling1D(name="pool")(ops.where(mask > 0, x, float("-inf")))
    return ops.where(count > 0, pooled, 0.0)
