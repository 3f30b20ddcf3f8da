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

import os
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from dlrun.console import QUIET, Output, literal
from dlrun.errors import UsageError
from dlrun.runs.catalog import resolve_run
from dlrun.runs.rundir import Run, argv
from dlrun.runtime import Runtime, pick_backend, use
from dlrun.runtime.processes import SCRATCH_ENV
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
    backend: str | None = None,
    processes: int | None = None,
    process_id: int | None = None,
    coordinator: str | None = None,
) -> Run:
    """Train a new run from a config, or resume an interrupted one.

    With a `workflow` section the config walks the universal workflow
    (`dlrun.workflow.runner`); `stage` runs only that stage, `final=False` stops
    before the test split. Without one, the base model is trained once.
    """
    run: Run | None = None
    if resume is not None:
        if config_path is not None or overrides:
            raise UsageError(
                "--resume continues a run with its own config.yaml; "
                "do not give a config or overrides with it."
            )
        if stage is not None or not final or backend is not None:
            raise UsageError(
                "--resume continues a run with the --stage/--no-final/--backend it was "
                "started with; do not give them again."
            )
        run = Run.open(resolve_run(resume, runs_dir, need="resumable"))
        loaded = load_config(run.path / "config.yaml")
        # The run carries on with the --stage / --no-final it was started with.
        options = run.meta.get("options", {})
        stage, final = options.get("stage"), options.get("final", True)
    else:
        if config_path is None:
            raise UsageError("give a config file, e.g. dlrun train configs/digits.yaml")
        if backend is not None:
            overrides = [*overrides, f"backend={backend}"]
        loaded = load_config(config_path, overrides, extra_files or [])
        if loaded.config.backend is None:  # config.yaml says which one trained the run
            chosen = pick_backend(None).name
            loaded.config = loaded.config.model_copy(update={"backend": chosen})
        if stage is not None:
            from dlrun.workflow.stages import plan

            plan(loaded.config, stage)  # an unknown stage name is a usage error, before any run
    runtime = use(
        Runtime.for_config(
            loaded.config, processes=processes, process_id=process_id, coordinator=coordinator
        )
    )
    _check_processes(runtime)
    runtime.start(out.verbose)  # before the run exists: a backend that fails leaves none
    with ExitStack() as cleanup:
        if not runtime.is_chief:
            # Another process trains the same run in step with the chief and needs the same
            # files to read back (checkpoints, backups), but only the chief writes the run
            # directory: this one writes a scratch copy, removed when it ends.
            given = os.environ.get(SCRATCH_ENV)  # the supervisor's, which it removes
            scratch = Path(given or tempfile.mkdtemp(prefix=f"dlrun-process-{runtime.process_id}-"))
            if not given:
                cleanup.callback(shutil.rmtree, scratch, ignore_errors=True)
            if run is not None:
                run = Run.open(shutil.copytree(run.path, scratch / run.id))
            runs_dir, out = scratch, Output(QUIET)
        if run is not None:  # said by the chief only: the others' out is quiet
            out.info(f"resuming run [bold]{literal(run.path)}[/]")
        return _train(run, loaded, runtime, stage, final, runs_dir, out)


def _check_processes(runtime: Runtime) -> None:
    if runtime.processes == 1:
        return
    if runtime.strategy != "data_parallel" or runtime.backend.name != "jax":
        raise UsageError(
            f"--processes {runtime.processes} trains one run in several processes, which "
            "dlrun does with JAX's data_parallel only.",
            hint="Set backend: jax and distribute.strategy: data_parallel (MirroredStrategy "
            "is one process; Keras 3 fit fails under MultiWorkerMirroredStrategy).",
        )
    if runtime.coordinator is None or not 0 <= runtime.process_id < runtime.processes:
        raise UsageError(
            "a multi-process run needs --coordinator host:port (process 0's address) and "
            f"--process-id from 0 to {runtime.processes - 1} on every process."
        )


def _train(
    run: Run | None,
    loaded: Any,
    runtime: Runtime,
    stage: str | None,
    final: bool,
    runs_dir: Path,
    out: Output,
) -> Run:
    """Create the run (or take the resumed one) and train it as one job."""
    resume = run is not None
    if run is None:
        run = Run.create(
            runs_dir,
            loaded.config.name,
            loaded.to_yaml(),
            argv(),
            loaded.config.seed,
            meta={"options": {"stage": stage, "final": final}, "runtime": runtime.describe()},
        )
        out.info(f"run [bold]{literal(run.path)}[/]")
    split = runtime.batch_split(loaded.config.train.batch_size)
    out.info(f"backend [bold]{runtime.backend.name}[/]" + (f"; {split}" if split else ""))

    from dlrun.workflow.job import run_job

    summary = run_job(
        run,
        loaded.config,
        out,
        only=stage,
        final=final,
        resume=resume,
        meta={"runtime": runtime.describe()},
    )
    if not runtime.is_chief:
        return run
    if summary.get("final"):
        _print_final(out, run, summary["final"]["test"])
    else:
        out.info("stopped before the test split (--no-final); no final model")
    return run


def _print_final(out: Output, run: Run, metrics: dict[str, Any]) -> None:
    out.metrics("final model on the test split", metrics, header="test metric")
    out.info(f"run directory: {literal(run.path)}")
