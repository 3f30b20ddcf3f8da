"""Walk the universal workflow for one run: baseline -> stages -> choose -> final -> test once.

The runner decides; training (`dlrun.training.train_stage`), evaluation and data
preparation are done by the layers below it. A config without a workflow section is a
one-stage workflow (stage `train`, no baseline): its final model is the stage's best
checkpoint (holdout) or a retrain on all training data for the common best epoch
(K-fold), so a sweep's best.yaml trains as its trial was scored. The test split is
prepared and evaluated exactly once, by the final step, after the stage has been chosen
on validation scores alone.

summary.json (written atomically after every stage and fold, so an interrupted
run keeps what it finished; `--resume` reruns only stages not marked done):

    {
      "workflow": {"metric": "val_accuracy", "direction": "maximize",
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
                  "still_improving": false,  # true: the metric still improved at the end
                  "verdict": "beats baseline by 0.39; overfits after epoch 4 (gap 0.05)",
                  "seconds": 12.3, "plot": "curves_small.png", "error": null | "reason",
                  "stopped_early": false, "pruned_at": null, "metric": "val_accuracy",
                  "folds": [{"name": "fold-1", "epochs_run": 80, "best_epoch": 61,
                             "score": 2.3, "at_best_epoch": 2.4, "seconds": 3.1}]  # K-fold
        }, ...},
      "chosen": "dropout" | null,             # best score; K-fold: one-standard-error rule
      "final": null | {"stage": "dropout", "mode": "retrain" | "keep_best", "epochs": 7,
                       "models": 1,            # models averaged: final_models x members
                       "members": [{"stage": "dropout", "epochs": 7}, {"stage": "l2",
                                    "epochs": 5}],  # workflow.final.ensemble > 1 only,
                                               # best first (the first is the chosen stage)
                       "samples": 25000, "seconds": 9.1, "test": {"accuracy": .., ...},
                       "baseline": null | {"values": {"majority": {"accuracy": 0.5}, ...},
                                   "reference": {"name", "label", "metric", "value"},
                                   "model": 0.88, "beaten": true, "verdict": "beats ..."}},
                       # the baselines on the test split (`baselines.on_test`)
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
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.markup import escape

from dlrun.console import Output
from dlrun.contracts import contract_for
from dlrun.data.pipeline import make_dataset
from dlrun.data.portions import Portion, final_training, make_portions, prepare_portion
from dlrun.data.prepare import prepare_test
from dlrun.data.sources import load_raw
from dlrun.data.splits import RawData
from dlrun.errors import DlrunError, RunFailed
from dlrun.evaluation import evaluate_model, predict_batches
from dlrun.objective import Objective
from dlrun.report import plots
from dlrun.runs.rundir import PREDICTIONS, Run, save_with
from dlrun.runs.summary import new_summary
from dlrun.spec import DlrunConfig
from dlrun.tfenv import import_keras, release_memory, trim_memory
from dlrun.training import (
    FoldRecord,
    StageHooks,
    best_model_file,
    fit_model,
    make_optimizer,
    stage_curves,
    train_stage,
)
from dlrun.training.stage import fold_dir
from dlrun.workflow.baselines import (
    BASELINES,
    advice,
    compute_baselines,
    judge_on_test,
    on_test,
    reference,
)
from dlrun.workflow.stages import Stage, plan
from dlrun.workflow.threshold import Threshold, choose_threshold
from dlrun.workflow.verdicts import Curves, overfitting, still_improving, verdict

DONE = ("completed", "failed")


def final_mode(config: DlrunConfig) -> str:
    """How the final model is made: the workflow's choice; for a single training, its best
    checkpoint (holdout) or a retrain for the common best epoch (K-fold)."""
    if config.workflow is not None:
        return config.workflow.final_mode
    return "retrain" if config.data.validation.kfold is not None else "keep_best"


@dataclass
class Workflow:
    run: Run
    config: DlrunConfig
    out: Output
    objective: Objective
    summary: dict[str, Any]
    raw: RawData
    # Stages override model and train keys only, and preprocessing depends on neither,
    # so every stage trains on the same portions.
    portions: list[Portion]
    # every planned stage, even under --stage: a stage may continue an earlier one
    stages: list[Stage] = field(default_factory=list)
    hooks: StageHooks | None = None
    curves: dict[str, Curves] = field(default_factory=dict)

    @property
    def metric(self) -> str:
        return self.objective.name

    @property
    def kfold(self) -> bool:
        return self.config.data.validation.kfold is not None

    def save(self) -> None:
        self.run.write_json("summary.json", self.summary)


def run_workflow(
    run: Run,
    config: DlrunConfig,
    out: Output,
    *,
    only: str | None,
    final: bool,
    hooks: StageHooks | None = None,
    raw: RawData | None = None,
) -> dict[str, Any]:
    """Run (or continue) every planned stage, choose one, and test it once.

    `hooks` reach every stage's fits (a sweep trial's pruner); `raw` is the data when
    the caller has it loaded already (a sweep worker loads it once for all its trials).
    Called through `dlrun.workflow.job.run_job`, which owns the run's status.
    """
    keras = import_keras(out.verbose)
    started = time.perf_counter()
    stages = plan(config, only)
    objective = config.resolved_objective()
    previous = run.read_json("summary.json") if (run.path / "summary.json").is_file() else {}
    summary = new_summary(
        objective,
        stage=only,
        final=final_mode(config) if final else None,
    )
    if raw is None:
        out.info(f"loading data [bold]{config.data.source}[/]")
        raw = load_raw(config.data)
    portions = make_portions(raw, config)
    flow = Workflow(run, config, out, objective, summary, raw, portions, plan(config), hooks)
    if not final and not flow.kfold:
        # No final model: the stage's checkpoint is the model, and this is its preprocessing.
        run.write_json("preprocessing.json", portions[0].prepared.state)
    _print_data(out, config, portions)
    summary["workflow"]["protocol"] = _protocol(config, portions)
    summary["baseline"] = _baseline(flow)
    if not previous:  # a resumed run's summary is rewritten only once its stages are back in
        flow.save()
    if config.workflow is not None:
        _print_rows(out, flow, [_baseline_row(flow)])

    done = previous.get("stages", {})
    for stage in stages:
        entry = done.get(stage.name)
        if entry and entry.get("status") in DONE:
            summary["stages"][stage.name] = entry
            if entry["status"] == "completed":
                folds = [f["name"] for f in entry.get("folds", [])]
                flow.curves[stage.name] = stage_curves(run.path / "stages" / stage.name, folds)
            out.info(f"stage [bold]{stage.name}[/]: {entry['status']} before, kept")
            continue
        summary["stages"][stage.name] = _run_stage(flow, stage, entry)
        flow.save()
        _print_rows(out, flow, [_stage_row(flow, stage.name)])

    if flow.curves and config.workflow is not None:
        plots.overlay(flow.curves, flow.metric, run.path / "validation_curves.png")
        summary["plots"]["overlay"] = "validation_curves.png"
    folds = len(portions) if flow.kfold else 1
    summary["chosen"] = choose(summary["stages"], objective, folds)
    flow.save()
    if summary["chosen"] is None:
        reasons = "; ".join(
            f"{name}: {entry.get('error')}" for name, entry in summary["stages"].items()
        )
        raise DlrunError(
            f"every stage failed, so there is no model to test ({reasons}).",
            hint=f"The reasons are in {run.path / 'summary.json'} (stages.*.error).",
        )
    if final:
        summary["final"] = previous.get("final") or _final(flow, stages, keras)
        release_memory()  # the final model and its graphs: the report has no use for them
    summary["seconds"] = round(time.perf_counter() - started, 2)
    flow.save()
    if config.workflow is not None:
        _print_rows(out, flow, [row for row in [_final_row(flow)] if row])
    return summary


def choose(stages: dict[str, dict[str, Any]], objective: Objective, folds: int = 1) -> str | None:
    """The completed stage with the best score.

    With K-fold, the book's caution about noisy estimates applies: among the stages whose
    score is within one standard error (std / sqrt(folds)) of the best, the smallest model
    (fewest parameters) is chosen.
    """
    completed = {
        n: e
        for n, e in stages.items()
        if e.get("status") == "completed" and e.get("score") is not None
    }
    best = objective.pick({n: e["score"] for n, e in completed.items()})
    if best is None:
        return None
    std = completed[best].get("score_std")
    if folds < 2 or std is None:
        return best
    margin = std / math.sqrt(folds)
    close = [
        n for n, e in completed.items() if abs(e["score"] - completed[best]["score"]) <= margin
    ]
    return min(close, key=lambda n: completed[n].get("params") or 0)


def ranked(stages: dict[str, dict[str, Any]], objective: Objective, folds: int = 1) -> list[str]:
    """The completed stages, best first: `choose`'s pick, then its pick among the rest, and
    so on, so an ensemble's first member is always the stage chosen alone."""
    left = dict(stages)
    order = []
    while (best := choose(left, objective, folds)) is not None:
        order.append(best)
        del left[best]
    return order


def _protocol(config: DlrunConfig, portions: list[Portion]) -> dict[str, Any]:
    v = config.data.validation
    if v.kfold is not None:
        samples = len(portions[0].train_y) + len(portions[0].val_y)
        return {"kind": "kfold", "k": v.kfold, "repeats": v.repeats, "samples": samples}
    train, validation = len(portions[0].train_y), len(portions[0].val_y)
    return {"kind": "holdout", "train": train, "validation": validation}


def _print_data(out: Output, config: DlrunConfig, portions: list[Portion]) -> None:
    prepared = portions[0].prepared
    spec = prepared.input_spec
    kind = f"{len(portions)} folds of " if len(portions) > 1 else ""
    validation = len(portions[0].val_y)
    # a generative model makes its own outputs (an image, a sample), no head of N
    outputs = (
        f", {prepared.outputs} output{'s' if prepared.outputs > 1 else ''}"
        if contract_for(config.task).head(config) is not None
        else ""
    )
    out.info(
        f"data: {kind}{len(portions[0].train_y)} train, {validation} validation; "
        f"input {spec.shape}{' sparse' if spec.sparse else ''}{outputs}"
    )


def _baseline(flow: Workflow) -> dict[str, Any]:
    choice = flow.config.workflow.baseline if flow.config.workflow is not None else "none"
    values = compute_baselines(flow.config.task, choice, flow.portions)
    ref = reference(values, flow.objective)
    return {
        "values": values,
        "reference": None
        if ref is None
        else {
            "name": ref[0],
            "label": BASELINES[ref[0]].label,
            "metric": flow.objective.base,
            "value": ref[1],
            "advice": advice(values, flow.config.data),
        },
    }


def _run_stage(flow: Workflow, stage: Stage, previous: dict[str, Any] | None) -> dict:
    out = flow.out
    entry: dict[str, Any] = {
        "role": stage.role,
        "status": "running",
        "model": stage.base.model.describe(),
        "overrides": stage.overrides,
        "error": None,
    }
    flow.summary["stages"][stage.name] = entry
    if flow.config.workflow is not None:
        out.info(f"[bold]stage {stage.name}[/] ({stage.role})")
    else:
        out.info(f"training [bold]{entry['model']}[/] for up to {stage.base.train.epochs} epochs")
    stage_dir = flow.run.stage_dir(stage.name)
    try:
        config = stage.resolve()
    except DlrunError as exc:  # this stage's merged keys are invalid; the others may not be
        reason = exc.message
        entry.update(status="failed", error=reason, verdict=f"failed: {reason}")
        out.warn(f"stage {stage.name} failed: {reason}")
        return entry
    entry["model"] = config.model.describe()
    earlier = _continues(flow, stage, config)
    if earlier is not None:
        entry["continues"] = earlier
        state = flow.summary["stages"].get(earlier, {}).get("status")
        if state != "completed":
            why = "failed" if state == "failed" else "was not trained in this run (--stage)"
            reason = f"it fine-tunes the model of stage {earlier}, which {why}"
            entry.update(status="failed", error=reason, verdict=f"failed: {reason}")
            out.warn(f"stage {stage.name} failed: {reason}")
            return entry
        out.info(f"  starting from the weights stage {earlier} trained")
    # A K-fold stage interrupted part-way keeps its finished folds.
    done = [FoldRecord(**f) for f in (previous or {}).get("folds", [])] if flow.kfold else []

    def save_fold(record: Any) -> None:
        entry["folds"] = [vars(f) for f in record.folds]
        flow.save()

    record = train_stage(
        config,
        flow.portions,
        stage_dir,
        flow.out,
        flow.objective,
        done=done,
        on_fold=save_fold,
        start=flow.run.path / "stages" / earlier if earlier is not None else None,
        hooks=flow.hooks,
    )
    entry.update(record.as_dict())
    if record.status != "completed" and flow.config.workflow is None:
        log = stage_dir / "error.log"
        raise RunFailed(record.error or "failed", str(log) if log.is_file() else None)
    if record.status != "completed":
        entry["verdict"] = f"failed: {record.error}"
        out.warn(f"stage {stage.name} failed: {record.error}")
        return entry
    assert record.best_epoch is not None and record.score is not None
    curves = record.curves
    over = overfitting(curves, flow.objective)
    improving = still_improving(
        curves, flow.objective, stopped=record.stopped_early or record.pruned_at is not None
    )
    leader = choose(
        {n: e for n, e in flow.summary["stages"].items() if n != stage.name}, flow.objective
    )
    leading = leader is None or flow.objective.better(
        record.score, flow.summary["stages"][leader]["score"]
    )
    ref = flow.summary["baseline"]["reference"]
    plot = f"curves_{stage.name}.png"
    plots.learning_curves(
        curves,
        flow.metric,
        f"{stage.name}: {entry['model']}" + (" (mean over folds)" if flow.kfold else ""),
        flow.run.path / plot,
        record.best_epoch,
    )
    entry.update(
        overfitting=over.as_dict(),
        still_improving=improving,
        verdict=verdict(
            stage.role,
            record.score,
            flow.objective,
            over,
            (ref["name"], ref["value"]) if ref else None,
            best_so_far=leading and leader is not None,
            advice=ref.get("advice") if ref else None,
            improving=improving,
        ),
        plot=plot,
    )
    if not contract_for(flow.config.task).chooses_epochs:
        # over- and underfitting are read from losses that measure the model: a GAN's don't
        del entry["overfitting"], entry["still_improving"]
        entry["verdict"] = "its losses do not measure its samples: look at samples.png"
    flow.curves[stage.name] = curves
    return entry


def _continues(flow: Workflow, stage: Stage, config: DlrunConfig) -> str | None:
    """The latest earlier stage whose trained weights `stage` starts from (fine-tuning a
    pretrained base after feature extraction), or None: it starts from scratch."""
    names = [s.name for s in flow.stages]
    for earlier in reversed(flow.stages[: names.index(stage.name)]):
        try:
            model = earlier.resolve().model
        except DlrunError:  # an invalid stage trains nothing to continue from
            continue
        if config.model.continues_from(model):
            return earlier.name
    return None


def _retrain(flow: Workflow, name: str, config: DlrunConfig, prepared: Any, directory: Any) -> Any:
    """Fit stage `name`'s config on train+validation for its best epoch count; a stage
    that continues an earlier one first retrains that one the same way (in a folder of
    its own under `directory`) and starts from its weights."""
    entry = flow.summary["stages"][name]
    epochs = int(entry["best_epoch"])
    start = None
    if entry.get("continues"):
        earlier = next(s for s in flow.stages if s.name == entry["continues"])
        first = earlier.resolve().model_copy(update={"seed": config.seed})
        _retrain(flow, earlier.name, first, prepared, directory / earlier.name)
        start = directory / earlier.name / "model.keras"
    # Exactly the best number of epochs (`epochs=` below): nothing to stop early on without
    # validation. train.epochs stays the stage's, so a schedule spans the epochs it did
    # there and the retrain follows the stage's rates up to its best epoch.
    fixed = config.train.model_copy(update={"early_stopping": None})
    directory.mkdir(parents=True, exist_ok=True)
    return fit_model(
        config.model_copy(update={"train": fixed}),
        prepared,
        directory,
        flow.out,
        flow.objective.on(flow.objective.base),
        epochs=epochs,
        start=start,
    )


def _members(flow: Workflow) -> list[str]:
    """The stages the final model is made of, best first: the chosen one alone, or the
    `workflow.final.ensemble` best (fewer when fewer completed: what there is is averaged)."""
    size = flow.config.workflow.ensemble if flow.config.workflow is not None else 1
    folds = len(flow.portions) if flow.kfold else 1
    names = ranked(flow.summary["stages"], flow.objective, folds)[:size]
    if len(names) < size:
        flow.out.warn(
            f"workflow.final.ensemble {size}: only {len(names)} stage"
            f"{'s' if len(names) > 1 else ''} completed ({', '.join(names)}); the final model "
            + ("averages those" if len(names) > 1 else "is that one")
        )
    return names


def _final(flow: Workflow, stages: list[Stage], keras: Any) -> dict[str, Any]:
    """Retrain (or keep) the chosen stage's model, or each ensemble member's and average
    them, then evaluate the final model on the test split once."""
    names = _members(flow)
    name = names[0]  # the chosen stage: the ranking's first
    entries = {n: flow.summary["stages"][n] for n in names}
    configs = {n: next(s for s in stages if s.name == n).resolve() for n in names}
    config = configs[name]
    mode = flow.summary["workflow"]["final"]
    out = flow.out
    result: dict[str, Any] = {"stage": name, "mode": mode}
    if len(names) > 1:
        result["members"] = [{"stage": n, "epochs": entries[n]["best_epoch"]} for n in names]
        out.info(f"[bold]final[/]: ensemble of {len(names)}: {', '.join(names)}")
    if mode == "retrain":
        # Stages override model and train keys only, so every member trains on these data.
        prepared = prepare_portion(
            flow.raw, final_training(flow.raw, config.data.limit), None, config
        )
        copies = flow.config.workflow.final_models if flow.config.workflow is not None else 1
        models, seconds = [], 0.0
        for member in names:
            epochs = int(entries[member]["best_epoch"])
            out.info(
                f"[bold]final[/]: {member} retrained on train+validation for {epochs} "
                f"epoch{'s' if epochs > 1 else ''}"
            )
            if entries[member].get("continues"):
                out.info(f"  after stage {entries[member]['continues']}, retrained the same way")
            for i in range(copies):
                # stages/final holds one model; several get a folder per stage and per copy
                parts = [member] if len(names) > 1 else []
                parts += [f"member-{i + 1}"] if copies > 1 else []
                directory = flow.run.stage_dir("/".join(["final", *parts]))
                member_config = configs[member].model_copy(
                    update={"seed": configs[member].seed + i}
                )
                if copies > 1:
                    out.info(f"final model {i + 1} of {copies} (seed {member_config.seed})")
                fit = _retrain(flow, member, member_config, prepared, directory)
                models.append(fit.model)
                seconds += fit.seconds
        model = models[0] if len(models) == 1 else _average(models, prepared, config, keras)
        saved = directory / "model.keras" if len(models) == 1 else None
        state = prepared.state
        result.update(
            epochs=int(entries[name]["best_epoch"]),
            models=len(models),
            samples=len(prepared.train),
            seconds=round(seconds, 2),
        )
    else:
        # keep_best makes no model of its own, so an ensemble of it averages the members'
        # best checkpoints as they are: trained on train alone, like the one model it keeps.
        kept = [best_model_file(flow.run.path / "stages" / n) for n in names]
        for member, path in zip(names, kept, strict=True):
            out.info(f"[bold]final[/]: keeping {member}'s best model ({path.name})")
        models = [keras.saving.load_model(path, safe_mode=True) for path in kept]
        portion = flow.portions[0]
        model = models[0] if len(models) == 1 else _average(models, portion.prepared, config, keras)
        saved = kept[0] if len(kept) == 1 else None
        state = portion.prepared.state
        result.update(
            epochs=entries[name]["best_epoch"], models=len(models), samples=len(portion.train_y)
        )
    threshold = _threshold(flow, names, config, keras, model if mode == "keep_best" else None)
    if threshold is not None:
        result["threshold"] = threshold.as_dict()
    # The portions' prepared arrays are done with (every stage trained, the threshold
    # chosen): they go before the test split is prepared, which would otherwise add its
    # own to theirs at the run's peak (ordered IMDB: 50 MB of padded training reviews).
    for portion in flow.portions:
        portion.prepared.train = portion.prepared.train.take(np.arange(0))
        portion.prepared.validation = None
    trim_memory()
    # The one and only use of the test split.
    test = prepare_test(flow.raw, config, state)
    metrics = evaluate_model(
        model,
        test,
        config,
        state["outputs"],
        predictions_to=flow.run.path / PREDICTIONS,
        threshold=threshold.value if threshold is not None else None,
    )
    drawn = contract_for(config.task).draw(model, state, test, flow.run.path, config)
    flow.summary["plots"].update(drawn)
    judged = judge_on_test(on_test(config, flow.raw, test, state), flow.objective, metrics)
    if judged is not None:
        result["baseline"] = judged
        if judged["beaten"]:
            out.info(f"final model {escape(judged['verdict'])}")
        else:
            out.warn(f"final model {judged['verdict']}")
    flow.run.write_json("final/metrics.json", metrics)
    flow.run.write_json("preprocessing.json", state)
    # The final model goes last: its presence means metrics and preprocessing are there.
    # A copy of the file the model came from, where there is one: saving it again would
    # hold a second serialized model in memory at the run's end, for the same bytes.
    save_with(
        flow.run.final_model_path,
        model.save if saved is None else lambda tmp: shutil.copyfile(saved, tmp),
    )
    result["test"] = metrics
    return result


def _threshold(
    flow: Workflow, names: list[str], config: DlrunConfig, keras: Any, kept: Any
) -> Threshold | None:
    """workflow.threshold's choice on the validation predictions of stages `names` (the
    chosen one, or an ensemble's members, averaged as the final model averages them): the
    final model's own on the holdout when it is made of their best models (`kept`), each
    fold's models' on their own fold with K-fold (out-of-fold predictions)."""
    rule = flow.config.workflow.threshold if flow.config.workflow is not None else None
    if rule is None:
        return None

    def predicted(model: Any, split: Any) -> np.ndarray:
        return predict_batches(model, make_dataset(split, config.train.batch_size)).reshape(-1)

    scores, truth = [], []
    for portion in flow.portions:
        split = portion.prepared.validation
        if kept is not None:
            scores.append(predicted(kept, split))
        else:
            each = []
            for name in names:
                stage_dir = flow.run.path / "stages" / name
                path = best_model_file(fold_dir(stage_dir, portion, len(flow.portions)))
                model = keras.saving.load_model(path, safe_mode=True)
                each.append(predicted(model, split))
                del model
            scores.append(np.mean(each, axis=0))
        truth.append(np.asarray(split.y).reshape(-1))
    chosen = choose_threshold(rule, np.concatenate(scores), np.concatenate(truth))
    where = "out-of-fold validation" if flow.kfold else "validation"
    whose = f"{names[0]}'s" if len(names) == 1 else f"the ensemble's ({', '.join(names)})"
    said = (
        f"threshold {rule}: {chosen.value:.4g} on {whose} {where} predictions "
        f"(precision {_fmt(chosen.precision)}, recall {_fmt(chosen.recall)}, "
        f"F1 {_fmt(chosen.f1)})"
    )
    if chosen.reached:
        flow.out.info(said)
    elif chosen.positives in (0, chosen.samples):
        flow.out.warn(f"threshold {rule}: the validation split holds one class only; kept 0.5")
    else:
        flow.out.warn(f"{said}: no threshold reaches {rule} on validation, this is the closest")
    return chosen


def _average(members: list[Any], prepared: Any, config: DlrunConfig, keras: Any) -> Any:
    """One Keras model whose output is the mean of the members' outputs."""
    inputs = keras.Input(
        shape=prepared.input_spec.shape, sparse=prepared.input_spec.sparse, name="inputs"
    )
    for i, member in enumerate(members, start=1):
        member.name = f"member_{i}"  # nested models need unique names
    outputs = keras.layers.Average(name="average")([member(inputs) for member in members])
    model = keras.Model(inputs, outputs, name="ensemble")
    contract_for(config.task).compile(model, config, lambda: make_optimizer(config), 1)
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
    members = final.get("members") or [{"stage": final["stage"], "epochs": final["epochs"]}]
    who = f"{final['stage']},"
    if len(members) > 1:  # the members' names hold commas already
        who = f"ensemble of {len(members)}: {', '.join(m['stage'] for m in members)};"
    epochs = ", ".join(str(m["epochs"]) for m in members)
    if final["mode"] == "retrain":
        how = f"retrained on train+val for {epochs} epochs"
    else:
        how = "best checkpoint kept" if len(members) == 1 else "best checkpoints kept"
    if final.get("models", 1) > len(members):  # final_models copies of each
        how += f", mean of {final['models']} models"
    extra = 1 if flow.metric != "val_loss" else 0
    test = final["test"].get(base)
    judged = final.get("baseline")
    against = ""
    if judged:
        ref = judged["reference"]
        word = "beats" if judged["beaten"] else "does NOT beat"
        against = f"; {word} {ref['label']} ({ref['metric']} {_fmt(ref['value'])})"
    if flow.summary["stages"].get(final["stage"], {}).get("still_improving"):
        against += "; chosen while still improving: train longer"
    return [
        "final",
        f"{who} {how}",
        "–",
        "–",
        "–",
        *["–"] * extra,
        f"test {base} {_fmt(test)}{against}",
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
