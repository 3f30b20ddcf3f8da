"""`ArrayKeys`: the preprocessing keys of every source that gives arrays (images or
feature vectors), declared once; `dlrun.data.prepare` applies them.

Example:

```python
class NpzConfig(ArrayKeys):
    source: Literal["npz"]
    path: str
```
"""

from __future__ import annotations

from pydantic import Field

from dlrun.config.schema import DataSection


class ArrayKeys(DataSection):
    scale: float | None = Field(
        None,
        gt=0,
        description="Multiply inputs by this (default: 1/255 for 8-bit images, 1/their maximum "
        "for other images, 1 for feature vectors).",
    )
    normalize: bool | None = Field(
        None,
        description="Standardize with mean/std fitted on the training split "
        "(default: on for feature vectors, off for images).",
    )
