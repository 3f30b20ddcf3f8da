"""Walk the universal workflow for one run: baseline -> stages -> choose -> final -> test once.

The runner decides; training, evaluation and data preparation are done by the
layers below it. The test split is prepared and evaluated exactly once, by the
final step, after the stage has been chosen on validation scores alone.

summary.json (written atomically after every stage and fold, so an interrupted
run keeps what it finished; `--resume` reruns only stages not marked done):

    {
      "workflow": {"metric": "val_accuracy", "higher_is_better": true,
                   "protocol": {"kind": "holdout", "train": 15000, "validation": 10000}
                            | {"kind": "kfold", "k": 4, "repeats": 1, "samples": 404},
                   "stage": null | "NAME" (--stage), "final": "retrain" | "keep_best" | null},
      "baseline": {"values": {"majority": {"accuracy": 0.5}, "shuffled": {"accuracy": 0.5}},
                   "reference": {"name": "majority", "label": "majority class",
                                 "metric": "accuracy", "value": 0.5} | null},
      "stages": {                              # in plan order
        "small": {"role": "small" | "overfit" | "regularize",
                  "status": "completed" | "failed" | "running",
                  "model": "mlp 16-16", "overrides": {"model": {...}, "train": {...}},
                  "params": 160305, "epochs_run": 6, "best_epoch": 4,
                  "score": 0.889,              # the metric at the best epoch (K-fold: mean)
                  "score_std": null | 0.1,     # K-fold: std over folds at that epoch
                  "train": {"loss": .., "accuracy": ..}, "val": {"loss": .., "accuracy": ..},
                  "overfitting": {"overfits": true, "after_epoch": 4, "gap": 0.05},
                  "verdict": "beats baseline by 0.39; overfits after epoch 4 (gap 0.05)",
                  "seconds": 12.3, "plot": "curves_small.png", "error": null | "reason",
                  "folds": [{"name": "fold-1", "epochs_run": 80, "best_epoch": 61,
                             "score": 2.3, "at_best_epoch": 2.4}]   # K-fold only
        }, ...},
      "chosen": "dropout" | null,             # best score; K-fold: one-standard-error rule
      "final": null | {"stage": "dropout", "mode": "retrain" | "keep_best", "epochs": 7,
                       "models": 1,            # retrain: copies averaged (final_models)
                       "samples": 25000, "seconds": 9.1, "test": {"accuracy": .., ...}},
      "plots": {"overlay": "validation_curves.png"},
      "seconds": 123.4
    }

A stage's curves live in `stages/<stage>/history.csv` (K-fold:
`stages/<stage>/fold-<i>/history.csv`), each with its own TensorBoard events.

Example:

```python
summary = run_workflow(run, config, out, only=None, final=True)
summary["chosen"], summary["final"]["test"]["accuracy"]
```
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from dlrun import plots
from dlrun.console import QUIET, Output
from dlrun.data.portions import Portion, make_portions, prepare_portion
from dlrun.data.prepare import limited, prepare_test
from dlrun.data.sources import load_raw
from dlrun.data.splits import RawData
from dlrun.errors import DlrunError
from dlrun.evaluation import evaluate_model
from dlrun.runs import PREDICTIONS, Run, read_history, save_with, write_text
from dlrun.spec import DlrunConfig
from dlrun.tasks import head_for, higher_is_better
from dlrun.tfenv import import_keras
from dlrun.training import best_epoch, make_optimizer, resolve_head, train_model
from dlrun.workflow.baselines import BASELINES, compute_baselines, reference
from dlrun.workflow.kfold import fold_spread, mean_curves
from dlrun.workflow.stages import Stage, plan
from dlrun.workflow.verdicts import Curves, overfitting, verdict

DONE = ("completed", "failed")


def default_metric(config: DlrunConfig) -> str:
    """`workflow.metric`, or val_ + the task's first metric (val_accuracy, val_mae, ...)."""
    if config.workflow is not None and config.workflow.metric:
        return config.workflow.metric
    head = head_for(config.task, loss=config.train.loss, metrics=config.train.metrics)
    return f"val_{head.metrics[0]}" if head.metrics else "val_loss"


@dataclass
class Workflow:
    run: Run
    config: DlrunConfig
    out: Output
    metric: str
    summary: dict[str, Any]
    raw: RawData | None = None
    portions: dict[str, list[Portion]] = field(default_factory=dict)
    curves: dict[str, Curves] = field(default_factory=dict)

    @property
    def higher(self) -> bool:
        return higher_is_better(self.metric)

    @property
    def kfold(self) -> bool:
        return self.config.data.validation.kfold is not None

    def save(self) -> None:
        self.run.write_json("summary.json", self.summary)

    def portions_for(self, config: DlrunConfig) -> list[Portion]:
        # Stages share the data config; only the model kind changes preprocessing
        # (images are flattened for an mlp), so portions are prepared once per kind.
        key = config.model.kind
        if key not in self.portions:
            assert self.raw is not None
            self.portions[key] = make_portions(self.raw, config)
        return self.portions[key]


def run_workflow(
    run: Run, config: DlrunConfig, out: Output, *, only: str | None, final: bool
) -> dict[str, Any]:
    """Run (or continue) every planned stage, choose one, and test it once."""
    assert config.workflow is not None
    keras = import_keras(out.verbose)
    started = time.perf_counter()
    stages = plan(config, only)
    metric = default_metric(config)
    previous = run.read_json("summary.json") if (run.path / "summary.json").is_file() else {}
    summary: dict[str, Any] = {
        "workflow": {
            "metric": metric,
            "higher_is_better": higher_is_better(metric),
            "protocol": None,
            "stage": only,
            "final": config.workflow.final if final else None,
        },
        "baseline": None,
        "stages": {},
        "chosen": None,
        "final": None,
        "plots": {},
        "seconds": None,
    }
    flow = Workflow(run, config, out, metric, summary)
    out.info(f"loading data [bold]{config.data.source}[/]")
    flow.raw = load_raw(config.data)
    portions = flow.portions_for(config)
    summary["workflow"]["protocol"] = _protocol(config, portions)
    summary["baseline"] = _baseline(flow, portions)
    if not previous:  # a resumed run's summary is rewritten only once its stages are back in
        flow.save()
    _print_rows(out, flow, [_baseline_row(flow)])

    done = previous.get("stages", {})
    for stage in stages:
        entry = done.get(stage.name)
        if entry and entry.get("status") in DONE:
            summary["stages"][stage.name] = entry
            if entry["status"] == "completed":
                flow.curves[stage.name] = _stage_curves(run, stage.name, entry)
            out.info(f"stage [bold]{stage.name}[/]: {entry['status']} before, kept")
            continue
        summary["stages"][stage.name] = _run_stage(flow, stage, entry, keras)
        flow.save()
        _print_rows(out, flow, [_stage_row(flow, stage.name)])

    if flow.curves:
        plots.overlay(flow.curves, metric, run.path / "validation_curves.png")
        summary["plots"]["overlay"] = "validation_curves.png"
    folds = len(portions) if flow.kfold else 1
    summary["chosen"] = choose(summary["stages"], flow.higher, folds)
    flow.save()
    if summary["chosen"] is None:
        raise DlrunError(
            "every workflow stage failed, so there is no model to test.",
            hint=f"The reasons are in {run.path / 'summary.json'} (stages.*.error).",
        )
    if final:
        summary["final"] = previous.get("final") or _final(flow, stages, keras)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    flow.save()
    out.result(_table(out, flow, _all_rows(flow)), markup=False, soft_wrap=True)
    return summary


def choose(stages: dict[str, dict[str, Any]], higher: bool, folds: int = 1) -> str | None:
    """The completed stage with the best validation score (ties: the earlier stage).

    With K-fold (`folds` > 1), the one-standard-error rule: of the stages whose mean
    score is within one standard error (std / sqrt(folds)) of the best, the one with
    the fewest parameters, since differences inside the folds' noise do not justify
    a bigger model.
    """
    completed = {n: e for n, e in stages.items() if e.get("status") == "completed"}
    if not completed:
        return None
    pick = max if higher else min
    best = pick(completed, key=lambda n: completed[n]["score"])
    std = completed[best].get("score_std")
    if folds < 2 or std is None:
        return best
    margin = std / math.sqrt(folds)
    close = [
        n for n, e in completed.items() if abs(e["score"] - completed[best]["score"]) <= margin
    ]
    return min(close, key=lambda n: completed[n].get("params") or 0)


def _protocol(config: DlrunConfig, portions: list[Portion]) -> dict[str, Any]:
    v = config.data.validation
    if v.kfold is not None:
        samples = len(portions[0].train_y) + len(portions[0].val_y)
        return {"kind": "kfold", "k": v.kfold, "repeats": v.repeats, "samples": samples}
    train, validation = len(portions[0].train_y), len(portions[0].val_y)
    return {"kind": "holdout", "train": train, "validation": validation}


def _baseline(flow: Workflow, portions: list[Portion]) -> dict[str, Any]:
    assert flow.config.workflow is not None
    values = compute_baselines(
        flow.config.task,
        flow.config.workflow.baseline,
        [(p.train_y, p.val_y) for p in portions],
    )
    ref = reference(values, flow.metric.removeprefix("val_"), flow.higher)
    return {
        "values": values,
        "reference": None
        if ref is None
        else {
            "name": ref[0],
            "label": BASELINES[ref[0]].label,
            "metric": flow.metric.removeprefix("val_"),
            "value": ref[1],
        },
    }


def _run_stage(flow: Workflow, stage: Stage, previous: dict[str, Any] | None, keras: Any) -> dict:
    out = flow.out
    entry: dict[str, Any] = {
        "role": stage.role,
        "status": "running",
        "model": stage.base.model.describe(),
        "overrides": stage.overrides,
        "error": None,
    }
    flow.summary["stages"][stage.name] = entry
    out.info(f"[bold]stage {stage.name}[/] ({stage.role})")
    stage_dir = flow.run.stage_dir(stage.name)
    try:
        config = stage.resolve()
        entry["model"] = config.model.describe()
        _fit_stage(flow, stage, config, entry, previous or {}, keras)
    except Exception as exc:  # one stage's failure is recorded; the workflow goes on
        if isinstance(exc, DlrunError):
            reason = exc.message
        elif isinstance(exc, FloatingPointError):
            reason = str(exc)
        else:
            reason = f"{type(exc).__name__}: {exc}"
            write_text(stage_dir / "error.log", traceback.format_exc())
        entry.update(status="failed", error=reason, verdict=f"failed: {reason}")
        out.warn(f"stage {stage.name} failed: {reason}")
    finally:
        keras.backend.clear_session()
    return entry


def _fit_stage(
    flow: Workflow,
    stage: Stage,
    config: DlrunConfig,
    entry: dict[str, Any],
    previous: dict[str, Any],
    keras: Any,
) -> None:
    portions = flow.portions_for(config)
    # A K-fold stage interrupted part-way keeps its finished folds.
    finished = {f["name"]: f for f in previous.get("folds", [])} if flow.kfold else {}
    if finished:
        entry["params"] = previous.get("params")
    quiet = Output(QUIET)
    histories, folds, seconds = [], [], 0.0
    for portion in portions:
        directory = flow.run.stage_dir(stage.name)
        if flow.kfold:
            directory = flow.run.stage_dir(f"{stage.name}/{portion.name}")
        if portion.name in finished:
            folds.append(finished[portion.name])
            histories.append(_columns(directory))
            continue
        result = train_model(
            config,
            portion.prepared,
            directory,
            quiet if flow.kfold else flow.out,
            selection_metric=flow.metric,
        )
        keras.backend.clear_session()
        if flow.metric not in result.history:
            raise DlrunError(
                f"the history has no '{flow.metric}' (it has {', '.join(result.history)}); "
                "set workflow.metric to one of those."
            )
        seconds += result.seconds
        entry["params"] = result.params
        histories.append(result.history)
        if flow.kfold:
            fold = {
                "name": portion.name,
                "epochs_run": result.epochs_run,
                "best_epoch": best_epoch(result.history, flow.metric),
                "score": _at(result.history, flow.metric, best_epoch(result.history, flow.metric)),
                "seconds": round(result.seconds, 2),
            }
            folds.append(fold)
            entry["folds"] = folds
            flow.save()
            flow.out.info(
                f"  {portion.name}: best epoch {fold['best_epoch']} of {fold['epochs_run']}, "
                f"{flow.metric} {fold['score']:.4g}  [dim]{result.seconds:.1f}s[/]"
            )
    curves = mean_curves(histories) if flow.kfold else histories[0]
    best = best_epoch(curves, flow.metric)
    assert best is not None
    score, std = _at(curves, flow.metric, best), None
    if flow.kfold:
        for fold, history in zip(folds, histories, strict=True):
            fold["at_best_epoch"] = _at(history, flow.metric, best)
        score, std = fold_spread([f["at_best_epoch"] for f in folds])
        entry["folds"] = folds
    over = overfitting(curves, flow.metric)
    leader = choose(flow.summary["stages"], flow.higher)
    leading = leader is not None and _better(
        score, flow.summary["stages"][leader]["score"], flow.higher
    )
    ref = flow.summary["baseline"]["reference"]
    plot = f"curves_{stage.name}.png"
    plots.learning_curves(
        curves,
        flow.metric,
        f"{stage.name}: {entry['model']}" + (" (mean over folds)" if flow.kfold else ""),
        flow.run.path / plot,
        best,
    )
    entry.update(
        status="completed",
        epochs_run=len(curves.get("loss", [])),
        best_epoch=best,
        score=score,
        score_std=std,
        train=_metrics_at(curves, best, validation=False),
        val=_metrics_at(curves, best, validation=True),
        overfitting=over.as_dict(),
        verdict=verdict(
            stage.role,
            score,
            flow.metric,
            over,
            (ref["name"], ref["value"]) if ref else None,
            best_so_far=leading,
        ),
        seconds=round(seconds, 2),
        plot=plot,
    )
    flow.curves[stage.name] = curves


def _better(score: float, other: float, higher: bool) -> bool:
    return score > other if higher else score < other


def _at(curves: Curves, key: str, epoch: int | None) -> float:
    return float(curves[key][(epoch or len(curves[key])) - 1])


def _metrics_at(curves: Curves, epoch: int, validation: bool) -> dict[str, float]:
    return {
        key.removeprefix("val_"): _at(curves, key, epoch)
        for key in curves
        if key.startswith("val_") == validation and key != "learning_rate"
    }


def _columns(directory: Any) -> Curves:
    rows = read_history(directory / "history.csv")
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [r[k] for r in rows] for k in keys}


def _stage_curves(run: Run, name: str, entry: dict[str, Any]) -> Curves:
    """A finished stage's curves from disk (resume): the history, or the mean over folds."""
    folds = entry.get("folds")
    if folds:
        return mean_curves([_columns(run.path / "stages" / name / f["name"]) for f in folds])
    return _columns(run.path / "stages" / name)


def _final(flow: Workflow, stages: list[Stage], keras: Any) -> dict[str, Any]:
    """Retrain (or keep) the chosen stage's model, then evaluate it on the test split once."""
    assert flow.config.workflow is not None and flow.raw is not None
    name = flow.summary["chosen"]
    entry = flow.summary["stages"][name]
    stage = next(s for s in stages if s.name == name)
    config = stage.resolve()
    mode = flow.config.workflow.final
    out = flow.out
    result: dict[str, Any] = {"stage": name, "mode": mode}
    if mode == "retrain":
        epochs = int(entry["best_epoch"])
        out.info(
            f"[bold]final[/]: {name} retrained on train+validation for {epochs} "
            f"epoch{'s' if epochs > 1 else ''}"
        )
        # Exactly the best number of epochs: nothing to stop early on without validation.
        fixed = config.train.model_copy(update={"epochs": epochs, "early_stopping": None})
        final_config = config.model_copy(update={"train": fixed})
        prepared = prepare_portion(
            flow.raw, limited(flow.raw.train, config.data.limit), None, final_config
        )
        copies = flow.config.workflow.final_models
        members, seconds = [], 0.0
        for i in range(copies):
            directory = flow.run.stage_dir("final" if copies == 1 else f"final/member-{i + 1}")
            if copies > 1:
                out.info(f"final model {i + 1} of {copies} (seed {config.seed + i})")
            member_config = final_config.model_copy(update={"seed": config.seed + i})
            fit = train_model(
                member_config, prepared, directory, out, epochs=epochs, selection_metric=flow.metric
            )
            members.append(fit.model)
            seconds += fit.seconds
        model = members[0] if copies == 1 else _average(members, prepared, final_config, keras)
        state = prepared.state
        result.update(
            epochs=epochs, models=copies, samples=len(prepared.train), seconds=round(seconds, 2)
        )
    else:
        stage_dir = flow.run.path / "stages" / name
        kept = stage_dir / "checkpoint.keras"
        if not kept.is_file():
            kept = stage_dir / "model.keras"
        out.info(f"[bold]final[/]: keeping {name}'s best model ({kept.name})")
        model = keras.saving.load_model(kept, safe_mode=True)
        portion = flow.portions_for(config)[0]
        state = portion.prepared.state
        result.update(epochs=entry["best_epoch"], samples=len(portion.train_y))
    # The one and only use of the test split.
    test = prepare_test(flow.raw, config, state)
    metrics = evaluate_model(
        model, test, config, state["outputs"], predictions_to=flow.run.path / PREDICTIONS
    )
    flow.run.write_json("final/metrics.json", metrics)
    flow.run.write_json("preprocessing.json", state)
    # The final model goes last: its presence means metrics and preprocessing are there.
    save_with(flow.run.final_model_path, model.save)
    result["test"] = metrics
    return result


def _average(members: list[Any], prepared: Any, config: DlrunConfig, keras: Any) -> Any:
    """One Keras model whose output is the mean of the members' outputs."""
    inputs = keras.Input(
        shape=prepared.input_spec.shape, sparse=prepared.input_spec.sparse, name="inputs"
    )
    for i, member in enumerate(members, start=1):
        member.name = f"member_{i}"  # nested models need unique names
    outputs = keras.layers.Average(name="average")([member(inputs) for member in members])
    model = keras.Model(inputs, outputs, name="ensemble")
    head = resolve_head(config)
    model.compile(optimizer=make_optimizer(config), loss=head.loss, metrics=list(head.metrics))
    # Built now, the saved optimizer matches the one Keras builds when the model is loaded.
    model.optimizer.build(model.trainable_variables)
    return model


def _headers(flow: Workflow) -> list[str]:
    base = flow.metric.removeprefix("val_")
    columns = ["stage", "model", "best epoch", f"train {base}", f"val {base}"]
    if flow.metric != "val_loss":
        columns.append("val loss")
    return [*columns, "verdict"]


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _baseline_row(flow: Workflow) -> list[str]:
    baseline = flow.summary["baseline"]
    ref = baseline["reference"]
    others = [
        f"{BASELINES[key].label} {_fmt(values.get(flow.metric.removeprefix('val_')))}"
        for key, values in baseline["values"].items()
        if not ref or key != ref["name"]
    ]
    if not ref:
        return [
            "baseline",
            "none",
            "–",
            "–",
            "–",
            *(["–"] if flow.metric != "val_loss" else []),
            "; ".join(others),
        ]
    return [
        "baseline",
        ref["label"],
        "–",
        "–",
        _fmt(ref["value"]),
        *(["–"] if flow.metric != "val_loss" else []),
        "; ".join(others),
    ]


def _stage_row(flow: Workflow, name: str) -> list[str]:
    entry = flow.summary["stages"][name]
    extra = 1 if flow.metric != "val_loss" else 0
    if entry["status"] != "completed":
        return [name, entry["model"], "–", "–", "–", *["–"] * extra, entry.get("verdict", "")]
    base = flow.metric.removeprefix("val_")
    val = _fmt(entry["score"])
    if entry.get("score_std") is not None:
        val += f" ± {entry['score_std']:.2g}"
    row = [name, entry["model"], str(entry["best_epoch"]), _fmt(entry["train"].get(base)), val]
    if extra:
        row.append(_fmt(entry["val"].get("loss")))
    return [*row, entry["verdict"]]


def _final_row(flow: Workflow) -> list[str] | None:
    final = flow.summary.get("final")
    if not final:
        return None
    base = flow.metric.removeprefix("val_")
    how = (
        f"retrained on train+val for {final['epochs']} epochs"
        if final["mode"] == "retrain"
        else "best checkpoint kept"
    )
    if final.get("models", 1) > 1:
        how += f", mean of {final['models']} models"
    extra = 1 if flow.metric != "val_loss" else 0
    test = final["test"].get(base)
    return [
        "final",
        f"{final['stage']}, {how}",
        "–",
        "–",
        "–",
        *["–"] * extra,
        f"test {base} {_fmt(test)}",
    ]


def _all_rows(flow: Workflow) -> list[list[str]]:
    rows = [_baseline_row(flow), *(_stage_row(flow, n) for n in flow.summary["stages"])]
    final = _final_row(flow)
    return [*rows, final] if final else rows


# Column widths that keep rows printed one at a time (plain text) aligned with each other.
MIN_WIDTHS = (10, 22, 10, 10, 15, 9)


def _table(out: Output, flow: Workflow, rows: list[list[str]]) -> Any:
    """A rich table on a terminal; plain aligned lines in a log file (no wrapping)."""
    headers = _headers(flow)
    if out.out.is_terminal:
        table = out.table(*headers)
        for row in rows:
            table.add_row(*row)
        return table
    widths = [
        max(len(header), *(len(row[i]) for row in rows), MIN_WIDTHS[i] if i < 6 else 0)
        for i, header in enumerate(headers)
    ]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def _print_rows(out: Output, flow: Workflow, rows: list[list[str]]) -> None:
    out.info(_table(out, flow, rows), markup=False)
