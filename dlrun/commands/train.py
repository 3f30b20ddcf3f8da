"""`dlrun train`: config -> data -> model -> fit -> test once -> run directory.

Every training is a job (`dlrun.workflow.job.run_job`, which sweep trials run too): a
config without a workflow section is a one-stage workflow, so a single run gets the same
summary, curves, report and resume as a workflow stage or a trial.

Example:

```python
run = train(Path("configs/digits.yaml"), ["train.epochs=3"], runs_dir=Path("runs"), out=Output())
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlrun.console import Output, literal
from dlrun.errors import UsageError
from dlrun.runs.catalog import resolve_run
from dlrun.runs.rundir import Run, argv
from dlrun.spec import load_config


def train(
    config_path: Path | None,
    overrides: list[str],
    *,
    runs_dir: Path,
    out: Output,
    extra_files: list[Path] | None = None,
    resume: str | Path | None = None,
    stage: str | None = None,
    final: bool = True,
) -> Run:
    """Train a new run from a config, or resume an interrupted one.

    With a `workflow` section the config walks the universal workflow
    (`dlrun.workflow.runner`); `stage` runs only that stage, `final=False` stops
    before the test split. Without one, the base model is trained once.
    """
    if resume is not None:
        if config_path is not None or overrides:
            raise UsageError(
                "--resume continues a run with its own config.yaml; "
                "do not give a config or overrides with it."
            )
        if stage is not None or not final:
            raise UsageError(
                "--resume continues a run with the --stage/--no-final it was started with; "
                "do not give them again."
            )
        run = Run.open(resolve_run(resume, runs_dir, need="resumable"))
        loaded = load_config(run.path / "config.yaml")
        out.info(f"resuming run [bold]{literal(run.path)}[/]")
        # The run carries on with the --stage / --no-final it was started with.
        options = run.meta.get("options", {})
        stage, final = options.get("stage"), options.get("final", True)
    else:
        if config_path is None:
            raise UsageError("give a config file, e.g. dlrun train configs/digits.yaml")
        loaded = load_config(config_path, overrides, extra_files or [])
        if stage is not None:
            from dlrun.workflow.stages import plan

            plan(loaded.config, stage)  # an unknown stage name is a usage error, before any run
        run = Run.create(
            runs_dir,
            loaded.config.name,
            loaded.to_yaml(),
            argv(),
            loaded.config.seed,
            meta={"options": {"stage": stage, "final": final}},
        )
        out.info(f"run [bold]{literal(run.path)}[/]")

    from dlrun.workflow.job import run_job

    summary = run_job(run, loaded.config, out, only=stage, final=final, resume=resume is not None)
    if summary.get("final"):
        _print_final(out, run, summary["final"]["test"])
    else:
        out.info("stopped before the test split (--no-final); no final model")
    return run


def _print_final(out: Output, run: Run, metrics: dict[str, Any]) -> None:
    out.metrics("final model on the test split", metrics, header="test metric")
    out.info(f"run directory: {literal(run.path)}")
