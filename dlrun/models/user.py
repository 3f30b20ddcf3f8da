"""`python:path/file.py:function`: a model builder written by the user.

The file is imported and the function called as
`function(config=ModelConfig, input_spec=InputSpec, outputs=int, head=Head)`;
it must return a `keras.Model`. This runs the user's code: only use files you trust.

Example config:

```yaml
model: {kind: "python:models/tiny.py:build", params: {width: 8}}
```
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from dlrun.config.schema import ModelConfig
from dlrun.data.prepare import InputSpec
from dlrun.errors import ConfigError
from dlrun.tasks import Head


def build_user_model(config: ModelConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    import keras

    target = config.kind.removeprefix("python:")
    file, sep, function = target.rpartition(":")
    if not sep or not file or not function:
        raise ConfigError(
            f"model.kind '{config.kind}' must look like python:path/file.py:function."
        )
    path = Path(file)
    if not path.is_file():
        raise ConfigError(
            f"model.kind: builder file not found: {path} (paths are relative to "
            "the directory dlrun runs in)."
        )
    module_spec = importlib.util.spec_from_file_location(f"dlrun_user_{path.stem}", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    builder = getattr(module, function, None)
    if not callable(builder):
        raise ConfigError(f"model.kind: {path} has no function '{function}'.")
    model = builder(config=config, input_spec=spec, outputs=outputs, head=head, **config.params)
    if not isinstance(model, keras.Model):
        raise ConfigError(
            f"model.kind: {path}:{function} returned {type(model).__name__}, not a keras.Model."
        )
    return model
