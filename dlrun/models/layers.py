"""Pieces shared by the builders: the dense-stack keys, per-layer values, regularizers, heads,
and the book's advanced architecture options (ch. 7): batch normalization and residual
connections."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import Field

from dlrun.config.schema import ModelSection, Penalty, Rate, Units
from dlrun.errors import ConfigError
from dlrun.tasks import Head


class DenseKeys(ModelSection):
    """The hidden Dense layers every built-in kind ends with, and their regularization."""

    units: list[Units] = Field(
        default_factory=lambda: [64, 64], description="Hidden Dense layer sizes."
    )
    activation: str = Field("relu", description="Hidden-layer activation.")
    dropout: Rate | list[Rate] = Field(
        0.0,
        description="Dropout rate in [0, 1) after each hidden layer (one value or one per layer).",
    )
    l1: Penalty | list[Penalty] = Field(
        0.0, description="L1 weight penalty >= 0 (global or per layer)."
    )
    l2: Penalty | list[Penalty] = Field(
        0.0, description="L2 weight penalty >= 0 (global or per layer)."
    )

    def problems(self) -> list[str]:
        # Checked here so `dlrun check` reports it, not the model builder after the data loads.
        layers = len(self.units)
        keys = (("dropout", self.dropout), ("l1", self.l1), ("l2", self.l2))
        if not layers:
            # They act on the hidden Dense layers only, so without any they would do nothing
            # (a regularize stage that regularizes nothing).
            return [
                f"model.{key} acts on the hidden Dense layers of model.units, which is empty; "
                f"add a layer (e.g. units: [16]) or remove model.{key}."
                for key, value in keys
                if (any(value) if isinstance(value, list) else value)
            ]
        return [
            f"model.{key} has {len(value)} values but model.units has {layers} layers; "
            "give one value per layer or a single value for all."
            for key, value in keys
            if isinstance(value, list) and len(value) != layers
        ]

    def regularization(self) -> str:
        """' + dropout 0.5 + l2 0.001' for the keys that are set, '' for none."""
        text = ""
        for key in ("dropout", "l1", "l2"):
            value = getattr(self, key)
            if any(value) if isinstance(value, list) else value:
                shown = join(value, "/") if isinstance(value, list) else f"{value:g}"
                text += f" + {key} {shown}"
        return text


class BlockKeys(DenseKeys):
    """The dense-stack keys and the book's advanced architecture options (ch. 7), for the
    kinds that take them (convnet, mlp). Both are off by default: the model is then the
    plain one, layer for layer."""

    batch_norm: bool = Field(
        False,
        description="BatchNormalization between each hidden layer (Conv2D or Dense) and its "
        "activation; the layer then has no bias, the normalization's offset replaces it.",
    )
    residual: bool = Field(
        False,
        description="Residual connections: add each block's input to its output (convnet: "
        "each conv block, padded to keep its size; mlp: each hidden Dense layer), through a "
        "1x1 Conv2D or a Dense projection where the shape changes.",
    )

    def options(self) -> str:
        """' bn res' for the options that are set, '' for none."""
        return "".join(
            f" {tag}"
            for key, tag in (("batch_norm", "bn"), ("residual", "res"))
            if getattr(self, key)
        )


def join(values: list[Any], sep: str = "-") -> str:
    return sep.join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def per_layer(value: float | list[float], layers: int, key: str) -> list[float]:
    """Expand a global value to one per layer; a list must have one value per layer."""
    if isinstance(value, list):
        if len(value) != layers:
            raise ConfigError(
                f"model.{key} has {len(value)} values but model.units has {layers} layers; "
                f"give one value per layer or a single value for all."
            )
        return [float(v) for v in value]
    return [float(value)] * layers


def dense_stack(
    x: Any, config: DenseKeys, *, batch_norm: bool = False, residual: bool = False
) -> Any:
    """Hidden Dense layers with the configured activation, L1/L2 and dropout; with
    `batch_norm`, each normalized before its activation; with `residual`, each layer's
    input added to its output (after the dropout)."""
    import keras

    n = len(config.units)
    dropouts = per_layer(config.dropout, n, "dropout")
    l1s = per_layer(config.l1, n, "l1")
    l2s = per_layer(config.l2, n, "l2")
    for i, units in enumerate(config.units):
        regularizer = keras.regularizers.L1L2(l1=l1s[i], l2=l2s[i]) if l1s[i] or l2s[i] else None
        block_input = x
        dense = partial(
            keras.layers.Dense, units, kernel_regularizer=regularizer, name=f"dense_{i}"
        )
        x = activated(x, dense, config.activation, batch_norm)
        if dropouts[i] > 0:
            x = keras.layers.Dropout(dropouts[i], name=f"dropout_{i}")(x)
        if residual:
            x = add_residual(block_input, x, f"dense_{i}")
    return x


def activated(x: Any, layer: Callable[..., Any], activation: str, batch_norm: bool) -> Any:
    """Apply the hidden layer that `layer(activation=..., [use_bias=False])` makes, with its
    activation; with `batch_norm`, a BatchNormalization between the two (book ch. 7), so
    the activation gets normalized inputs. The layer then has no bias: the normalization
    subtracts the mean, which would cancel it, and adds its own learned offset.

    Example:

    ```python
    x = activated(x, partial(keras.layers.Dense, 16, name="dense_0"), "relu", True)
    # dense_0 (no bias) -> dense_0_bn -> dense_0_act
    ```
    """
    import keras

    if not batch_norm:
        return layer(activation=activation)(x)
    made = layer(activation=None, use_bias=False)
    x = keras.layers.BatchNormalization(name=f"{made.name}_bn")(made(x))
    return keras.layers.Activation(activation, name=f"{made.name}_act")(x)


def add_residual(block_input: Any, x: Any, name: str, strides: int = 1) -> Any:
    """`x` plus its block's input (a residual connection, book ch. 7). Where the shapes
    differ the input is projected to `x`'s: a 1x1 Conv2D for feature maps (strided like
    the block's pooling, `strides`), a Dense for vectors; otherwise it is added as it is.

    Example:

    ```python
    x = add_residual(block_input, x, "conv_0", strides=2)  # conv_0_shortcut, conv_0_add
    ```
    """
    import keras

    shortcut = block_input
    if tuple(block_input.shape[1:]) != tuple(x.shape[1:]):
        if len(x.shape) == 4:
            project = keras.layers.Conv2D(
                x.shape[-1], 1, strides=strides, padding="same", name=f"{name}_shortcut"
            )
        else:
            project = keras.layers.Dense(x.shape[-1], name=f"{name}_shortcut")
        shortcut = project(block_input)
    return keras.layers.Add(name=f"{name}_add")([x, shortcut])


def head_layer(x: Any, outputs: int, head: Head) -> Any:
    """The task's output layer, in float32 whatever the dtype policy (train.precision):
    a float16 softmax or loss loses the small probabilities and overflows on large
    logits, so mixed precision stops before the head (Keras's mixed-precision guide)."""
    import keras

    return keras.layers.Dense(outputs, activation=head.activation, name="head", dtype="float32")(x)
