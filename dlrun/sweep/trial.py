"""One sweep trial: Optuna's suggestions -> a validated config -> a run directory -> a score.

A trial is a job (`dlrun.workflow.job.run_job`, the one path of `dlrun train`) of one
stage with no test step, plus a pruning hook, in a run directory like any other, with
`"sweep": {"name", "trial", "study", ...}` in its meta.json and summary.json. Its score
is the stage's: the config's objective (`objective.metric`, which `sweep.metric` sets)
at the best epoch, or with K-fold the mean over folds at the common best epoch. The
trial's config.yaml, and so best.yaml, keeps that objective, so `dlrun train best.yaml`
trains the best trial as it was scored. The test split is not touched: that is for
`dlrun train best.yaml`.

Failures follow `dlrun.errors`: a stage that fails (an invalid mix of values, NaN loss)
fails this trial's run, which is recorded while the sweep goes on (FailedStageError);
a FatalError (the metric is never logged, the storage is gone) stops the worker, and
Ctrl-C or SIGTERM leaves the trial's run interrupted.

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
from typing import Any, NoReturn

from dlrun.console import Output
from dlrun.data.sources import load_raw
from dlrun.data.splits import RawData
from dlrun.errors import ConfigError, FailedStageError, RunFailed
from dlrun.runs.lifecycle import Interrupted
from dlrun.runs.rundir import Run
from dlrun.runtime import current
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
        self.objective = config.resolved_objective()
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
            loaded = trial_loaded(self.spec.base, values, self.objective)
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
            meta={"name": config.name, "sweep": sweep_meta, "runtime": current().describe()},
        )
        trial.set_user_attr("run", str(run.path.resolve()))
        trial.set_user_attr("config", loaded.to_yaml())
        record: dict[str, Any] = {}

        def finish(summary: dict[str, Any]) -> None:
            """The trial's score goes into the run before the run is marked completed."""
            entry = summary["stages"][SINGLE_STAGE]
            record.update(
                state="pruned" if entry["pruned_at"] else "complete",
                value=entry["score"],
                seconds=round(time.perf_counter() - started, 2),
            )
            if entry["pruned_at"]:
                record["pruned_epoch"] = entry["pruned_at"]
            summary["sweep"] = {**sweep_meta, **record}
            run.write_json("summary.json", summary)
            run.update_meta(sweep={**sweep_meta, **record})

        try:
            summary = self._train(trial, run, config, finish)
        except Interrupted:
            raise KeyboardInterrupt from None  # the worker stops; the run is kept, interrupted
        except RunFailed as exc:  # this trial's training failed: the sweep goes on
            run.update_meta(sweep={**sweep_meta, "state": "failed"})
            self._fail(trial, exc.reason, started)
        entry = summary["stages"][SINGLE_STAGE]
        epochs = entry["epochs_run"]
        trial.set_user_attr("epochs", epochs)
        trial.set_user_attr("seconds", record["seconds"])
        # The worker's memory after the trial was released: flat across trials, or a leak.
        trial.set_user_attr("worker_rss_mb", _rss_mb())
        self.emit(
            {"event": "end", "trial": trial.number, "epochs": epochs, **record, "run": run.id}
        )
        if entry["pruned_at"]:
            import optuna

            trial.set_user_attr("pruned_epoch", entry["pruned_at"])
            raise optuna.TrialPruned(f"pruned at {entry['pruned_at']}")
        return float(entry["score"])

    def _fail(self, trial: Any, reason: str, started: float) -> NoReturn:
        trial.set_user_attr("error", reason)
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
        self.emit({"event": "end", "trial": trial.number, "state": "failed", "reason": reason})
        raise FailedStageError(reason)

    def _train(
        self,
        trial: Any,
        run: Run,
        config: DlrunConfig,
        finish: Callable[[dict[str, Any]], None],
    ) -> dict[str, Any]:
        """The trial as a job, the one path of `dlrun train`: one stage, no test split."""
        from dlrun.runtime import current
        from dlrun.workflow.job import run_job

        current().start(self.out.verbose)
        from dlrun.sweep.pruning import TrialPruning

        return run_job(
            run,
            config,
            self.out,
            final=False,
            hooks=TrialPruning(trial, self.objective.name),
            raw=self._raw(config),
            finish=finish,
        )

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
