"""What a sweep leaves for a person: the trials table, best.yaml, trials.csv and two plots.

All of it is read back from the study, so it works the same for a local SQLite study and
for a database shared by several machines. No TensorFlow here.

Files in the sweep directory (`runs/sweeps/<name>/`):

    best.yaml           the best trial's resolved config: `dlrun train best.yaml`
    trials.csv          one row per trial: number, state, value, parameters, epochs, seconds, run
    history.png         optimization history (Optuna's matplotlib plot)
    importance.png      parameter importances (needs two completed trials)

Example:

```python
rows = trial_rows(study, params)
print_table(out, rows, params, metric="val_accuracy")
write_best(study, sweep_dir, "imdb")
```
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape

from dlrun.console import Output
from dlrun.runs.rundir import save_with, write_text
from dlrun.sweep.space import Param, format_value
from dlrun.sweep.study import outcome

ORDER = ("complete", "pruned", "running", "waiting", "failed", "interrupted")


@dataclass
class TrialRow:
    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    epochs: int | None
    seconds: float | None
    run: str | None
    note: str | None


def trial_rows(study: Any, params: list[Param], maximize: bool) -> list[TrialRow]:
    """Every trial but surplus ones, best first: complete, pruned, then the rest."""
    by_path = {p.path: p for p in params}
    rows = []
    for trial in study.get_trials(deepcopy=False):
        state = outcome(trial)
        if state == "surplus":
            continue
        attrs = trial.user_attrs
        value = trial.value if state in ("complete", "pruned") else None
        seconds = attrs.get("seconds")
        if seconds is None and trial.datetime_start and trial.datetime_complete:
            seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
        note = attrs.get("error")
        if state == "pruned" and attrs.get("pruned_epoch"):
            note = f"pruned at step {attrs['pruned_epoch']}"
        values = trial.params
        if state == "waiting":
            # a queued re-run: its parameters are fixed, not yet suggested
            values = trial.system_attrs.get("fixed_params", {})
        if attrs.get("rerun_of") is not None:
            note = f"re-run of trial {attrs['rerun_of']}" + (f"; {note}" if note else "")
        rows.append(
            TrialRow(
                number=trial.number,
                state=state,
                value=value,
                params={
                    path: by_path[path].decode(v) if path in by_path else v
                    for path, v in values.items()
                },
                epochs=attrs.get("epochs"),
                seconds=seconds,
                run=Path(attrs["run"]).name if attrs.get("run") else None,
                note=note,
            )
        )

    def key(row: TrialRow) -> tuple[int, float, int]:
        if row.value is None or math.isnan(row.value):
            score = math.inf
        else:
            score = -row.value if maximize else row.value
        return (ORDER.index(row.state), score, row.number)

    return sorted(rows, key=key)


def print_table(out: Output, rows: list[TrialRow], params: list[Param], metric: str) -> None:
    names = _short_names([p.path for p in params])
    # Run directories are named <stamp>-<sweep>-t<trial>-<id>: the trial number finds them.
    table = out.table("trial", "state", metric, *names.values(), "epochs", "time")
    for row in rows:
        value = f"{row.value:.4f}" if row.value is not None else "-"
        cells = [format_value(row.params[p]) if p in row.params else "-" for p in names]
        seconds = f"{row.seconds:.1f}s" if row.seconds is not None else "-"
        style = {"complete": "", "pruned": "dim", "failed": "red", "interrupted": "yellow"}
        state = f"[{style[row.state]}]{row.state}[/]" if style.get(row.state) else row.state
        table.add_row(
            str(row.number),
            state,
            value,
            *cells,
            str(row.epochs) if row.epochs is not None else "-",
            seconds,
        )
    out.result(table)
    for row in rows:
        if row.state in ("failed", "interrupted") and row.note:
            out.info(f"[dim]trial {row.number} {row.state}: {escape(row.note)}[/]")


def write_trials_csv(path: Path, rows: list[TrialRow], params: list[Param], metric: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    paths = [p.path for p in params]
    writer.writerow(["trial", "state", metric, *paths, "epochs", "seconds", "run", "note"])
    for row in rows:
        writer.writerow(
            [
                row.number,
                row.state,
                "" if row.value is None else row.value,
                *(format_value(row.params[p]) if p in row.params else "" for p in paths),
                "" if row.epochs is None else row.epochs,
                "" if row.seconds is None else round(row.seconds, 2),
                row.run or "",
                row.note or "",
            ]
        )
    write_text(path, buffer.getvalue())


def best_trial(study: Any) -> Any | None:
    """The best completed trial (pruned ones never ran to the end), or None."""
    try:
        return study.best_trial
    except ValueError:
        return None


def write_best(study: Any, sweep_dir: Path, metric: str) -> Path | None:
    """best.yaml: the best trial's resolved config, a plain `dlrun train` config."""
    best = best_trial(study)
    if best is None or "config" not in best.user_attrs:
        return None
    header = (
        f"# Best trial of sweep '{study.study_name}': trial {best.number}, "
        f"{metric} {best.value:.4f}.\n"
        f"# Run: {best.user_attrs.get('run', '?')}\n"
        f"# Train it (validation, then test once): dlrun train {sweep_dir / 'best.yaml'}\n"
    )
    path = sweep_dir / "best.yaml"
    write_text(path, header + best.user_attrs["config"])
    return path


# Below this many completed trials, parameter importances are said to be a hint only.
FEW_FOR_IMPORTANCE = 10


def write_plots(study: Any, sweep_dir: Path, out: Output) -> list[Path]:
    """history.png always (when a trial completed); importance.png from two completed trials."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    completed = [t for t in study.get_trials(deepcopy=False) if outcome(t) == "complete"]
    written = []
    plots = [("history.png", ovm.plot_optimization_history, 1)]
    plots.append(("importance.png", ovm.plot_param_importances, 2))
    for name, plot, needed in plots:
        if len(completed) < needed:
            out.detail(f"{name} skipped: it needs {needed} completed trials")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                axes = plot(study)
            except (ValueError, RuntimeError) as exc:
                # e.g. every completed trial has the same value: nothing to attribute
                out.detail(f"{name} skipped: {exc}")
                continue
        if name == "importance.png":
            # fANOVA reads completed trials only: with pruning, that can be a few of many
            few = len(completed) < FEW_FOR_IMPORTANCE
            axes.set_title(
                f"Hyperparameter importances, from {len(completed)} completed trials"
                + (" (few: a hint, not a finding)" if few else "")
            )
            if few:
                out.warn(
                    f"importance.png rests on {len(completed)} completed trials (pruned and "
                    "failed ones do not count): read it as a hint"
                )
        figure = axes.figure
        figure.set_size_inches(8, 5)
        figure.tight_layout()
        path = sweep_dir / name
        save_with(path, lambda tmp, figure=figure: figure.savefig(tmp, dpi=100))
        plt.close(figure)
        written.append(path)
    return written


def _short_names(paths: list[str]) -> dict[str, str]:
    """Column titles: the last part of each path, longer only where two would clash."""
    names = {}
    for path in paths:
        parts = path.split(".")
        for size in range(1, len(parts) + 1):
            short = ".".join(parts[-size:])
            if sum(1 for p in paths if p.endswith(short)) == 1 or size == len(parts):
                names[path] = short
                break
    return names
