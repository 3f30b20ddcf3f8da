"""`python:path/file.py:function`: a model builder written by the user.

The file is imported and the function called as
`function(config=PythonModelConfig, input_spec=InputSpec, outputs=int, head=Head,
**params)`; it must return a `keras.Model`. This runs the user's code: only use files
you trust. `dlrun check` only parses the file (it never runs it) to find the function.

Example config:

```yaml
model: {kind: "python:models/tiny.py:build", params: {width: 8}}
```
"""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from dlrun.config.schema import ModelSection
from dlrun.data.inputs import InputSpec
from dlrun.errors import ConfigError
from dlrun.tasks import Head

KIND_FORM = "python:path/file.py:function"


class PythonModelConfig(ModelSection):
    """The user's builder function and the keyword arguments it gets."""

    kind: str = Field(
        description=f"The user's builder: {KIND_FORM}.", pattern="^python:", examples=[KIND_FORM]
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Extra keyword arguments for the builder."
    )

    @field_validator("kind")
    @classmethod
    def _file_and_function(cls, kind: str) -> str:
        file, function = _target(kind)
        if not file or not function:
            raise ValueError(f"must look like {KIND_FORM}")
        return kind

    @property
    def file(self) -> Path:
        return Path(_target(self.kind)[0])

    @property
    def function(self) -> str:
        return _target(self.kind)[1]

    def input_problems(self) -> list[str]:
        path = self.file
        if not path.is_file():
            return [
                f"model.kind: builder file not found: {path} (paths are relative to the "
                "directory dlrun runs in)."
            ]
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError) as exc:
            line = f", line {exc.lineno}" if getattr(exc, "lineno", None) else ""
            return [f"model.kind: {path} is not valid Python ({exc.msg}{line})."]
        names = _top_level_names(tree)
        if names is not None and self.function not in names:
            defined = sorted(
                n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            )
            listed = f" Functions there: {', '.join(defined)}." if defined else ""
            return [f"model.kind: {path} has no function '{self.function}'.{listed}"]
        return []


def _target(kind: str) -> tuple[str, str]:
    file, _, function = kind.removeprefix("python:").rpartition(":")
    return file, function


def _top_level_names(tree: ast.Module) -> set[str] | None:
    """Names the module binds at its top level, or None when a star import hides them."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            # assignments, and definitions inside top-level if/try blocks
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
                elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(sub.name)
    return names


def build_user_model(config: PythonModelConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    import keras

    path, function = config.file, config.function
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
