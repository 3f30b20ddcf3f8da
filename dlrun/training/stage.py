"""`train_stage`: the one path that trains a config on its portions and scores it.

A plain `dlrun train`, each workflow stage and each sweep trial call it. Holdout is one
portion, K-fold is k (times repeats); each fold is one fit (`fit_model`). The K-fold
score is the book's: the per-epoch validation curves are averaged over folds (up to the
shortest fold) and one common best epoch is read off the averaged curve; the score is
the mean of the folds' values at that epoch, with their spread. So a workflow stage and
a sweep trial of the same config get the same score, and the final retrain uses the
same epoch count the score was measured at.

It is also the one failure guard: a `FailedStageError`, a `ConfigError` (the config
is this stage's own, so its problem is too: a builder file a stage names that does not
exist), or an exception that is no `DlrunError` (Keras rejecting a mix of values) ends
this stage as `failed` with its reason (a traceback in `error.log`); any other
`DlrunError` (a `FatalError`, a `DataError`) is raised and stops the command.

Example:

```python
record = train_stage(config, portions, run.stage_dir("small"), out, Objective.of("val_mae"))
record.status, record.best_epoch, record.score, record.score_std
```
"""

from __future__ import annotations

import time
import traceback
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from dlrun.console import QUIET, Output
from dlrun.contracts import contract_for
from dlrun.data.portions import Portion
from dlrun.errors import ConfigError, DlrunError, FailedStageError
from dlrun.objective import Objective
from dlrun.runs.rundir import read_history, write_text
from dlrun.spec import DlrunConfig
from dlrun.tfenv import release_memory
from dlrun.training.fit import metric_missing

Curves = dict[str, list[float]]
# The stage of a training that is no workflow: a plain `dlrun train` and a sweep trial.
SINGLE_STAGE = "train"


class StageHooks(Protocol):
    """What a caller (the sweep's pruner) adds to a stage."""

    def fit_callbacks(self, folds: int) -> list[Any]:
        """Keras callbacks for each fit of a stage with `folds` folds."""
        ...

    def fold_done(self, fold: int, score: float) -> bool:
        """After fold `fold` (1-based) with the score so far: True stops the stage."""
        ...

    @property
    def pruned_at(self) -> int | None:
        """The epoch (holdout) or fold (K-fold) where the stage was stopped, or None."""
        ...


@dataclass
class FoldRecord:
    name: str
    epochs_run: int
    best_epoch: int | None
    score: float | None  # at this fold's own best epoch
    at_best_epoch: float | None = None  # at the stage's common best epoch
    seconds: float = 0.0


@dataclass
class StageRecord:
    """One stage's outcome, as summary.json keeps it (`as_dict`)."""

    status: str  # "completed" | "failed"
    metric: str
    error: str | None = None
    epochs_run: int = 0
    best_epoch: int | None = None
    score: float | None = None
    score_std: float | None = None
    params: int | None = None
    seconds: float = 0.0
    stopped_early: bool = False
    pruned_at: int | None = None
    train: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] = field(default_factory=dict)
    folds: list[FoldRecord] = field(default_factory=list)
    curves: Curves = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        del data["curves"]  # on disk as history.csv
        if not self.folds:
            del data["folds"]
        return data


def fold_dir(stage_dir: Path, portion: Portion, folds: int) -> Path:
    return stage_dir / portion.name if folds > 1 else stage_dir


def best_model_file(directory: Path) -> Path:
    """A finished fit's best model: its checkpoint (the best epoch), else its last state."""
    checkpoint = directory / "checkpoint.keras"
    return checkpoint if checkpoint.is_file() else directory / "model.keras"


def train_stage(
    config: DlrunConfig,
    portions: list[Portion],
    stage_dir: Path,
    out: Output,
    objective: Objective,
    *,
    hooks: StageHooks | None = None,
    done: list[FoldRecord] | None = None,
    on_fold: Any = None,
    start: Path | None = None,
) -> StageRecord:
    """Train `config` on every portion into `stage_dir` and score it by `objective`.

    `done` lists folds finished before a resume: they are read back, not trained again.
    `on_fold(record)` is called after each fold (the workflow saves its summary then).
    `start` is an earlier stage's directory: each fold starts from the weights that
    stage's same fold trained (fine-tuning).
    """
    started = time.perf_counter()
    record = StageRecord(status="running", metric=objective.name)
    try:
        _fit_folds(config, portions, stage_dir, out, objective, record, hooks, done, on_fold, start)
    except (FailedStageError, ConfigError) as exc:
        record.status, record.error = "failed", exc.message
    except DlrunError:
        raise
    except (Exception, SystemExit) as exc:  # SystemExit: user code calling sys.exit
        record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
        write_text(stage_dir / "error.log", traceback.format_exc())
    finally:
        release_memory()
    if record.status == "failed":
        record.seconds = round(time.perf_counter() - started, 2)
    return record


def _fit_folds(
    config: DlrunConfig,
    portions: list[Portion],
    stage_dir: Path,
    out: Output,
    objective: Objective,
    record: StageRecord,
    hooks: StageHooks | None,
    done: list[FoldRecord] | None,
    on_fold: Any,
    start: Path | None,
) -> None:
    from dlrun.training.callbacks.printer import FoldProgress
    from dlrun.training.fit import fit_model

    count = len(portions)
    finished = {f.name: f for f in done or []}
    quiet = Output(QUIET)
    histories: list[Curves] = []
    seconds = 0.0
    for index, portion in enumerate(portions, start=1):
        directory = fold_dir(stage_dir, portion, count)
        if portion.name in finished:
            record.folds.append(finished[portion.name])
            histories.append(read_columns(directory))
            continue
        with closing(FoldProgress(out, index, count)) as progress:
            fit = fit_model(
                config,
                portion.prepared,
                directory,
                quiet if count > 1 else out,
                objective,
                extra_callbacks=[progress, *(hooks.fit_callbacks(count) if hooks else [])],
                start=best_model_file(fold_dir(start, portion, count)) if start else None,
            )
        if objective.name not in fit.history:
            raise metric_missing(objective.name, list(fit.history))
        fit_seconds = fit.seconds
        seconds += fit_seconds
        record.params = fit.params
        record.stopped_early = record.stopped_early or fit.stopped_early
        histories.append(fit.history)
        del fit
        if index < count:  # after the last fold, train_stage releases it
            release_memory()
        if count > 1:
            values = histories[-1][objective.name]
            best = objective.best_epoch(values)
            fold = FoldRecord(
                name=portion.name,
                epochs_run=len(values),
                best_epoch=best,
                score=None if best is None else float(values[best - 1]),
                seconds=round(fit_seconds, 2),
            )
            record.folds.append(fold)
            out.info(
                f"  {portion.name}: best epoch {fold.best_epoch} of {fold.epochs_run}, "
                f"{objective.name} {_fmt(fold.score)}"
            )
            if on_fold is not None:
                on_fold(record)
            if hooks is not None and hooks.fold_done(index, _score(histories, objective)[0]):
                break
    _score_stage(record, histories, objective, contract_for(config.task).chooses_epochs)
    if hooks is not None:
        record.pruned_at = hooks.pruned_at
    record.seconds = round(seconds, 2)
    record.status = "completed"


def _score(
    histories: list[Curves], objective: Objective, chooses_epochs: bool = True
) -> tuple[float, int, Curves]:
    """(score, common best epoch, mean curves) over the folds so far; the last epoch
    when the contract's metrics do not rank epochs (a GAN's)."""
    curves = mean_curves(histories)
    values = curves.get(objective.name, [])
    best = objective.best_epoch(values) if chooses_epochs else len(values) or None
    if best is None:
        raise FailedStageError(f"{objective.name} was NaN at every epoch")
    values = [h[objective.name][best - 1] for h in histories]
    return float(np.mean(values)), best, curves


def _score_stage(
    record: StageRecord, histories: list[Curves], objective: Objective, chooses_epochs: bool
) -> None:
    score, best, curves = _score(histories, objective, chooses_epochs)
    record.curves, record.best_epoch, record.score = curves, best, score
    record.epochs_run = len(curves.get(objective.name, []))
    if record.folds:
        for fold, history in zip(record.folds, histories, strict=False):
            fold.at_best_epoch = float(history[objective.name][best - 1])
        record.score_std = float(np.std([f.at_best_epoch for f in record.folds]))
    record.train = metrics_at(curves, best, validation=False)
    record.val = metrics_at(curves, best, validation=True)


def mean_curves(histories: list[Curves]) -> Curves:
    """Per-epoch mean of each history column over folds, up to the shortest fold."""
    keys = [k for k in histories[0] if all(k in h for h in histories)]
    length = min(len(h[k]) for h in histories for k in keys) if keys else 0
    return {k: [float(np.mean([h[k][e] for h in histories])) for e in range(length)] for k in keys}


def metrics_at(curves: Curves, epoch: int, validation: bool) -> dict[str, float]:
    """Every logged metric at `epoch` (1-based), training or validation ones, unprefixed."""
    return {
        key.removeprefix("val_"): float(curves[key][epoch - 1])
        for key in curves
        if key.startswith("val_") == validation and key != "learning_rate"
    }


def read_columns(directory: Path) -> Curves:
    """A fit's history.csv as columns."""
    rows = read_history(directory / "history.csv")
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [r[k] for r in rows] for k in keys}


def stage_curves(stage_dir: Path, folds: list[str]) -> Curves:
    """A finished stage's curves from disk (resume): its history, or the mean over folds."""
    if folds:
        return mean_curves([read_columns(stage_dir / name) for name in folds])
    return read_columns(stage_dir)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"
