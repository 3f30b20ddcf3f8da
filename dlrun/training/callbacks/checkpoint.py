"""`BestCheckpoint`: the model at its best epoch so far by an objective, saved atomically.

Args:
    path: where the model goes (`checkpoint.keras`).
    objective: the metric and direction that decide "best".
    done: history rows of the epochs finished before this fit (a resume takes its record
        from them); empty for a fresh fit.

Example:

```python
checkpoint = BestCheckpoint(stage / "checkpoint.keras", Objective.of("val_accuracy"), done=[])
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from dlrun.objective import Objective
from dlrun.runs.rundir import save_with
from dlrun.training.callbacks.history import resumed_best


class BestCheckpoint(keras.callbacks.Callback):
    def __init__(self, path: Path, objective: Objective, done: list[dict[str, float]]) -> None:
        super().__init__()
        self.path = path
        self.objective = objective
        self.best = objective.worst
        resumed = resumed_best(done, objective)
        if resumed is not None and path.is_file():
            self.best = resumed[1]

    @property
    def monitor(self) -> str:
        return self.objective.name

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(self.objective.name)
        if value is None:
            return
        if self.objective.better(float(value), self.best):
            self.best = float(value)
            save_with(self.path, self.model.save)
