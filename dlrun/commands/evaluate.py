"""`dlrun evaluate RUN`: score a run's final model on its test split (or another data set).

The model is loaded in Keras's safe mode and the data goes through the
preprocessing fitted when the run trained, never refitted.

Example:

```python
metrics = evaluate(Path("runs/20261122-101500-digits-a1b2c3"), out=Output())
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dlrun.catalog import resolve_run
from dlrun.console import Output
from dlrun.data.prepare import prepare_test
from dlrun.data.sources import load_raw
from dlrun.errors import ConfigError
from dlrun.runs import Run, default_runs_dir
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
    config = load_config(run.path / "config.yaml").config
    model_file = run.final_model()
    if data_config is not None:
        other = load_config(data_config).config
        if other.task != config.task:
            raise ConfigError(
                f"{data_config} is a '{other.task}' task, but the run was trained for "
                f"'{config.task}'."
            )
        config = config.model_copy(update={"data": other.data})
    keras = import_keras(out.verbose)
    from dlrun.evaluation import evaluate_model

    state = run.read_json("preprocessing.json")
    out.info(f"loading data [bold]{config.data.source}[/]")
    test = prepare_test(load_raw(config.data), config, state)
    model = keras.saving.load_model(model_file, safe_mode=True)
    metrics = evaluate_model(model, test, config, state["outputs"])
    name = "evaluation.json" if data_config is None else f"evaluation-{Path(data_config).stem}.json"
    run.write_json(f"final/{name}", {"data": config.data.model_dump(mode="json"), **metrics})
    _print(out, run, metrics, state.get("class_names"))
    return metrics


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
