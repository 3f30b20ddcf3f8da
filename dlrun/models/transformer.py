"""`transformer`: a small decoder-only Transformer over token ids (book ch. 8, text
generation; the blocks of ch. 11).

Token and position embeddings are summed, then each of `layers` blocks applies causal
self-attention (a position attends to itself and the positions before it, never to the
ones after, so it can be trained to predict what follows) and a feed-forward network,
each with dropout, a residual connection and layer normalization. The vector at the last
token goes to the task's head; for a language model, Dense(vocabulary, softmax) predicts
the next token.

It takes ordered token ids, `InputSpec((maxlen,), dtype="int32", vocabulary=N)`. Id 0 is
padding: attention skips it, and "the last token" is the last position that is not
padding, so sequences padded at either end work.

Example config:

```yaml
model: {kind: transformer, embed_dim: 64, heads: 2, ff_dim: 128, layers: 1, dropout: 0.1}
```

The Keras classes (`TokenAndPositionEmbedding`, `LastToken`) are made on first use, so
that importing this module does not import Keras: `register()` (or `build_transformer`)
makes and registers them, and `dlrun.models` calls `register()` as soon as a process
imports Keras (`dlrun.tfenv.after_keras_import`).
"""

from __future__ import annotations

import functools
import random
from typing import Any, Literal

from pydantic import Field

from dlrun.config.schema import ModelSection, Rate, Units
from dlrun.data.inputs import InputSpec
from dlrun.errors import ConfigError
from dlrun.models.layers import head_layer
from dlrun.tasks import Head


class TransformerConfig(ModelSection):
    """Token + position embedding, causal self-attention blocks, the last token's vector."""

    # required (mlp is the kind a config without one gets), so editors tell the kinds apart
    kind: Literal["transformer"] = Field(
        description="A decoder-only Transformer (causal self-attention) for token ids."
    )
    embed_dim: Units = Field(64, description="Size of the token and position embeddings.")
    heads: Units = Field(2, description="Attention heads; embed_dim must divide by it.")
    ff_dim: Units = Field(128, description="Hidden size of each block's feed-forward network.")
    layers: Units = Field(1, description="Transformer blocks.")
    dropout: Rate = Field(
        0.1, description="Dropout rate in [0, 1) on attention weights and block outputs."
    )

    def describe(self) -> str:
        dropout = f" + dropout {self.dropout:g}" if self.dropout else ""
        return (
            f"transformer {self.layers}x(dim {self.embed_dim}, {self.heads} heads, "
            f"ff {self.ff_dim}){dropout}"
        )

    def problems(self) -> list[str]:
        if self.embed_dim % self.heads:
            return [
                f"model.embed_dim ({self.embed_dim}) is split evenly between the "
                f"model.heads ({self.heads}) attention heads, so it must divide by it; "
                f"e.g. embed_dim: {self.embed_dim - self.embed_dim % self.heads or self.heads}."
            ]
        return []


@functools.cache
def keras_classes() -> dict[str, type]:
    """Make and register (package "dlrun") the Keras layers of this kind, once.

    Returns:
        {"TokenAndPositionEmbedding": ..., "LastToken": ...}.

    Example:

    ```python
    embed = keras_classes()["TokenAndPositionEmbedding"](20000, 100, 64)
    ```
    """
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="dlrun")
    class TokenAndPositionEmbedding(keras.layers.Layer):
        """The sum of a token's embedding and its position's; masks id 0 (padding).

        Args:
            vocabulary: how many token ids exist.
            sequence_length: the most positions a sequence has.
            embed_dim: the embeddings' size.

        Example:

        ```python
        x = TokenAndPositionEmbedding(20, 12, 64)(ids)   # (batch, 12) -> (batch, 12, 64)
        ```
        """

        def __init__(
            self, vocabulary: int, sequence_length: int, embed_dim: int, **kwargs: Any
        ) -> None:
            super().__init__(**kwargs)
            self.vocabulary = vocabulary
            self.sequence_length = sequence_length
            self.embed_dim = embed_dim
            self.tokens = keras.layers.Embedding(vocabulary, embed_dim, name="tokens")
            self.positions = keras.layers.Embedding(sequence_length, embed_dim, name="positions")

        def build(self, input_shape: Any) -> None:
            self.tokens.build(input_shape)
            self.positions.build((self.sequence_length,))
            self.built = True

        def call(self, inputs: Any) -> Any:
            steps = ops.arange(ops.shape(inputs)[-1])
            return self.tokens(inputs) + self.positions(steps)

        def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
            return ops.not_equal(inputs, 0)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return (*input_shape, self.embed_dim)

        def get_config(self) -> dict[str, Any]:
            return {
                **super().get_config(),
                "vocabulary": self.vocabulary,
                "sequence_length": self.sequence_length,
                "embed_dim": self.embed_dim,
            }

    @keras.saving.register_keras_serializable(package="dlrun")
    class LastToken(keras.layers.Layer):
        """The vector at each sequence's last position that is not padding (the last
        position when the sequence has no mask), (batch, steps, dim) -> (batch, dim).

        With causal attention that position is the one that has seen the whole
        sequence; a sequence padded at its end has padding there instead.
        """

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.supports_masking = True
            self.built = True

        def call(self, inputs: Any, mask: Any = None) -> Any:
            if mask is None:
                return inputs[:, -1, :]
            steps = ops.shape(inputs)[1]
            at = ops.arange(steps)
            last = ops.max(ops.where(mask, at[None, :], ops.zeros_like(at)[None, :]), axis=1)
            pick = ops.one_hot(last, steps, dtype=inputs.dtype)
            return ops.sum(inputs * pick[:, :, None], axis=1)

        def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
            return None

        def compute_output_shape(self, input_shape: Any) -> Any:
            return (input_shape[0], input_shape[-1])

    return {"TokenAndPositionEmbedding": TokenAndPositionEmbedding, "LastToken": LastToken}


def register() -> None:
    """Make and register the transformer's Keras layers (imports Keras), so that
    `keras.saving.load_model(path, safe_mode=True)` can rebuild a saved model."""
    keras_classes()


def __getattr__(name: str) -> Any:
    # `from dlrun.models.transformer import LastToken` makes the classes on demand
    if name in ("TokenAndPositionEmbedding", "LastToken"):
        return keras_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_transformer(config: TransformerConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    """Token ids -> embeddings -> `layers` causal Transformer blocks -> the last token's
    vector -> the task's head.

    Args:
        config: the kind's keys.
        spec: ordered token ids, `InputSpec((maxlen,), dtype="int32", vocabulary=N)`.
        outputs: units of the head (the vocabulary, for next-token prediction).
        head: the task's last-layer activation.

    Example:

    ```python
    config = TransformerConfig(kind="transformer", embed_dim=32, heads=2)
    model = build_transformer(config, InputSpec((12,), dtype="int32", vocabulary=20), 20,
                              head_for("multiclass"))
    model.output_shape  # (None, 20): the next token's probabilities
    ```
    """
    import keras

    if spec.vocabulary is None or len(spec.shape) != 1:
        raise ConfigError(
            f"model.kind 'transformer' needs token sequences (maxlen,); the data gives "
            f"shape {spec.shape}{' (multi-hot token sets)' if spec.sparse else ''}.",
            hint="For text, use ordered token ids (data.vectorize: sequence, or "
            "data.text.output: int).",
        )
    problems = config.problems()
    if problems:
        raise ConfigError(problems[0])
    classes = keras_classes()
    inputs = keras.Input(shape=spec.shape, dtype=spec.dtype, name="inputs")
    x = classes["TokenAndPositionEmbedding"](
        spec.vocabulary, spec.shape[0], config.embed_dim, name="embedding"
    )(inputs)
    # Explicit seeds (from Python's random, which the run's seed sets): on PyTorch, Keras's
    # dropout without one draws from torch's global generator, which no backup of the
    # model's variables holds, so a resumed fit would drop others.
    seed = functools.partial(random.randint, 1, 2**31 - 1)
    for i in range(config.layers):
        # the embedding's mask (id 0) reaches every layer, so attention skips the padding
        attention = keras.layers.MultiHeadAttention(
            config.heads,
            config.embed_dim // config.heads,
            dropout=config.dropout,
            seed=seed(),
            name=f"block_{i}_attention",
        )(x, x, use_causal_mask=True)
        attention = keras.layers.Dropout(
            config.dropout, seed=seed(), name=f"block_{i}_attention_dropout"
        )(attention)
        x = keras.layers.Add(name=f"block_{i}_attention_add")([x, attention])
        x = keras.layers.LayerNormalization(name=f"block_{i}_attention_norm")(x)
        ff = keras.layers.Dense(config.ff_dim, activation="relu", name=f"block_{i}_ff_1")(x)
        ff = keras.layers.Dense(config.embed_dim, name=f"block_{i}_ff_2")(ff)
        ff = keras.layers.Dropout(config.dropout, seed=seed(), name=f"block_{i}_ff_dropout")(ff)
        x = keras.layers.Add(name=f"block_{i}_ff_add")([x, ff])
        x = keras.layers.LayerNormalization(name=f"block_{i}_ff_norm")(x)
    x = classes["LastToken"](name="last_token")(x)
    return keras.Model(inputs, head_layer(x, outputs, head), name="transformer")
