"""One `fit` of one model into one directory: compile, callbacks, resume, history.

A fit's directory gets `history.csv` (rewritten atomically each epoch),
`checkpoint.keras` (the best epoch by the caller's objective), `tensorboard/` events
with an HParams session, `backup/` (everything a resume needs; see
`dlrun.training.callbacks.backup`) and `model.keras` when the fit ends.

Example:

```python
fit = fit_model(config, prepared, stage_dir, out, Objective.of("val_accuracy"))
fit.best_epoch, fit.history["val_accuracy"]
```
"""

from __future__ import annotations

import math
import shutil
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.console import Output
from dlrun.contracts import contract_for
from dlrun.data.pipeline import kept_rows, make_dataset, training_dataset
from dlrun.data.prepare import Prepared
from dlrun.errors import FailedStageError, FatalError
from dlrun.evaluation import one_hot_width
from dlrun.models import build_model
from dlrun.objective import Objective
from dlrun.runs.rundir import save_with
from dlrun.runtime import current
from dlrun.spec import DlrunConfig
from dlrun.tasks import class_index
from dlrun.tfenv import import_keras

# Files of a fit directory that a restart from scratch removes (not tensorboard/: its
# events of the lost attempt stay readable, and a new session is written beside them).
FIT_FILES = ("history.csv", "checkpoint.keras", "model.keras")


@dataclass
class Fit:
    """What one fit produced."""

    model: Any
    history: dict[str, list[float]]
    stopped_early: bool
    seconds: float
    params: int


def make_optimizer(config: DlrunConfig, steps_per_epoch: int = 1, rate: float | None = None) -> Any:
    """The configured Keras optimizer; `steps_per_epoch` turns a schedule's epochs into
    the optimizer steps Keras counts (a model compiled but never fit can leave it).
    `rate` replaces train.optimizer.learning_rate (a GAN's discriminator's own)."""
    keras = import_keras()
    opt = config.train.optimizer
    kwargs: dict[str, Any] = {"learning_rate": learning_rate(config, steps_per_epoch, rate)}
    for key in ("momentum", "weight_decay", "clipnorm"):
        if getattr(opt, key) is not None:
            kwargs[key] = getattr(opt, key)
    return keras.optimizers.get({"class_name": opt.name, "config": kwargs})


def learning_rate(config: DlrunConfig, steps_per_epoch: int, rate: float | None = None) -> Any:
    """The optimizer's learning rate (`rate`, else train.optimizer's): a number, or a
    Keras schedule of the step."""
    keras = import_keras()
    opt = config.train.optimizer
    if rate is None:
        rate = opt.learning_rate
    schedule = opt.schedule
    if schedule is None or schedule.name == "reduce_on_plateau":
        return rate
    if schedule.name == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            rate,
            decay_steps=(schedule.decay_epochs or 1) * steps_per_epoch,
            decay_rate=schedule.decay_rate,
            staircase=schedule.staircase,
        )
    warmup = schedule.warmup_epochs * steps_per_epoch
    # At least one step: a final retrain shorter than the warmup still gets a schedule.
    decay = max(
        1,
        (schedule.decay_epochs or config.train.epochs - schedule.warmup_epochs) * steps_per_epoch,
    )
    if not warmup:
        return keras.optimizers.schedules.CosineDecay(rate, decay_steps=decay, alpha=schedule.alpha)
    return keras.optimizers.schedules.CosineDecay(
        0.0,
        decay_steps=decay,
        alpha=schedule.alpha,
        warmup_target=rate,
        warmup_steps=warmup,
    )


def compiled_model(config: DlrunConfig, prepared: Prepared) -> Any:
    """Build and compile the configured model for the prepared data, in the runtime's
    scope (a distribution's variables are laid out as they are made)."""
    runtime = current()
    keras = runtime.start()
    contract = contract_for(config.task)
    spec = prepared.input_spec
    if spec.sparse and not runtime.backend.sparse_batches(runtime.strategy):
        spec = replace(spec, sparse=False)  # the pipeline makes its batches dense
    # Layers take the global dtype policy when they are made, and keep it in model.keras.
    # It is restored at once: nothing else made in this process (an export's or an
    # ensemble's wrapper layers, the caller's own Keras code) should take it on.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(config.train.precision)
    steps = -(-len(prepared.train) // config.train.batch_size)  # training_dataset's steps
    try:
        with runtime.scope():
            model = build_model(config.model, spec, prepared.outputs, contract.head(config))
            contract.compile(
                model,
                config,
                lambda rate=None: make_optimizer(config, steps, rate),
                steps_per_execution(wanted_steps(config), steps),
            )
    finally:
        keras.config.set_dtype_policy(previous)
    jit = config.train.jit_compile
    # Not under a strategy (Keras keeps XLA off with tf.distribute), nor on sparse
    # batches, which XLA cannot take. A resumed fit compiles here too, so it steps alike.
    if jit is None and config.model.compiles_faster() and runtime.backend.xla:
        jit = True if runtime.strategy is None and not spec.sparse else None
    if jit is not None:
        model.jit_compile = jit
    return model


def class_weights(config: DlrunConfig, prepared: Prepared) -> dict[int, float] | None:
    """Keras's `class_weight` for `train.class_weight`, by the model's class numbers.

    `balanced` weighs each class by n_samples / (n_classes * its count) in this fit's
    training portion (as sklearn's compute_class_weight does, over the classes present),
    so each class adds as much to the loss as any other. A mapping names classes by the
    data's labels; a class it leaves out weighs 1, as in Keras.
    """
    wanted = config.train.class_weight
    if wanted is None:
        return None
    if wanted == "balanced":
        counts = np.bincount(np.asarray(prepared.train.y, dtype=np.int64).reshape(-1))
        present = np.flatnonzero(counts)
        n = int(counts.sum())
        return {int(c): n / (len(present) * int(counts[c])) for c in present}
    weights = {}
    for name, weight in wanted.items():
        index = class_index(name, prepared.class_names)
        if index is None or index >= max(prepared.outputs, 2):
            classes = prepared.class_names or [str(c) for c in range(max(prepared.outputs, 2))]
            raise FatalError(
                f"train.class_weight names the class '{name}', which the data does not have; "
                f"its classes: {', '.join(classes)}.",
                hint="Name each class as the data's labels name it.",
            )
        weights[index] = float(weight)
    return weights


def wanted_steps(config: DlrunConfig) -> int:
    """train.steps_per_execution, or its default for the backend."""
    if config.train.steps_per_execution is not None:
        return config.train.steps_per_execution
    runtime = current()
    return 32 if runtime.backend.many_steps(runtime.strategy) else 1


def steps_per_execution(wanted: int, steps: int) -> int:
    """The largest divisor of the epoch's `steps` that is at most `wanted`.

    Keras runs `steps_per_execution` batches per call whatever the epoch's length; our
    training dataset holds every epoch back to back, so a call that ran past the end of
    an epoch took the next epoch's batches, and a later epoch trained on nothing.
    """
    return max(d for d in range(1, min(wanted, steps) + 1) if steps % d == 0)


def monitor_objective(config: DlrunConfig, has_validation: bool) -> Objective:
    """What early stopping watches: its monitor (default val_loss), or the training twin
    of it when there is no validation data."""
    es = config.train.early_stopping
    name = es.monitor if es is not None and es.enabled else "val_loss"
    if name.startswith("val_") and not has_validation:
        name = name.removeprefix("val_")
    return Objective.of(name)


def metric_missing(name: str, logged: list[str]) -> FatalError:
    """The error for an objective the model never logs: every stage or trial would fail.

    `dlrun check` refuses such an objective.metric from the config alone; this is the
    net for what only the fit shows."""
    shown = ", ".join(k for k in logged if k != "learning_rate")
    return FatalError(
        f"the metric '{name}' that stages are chosen by is not logged by this model; "
        f"logged: {shown}.",
        hint="Set objective.metric to one of them.",
    )


def fit_model(
    config: DlrunConfig,
    prepared: Prepared,
    directory: Path,
    out: Output,
    objective: Objective,
    *,
    epochs: int | None = None,
    extra_callbacks: list[Any] | None = None,
    start: Path | None = None,
) -> Fit:
    """Fit a fresh model on `prepared.train`, validating on `prepared.validation`.

    If `directory/backup` holds a backup, the fit resumes after its last epoch; an
    unreadable backup restarts the fit from scratch, with a warning. `objective`
    chooses the best epoch and the checkpoint (the workflow's or the sweep's metric).
    `start` is a trained model file of the same architecture whose weights the model
    starts from (fine-tuning), instead of its initialization.
    """
    runtime = current()
    keras = runtime.start(out.verbose)
    if runtime.shard is not None and config.train.batch_size % runtime.replicas:
        raise FatalError(
            f"train.batch_size {config.train.batch_size} does not split evenly over "
            f"{runtime.replicas} devices.",
            hint=f"Use a multiple of {runtime.replicas}, or set distribute.devices.",
        )
    from dlrun.training.callbacks import (
        Backup,
        BackupUnreadable,
        BestCheckpoint,
        EpochPrinter,
        HistoryWriter,
        LearningRateLog,
        ResumableEarlyStopping,
        ResumableReduceLROnPlateau,
        previous_rows,
    )

    has_validation = prepared.validation is not None
    epochs = epochs or config.train.epochs
    backup = directory / "backup"
    try:
        model, initial = _model_from(backup, config, prepared, start)
        done = previous_rows(directory / "history.csv", initial)
    except BackupUnreadable as exc:
        out.warn(
            f"the backup of {directory} cannot be read ({exc}); training it again from epoch 1"
        )
        shutil.rmtree(backup, ignore_errors=True)
        for name in FIT_FILES:
            (directory / name).unlink(missing_ok=True)
        model, initial = _model_from(backup, config, prepared, start)
        done = []
    one_hot = one_hot_width(config, prepared.outputs)
    contract = contract_for(config.task)
    train_ds, steps = training_dataset(
        prepared.train,
        config.train.batch_size,
        seed=config.seed,
        epochs=(initial, epochs),
        one_hot=one_hot,
        shard=runtime.shard,
        batch=contract.batch,
    )
    val_ds = (
        make_dataset(
            prepared.validation,
            config.train.batch_size,
            one_hot=one_hot,
            shard=runtime.shard,
            batch=contract.batch,
        )
        if prepared.validation is not None
        else None
    )
    _say_left_out(out, prepared, config.train.batch_size, runtime.shard)
    history_writer = HistoryWriter(directory / "history.csv", done)
    monitor = monitor_objective(config, has_validation)
    # The checkpoint keeps the best epoch by the caller's objective, so a stage's
    # best_epoch and its checkpoint (final: keep_best) are the same epoch.
    checkpoint = (
        BestCheckpoint(directory / "checkpoint.keras", objective, done)
        if config.train.checkpoint and has_validation and contract.chooses_epochs
        else None
    )
    es = config.train.early_stopping if contract.chooses_epochs else None
    stopper = (
        ResumableEarlyStopping(
            checkpoint.path
            if checkpoint is not None and checkpoint.monitor == monitor.name
            else None,
            monitor,
            done,
            patience=es.patience,
            min_delta=es.min_delta,
            restore_best_weights=es.restore_best_weights,
        )
        if es is not None and es.enabled
        else None
    )
    # First: the row history.csv gets has the epoch's learning rate.
    callbacks: list[Any] = [LearningRateLog(), history_writer, EpochPrinter(out, epochs)]
    schedule = config.train.optimizer.schedule
    if schedule is not None and schedule.name == "reduce_on_plateau":
        watched = schedule.monitor
        if watched.startswith("val_") and not has_validation:
            watched = watched.removeprefix("val_")
        callbacks.append(
            ResumableReduceLROnPlateau(
                Objective.of(watched),
                done,
                factor=schedule.factor,
                patience=schedule.patience,
                min_delta=schedule.min_delta,
                cooldown=schedule.cooldown,
                min_lr=schedule.min_lr,
            )
        )
    if config.train.terminate_on_nan:
        callbacks.append(_nan_check(keras))
    if checkpoint is not None:
        callbacks.append(checkpoint)
    if stopper is not None:
        callbacks.append(stopper)
    if config.train.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(directory / "tensorboard")))
    callbacks.extend(contract.epoch_callbacks(directory, prepared, config))
    callbacks.extend(extra_callbacks or [])
    # Last: a backup vouches for everything the epoch wrote before it (history row,
    # checkpoint), so a kill between the two reruns that epoch instead of losing it.
    callbacks.append(Backup(backup))

    started = time.perf_counter()
    if initial < epochs:
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            initial_epoch=initial,
            steps_per_epoch=steps,
            callbacks=callbacks,
            class_weight=class_weights(config, prepared),
            verbose=0,
            shuffle=False,  # the dataset shuffles itself, by seed and epoch
        )
    seconds = time.perf_counter() - started
    history = history_writer.columns()
    # TerminateOnNaN stops at the bad batch, but the epoch's mean loss is often inf, not NaN.
    losses = [k for k in history if k.endswith("loss") and not k.startswith("val_")]
    if any(not math.isfinite(v) for k in losses for v in history[k]):
        raise FailedStageError(
            "the loss became NaN or infinite (training diverged); lower "
            "train.optimizer.learning_rate, or normalize the inputs and targets"
        )
    save_with(directory / "model.keras", model.save)
    if config.train.tensorboard:  # one HParams session per fit (stage, fold, trial)
        from dlrun.report.hparams import record_session

        record_session(
            directory / "tensorboard", config, history, metric=objective.name, seconds=seconds
        )
    return Fit(
        model=model,
        history=history,
        stopped_early=bool(stopper is not None and stopper.stopped_epoch > 0),
        seconds=seconds,
        params=int(model.count_params()),
    )


def _nan_check(keras: Any) -> Any:
    """Keras's TerminateOnNaN, run beside the steps that follow its batch.

    On JAX and PyTorch, Keras hands batch callbacks to a thread and keeps dispatching
    steps, unless one of them is not `async_safe`; then every step waits for the one
    before it to finish. JAX's first epoch then compiled the validation step only after
    the last training step, where plain Keras compiles it while training runs. With this
    and JAX's malloc arenas (`dlrun.runtime.jax_engine`) mended, dlrun's IMDB LSTM on JAX
    went from 0.93x to 1.00x plain Keras (bench/backends.py). The check only sets
    `stop_training`, so a diverged fit stops a few steps later, and fails the same way.
    """
    check = keras.callbacks.TerminateOnNaN()
    check.async_safe = True
    return check


def _say_left_out(out: Output, prepared: Prepared, batch_size: int, shard: Any) -> None:
    """Say which rows a data-parallel fit leaves out of its batches (none on one device)."""
    splits = (("training", prepared.train, "each epoch"), ("validation", prepared.validation, ""))
    for name, split, when in splits:
        if split is None or shard is None:
            continue
        left = len(split) - kept_rows(len(split), batch_size, shard)
        if left:
            out.info(
                f"{left} of {len(split)} {name} rows left out {when}: the last batch is cut "
                f"to a multiple of the {shard.multiple} devices".replace("  ", " ")
            )


def _model_from(
    backup: Path, config: DlrunConfig, prepared: Prepared, start: Path | None
) -> tuple[Any, int]:
    """A freshly seeded, compiled model with the weights of `start` (if given) then the
    backup's state loaded, and the epochs the backup covers (0 when there is none).
    Raises BackupUnreadable."""
    from dlrun.training.callbacks import restore

    current().start().utils.set_random_seed(config.seed)
    model = compiled_model(config, prepared)
    if start is not None:
        try:
            with warnings.catch_warnings():
                # Keras warns that it skips the optimizer's state: it is meant to, as the
                # optimizer trains other variables now.
                warnings.simplefilter("ignore")
                model.load_weights(start)
        except Exception as exc:  # Keras's many ways of saying the layers differ
            raise FailedStageError(
                f"cannot start from {start}: {type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            ) from None
    return model, restore(backup, model)
