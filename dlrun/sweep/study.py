"""The Optuna study behind a sweep: storage, sampler, pruner, budget and recovery.

The default storage is an SQLite file, `runs/sweeps/<name>/study.db`; `--storage URL`
takes any database Optuna supports (PostgreSQL, MySQL, SQLite elsewhere), so several
machines share one study. Heartbeats let any worker notice a trial whose process died
on another machine.

How a trial counts against `sweep.trials` (exact, even with many workers):

- complete, pruned, failed with a reason (NaN, invalid mix), running, or queued: counts;
- interrupted (Ctrl-C, a killed worker; failed *without* a reason): does not count and is
  queued again with the same parameters (user attr `rerun_of`); one cut off before it had
  parameters has nothing to re-run (the study's user attr `dropped` lists those);
- surplus: a worker that created a trial while the budget filled up marks it so and stops;
  it never ran, never counts, and is hidden from the results.

A trial is in budget when fewer than `trials` counting trials have a lower number: Optuna
numbers trials under a lock on the study row, so two workers can never both take the last
slot.

Example:

```python
storage = open_storage(default_storage_url(sweep_dir))
study = create_or_load(storage, "imdb", maximize=True, must_exist=False, may_exist=False)
recover_interrupted(study, assume_all_dead=True)
used(study.get_trials(deepcopy=False))   # trials counted so far
```
"""

from __future__ import annotations

import math
import re
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrun.errors import DlrunError, UsageError
from dlrun.runs.rundir import Run, process_alive
from dlrun.spec import DlrunConfig

HEARTBEAT_SECONDS = 15
GRACE_SECONDS = 60
DROPPED = "dropped"  # study user attr: trials cut off before they had parameters


def quiet_optuna() -> Any:
    """Import optuna with its per-trial log lines and experimental warnings off."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def default_storage_url(sweep_dir: Path) -> str:
    return f"sqlite:///{(sweep_dir / 'study.db').resolve()}"


def redact(url: str) -> str:
    """A storage URL without its password, for meta.json and messages."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def open_storage(url: str, heartbeat: bool = True) -> Any:
    """Connect to (and if needed set up) a study database; fatal errors say what to check."""
    optuna = quiet_optuna()
    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # Several worker processes share the file: wait for the lock instead of failing.
        engine_kwargs["connect_args"] = {"timeout": 60}
    else:
        engine_kwargs["pool_pre_ping"] = True
    callbacks: dict[str, Any] = {}
    if heartbeat:
        callbacks = dict(
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=GRACE_SECONDS,
            heartbeat_stale_trial_callback=_requeue_stale,
        )
    last: Exception | None = None
    for attempt in range(4):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs, **callbacks)
        except ImportError as exc:
            raise UsageError(
                f"--storage {redact(url)}: the database driver is not installed ({exc}).",
                hint="PostgreSQL needs psycopg (pip install 'psycopg[binary]'); "
                "MySQL needs PyMySQL (use mysql+pymysql://...).",
            ) from None
        except Exception as exc:  # sqlalchemy's errors, without importing sqlalchemy here
            if "Could not parse" in str(exc) or "Can't load plugin" in str(exc):
                raise UsageError(
                    f"--storage {redact(url)} is not a database URL Optuna can use ({exc}).",
                    hint="Examples: sqlite:///study.db, postgresql://user@host:5432/db",
                ) from None
            last = exc
            if "connect" in str(exc).lower():
                break  # the server is not there: retrying will not help
            # Two processes creating the tables at once can collide; the loser retries.
            time.sleep(0.5 + attempt)
    raise DlrunError(
        f"cannot open the study storage {redact(url)}: {_first_line(last)}",
        hint="Check that the database server is running and reachable, and the URL's user, "
        "password and database name.",
    )


def create_or_load(
    storage: Any, name: str, *, maximize: bool, must_exist: bool, may_exist: bool
) -> Any:
    """The study `name`; UsageError if it exists or not against the caller's wishes."""
    optuna = quiet_optuna()
    summaries = {s.study_name: s for s in optuna.get_all_study_summaries(storage)}
    exists = name in summaries
    if exists and summaries[name].n_trials == 0 and not must_exist:
        exists = False  # a start that stopped before any trial (e.g. data not found)
    if must_exist and not exists:
        raise UsageError(
            f"there is no sweep '{name}' to resume in this storage.",
            hint="Start it without --resume.",
        )
    if exists and not may_exist:
        raise UsageError(
            f"sweep '{name}' already exists.",
            hint="Continue it with --resume, or start another with --name NEW_NAME.",
        )
    direction = "maximize" if maximize else "minimize"
    study = optuna.create_study(
        storage=storage, study_name=name, direction=direction, load_if_exists=True
    )
    if study.direction.name.lower() != direction:
        raise UsageError(
            f"sweep '{name}' was created to {study.direction.name.lower()} its metric; "
            f"this config asks to {direction}.",
            hint="Set sweep.direction to match, or use another --name.",
        )
    return study


def make_sampler(config: DlrunConfig, params: list[Any], seed: int) -> Any:
    optuna = quiet_optuna()
    sweep = config.sweep
    assert sweep is not None
    if sweep.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if sweep.sampler == "grid":
        from dlrun.sweep.space import grid_space

        return optuna.samplers.GridSampler(grid_space(params), seed=seed)
    return optuna.samplers.TPESampler(
        n_startup_trials=startup_trials(config),
        seed=seed,
        multivariate=True,
        constant_liar=True,  # running trials count as 'bad so far': parallel workers spread out
    )


def make_pruner(config: DlrunConfig) -> Any:
    """Steps are epochs (holdout) or folds (K-fold)."""
    optuna = quiet_optuna()
    sweep = config.sweep
    assert sweep is not None
    kfold = config.data.validation.kfold is not None
    warmup = 1 if kfold else warmup_epochs(config)
    if sweep.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=startup_trials(config), n_warmup_steps=warmup
        )
    if sweep.pruner == "hyperband":
        if kfold:
            steps: int | str = config.data.validation.kfold * config.data.validation.repeats
        else:
            steps = "auto" if "train.epochs" in sweep.space else config.train.epochs
        return optuna.pruners.HyperbandPruner(min_resource=warmup, max_resource=steps)
    return optuna.pruners.NopPruner()


def warmup_epochs(config: DlrunConfig) -> int:
    """Epochs a trial runs before it may be pruned: `sweep.warmup_epochs`, else 30 % of
    the epochs (Optuna's MedianPruner example warms up 30 of 100 steps). A first epoch
    says little of a slow learning rate: pruned there, it never gets a chance."""
    sweep = config.sweep
    assert sweep is not None
    if sweep.warmup_epochs is not None:
        return max(1, sweep.warmup_epochs)
    return max(1, math.ceil(0.3 * config.train.epochs))


def startup_trials(config: DlrunConfig) -> int:
    sweep = config.sweep
    assert sweep is not None
    if sweep.startup_trials is not None:
        return sweep.startup_trials
    return min(10, max(2, sweep.trials // 4))


def outcome(trial: Any) -> str:
    """complete | pruned | running | waiting | failed | interrupted | surplus."""
    state = trial.state.name.lower()
    if state != "fail":
        return state
    if trial.user_attrs.get("surplus"):
        return "surplus"
    return "failed" if "error" in trial.user_attrs else "interrupted"


COUNTED = ("complete", "pruned", "running", "waiting", "failed")


def used(trials: list[Any], below: int | None = None) -> int:
    """Trials that count against the budget (those numbered below `below`, if given)."""
    return sum(1 for t in trials if outcome(t) in COUNTED and (below is None or t.number < below))


def has_work(study: Any, budget: int) -> bool:
    """Whether asking for a trial now can start one: queued re-runs, or room in the budget."""
    trials = study.get_trials(deepcopy=False)
    return any(outcome(t) == "waiting" for t in trials) or used(trials) < budget


def in_budget(study: Any, number: int, budget: int) -> bool:
    return used(study.get_trials(deepcopy=False), below=number) < budget


@dataclass
class Recovered:
    """Trials `recover_interrupted` found cut off, by number."""

    rerun: list[int] = field(default_factory=list)  # queued again with the same parameters
    dropped: list[int] = field(default_factory=list)  # cut off before they had parameters


def recover_interrupted(study: Any, assume_all_dead: bool) -> Recovered:
    """Mark trials whose process is gone as interrupted and queue each once more.

    `assume_all_dead`: no other process uses this study (a local study whose lock we
    hold), so every running trial was cut off. Otherwise only trials started on this
    host by a process that no longer exists; other machines' are found by heartbeat.
    A trial cut off before it had parameters is not queued: there is nothing to run
    again (and an empty queued trial breaks the grid sampler); not counted, it leaves
    its place to a new trial. Each trial is reported once, at the call that finds it.
    """
    optuna = quiet_optuna()
    storage = study._storage
    host = socket.gethostname()
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        attrs = trial.user_attrs
        mine = attrs.get("host") == host and not process_alive(attrs, elsewhere=True)
        if assume_all_dead or mine:
            try:
                storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
            except optuna.exceptions.UpdateFinishedTrialError:
                continue  # it finished in the meantime
    trials = study.get_trials(deepcopy=False)
    dropped = study.user_attrs.get(DROPPED, [])
    handled = {t.user_attrs.get("rerun_of") for t in trials} | set(dropped)
    found = Recovered()
    for trial in trials:
        if outcome(trial) != "interrupted" or trial.number in handled:
            continue
        if trial.params:
            _requeue(study, trial)
            found.rerun.append(trial.number)
        else:
            found.dropped.append(trial.number)
    if found.dropped:
        study.set_user_attr(DROPPED, [*dropped, *found.dropped])
    return found


def _requeue_stale(study: Any, trial: Any) -> None:
    """Heartbeat callback: a trial whose worker stopped responding is run again."""
    if trial.params:  # else nothing to re-run; recover_interrupted reports it
        _requeue(study, trial)


def _requeue(study: Any, trial: Any) -> None:
    run = trial.user_attrs.get("run")
    if run and Path(run, "meta.json").is_file():
        Run(Path(run)).set_status(
            "interrupted", error="the sweep stopped during this trial; it is run again"
        )
    study.enqueue_trial(trial.params, user_attrs={"rerun_of": trial.number})


def _first_line(exc: Exception | None) -> str:
    text = str(exc or "unknown error").strip()
    return text.splitlines()[0] if text else type(exc).__name__
