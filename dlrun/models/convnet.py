"""`convnet`: Conv2D blocks with max-pooling between them, then a dense head (book ch. 5).

It takes images only; `dlrun check` refuses it on any other input.

Example config (the book's MNIST convnet):

```yaml
model: {kind: convnet, filters: [32, 64, 64], kernel_size: 3, pool_size: 2, units: [64]}
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dlrun.config.schema import Units
from dlrun.data.inputs import InputSpec
from dlrun.errors import ConfigError
from dlrun.models.augment import model_inputs
from dlrun.models.layers import DenseKeys, dense_stack, head_layer, join
from dlrun.tasks import Head


class ConvnetConfig(DenseKeys):
    """Conv2D blocks, then the dense layers of `units`."""

    # required (mlp is the kind a config without one gets), so editors tell the kinds apart
    kind: Literal["convnet"] = Field(description="Conv2D blocks for images.")
    filters: list[Units] = Field(
        default_factory=lambda: [32, 64, 64], description="Filters per conv block."
    )
    kernel_size: int = Field(3, ge=1, description="Convolution kernel size.")
    pool_size: int = Field(2, ge=1, description="Max-pooling size between blocks.")

    def describe(self) -> str:
        dense = f" + {join(self.units)}" if self.units else ""
        return f"convnet {join(self.filters)}{dense}{self.regularization()}"


def build_convnet(config: ConvnetConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    import keras

    if len(spec.shape) != 3:
        raise ConfigError(
            f"model.kind 'convnet' needs images (height, width, channels); the data gives "
            f"shape {spec.shape}.",
            hint="Use model.kind: mlp for vector data.",
        )
    inputs, x = model_inputs(spec)
    for i, filters in enumerate(config.filters):
        x = keras.layers.Conv2D(
            filters, config.kernel_size, activation=config.activation, name=f"conv_{i}"
        )(x)
        if i < len(config.filters) - 1:
            x = keras.layers.MaxPooling2D(config.pool_size, name=f"pool_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_stack(x, config)
    return keras.Model(inputs, head_layer(x, outputs, head), name="convnet")
