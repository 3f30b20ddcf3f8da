"""`BestCheckpoint`: the model at its best epoch so far by an objective, saved atomically.

Args:
    path: where the model goes (`checkpoint.keras`).
    history_path: the stage's history.csv; a resumed fit takes its record from there.
    objective: the metric and direction that decide "best".
    initial_epoch: epochs done before this fit (a resume), 0 for a fresh fit.

Example:

```python
checkpoint = BestCheckpoint(stage / "checkpoint.keras", stage / "history.csv",
                            Objective.of("val_accuracy"))
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from dlrun.objective import Objective
from dlrun.runs import save_with
from dlrun.training.callbacks.history import resumed_best


class BestCheckpoint(keras.callbacks.Callback):
    def __init__(
        self, path: Path, history_path: Path, objective: Objective, initial_epoch: int = 0
    ) -> None:
        super().__init__()
        self.path = path
        self.objective = objective
        self.best = objective.worst
        resumed = resumed_best(history_path, initial_epoch, objective)
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
