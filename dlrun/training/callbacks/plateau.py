"""`ResumableReduceLROnPlateau`: Keras's ReduceLROnPlateau that survives a resume.

The backup restores the optimizer's learning rate (a variable of the optimizer); this
callback brings back its own count of epochs without improvement, its best value and
its cooldown by replaying the history rows of the epochs already done, as Keras's
callback went through them.

Args:
    objective: what to watch and which way is better.
    done: history rows of the epochs finished before this fit, with their
        `learning_rate` (`LearningRateLog`); empty for a fresh fit.
    **kwargs: ReduceLROnPlateau's own (`factor`, `patience`, `min_delta`, `cooldown`,
        `min_lr`).

Example:

```python
plateau = ResumableReduceLROnPlateau(Objective.of("val_loss"), done=[], patience=2)
model.fit(ds, epochs=20, callbacks=[LearningRateLog(), plateau])
```
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from dlrun.objective import Objective


class ResumableReduceLROnPlateau(keras.callbacks.ReduceLROnPlateau):
    def __init__(self, objective: Objective, done: list[dict[str, float]], **kwargs: Any) -> None:
        mode = "max" if objective.maximize else "min"
        super().__init__(monitor=objective.name, mode=mode, **kwargs)
        self.done = done

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        if self.monitor_op is None:
            self._set_monitor_op()
        for row in self.done:
            self._replay(row)

    def _replay(self, row: dict[str, float]) -> None:
        """ReduceLROnPlateau.on_epoch_end's bookkeeping for one past epoch, without
        touching the optimizer (its rate came back with the backup)."""
        current = row.get(self.monitor)
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            # Keras lowers the rate, and restarts its count, only above min_lr.
            if self.wait >= self.patience and row.get("learning_rate", 0.0) > np.float32(
                self.min_lr
            ):
                self.cooldown_counter = self.cooldown
                self.wait = 0
