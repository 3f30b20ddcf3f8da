"""`run_job`: the one way a run directory is trained, for `dlrun train` and every sweep trial.

A job holds the run's lock for as long as it trains (a second `dlrun train --resume`
of the same run is refused at once, whoever started first), walks the workflow
(`run_workflow`: a config without a workflow section is one stage), writes what a
person reads (report.md and its plots), and only then marks the run completed. So
"completed" promises every artifact: a Ctrl-C, a SIGTERM or a kill -9 before that
leaves a run that `dlrun train --resume` finishes, and a run marked completed that
still misses a promised file (an older dlrun wrote its report after the status) is
finished by a resume too.

Statuses follow `dlrun.runs.lifecycle`: Ctrl-C and SIGTERM mark the run interrupted
(`Interrupted`, exit 130), an error marks it failed with its reason.

Example:

```python
run = Run.create(runs_dir, config.name, loaded.to_yaml(), argv(), config.seed)
summary = run_job(run, config, out)                       # dlrun train
summary = run_job(run, config, out, final=False,          # a sweep trial
                  hooks=TrialPruning(trial, "val_accuracy"), raw=raw, finish=record)
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dlrun.console import Output
from dlrun.data.splits import RawData
from dlrun.errors import RunError
from dlrun.report.markdown import write_report
from dlrun.runs.lifecycle import run_lifecycle
from dlrun.runs.rundir import Run, process_alive
from dlrun.spec import DlrunConfig
from dlrun.training import StageHooks
from dlrun.workflow.runner import run_workflow


def run_job(
    run: Run,
    config: DlrunConfig,
    out: Output,
    *,
    only: str | None = None,
    final: bool = True,
    resume: bool = False,
    hooks: StageHooks | None = None,
    raw: RawData | None = None,
    finish: Callable[[dict[str, Any]], None] | None = None,
    meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train `run` (a new one, or with `resume` an unfinished one) and return its summary.

    `only` and `final` are `dlrun train`'s --stage and --no-final; `hooks` reach every fit
    (a sweep's pruner); `raw` is data the caller has loaded already; `finish(summary)`
    adds the caller's own record (a trial's score) before the run is marked completed;
    `meta` is what a resume records in meta.json as it reopens the run (its runtime).
    """
    with run.locked():
        if resume:
            _reopen(run, final, out)
            if meta:
                run.update_meta(**meta)
        with run_lifecycle(run, out), out.reporting():
            summary = run_workflow(run, config, out, only=only, final=final, hooks=hooks, raw=raw)
            if finish is not None:
                finish(summary)
            write_report(run, status="completed")
            run.set_status("completed")
    return summary


def _reopen(run: Run, final: bool, out: Output) -> None:
    """Check, under the run's lock, that the run is one to continue; mark it running."""
    meta = run.meta
    status = meta.get("status")
    if status == "completed":
        missing = run.missing(final=final)
        if not missing:
            raise RunError(f"{run.path} is already completed; nothing to resume.")
        out.warn(f"{run.path} is marked completed but misses {', '.join(missing)}; finishing it")
    elif status == "running" and process_alive(meta, elsewhere=False):
        raise RunError(
            f"{run.path} is still running (pid {meta.get('pid')}); "
            "stop it first, or wait for it to finish."
        )
    run.set_status("running")
