"""`mlp`: the book's densely connected network.

Example config:

```yaml
model: {kind: mlp, units: [16, 16], activation: relu, dropout: 0.5, l2: 0.001}
```
"""

from __future__ import annotations

from typing import Any

from dlrun.config.schema import ModelConfig
from dlrun.data.prepare import InputSpec
from dlrun.models.layers import dense_stack, head_layer
from dlrun.tasks import Head


def build_mlp(config: ModelConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    import keras

    inputs = keras.Input(shape=spec.shape, sparse=spec.sparse, name="inputs")
    x = keras.layers.Flatten(name="flatten")(inputs) if len(spec.shape) > 1 else inputs
    x = dense_stack(x, config)
    return keras.Model(inputs, head_layer(x, outputs, head), name="mlp")
