"""Pieces shared by the builders: the dense-stack keys, per-layer values, regularizers, heads."""

from __future__ import annotations

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


def dense_stack(x: Any, config: DenseKeys) -> Any:
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
