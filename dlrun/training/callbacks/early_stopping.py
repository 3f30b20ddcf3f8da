"""`ResumableEarlyStopping`: Keras's EarlyStopping that survives a resume.

After a resume it keeps its best value and patience count (from the history rows of
the epochs already done) and its best weights (from the best checkpoint, when that
follows the same objective).

Args:
    checkpoint: the best checkpoint of the same objective, or None.
    objective: what to watch and which way is better.
    done: history rows of the epochs finished before this fit; empty for a fresh fit.
    **kwargs: EarlyStopping's own (`patience`, `min_delta`, `restore_best_weights`).

Example:

```python
stopper = ResumableEarlyStopping(None, Objective.of("val_loss"), [], patience=3)
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from dlrun.objective import Objective
from dlrun.training.callbacks.history import resumed_best


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    def __init__(
        self,
        checkpoint: Path | None,
        objective: Objective,
        done: list[dict[str, float]],
        **kwargs: Any,
    ) -> None:
        mode = "max" if objective.maximize else "min"
        super().__init__(monitor=objective.name, mode=mode, **kwargs)
        self.checkpoint = checkpoint
        self.resumed = resumed_best(done, objective)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        if self.resumed is None:
            return
        epoch, self.best, done = self.resumed
        self.best_epoch = epoch - 1  # Keras counts epochs from 0
        self.wait = done - epoch
        if self.restore_best_weights and self.checkpoint is not None and self.checkpoint.is_file():
            # The checkpoint holds the weights of that same best epoch (same objective).
            best = keras.saving.load_model(self.checkpoint, safe_mode=True)
            self.best_weights = best.get_weights()
