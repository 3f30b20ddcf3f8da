"""The Keras callback that reports a sweep's metric to its Optuna trial each epoch.

Importing this module imports Keras: import it lazily, after `dlrun.tfenv.import_keras`.
When the pruner says stop, the fit ends after that epoch (its history and model are
kept) and the trial runner marks the trial pruned with the epoch it reached.

Example:

```python
pruning = TrialPruning(trial, "val_accuracy")
train_model(config, prepared, stage_dir, out, extra_callbacks=[pruning])
pruning.pruned_epoch   # None, or the 1-based epoch where the pruner stopped it
```
"""

from __future__ import annotations

from typing import Any

import keras

from dlrun.sweep.trial import MetricMissing


class TrialPruning(keras.callbacks.Callback):
    def __init__(self, trial: Any, metric: str) -> None:
        super().__init__()
        self.trial = trial
        self.metric = metric
        self.pruned_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.metric not in logs:
            raise MetricMissing(
                f"sweep.metric '{self.metric}' is not logged by this model; logged: "
                f"{', '.join(k for k in logs if k != 'learning_rate')}.",
                hint="Set sweep.metric to one of them, e.g. val_loss.",
            )
        # Steps are 1-based epochs, so warmup_epochs reads the way a user counts.
        self.trial.report(float(logs[self.metric]), epoch + 1)
        if self.trial.should_prune():
            self.pruned_epoch = epoch + 1
            self.model.stop_training = True
