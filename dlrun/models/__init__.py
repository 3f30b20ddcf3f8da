"""Model builders registry: a name -> function(config, input_spec, outputs, head) -> keras.Model.

Adding a model kind is one function and one line in `BUILDERS`. Builders import
Keras inside the function, so this module stays importable without TensorFlow.
`model.kind: python:path/file.py:function` runs the user's own builder (the
user's code runs with dlrun's rights: only use builders you trust).

Example:

```python
model = build_model(config.model, prepared.input_spec, prepared.outputs, head)
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlrun.config.schema import ModelConfig
from dlrun.data.prepare import InputSpec
from dlrun.models.convnet import build_convnet
from dlrun.models.mlp import build_mlp
from dlrun.models.user import build_user_model
from dlrun.tasks import Head

Builder = Callable[[ModelConfig, InputSpec, int, Head], Any]

BUILDERS: dict[str, Builder] = {
    "mlp": build_mlp,
    "convnet": build_convnet,
}


def build_model(config: ModelConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    """Build the configured body with the task's head."""
    if config.kind.startswith("python:"):
        return build_user_model(config, spec, outputs, head)
    return BUILDERS[config.kind](config, spec, outputs, head)
