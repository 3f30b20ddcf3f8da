"""`LearningRateLog`: the optimizer's learning rate in each epoch's logs (`learning_rate`).

Keras's TensorBoard and ReduceLROnPlateau callbacks add it to the logs too, but only
when they run, and after history.csv's writer: this callback goes first, so every
epoch's row has it. With a schedule it is the rate at the epoch's last step (the
schedule of the optimizer's step count); with reduce_on_plateau, the rate the epoch
trained with, before the callback lowers it.

Example:

```python
model.fit(ds, epochs=5, callbacks=[LearningRateLog(), HistoryWriter(path, done=[])])
# history.csv: epoch,learning_rate,loss,...
```
"""

from __future__ import annotations

from typing import Any

import keras


class LearningRateLog(keras.callbacks.Callback):
    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            rate = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(rate))
