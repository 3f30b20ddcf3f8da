"""`convnet`: Conv2D blocks with max-pooling between them, then a dense head (book ch. 5).

Example config (the book's MNIST convnet):

```yaml
model: {kind: convnet, filters: [32, 64, 64], kernel_size: 3, pool_size: 2, units: [64]}
```
"""

from __future__ import annotations

from typing import Any

from dlrun.config.schema import ModelConfig
from dlrun.data.prepare import InputSpec
from dlrun.errors import ConfigError
from dlrun.models.layers import dense_stack, head_layer
from dlrun.tasks import Head


def build_convnet(config: ModelConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    import keras

    if len(spec.shape) != 3:
        raise ConfigError(
            f"model.kind 'convnet' needs images (height, width, channels); the data gives "
            f"shape {spec.shape}.",
            hint="Set data.flatten: false, or use model.kind: mlp for vector data.",
        )
    inputs = keras.Input(shape=spec.shape, name="inputs")
    x = inputs
    for i, filters in enumerate(config.filters):
        x = keras.layers.Conv2D(
            filters, config.kernel_size, activation=config.activation, name=f"conv_{i}"
        )(x)
        if i < len(config.filters) - 1:
            x = keras.layers.MaxPooling2D(config.pool_size, name=f"pool_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = dense_stack(x, config)
    return keras.Model(inputs, head_layer(x, outputs, head), name="convnet")
