"""One sweep trial: Optuna's suggestions -> a validated config -> a run directory -> a score.

A trial is `dlrun.training.train_stage` (the path of `dlrun train` and of every workflow
stage) plus a pruning hook, in a run directory like any other, with `"sweep": {"name",
"trial", "study", ...}` in its meta.json and summary.json. Its score is the stage's:
`sweep.metric` at the best epoch, or with K-fold the mean over folds at the common best
epoch, so `dlrun train best.yaml` trains the best trial as it was scored. The test split
is not touched: that is for `dlrun train best.yaml`.

Failures follow `dlrun.errors`: a stage that fails (an invalid mix of values, NaN loss)
fails this trial, which is recorded while the sweep goes on (FailedStageError); a
FatalError (the metric is never logged, the storage is gone) stops the worker.

Example:

```python
runner = TrialRunner(spec, config, params, emit=print, out=Output())
study.optimize(runner, n_trials=1, catch=(FailedStageError, Surplus))
```
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrun.console import Output
from dlrun.data.portions import make_portions
from dlrun.data.sources import load_raw
from dlrun.data.splits import RawData
from dlrun.errors import ConfigError, DlrunError, FailedStageError
from dlrun.runs.rundir import Run
from dlrun.runs.summary import new_summary
from dlrun.spec import DlrunConfig
from dlrun.sweep.space import Param, format_value, trial_loaded
from dlrun.sweep.study import in_budget
from dlrun.training import SINGLE_STAGE


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
        self.objective = self.sweep.objective()
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
        sweep_meta = {
            "name": self.spec.sweep_name,
            "trial": trial.number,
            "study": self.spec.study_ref,
            "metric": self.objective.name,
            "direction": self.objective.direction,
            "params": values,
        }
        run = Run.create(
            Path(self.spec.runs_dir),
            f"{self.spec.sweep_name}-t{trial.number:03d}",
            loaded.to_yaml(),
            self.spec.argv,
            config.seed,
            meta={"name": config.name, "sweep": sweep_meta},
        )
        trial.set_user_attr("run", str(run.path.resolve()))
        trial.set_user_attr("config", loaded.to_yaml())
        try:
            entry = self._train(trial, run, config)
        except KeyboardInterrupt:
            run.set_status("interrupted", error="interrupted by the user (Ctrl-C)")
            raise
        except DlrunError as exc:
            run.set_status("failed", error=exc.message)
            raise
        seconds = time.perf_counter() - started
        if entry["status"] != "completed":
            run.set_status("failed", error=entry["error"])
            run.update_meta(sweep={**sweep_meta, "state": "failed"})
            self._fail(trial, entry["error"], started)
        pruned_at = entry["pruned_at"]
        result = {
            "state": "pruned" if pruned_at else "complete",
            "value": entry["score"],
            "seconds": round(seconds, 2),
        }
        if pruned_at:
            result["pruned_epoch"] = pruned_at
        summary = new_summary(self.objective, stage=None, final=None)
        summary.update(stages={SINGLE_STAGE: entry}, chosen=SINGLE_STAGE, seconds=round(seconds, 2))
        summary["sweep"] = {**sweep_meta, **result}
        run.write_json("summary.json", summary)
        run.update_meta(sweep={**sweep_meta, **result})
        run.set_status("completed")
        epochs = entry["epochs_run"]
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
            raise optuna.TrialPruned(f"pruned at {pruned_at}")
        return float(entry["score"])

    def _fail(self, trial: Any, reason: str, started: float) -> None:
        trial.set_user_attr("error", reason)
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
        self.emit({"event": "end", "trial": trial.number, "state": "failed", "reason": reason})
        raise FailedStageError(reason)

    def _train(self, trial: Any, run: Run, config: DlrunConfig) -> dict[str, Any]:
        """The trial's stage, trained by the one stage path; its summary entry."""
        from dlrun.tfenv import import_keras
        from dlrun.training import train_stage

        import_keras(self.out.verbose)
        from dlrun.sweep.pruning import TrialPruning

        portions = make_portions(self._raw(config), config)
        if len(portions) == 1:
            run.write_json("preprocessing.json", portions[0].prepared.state)
        record = train_stage(
            config,
            portions,
            run.stage_dir(SINGLE_STAGE),
            self.out,
            self.objective,
            hooks=TrialPruning(trial, self.objective.name),
        )
        return record.as_dict()

    def _raw(self, config: DlrunConfig) -> RawData:
        """The raw data, loaded once per worker (again only if a trial changes `data`)."""
        key = json.dumps(config.data.model_dump(mode="json"), sort_keys=True)
        if self._data is None or self._data[0] != key:
            self._data = None
            self._data = (key, load_raw(config.data))
        return self._data[1]


def _rss_mb() -> float | None:
    """This process's resident memory in MiB (Linux), or None where /proc is absent."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
