"""Pieces shared by the builders: per-layer values, regularizers, dense stacks, heads."""

from __future__ import annotations

from typing import Any

from dlrun.config.schema import ModelConfig
from dlrun.errors import ConfigError
from dlrun.tasks import Head


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


def dense_stack(x: Any, config: ModelConfig) -> Any:
    """Hidden Dense layers with the configured activation, L1/L2 and dropout."""
    import keras

    n = len(config.units)
    dropouts = per_layer(config.dropout, n, "dropout")
    l1s = per_layer(config.l1, n, "l1")
    l2s = per_layer(config.l2, n, "l2")
    for i, units in enumerate(config.units):
        regularizer = keras.regularizers.L1L2(l1=l1s[i], l2=l2s[i]) if l1s[i] or l2s[i] else None
        x = keras.layers.Dense(
            units, activation=config.activation, kernel_regularizer=regularizer, name=f"dense_{i}"
        )(x)
        if dropouts[i] > 0:
            x = keras.layers.Dropout(dropouts[i], name=f"dropout_{i}")(x)
    return x


def head_layer(x: Any, outputs: int, head: Head) -> Any:
    import keras

    return keras.layers.Dense(outputs, activation=head.activation, name="head")(x)
