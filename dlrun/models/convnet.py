"""`convnet`: Conv2D blocks with max-pooling between them, then a dense head (book ch. 5).

It takes images only; `dlrun check` refuses it on any other input.

Example config (the book's MNIST convnet):

```yaml
model: {kind: convnet, filters: [32, 64, 64], kernel_size: 3, pool_size: 2, units: [64]}
```

The book's advanced architecture options (ch. 7), each off by default:

- `batch_norm: true`: a BatchNormalization between each convolution (and hidden Dense
  layer), then without bias, and its activation;
- `residual: true`: each conv block's input added to its output (after its pooling),
  through a 1x1 Conv2D, strided like the pooling, where the shape changes; the
  convolutions are then padded ("same") so that a block keeps its size;
- `separable: true`: the blocks after the first are SeparableConv2D (depthwise separable,
  as in Xception); the first stays a Conv2D, because the few channels of raw pixels are
  not the independent features a separable convolution assumes.

```yaml
model: {kind: convnet, filters: [32, 64, 128], batch_norm: true, residual: true, separable: true}
```
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal

from pydantic import Field

from dlrun.config.schema import Units
from dlrun.data.inputs import InputSpec
from dlrun.errors import ConfigError
from dlrun.models.augment import model_inputs
from dlrun.models.layers import (
    BlockKeys,
    activated,
    add_residual,
    dense_stack,
    head_layer,
    join,
)
from dlrun.tasks import Head


class ConvnetConfig(BlockKeys):
    """Conv2D blocks, then the dense layers of `units`."""

    # required (mlp is the kind a config without one gets), so editors tell the kinds apart
    kind: Literal["convnet"] = Field(description="Conv2D blocks for images.")
    filters: list[Units] = Field(
        default_factory=lambda: [32, 64, 64], description="Filters per conv block."
    )
    kernel_size: int = Field(3, ge=1, description="Convolution kernel size.")
    pool_size: int = Field(2, ge=1, description="Max-pooling size between blocks.")
    separable: bool = Field(
        False,
        description="Depthwise separable convolutions (SeparableConv2D, as in Xception) in "
        "the conv blocks after the first, which stays a Conv2D on the raw pixels.",
    )

    def describe(self) -> str:
        dense = f" + {join(self.units)}" if self.units else ""
        separable = " sep" if self.separable else ""
        return (
            f"convnet {join(self.filters)}{self.options()}{separable}{dense}{self.regularization()}"
        )

    def problems(self) -> list[str]:
        problems = super().problems()
        if self.separable and len(self.filters) < 2:
            blocks = "1 block" if self.filters else "no blocks"
            problems.append(
                "model.separable makes the conv blocks after the first SeparableConv2D (the "
                f"first stays a Conv2D on the raw pixels), and model.filters has {blocks}, so "
                "none would be separable; give two blocks or more (e.g. filters: [32, 64]) or "
                "remove model.separable."
            )
        if self.residual and not self.filters:
            problems.append(
                "model.residual acts on the conv blocks of model.filters, which is empty; "
                "add a block (e.g. filters: [32]) or remove model.residual."
            )
        if self.batch_norm and not self.filters and not self.units:
            problems.append(
                "model.batch_norm acts on the conv blocks of model.filters and the Dense "
                "layers of model.units, which are both empty; add a block (e.g. filters: "
                "[32]) or remove model.batch_norm."
            )
        return problems


def build_convnet(config: ConvnetConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    import keras

    if len(spec.shape) != 3:
        raise ConfigError(
            f"model.kind 'convnet' needs images (height, width, channels); the data gives "
            f"shape {spec.shape}.",
            hint="Use model.kind: mlp for vector data.",
        )
    inputs, x = model_inputs(spec)
    # a residual block adds its input to its output, so it must keep the input's size
    padding = "same" if config.residual else "valid"
    last = len(config.filters) - 1
    for i, filters in enumerate(config.filters):
        block_input = x
        conv = keras.layers.SeparableConv2D if config.separable and i else keras.layers.Conv2D
        layer = partial(conv, filters, config.kernel_size, padding=padding, name=f"conv_{i}")
        x = activated(x, layer, config.activation, config.batch_norm)
        if i < last:
            x = keras.layers.MaxPooling2D(config.pool_size, padding=padding, name=f"pool_{i}")(x)
        if config.residual:
            strides = config.pool_size if i < last else 1
            x = add_residual(block_input, x, f"conv_{i}", strides=strides)
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_stack(x, config, batch_norm=config.batch_norm)
    return keras.Model(inputs, head_layer(x, outputs, head), name="convnet")
