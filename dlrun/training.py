"""Compile, callbacks, fit: one training of one model into one stage directory.

A stage directory gets `history.csv` (rewritten atomically each epoch),
`checkpoint.keras` (best by the caller's selection metric, else the early-stopping
monitor, else validation loss),
`tensorboard/` events, `backup/` (Keras's BackupAndRestore, so an interrupted fit
resumes from its last epoch; early stopping and the checkpoint pick up their record
from history.csv) and `model.keras` when the fit ends.

Example:

```python
result = train_model(config, prepared, run.stage_dir("train"), out)
result.best_epoch, result.history["val_loss"]
```
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dlrun.console import Output
from dlrun.data.pipeline import make_dataset
from dlrun.data.prepare import Prepared
from dlrun.evaluation import one_hot_width
from dlrun.models import build_model
from dlrun.runs import save_with
from dlrun.spec import DlrunConfig
from dlrun.tasks import Head, head_for, higher_is_better
from dlrun.tfenv import import_keras


@dataclass
class FitResult:
    """What one training produced."""

    model: Any
    history: dict[str, list[float]]
    epochs_run: int
    best_epoch: int | None
    stopped_early: bool
    seconds: float
    params: int = 0


def resolve_head(config: DlrunConfig) -> Head:
    return head_for(
        config.task,
        activation=config.model.output_activation,
        loss=config.train.loss,
        labels=config.data.labels,
        metrics=config.train.metrics,
    )


def make_optimizer(config: DlrunConfig) -> Any:
    keras = import_keras()
    opt = config.train.optimizer
    kwargs: dict[str, Any] = {"learning_rate": opt.learning_rate}
    if opt.momentum is not None:
        kwargs["momentum"] = opt.momentum
    optimizer = keras.optimizers.get({"class_name": opt.name, "config": kwargs})
    return optimizer


def compiled_model(config: DlrunConfig, prepared: Prepared) -> Any:
    """Build and compile the configured model for the prepared data."""
    head = resolve_head(config)
    model = build_model(config.model, prepared.input_spec, prepared.outputs, head)
    model.compile(optimizer=make_optimizer(config), loss=head.loss, metrics=list(head.metrics))
    return model


def train_model(
    config: DlrunConfig,
    prepared: Prepared,
    stage_dir: Path,
    out: Output,
    *,
    epochs: int | None = None,
    extra_callbacks: list[Any] | None = None,
    selection_metric: str | None = None,
) -> FitResult:
    """Fit a fresh model on `prepared.train`, validating on `prepared.validation`.

    If `stage_dir/backup` holds a BackupAndRestore checkpoint, training resumes
    from its last completed epoch. `selection_metric` is what the caller picks epochs
    and stages by (the workflow's or sweep's metric); the HParams session reports the
    metrics at its best epoch. It defaults to the early-stopping monitor.
    """
    keras = import_keras(out.verbose)
    from dlrun.callbacks import BestCheckpoint, EpochPrinter, HistoryWriter, ResumableEarlyStopping

    keras.utils.set_random_seed(config.seed)
    model = compiled_model(config, prepared)
    one_hot = one_hot_width(config, prepared.outputs)
    train_ds = make_dataset(
        prepared.train, config.train.batch_size, shuffle=True, seed=config.seed, one_hot=one_hot
    )
    val_ds = (
        make_dataset(prepared.validation, config.train.batch_size, one_hot=one_hot)
        if prepared.validation is not None
        else None
    )
    epochs = epochs or config.train.epochs
    history_path = stage_dir / "history.csv"
    history_writer = HistoryWriter(history_path)
    monitor = _monitor(config, has_validation=val_ds is not None)
    # The checkpoint keeps the best epoch by what the caller chooses with, so a stage's
    # best_epoch and its checkpoint (final: keep_best) are the same epoch.
    checkpoint = (
        BestCheckpoint(stage_dir / "checkpoint.keras", history_path, selection_metric or monitor)
        if config.train.checkpoint and val_ds is not None
        else None
    )
    es = config.train.early_stopping
    stopper = (
        ResumableEarlyStopping(
            history_path,
            checkpoint.path if checkpoint is not None and checkpoint.monitor == monitor else None,
            monitor=monitor,
            patience=es.patience,
            min_delta=es.min_delta,
            restore_best_weights=es.restore_best_weights,
        )
        if es is not None and es.enabled
        else None
    )
    callbacks = [
        keras.callbacks.BackupAndRestore(str(stage_dir / "backup"), double_checkpoint=True),
        history_writer,
        EpochPrinter(out, epochs),
    ]
    if stopper is not None:
        callbacks.append(stopper)
    if config.train.terminate_on_nan:
        callbacks.append(keras.callbacks.TerminateOnNaN())
    if checkpoint is not None:
        callbacks.append(checkpoint)
    if config.train.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(stage_dir / "tensorboard")))
    callbacks.extend(extra_callbacks or [])

    started = time.perf_counter()
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        callbacks=callbacks,
        verbose=0,
        shuffle=False,  # the dataset shuffles itself, seeded
    )
    seconds = time.perf_counter() - started
    history = history_writer.columns()
    # TerminateOnNaN stops at the bad batch, but the epoch's mean loss is often inf, not NaN.
    if any(not math.isfinite(v) for v in history.get("loss", [])):
        raise FloatingPointError(
            "the loss became NaN or infinite (training diverged); lower "
            "train.optimizer.learning_rate, or normalize the inputs and targets"
        )
    save_with(stage_dir / "model.keras", model.save)
    if config.train.tensorboard:  # one HParams session per training (stage, fold, trial)
        from dlrun.hparams import record_session

        record_session(
            stage_dir / "tensorboard",
            config,
            history,
            metric=selection_metric or monitor,
            seconds=seconds,
        )
    epochs_run = len(history.get("loss", []))
    return FitResult(
        model=model,
        history=history,
        epochs_run=epochs_run,
        best_epoch=best_epoch(history, monitor),
        stopped_early=bool(stopper is not None and stopper.stopped_epoch > 0),
        seconds=seconds,
        params=int(model.count_params()),
    )


def best_epoch(history: dict[str, list[float]], monitor: str) -> int | None:
    """1-based epoch with the best value of `monitor` (lowest, or highest for accuracy/auc)."""
    values = history.get(monitor)
    if not values:
        return None
    best = max(values) if higher_is_better(monitor) else min(values)
    return values.index(best) + 1


def _monitor(config: DlrunConfig, has_validation: bool) -> str:
    """What early stopping and the best checkpoint watch: the early-stopping monitor
    (default val_loss), or its training twin when there is no validation data."""
    es = config.train.early_stopping
    monitor = es.monitor if es is not None and es.enabled else "val_loss"
    if monitor.startswith("val_") and not has_validation:
        monitor = monitor.removeprefix("val_")
    return monitor
