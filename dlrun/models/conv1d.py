"""`conv1d`: Conv1D blocks with max-pooling between them, global max pooling, a dense head
(book ch. 6, "sequence processing with convnets").

It takes ordered token ids (`sequence`: an Embedding first) or float time-series windows
(`series`: the convolutions run on the features directly). A convolution sees
`kernel_size` neighbouring steps, so the model learns local word order (phrases), and
each pooling widens what the next block sees. Conv1D cannot skip masked steps, so the
embedding does not mask: padding is id 0, a token the network learns to ignore.

Example config (the book's IMDB model):

```yaml
model:
  kind: conv1d
  embedding: {dim: 128}
  filters: [32, 32]
  kernel_size: 7
  pool_size: 5
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dlrun.config.schema import Units
from dlrun.data.inputs import InputSpec
from dlrun.errors import ConfigError
from dlrun.models.embedding import EmbeddingConfig, model_inputs
from dlrun.models.layers import DenseKeys, dense_stack, head_layer, join
from dlrun.tasks import Head


class Conv1dConfig(DenseKeys):
    """Embedding (token ids only), Conv1D blocks, global max pooling, the Dense layers of
    `units`."""

    kind: Literal["conv1d"] = Field(description="Conv1D blocks for token sequences and series.")
    embedding: EmbeddingConfig = Field(
        default_factory=EmbeddingConfig,
        description="The token embedding (token sequences only; it never masks).",
    )
    filters: list[Units] = Field(
        default_factory=lambda: [32, 32], min_length=1, description="Filters per Conv1D block."
    )
    kernel_size: int = Field(7, ge=1, description="Steps each convolution sees.")
    pool_size: int = Field(5, ge=1, description="Max-pooling size between blocks.")
    units: list[Units] = Field(
        default_factory=list, description="Hidden Dense layer sizes after the global pooling."
    )

    def describe(self) -> str:
        dense = f" + {join(self.units)}" if self.units else ""
        return (
            f"conv1d {join(self.filters)}{dense}{self.regularization()}{self.embedding.describe()}"
        )

    def problems(self) -> list[str]:
        problems = [*super().problems(), *self.embedding.problems()]
        if self.embedding.masks(kind_can_mask=False):
            problems.append(
                "model.embedding.mask_zero: conv1d cannot mask, because Conv1D layers cannot "
                "skip padding steps; remove mask_zero or set it to false (padding stays id 0, "
                "which the network learns to ignore), or use model.kind: rnn, which masks."
            )
        return problems

    def input_problems(self) -> list[str]:
        return self.embedding.input_problems()

    def shape_problems(self, shape: tuple[int, ...]) -> list[str]:
        problem = length_problem(self, shape[0]) if shape else None
        return [f"{problem} {SHORTER}"] if problem else []


def build_conv1d(config: Conv1dConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    """[Embedding ->] Conv1D / MaxPooling1D blocks -> GlobalMaxPooling1D -> hidden Dense
    layers -> the task's head.

    Args:
        config: the kind's keys; a MaxPooling1D of `pool_size` sits between two of the
            `filters` blocks, none after the last.
        spec: ordered token ids, `InputSpec((maxlen,), dtype="int32", vocabulary=N)`, or
            time-series windows, `InputSpec((steps, features))`.
        outputs: units of the head.
        head: the task's last-layer activation.

    Example:

    ```python
    config = Conv1dConfig(kind="conv1d", filters=[32, 32], units=[16], dropout=0.5)
    model = build_conv1d(config, InputSpec((500,), dtype="int32", vocabulary=10000), 1,
                         head_for("binary"))
    config.describe()  # 'conv1d 32-32 + 16 + dropout 0.5'
    ```
    """
    import keras

    inputs, x = model_inputs(spec, config.embedding, "conv1d", True, mask_zero=False)
    _check_length(config, spec.shape[0])
    for i, filters in enumerate(config.filters):
        x = keras.layers.Conv1D(
            filters, config.kernel_size, activation=config.activation, name=f"conv_{i}"
        )(x)
        if i < len(config.filters) - 1:
            x = keras.layers.MaxPooling1D(config.pool_size, name=f"pool_{i}")(x)
    x = keras.layers.GlobalMaxPooling1D(name="global_pool")(x)
    x = dense_stack(x, config)
    return keras.Model(inputs, head_layer(x, outputs, head), name="conv1d")


def _check_length(config: Conv1dConfig, steps: int) -> None:
    problem = length_problem(config, steps)
    if problem is not None:
        raise ConfigError(problem, hint=SHORTER)


SHORTER = (
    "Use fewer filters, a smaller kernel_size or pool_size, or longer sequences "
    "(data.maxlen, data.sequence_length) or windows."
)


def length_problem(config: Conv1dConfig, steps: int) -> str | None:
    """Each unpadded convolution takes kernel_size - 1 steps and each pooling divides the
    rest: why sequences of `steps` are too short for the blocks (before Keras fails on a
    negative shape), or None."""
    left = steps
    for i in range(len(config.filters)):
        if i:
            left //= config.pool_size
        if left < config.kernel_size:
            return (
                f"model.filters: conv block {i + 1} of {len(config.filters)} gets {left} "
                f"steps, fewer than kernel_size {config.kernel_size}: sequences of {steps} "
                f"steps are too short for {len(config.filters)} blocks of kernel_size "
                f"{config.kernel_size} with pool_size {config.pool_size}."
            )
        left -= config.kernel_size - 1
    return None
