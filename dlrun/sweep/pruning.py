"""The sweep's hook into `train_stage`: report the score to the Optuna trial, stop when
the pruner says so.

Holdout: one report per epoch (step = the 1-based epoch), through a Keras callback, so
`sweep.warmup_epochs` reads the way a user counts; when the pruner says stop, the fit
ends after that epoch (its history and model are kept). K-fold: one report per fold,
the score over the folds so far. Importing this module imports Keras: import it lazily,
after `dlrun.tfenv.import_keras`.

The trial's storage is the only thing these calls touch, so an error from them is a
FatalError: every later trial would meet the same broken storage.

Example:

```python
hooks = TrialPruning(trial, "val_accuracy")
record = train_stage(config, portions, stage_dir, out, objective, hooks=hooks)
record.pruned_at   # None, or the epoch (holdout) or fold (K-fold) where it was stopped
```
"""

from __future__ import annotations

from typing import Any

import keras

from dlrun.errors import FatalError


class TrialPruning:
    def __init__(self, trial: Any, metric: str) -> None:
        self.trial = trial
        self.metric = metric
        self._pruned_at: int | None = None

    @property
    def pruned_at(self) -> int | None:
        return self._pruned_at

    def fit_callbacks(self, folds: int) -> list[Any]:
        return [_EpochReport(self)] if folds == 1 else []

    def fold_done(self, fold: int, score: float) -> bool:
        return self.report(score, fold)

    def report(self, value: float, step: int) -> bool:
        """Report `value` at `step`; True (and `pruned_at = step`) when the pruner stops it."""
        try:
            self.trial.report(float(value), step)
            prune = self.trial.should_prune()
        except Exception as exc:
            raise FatalError(
                f"the sweep's study storage failed: {type(exc).__name__}: {exc}",
                hint="Check the --storage database, then `dlrun sweep CONFIG --resume`.",
            ) from exc
        if prune:
            self._pruned_at = step
        return prune


class _EpochReport(keras.callbacks.Callback):
    def __init__(self, pruning: TrialPruning) -> None:
        super().__init__()
        self.pruning = pruning

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(self.pruning.metric)
        if value is None:  # train_stage names the missing metric once the fit returns
            return
        if self.pruning.report(value, epoch + 1):
            self.model.stop_training = True
