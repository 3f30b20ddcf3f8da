"""`dlrun train`: config -> data -> model -> fit -> test once -> run directory.

Example:

```python
run = train(Path("configs/digits.yaml"), ["train.epochs=3"], runs_dir=Path("runs"), out=Output())
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlrun.catalog import resolve_run
from dlrun.config import LoadedConfig
from dlrun.console import Output
from dlrun.data.prepare import Prepared, prepare
from dlrun.data.sources import load_raw
from dlrun.errors import ConfigError, RunError, UsageError
from dlrun.runs import PREDICTIONS, Run, argv, process_alive, save_with
from dlrun.spec import DlrunConfig, load_config
from dlrun.tfenv import import_keras


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
        run, loaded = _reopen(resolve_run(resume, runs_dir))
        out.info(f"resuming run [bold]{run.path}[/]")
        # The run carries on with the --stage / --no-final it was started with.
        options = run.meta.get("options", {})
        stage, final = options.get("stage"), options.get("final", True)
    else:
        if config_path is None:
            raise UsageError("give a config file, e.g. dlrun train configs/digits.yaml")
        loaded = load_config(config_path, overrides, extra_files or [])
        if loaded.config.workflow is None and loaded.config.data.validation.kfold is not None:
            raise ConfigError(
                f"{config_path}: data.validation.kfold needs a workflow section: K-fold trains "
                "one model per fold, then one on all the training data.",
                hint="Add `workflow: {}` (the base model alone, validated by K-fold), "
                "or validate on a holdout (data.validation: {fraction: 0.2}).",
            )
        if loaded.config.workflow is None and (stage is not None or not final):
            raise UsageError(
                "--stage and --no-final apply to a config with a workflow section; "
                f"{config_path} has none, so it trains one model and tests it."
            )
        if stage is not None:
            from dlrun.workflow.stages import plan

            plan(loaded.config, stage)  # an unknown stage name is a usage error, before any run
        run = Run.create(runs_dir, loaded.config.name, loaded.to_yaml(), argv(), loaded.config.seed)
        run.update_meta(options={"stage": stage, "final": final})
        out.info(f"run [bold]{run.path}[/]")

    from dlrun.commands.lifecycle import run_lifecycle

    with run_lifecycle(run, out):
        if loaded.config.workflow is None:
            summary = _train_once(run, loaded.config, out)
            run.write_json("summary.json", summary)
        else:
            from dlrun.workflow.runner import run_workflow

            summary = run_workflow(run, loaded.config, out, only=stage, final=final)
        run.set_status("completed")
    from dlrun.report import write_report  # report.md + plots: what a person reads first

    write_report(run)
    if summary.get("final"):
        _print_final(out, run, summary["final"]["test"])
    else:
        out.info("stopped before the test split (--no-final); no final model")
    return run


def _reopen(path: Path) -> tuple[Run, LoadedConfig]:
    run = Run.open(path)
    meta = run.meta
    status = meta.get("status")
    if status == "completed":
        raise RunError(f"{run.path} is already completed; nothing to resume.")
    if status == "running" and process_alive(meta, elsewhere=False):
        raise RunError(
            f"{run.path} is still running (pid {meta.get('pid')}); "
            "stop it first, or wait for it to finish."
        )
    loaded = load_config(run.path / "config.yaml")
    run.set_status("running")
    return run, loaded


def load_prepared(run: Run, config: DlrunConfig, out: Output) -> Prepared:
    """Load and prepare the data; a resumed run reuses its fitted preprocessing."""
    out.info(f"loading data [bold]{config.data.source}[/]")
    raw = load_raw(config.data)
    state_file = run.path / "preprocessing.json"
    state = run.read_json("preprocessing.json") if state_file.is_file() else None
    prepared = prepare(raw, config, state)
    if state is None:
        run.write_json("preprocessing.json", prepared.state)
    validation = len(prepared.validation) if prepared.validation is not None else 0
    out.info(
        f"data: {len(prepared.train)} train, {validation} validation, {len(prepared.test)} test; "
        f"input {prepared.input_spec.shape}{' sparse' if prepared.input_spec.sparse else ''}, "
        f"{prepared.outputs} output{'s' if prepared.outputs > 1 else ''}"
    )
    return prepared


def _train_once(run: Run, config: DlrunConfig, out: Output) -> dict[str, Any]:
    import_keras(out.verbose)
    from dlrun.evaluation import evaluate_model
    from dlrun.training import train_model

    prepared = load_prepared(run, config, out)
    out.info(f"training [bold]{config.model.kind}[/] for up to {config.train.epochs} epochs")
    result = train_model(config, prepared, run.stage_dir("train"), out)
    test = evaluate_model(
        result.model, prepared.test, config, prepared.outputs, predictions_to=run.path / PREDICTIONS
    )
    run.write_json("final/metrics.json", test)
    # The final model goes last: its presence means metrics and preprocessing are there.
    save_with(run.final_model_path, result.model.save)
    return {
        "stages": {
            "train": {
                "epochs_run": result.epochs_run,
                "best_epoch": result.best_epoch,
                "stopped_early": result.stopped_early,
                "seconds": round(result.seconds, 2),
                "params": result.params,
                "last": {k: v[-1] for k, v in result.history.items()},
            }
        },
        "final": {"stage": "train", "test": test},
    }


def _print_final(out: Output, run: Run, metrics: dict[str, Any]) -> None:
    out.metrics("final model on the test split", metrics, header="test metric")
    out.info(f"run directory: {run.path}")
