"""`mlp`: the book's densely connected network.

It takes dense vectors, tables, sparse multi-hot token sets and images, which it
flattens itself (the data layer never reshapes for a model).

Example config:

```yaml
model: {kind: mlp, units: [16, 16], activation: relu, dropout: 0.5, l2: 0.001}
```

`batch_norm: true` puts a BatchNormalization between each hidden Dense layer (then without
bias) and its activation; `residual: true` adds each hidden layer's input to its output,
through a Dense projection where the width changes (book ch. 7).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from dlrun.data.inputs import InputSpec
from dlrun.models.augment import model_inputs
from dlrun.models.layers import BlockKeys, dense_stack, head_layer, join
from dlrun.tasks import Head


class MlpConfig(BlockKeys):
    """Dense layers on the (flattened) input."""

    kind: Literal["mlp"] = Field("mlp", description="A densely connected network.")

    def describe(self) -> str:
        return f"mlp {join(self.units)}{self.options()}{self.regularization()}"

    def problems(self) -> list[str]:
        problems = super().problems()
        if not self.units:
            problems += [
                f"model.{key} acts on the hidden Dense layers of model.units, which is empty; "
                f"add a layer (e.g. units: [16]) or remove model.{key}."
                for key in ("batch_norm", "residual")
                if getattr(self, key)
            ]
        return problems


def build_mlp(config: MlpConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    import keras

    inputs, x = model_inputs(spec)
    x = keras.layers.Flatten(name="flatten")(x) if len(spec.shape) > 1 else x
    x = dense_stack(x, config, batch_norm=config.batch_norm, residual=config.residual)
    return keras.Model(inputs, head_layer(x, outputs, head), name="mlp")
