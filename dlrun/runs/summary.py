"""summary.json: its one writer's skeleton and its one reader, for every kind of run.

A single training, a workflow and a sweep trial all write the same layout (documented
in `dlrun.workflow.runner`): `workflow` (objective, protocol, final mode), `baseline`,
`stages` (each a `StageRecord` plus the workflow's verdicts), `chosen`, `final`, and,
for a sweep trial, `sweep`. catalog, show, compare and the report read it through the
functions here, so no reader guesses at layouts.

Example:

```python
summary = new_summary(Objective.of("val_accuracy"), stage=None, final="retrain")
stage = chosen_stage(summary)       # the stage whose numbers stand for the run
stage_values(stage)                 # {"loss": .., "accuracy": .., "val_loss": .., ...}
```
"""

from __future__ import annotations

from typing import Any

from dlrun.objective import Objective


def new_summary(objective: Objective, *, stage: str | None, final: str | None) -> dict[str, Any]:
    """The skeleton every run's summary.json starts from."""
    return {
        "workflow": {
            "metric": objective.name,
            "direction": objective.direction,
            "protocol": None,
            "stage": stage,
            "final": final,
        },
        "baseline": None,
        "stages": {},
        "chosen": None,
        "final": None,
        "plots": {},
        "seconds": None,
    }


def stages(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = summary.get("stages")
    if isinstance(found, dict):
        return {str(k): v for k, v in found.items() if isinstance(v, dict)}
    return {}


def chosen_stage(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The stage whose validation numbers stand for the run: the one chosen for the final
    model, or a run's only completed stage."""
    found = stages(summary)
    name = summary.get("chosen")
    if isinstance(name, str) and name in found:
        return found[name]
    completed = [s for s in found.values() if s.get("status") == "completed"]
    return completed[0] if len(completed) == 1 else None


def stage_values(stage: dict[str, Any]) -> dict[str, Any]:
    """A stage's metrics at its best epoch, Keras's names (`val_` prefixed)."""
    train, val = stage.get("train"), stage.get("val")
    values = dict(train) if isinstance(train, dict) else {}
    if isinstance(val, dict):
        values.update({f"val_{k}": v for k, v in val.items()})
    return values


def run_metrics(summary: dict[str, Any], sweep: dict[str, Any] | None = None) -> dict[str, float]:
    """Flat metrics of a run: the chosen stage's at its best epoch, test_* of the final model,
    and a sweep trial's score under its metric's name (`sweep`: meta.json's record of the
    trial, else the summary's)."""
    metrics: dict[str, float] = {}
    stage = chosen_stage(summary)
    if stage is not None:
        values = stage_values(stage)
        metrics.update({k: float(v) for k, v in values.items() if _number(v)})
    final = summary.get("final") if isinstance(summary.get("final"), dict) else {}
    test = final.get("test") if isinstance(final.get("test"), dict) else {}
    for key, value in test.items():
        if _number(value) and key != "samples":
            metrics[f"test_{key}"] = float(value)
    if sweep is None:
        sweep = summary.get("sweep") if isinstance(summary.get("sweep"), dict) else {}
    name, value = sweep.get("metric"), sweep.get("value")
    if isinstance(name, str) and _number(value):
        metrics[name] = float(value)
    return metrics


def _number(value: Any) -> bool:
    """A JSON number that float() takes (an integer of 400 digits is no metric)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True
