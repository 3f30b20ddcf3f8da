"""`dlrun evaluate RUN`: score a run's final model on its test split (or another data set).

The model is loaded in Keras's safe mode and the data goes through the
preprocessing fitted when the run trained, never refitted.

Example:

```python
metrics = evaluate(Path("runs/20261122-101500-digits-a1b2c3"), out=Output())
```
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

from rich.markup import escape

from dlrun.console import Output
from dlrun.data.prepare import prepare_test
from dlrun.data.representations import load_state
from dlrun.data.sources import load_raw
from dlrun.errors import ConfigError, RunError, UsageError
from dlrun.runs.catalog import resolve_run
from dlrun.runs.rundir import Run, default_runs_dir
from dlrun.spec import load_config
from dlrun.tfenv import import_keras


def evaluate(
    run_arg: str | Path,
    *,
    out: Output,
    data_config: Path | None = None,
    runs_dir: Path | None = None,
) -> dict[str, Any]:
    """`run_arg`: a run directory, an id, a unique part of one, or `last` (in `runs_dir`)."""
    run = Run.open(resolve_run(run_arg, runs_dir or default_runs_dir()))
    run.check_writable()  # evaluation.json is written last: fail before the work, not after
    config = load_config(run.path / "config.yaml").config
    if data_config is not None:
        other = load_config(data_config).config
        if other.task != config.task:
            raise ConfigError(
                f"{data_config} is a '{other.task}' task, but the run was trained for "
                f"'{config.task}'."
            )
        config = config.model_copy(update={"data": other.data})
    state = load_state(run)  # a damaged file is refused before the model and data load
    model = load_final_model(run, out.verbose)
    from dlrun.evaluation import evaluate_model
    from dlrun.workflow.baselines import judge_on_test, on_test

    out.info(f"loading data [bold]{escape(config.data.source)}[/]")
    with out.reporting():
        raw = load_raw(config.data)
        test = prepare_test(raw, config, state)
        metrics = evaluate_model(
            model, test, config, state["outputs"], threshold=saved_threshold(run)
        )
    judged = judge_on_test(on_test(config, raw, test, state), config.resolved_objective(), metrics)
    name = "evaluation.json" if data_config is None else f"evaluation-{Path(data_config).stem}.json"
    run.write_json(
        f"final/{name}",
        {"data": config.data.model_dump(mode="json"), **metrics, "baseline": judged},
    )
    _print(out, run, metrics, state.get("class_names"))
    if judged is not None and judged["beaten"]:
        out.result(f"the final model {escape(judged['verdict'])}")
    elif judged is not None:
        out.warn(f"the final model {judged['verdict']}")
    return metrics


def saved_threshold(run: Run) -> float | None:
    """The decision threshold workflow.threshold chose for the run's final model, or None
    (0.5). Read from final/metrics.json, which is written before the final model: a run
    that has the model has the threshold it was tested at."""
    if not (run.path / "final" / "metrics.json").is_file():
        return None
    metrics = run.read_json("final/metrics.json")
    threshold = metrics.get("threshold") if isinstance(metrics, dict) else None
    return float(threshold) if isinstance(threshold, int | float) else None


def load_final_model(run: Run, verbose: bool = False) -> Any:
    """The run's final model, loaded in Keras's safe mode (evaluate, predict, export).

    A file Keras cannot load is a RunError that names it and says why, in one sentence.
    """
    path = run.final_model()
    retrain = f"Train the run again to replace it: dlrun train {run.path / 'config.yaml'}"
    if not zipfile.is_zipfile(path):
        # Keras would say "File not found" about a file that is there, only not an archive.
        raise RunError(
            f"{path} is damaged: it is not a .keras archive ({path.stat().st_size} bytes; "
            "empty, cut off, or overwritten).",
            hint=retrain,
        )
    keras = import_keras(verbose)
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:  # a damaged archive fails in many ways (zip, JSON, HDF5, Keras)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if "safe_mode" in str(exc):  # Keras raises a plain ValueError for it
            layer = re.search(r"deserialization of a `(\w+)`", str(exc))
            what = f"a {layer.group(1)} layer" if layer else "stored Python code"
            raise RunError(
                f"{path} holds {what}, which Keras's safe mode refuses to load (it could run "
                "any code).",
                hint="dlrun loads models in safe mode only: build the model from standard Keras "
                "layers. If you trust the file, load it yourself with "
                "keras.saving.load_model(path, safe_mode=False).",
            ) from None
        backend = keras.backend.backend()
        if "sparse" in str(exc).lower() and backend != "tensorflow":
            raise UsageError(
                f"{path} takes sparse inputs (multi-hot token sets), which Keras's {backend} "
                "backend cannot load.",
                hint="Use --backend tensorflow or jax.",
            ) from None
        raise RunError(
            f"{path} is damaged: Keras cannot load it ({type(exc).__name__}: {reason}).",
            hint=retrain,
        ) from None


def _print(out: Output, run: Run, metrics: dict[str, Any], class_names: list[str] | None) -> None:
    out.metrics(f"{run.id} on the test split", metrics)
    matrix = metrics.get("confusion_matrix")
    if matrix:
        names = class_names or [str(i) for i in range(len(matrix))]
        out.result("[bold]confusion matrix[/] (rows: true class, columns: predicted)")
        cm = out.table("", *names)
        for name, row in zip(names, matrix, strict=True):
            cm.add_row(name, *(str(v) for v in row))
        out.result(cm)
