"""One sweep trial: Optuna's suggestions -> a validated config -> a run directory -> a score.

A trial goes through the same path as `dlrun train` (`Run`, `prepare`, `train_model`) and
leaves a run directory like any other, with `"sweep": {"name", "trial", "study", ...}` in
its meta.json. It is scored by `sweep.metric` at its best epoch; with K-fold validation,
by the mean over folds of each fold's best value. The test split is not touched: that is
for `dlrun train best.yaml`.

What goes wrong is sorted into two kinds: a problem of this trial (an invalid mix of
values, NaN loss, out of memory) is recorded on the trial as its `error` and the sweep
goes on (FailedTrialError); a problem of the whole sweep (the metric is never logged, the
storage is gone) is raised as it is and stops the worker.

Example:

```python
runner = TrialRunner(spec, emit=print)
study.optimize(runner, n_trials=1, catch=(FailedTrialError, Surplus))
```
"""

from __future__ import annotations

import gc
import json
import math
import os
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.console import Output
from dlrun.data.portions import make_portions
from dlrun.data.prepare import prepare
from dlrun.data.sources import load_raw
from dlrun.data.splits import RawData
from dlrun.errors import ConfigError, FailedTrialError
from dlrun.runs import Run, write_text
from dlrun.spec import DlrunConfig
from dlrun.sweep.space import Param, format_value, trial_loaded
from dlrun.sweep.study import in_budget


class MetricMissing(ConfigError):
    """sweep.metric is not among the logged metrics: every trial would fail the same way."""


class Surplus(Exception):
    """This worker created a trial after the budget was full; the trial never runs."""


@dataclass
class WorkerSpec:
    """Everything a worker process needs, written as JSON by `dlrun sweep`."""

    base: dict[str, Any]
    sweep_name: str
    study_name: str
    storage: str
    study_ref: str
    runs_dir: str
    sweep_dir: str
    budget: int
    verbosity: int = 0
    argv: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2)

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        return cls(**json.loads(text))


class TrialRunner:
    """The Optuna objective: call it with a trial, get the trial's score."""

    def __init__(
        self,
        spec: WorkerSpec,
        config: DlrunConfig,
        params: list[Param],
        emit: Callable[[dict[str, Any]], None],
        out: Output,
    ) -> None:
        assert config.sweep is not None
        self.spec = spec
        self.sweep = config.sweep
        self.params = params
        self.emit = emit
        self.out = out
        self.maximize = self.sweep.maximize()
        self.surplus = False
        self._data: tuple[str, RawData] | None = None

    def __call__(self, trial: Any) -> float:
        if not in_budget(trial.study, trial.number, self.spec.budget):
            self.surplus = True
            trial.set_user_attr("surplus", True)
            raise Surplus(f"trial {trial.number} is over the budget of {self.spec.budget}")
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        values = {p.path: p.suggest(trial) for p in self.params}
        shown = {path: format_value(v) for path, v in values.items()}
        started = time.perf_counter()
        self.emit({"event": "start", "trial": trial.number, "params": shown})
        try:
            loaded = trial_loaded(self.spec.base, values)
        except ConfigError as exc:
            self._fail(trial, f"invalid combination: {exc.message}", started)
        config = loaded.config
        run = Run.create(
            Path(self.spec.runs_dir),
            f"{self.spec.sweep_name}-t{trial.number:03d}",
            loaded.to_yaml(),
            self.spec.argv,
            config.seed,
        )
        sweep_meta = {
            "name": self.spec.sweep_name,
            "trial": trial.number,
            "study": self.spec.study_ref,
            "metric": self.sweep.metric,
            "direction": "maximize" if self.maximize else "minimize",
            "params": values,
        }
        run.update_meta(name=config.name, sweep=sweep_meta)
        trial.set_user_attr("run", str(run.path.resolve()))
        trial.set_user_attr("config", loaded.to_yaml())
        try:
            score, stages, pruned_at = self._train(trial, run, config)
        except KeyboardInterrupt:
            run.set_status("interrupted", error="interrupted by the user (Ctrl-C)")
            raise
        except Exception as exc:
            if _fatal(exc):
                run.set_status("failed", error=str(exc))
                raise
            write_text(run.path / "error.log", traceback.format_exc())
            reason = exc.message if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
            run.set_status("failed", error=reason)
            run.update_meta(sweep={**sweep_meta, "state": "failed"})
            self._fail(trial, reason, started)
        finally:
            _release_memory()
        seconds = time.perf_counter() - started
        state = "pruned" if pruned_at else "complete"
        result = {"state": state, "value": score, "seconds": round(seconds, 2)}
        if pruned_at:
            result["pruned_epoch"] = pruned_at
        run.write_json("summary.json", {"stages": stages, "sweep": {**sweep_meta, **result}})
        run.update_meta(sweep={**sweep_meta, **result})
        run.set_status("completed")
        epochs = sum(s["epochs_run"] for s in stages.values())
        trial.set_user_attr("epochs", epochs)
        trial.set_user_attr("seconds", round(seconds, 2))
        # The worker's memory after the trial was released: flat across trials, or a leak.
        trial.set_user_attr("worker_rss_mb", _rss_mb())
        self.emit(
            {"event": "end", "trial": trial.number, "epochs": epochs, **result, "run": run.id}
        )
        if pruned_at:
            import optuna

            trial.set_user_attr("pruned_epoch", pruned_at)
            raise optuna.TrialPruned(f"pruned at epoch {pruned_at}")
        return score

    def _fail(self, trial: Any, reason: str, started: float) -> None:
        trial.set_user_attr("error", reason)
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
        self.emit({"event": "end", "trial": trial.number, "state": "failed", "reason": reason})
        raise FailedTrialError(reason)

    def _train(
        self, trial: Any, run: Run, config: DlrunConfig
    ) -> tuple[float, dict[str, Any], int | None]:
        from dlrun.tfenv import import_keras
        from dlrun.training import train_model

        import_keras(self.out.verbose)
        from dlrun.sweep.pruning import TrialPruning

        raw = self._raw(config)
        metric = self.sweep.metric
        if config.data.validation.kfold is None:
            prepared = prepare(raw, config)
            run.write_json("preprocessing.json", prepared.state)
            pruning = TrialPruning(trial, metric)
            result = train_model(
                config,
                prepared,
                run.stage_dir("train"),
                self.out,
                extra_callbacks=[pruning],
                selection_metric=metric,
            )
            score = self._best(result.history[metric])
            return score, {"train": _stage(result, metric, score)}, pruning.pruned_epoch
        # K-fold: each fold is one pruning step, scored by the mean of the folds so far.
        stages, scores = {}, []
        for fold, portion in enumerate(make_portions(raw, config), start=1):
            prepared = portion.prepared
            result = train_model(
                config, prepared, run.stage_dir(portion.name), self.out, selection_metric=metric
            )
            if metric not in result.history:
                raise MetricMissing(
                    f"sweep.metric '{metric}' is not logged by this model; logged: "
                    f"{', '.join(result.history)}.",
                    hint="Set sweep.metric to one of them, e.g. val_loss.",
                )
            scores.append(self._best(result.history[metric]))
            stages[portion.name] = _stage(result, metric, scores[-1])
            trial.report(float(np.mean(scores)), fold)
            del result
            _release_memory()
            if trial.should_prune():
                return float(np.mean(scores)), stages, fold
        return float(np.mean(scores)), stages, None

    def _best(self, values: list[float]) -> float:
        finite = [v for v in values if not math.isnan(v)]
        if not finite:
            raise FloatingPointError(f"{self.sweep.metric} was NaN at every epoch")
        return max(finite) if self.maximize else min(finite)

    def _raw(self, config: DlrunConfig) -> RawData:
        """The raw data, loaded once per worker (again only if a trial changes `data`)."""
        key = json.dumps(config.data.model_dump(mode="json"), sort_keys=True)
        if self._data is None or self._data[0] != key:
            self._data = None
            self._data = (key, load_raw(config.data))
        return self._data[1]


def _stage(result: Any, metric: str, score: float) -> dict[str, Any]:
    return {
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "seconds": round(result.seconds, 2),
        "params": result.params,
        "score": score,
        "metric": metric,
        "last": {k: v[-1] for k, v in result.history.items()},
    }


def _fatal(exc: BaseException) -> bool:
    """Errors that would hit every trial the same way: stop the sweep, do not go on."""
    if isinstance(exc, MetricMissing):
        return True
    module = type(exc).__module__
    return module.startswith(("sqlalchemy", "optuna.storages")) or type(exc).__name__ in (
        "StorageInternalError",
    )


def _release_memory() -> None:
    """Drop the finished trial's graphs and tensors so a worker's memory stays flat."""
    import sys

    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session(free_memory=True)
    gc.collect()


def _rss_mb() -> float | None:
    """This process's resident memory in MiB (Linux), or None where /proc is absent."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
