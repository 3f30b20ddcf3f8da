"""`dlrun check CONFIG`: validate a config and return the resolved YAML, without TensorFlow.

Example:

```python
print(check(Path("configs/imdb.yaml"), ["train.epochs=4"]))
```
"""

from __future__ import annotations

import json
from pathlib import Path

from dlrun.spec import DlrunConfig, load_config


def check(config_path: Path, overrides: list[str], extra_files: list[Path] | None = None) -> str:
    return load_config(config_path, overrides, extra_files or []).to_yaml()


def json_schema() -> str:
    schema = DlrunConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dlrun experiment config"
    return json.dumps(schema, indent=2)
