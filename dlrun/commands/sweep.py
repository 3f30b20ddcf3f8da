"""`dlrun sweep`: hyperparameter search over a config's `sweep.space`, with Optuna.

The sweep lives in `runs/sweeps/<name>/` (name: `--name`, else `sweep.name`, else the
config's `name`): `study.db` (the Optuna study, SQLite, unless `--storage URL`),
`best.yaml`, `trials.csv`, `history.png`, `importance.png`. Every trial is an ordinary
run directory, `runs/<stamp>-<name>-t<trial>-<id>/`, with `sweep` in its meta.json.

This process never imports TensorFlow: it checks the config, opens the study, runs
`--jobs` worker processes (`dlrun.sweep.pool`, which prints what they report through
`dlrun.sweep.printer`), and writes the results. A local study is locked while a sweep
runs on it, so `--resume` knows that trials still marked running were cut off.

Example:

```python
outcome = sweep(Path("configs/imdb.yaml"), [], jobs=2, runs_dir=Path("runs"), out=Output())
outcome.best_yaml   # runs/sweeps/imdb/best.yaml
```
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrun.config import dump_yaml
from dlrun.config.loader import set_path
from dlrun.console import Output
from dlrun.errors import EXIT_INTERRUPTED, ConfigError, DlrunError, UsageError
from dlrun.runs.lifecycle import signals_interrupt
from dlrun.runs.rundir import argv, remove_leftovers
from dlrun.spec import load_config, validate
from dlrun.sweep.pool import run_workers, sweep_lock
from dlrun.sweep.printer import trials_phrase
from dlrun.sweep.results import (
    TrialRow,
    best_trial,
    print_table,
    trial_rows,
    write_best,
    write_plots,
    write_trials_csv,
)
from dlrun.sweep.space import check_values, grid_size, parse_space
from dlrun.sweep.study import (
    create_or_load,
    default_storage_url,
    has_work,
    open_storage,
    recover_interrupted,
    redact,
    used,
    warmup_epochs,
)
from dlrun.sweep.trial import WorkerSpec

EXAMPLE = (
    "Add a sweep section, e.g.\n"
    "sweep:\n"
    "  metric: val_accuracy\n"
    "  trials: 20\n"
    "  space:\n"
    "    model.units: {choice: [[16, 16], [64, 64]]}\n"
    "    train.optimizer.learning_rate: {float: [0.0001, 0.01], log: true}"
)


class SweepInterrupted(DlrunError):
    exit_code = EXIT_INTERRUPTED


@dataclass
class SweepOutcome:
    sweep_dir: Path
    study_ref: str
    rows: list[TrialRow] = field(default_factory=list)
    best_yaml: Path | None = None
    plots: list[Path] = field(default_factory=list)


def sweep(
    config_path: Path,
    overrides: list[str],
    *,
    runs_dir: Path,
    out: Output,
    extra_files: list[Path] | None = None,
    trials: int | None = None,
    jobs: int = 1,
    resume: bool = False,
    storage: str | None = None,
    name: str | None = None,
) -> SweepOutcome:
    """Run (or resume, or join) a sweep; returns where its results are."""
    loaded = load_config(config_path, overrides, extra_files or [])
    if loaded.config.sweep is None:
        raise ConfigError(f"{config_path} has no sweep section: nothing to search.", hint=EXAMPLE)
    if trials is not None:
        set_path(loaded.raw, ("sweep", "trials"), trials)
        loaded = validate(loaded.raw, loaded.origins, loaded.sources)
    config = loaded.config
    assert config.sweep is not None
    objective = config.resolved_objective()
    params = parse_space(config.sweep)
    check_values(params, loaded.raw)
    budget = config.sweep.trials
    if config.sweep.sampler == "grid" and grid_size(params) < budget:
        budget = grid_size(params)
        out.info(f"the grid has {budget} points: the sweep runs {budget} trials")

    sweep_name = name or config.sweep.name or config.name
    sweep_dir = Path(runs_dir) / "sweeps" / sweep_name
    sweep_dir.mkdir(parents=True, exist_ok=True)
    local = storage is None
    url = storage or default_storage_url(sweep_dir)
    study_ref = str(sweep_dir / "study.db") if local else redact(url)

    with sweep_lock(sweep_dir) if local else contextlib.nullcontext():
        remove_leftovers(sweep_dir)  # of an earlier sweep killed while writing its results
        if local and resume and not (sweep_dir / "study.db").is_file():
            raise UsageError(
                f"there is no sweep to resume in {sweep_dir}.", hint="Start it without --resume."
            )
        study = create_or_load(
            open_storage(url, heartbeat=False),
            sweep_name,
            maximize=objective.maximize,
            must_exist=resume,
            may_exist=resume or not local,
        )
        _remember_config(study, loaded.resolved(), out)
        recovered = recover_interrupted(study, assume_all_dead=local)
        for numbers, how in (
            (recovered.rerun, ": queued to run again with the same parameters"),
            (recovered.dropped, " before having parameters: not counted against the budget"),
        ):
            if numbers:
                verb = "was" if len(numbers) == 1 else "were"
                out.info(f"{trials_phrase(numbers)} {verb} cut off{how}")
        done = used(study.get_trials(deepcopy=False))
        out.info(
            f"sweep [bold]{sweep_name}[/]: {done} of {budget} trials so far; "
            f"{config.sweep.sampler} sampler, {_pruner(config)}, "
            f"{objective.name} ({'max' if objective.maximize else 'min'}); "
            f"study {study_ref}"
        )
        spec = WorkerSpec(
            base=loaded.raw,
            sweep_name=sweep_name,
            study_name=sweep_name,
            storage=url,
            study_ref=study_ref,
            runs_dir=str(Path(runs_dir).resolve()),
            sweep_dir=str(sweep_dir.resolve()),
            budget=budget,
            verbosity=out.verbosity,
            argv=[redact(arg) for arg in argv()],  # no database password in meta.json
        )
        interrupted = False
        if has_work(study, budget):
            with signals_interrupt():
                interrupted = run_workers(
                    spec, study, jobs, sweep_dir, out, objective.name, local=local
                )
        else:
            out.info(f"all {budget} trials are done; raise the budget with --trials N")
        result = _results(study, params, config, sweep_dir, study_ref, out)
    if interrupted:
        raise SweepInterrupted(
            "interrupted; finished trials are kept in the study.",
            hint=f"Continue with: dlrun sweep {config_path} --resume"
            + (f" --storage {redact(url)}" if not local else "")
            + (f" --name {sweep_name}" if name else ""),
        )
    if result.rows and not any(r.state in ("complete", "pruned") for r in result.rows):
        raise DlrunError(
            "no trial of the sweep finished; every one failed (reasons above).",
            hint=f"The tracebacks are in each trial's error.log under {runs_dir}.",
        )
    return result


def _pruner(config: Any) -> str:
    """The pruner as a person reads it: when it may first stop a trial."""
    pruner = config.sweep.pruner
    if pruner == "none":
        return "no pruner"
    if config.data.validation.kfold is not None:
        return f"{pruner} pruner (after each fold)"
    return f"{pruner} pruner (from epoch {warmup_epochs(config) + 1})"


def _results(
    study: Any, params: list[Any], config: Any, sweep_dir: Path, study_ref: str, out: Output
) -> SweepOutcome:
    objective = config.resolved_objective()
    metric = objective.name
    rows = trial_rows(study, params, objective.maximize)
    result = SweepOutcome(sweep_dir=sweep_dir, study_ref=study_ref, rows=rows)
    if not rows:
        return result
    out.result(f"[bold]trials of sweep {study.study_name}[/], best first")
    print_table(out, rows, params, metric)
    write_trials_csv(sweep_dir / "trials.csv", rows, params, metric)
    result.best_yaml = write_best(study, sweep_dir, metric)
    result.plots = write_plots(study, sweep_dir, out)
    best = best_trial(study)
    counts = {state: sum(1 for r in rows if r.state == state) for state in ("complete", "pruned")}
    failed = sum(1 for r in rows if r.state == "failed")
    out.info(
        f"{counts['complete']} complete, {counts['pruned']} pruned, {failed} failed; "
        f"results in {sweep_dir}"
    )
    if best is not None and result.best_yaml is not None:
        out.result(
            f"best: trial {best.number}, {metric} [bold]{best.value:.4f}[/]; "
            f"train it with: dlrun train {result.best_yaml}",
            soft_wrap=True,
        )
    return result


def _remember_config(study: Any, resolved: dict[str, Any], out: Output) -> None:
    """Keep the config a sweep started with; warn when a resume brings a different one."""
    # The budget may change from run to run (--trials): that is not a different search.
    resolved["sweep"].pop("trials", None)
    config_yaml = dump_yaml(resolved)
    previous = study.user_attrs.get("config")
    if previous is None:
        study.set_user_attr("config", config_yaml)
    elif previous != config_yaml:
        out.warn(
            "the config differs from the one this sweep started with; new trials use the new one."
        )
