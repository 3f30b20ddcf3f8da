"""Cross-field rules of a config, kept apart from the per-field types in `schema`.

Each rule returns sentences that say what is wrong and what to write instead. The rules
of one model kind or data source are that section's own (`problems`, `input_problems`,
`peek_labels`), and the rules that need the registries are the assembled config's
(`kind_problems`, in `dlrun.spec`), so nothing here imports the layers above config.
`input_problems` reads files (never runs them); the loader asks for it where the inputs
matter (`dlrun check`, `train`, `sweep`).

Example:

```python
cross_field_problems(config)
# ["train.loss 'binary_crossentropy' does not fit task 'multiclass'. Use ..."]
```
"""

from __future__ import annotations

import difflib
import math
import os
from typing import Any

from pydantic import ValidationError

from dlrun.config.schema import (
    MAX_SEED,
    SCHEDULE_KEYS,
    ConfigBase,
    ScheduleConfig,
    StageConfig,
    WorkflowConfig,
    other_member_hint,
    section_in,
    union_members,
    without_tags,
)
from dlrun.runtime import BACKENDS, DEFAULT_BACKEND
from dlrun.tasks import (
    CLASSIFICATION,
    Labels,
    class_index,
    head_for,
    head_problems,
    label_problems,
    metric_class,
    metric_problems,
)


def cross_field_problems(config: ConfigBase) -> list[str]:
    """What is wrong between keys, judged from the config alone (no file is read)."""
    return [
        *_head_problems(config),
        *_validation_problems(config),
        *_labels_problems(config),
        *_target_scale_problems(config),
        *config.data.problems(),
        *config.model.problems(),
        *config.kind_problems(),
        *_train_problems(config),
        *_sweep_problems(config),
        *_workflow_problems(config),
        *_objective_problems(config),
        *_runtime_problems(config),
    ]


def _head_problems(config: ConfigBase) -> list[str]:
    if not config.has_head:
        # the training contract judges the loss and metrics of its own task (kind_problems)
        return [
            f"model.output_activation: a {config.task} model makes its own outputs. Remove it."
        ] * (config.model.output_activation != "auto")
    return head_problems(
        config.task, config.model.output_activation, config.train.loss, config.data.labels
    )


def input_problems(config: ConfigBase) -> list[str]:
    """What a look at the files the config names finds: a missing or wrong data file, a
    python: builder without its function, a task the labels cannot have."""
    problems = [
        *_backend_installed(config),
        *config.data.input_problems(),
        *config.model.input_problems(),
    ]
    if not problems and (shape := config.data.peek_shape()) is not None:
        problems += config.model.shape_problems(shape)
    if config.workflow is not None:
        # every stage whose model differs: a stage may name its own builder or word vectors
        seen = {config.model.model_dump_json()}
        for stage in config.workflow.planned():
            if not stage.model:
                continue
            model = type(config).model_validate(stage_raw(config, stage)).model
            dumped = model.model_dump_json()
            if dumped not in seen:
                seen.add(dumped)
                problems += [f"workflow stage '{stage.name}': {p}" for p in model.input_problems()]
    if problems or "task" in _swept(config) or not config.has_head:
        return problems
    labels = config.data.peek_labels()
    if labels is None:
        return []
    return label_problems(config.task, labels, config.data.describe()) or _class_weight_names(
        config, labels
    )


OPTIMIZERS = (
    "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw",
    "ftrl", "lamb", "lion", "nadam", "rmsprop", "sgd",
)  # fmt: skip
MOMENTUM_OPTIMIZERS = ("rmsprop", "sgd")


def logged_metrics(config: ConfigBase) -> list[str]:
    """What fit logs each epoch for this config: validation names first, then training.
    A metric `_metrics_problems` refuses is left out."""
    metrics = config.train.metrics
    if not config.has_head:
        logged = ["loss", *config.task_metrics()]
        return [*(f"val_{m}" for m in logged), *logged]
    if metrics is not None:
        task, labels = config.task, config.data.labels
        metrics = [m for m in metrics if not metric_problems([m], task, labels)]
    head = head_for(config.task, loss=config.train.loss, metrics=metrics)
    logged = ["loss", *head.metrics]
    return [*(f"val_{m}" for m in logged), *logged]


def _judged_metrics(config: ConfigBase) -> list[str] | None:
    """What fit logs, when check can tell: not while the loss or the metrics are swept,
    nor while a metric is wrong (that error is said first, and alone)."""
    if _swept(config) & {"task", "train.loss", "train.metrics"} or _metrics_problems(config):
        return None
    return logged_metrics(config)


def _unlogged(key: str, metric: str, allowed: list[str] | None) -> list[str]:
    """The problem of a monitor (`key`) that names a metric fit does not log."""
    if allowed is None or metric in allowed:
        return []
    # Another of Keras's names for a logged metric (val_acc) means that metric: spelling
    # alone would now suggest a binary run's val_auc.
    validation, meant = metric.startswith("val_"), metric_class(metric.removeprefix("val_"))
    same = [
        m
        for m in allowed
        if meant is not None
        and m.startswith("val_") == validation
        and metric_class(m.removeprefix("val_")) == meant
    ]
    close = same[:1] or difflib.get_close_matches(metric, allowed, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return [
        f"{key} '{metric}' is not logged by this config.{hint} Use one of: {', '.join(allowed)}."
    ]


def _objective_problems(config: ConfigBase) -> list[str]:
    """The objective must be a metric the fit logs; a workflow compares stages on
    validation, so there it must be a validation metric."""
    metric = config.objective.metric
    allowed = _judged_metrics(config)
    if metric is None or allowed is None:
        return []
    if config.workflow is not None:
        allowed = [m for m in allowed if m.startswith("val_")]
    if metric in allowed:
        return []
    return [
        f"objective.metric '{metric}' (which sweep.metric and workflow.metric set too) is "
        f"not logged by this config; use one of: {', '.join(allowed)}."
    ]


def _backend_name(config: ConfigBase) -> str:
    """The backend a run of `config` trains on here: its own, else $KERAS_BACKEND's."""
    return config.backend or os.environ.get("KERAS_BACKEND") or DEFAULT_BACKEND


def _backend_installed(config: ConfigBase) -> list[str]:
    name = _backend_name(config)
    said = "backend" if config.backend else "$KERAS_BACKEND"
    backend = BACKENDS.get(name)
    if backend is None:
        choices = ", ".join(BACKENDS)
        return [f"{said} is '{name}', which is no Keras backend; use one of: {choices}."]
    if not backend.installed():
        return [f"{said} is '{name}', but {backend.package} is not installed. {backend.install}."]
    return []


def _runtime_problems(config: ConfigBase) -> list[str]:
    """What the chosen backend cannot run, and the alternative."""
    backend = BACKENDS.get(_backend_name(config))
    if backend is None:
        return []
    problems = []
    dist = config.distribute
    if dist is not None and dist.strategy not in backend.strategies:
        able = [b.name for b in BACKENDS.values() if dist.strategy in b.strategies]
        instead = f" Use backend: {able[0]} for it" if able else ""
        offers = (
            f"; {backend.name} runs {', '.join(backend.strategies)}"
            if backend.strategies
            else f"; {backend.name} trains on one device only in Keras 3"
        )
        problems.append(
            f"distribute.strategy '{dist.strategy}' does not run on the {backend.name} "
            f"backend{offers}.{instead}, or remove distribute."
        )
    if dist is not None and dist.devices and config.train.batch_size % dist.devices:
        problems.append(
            f"train.batch_size {config.train.batch_size} does not split evenly over "
            f"distribute.devices {dist.devices}: each device takes an equal share of the "
            f"global batch. Use a multiple of {dist.devices}."
        )
    spe = config.train.steps_per_execution
    strategy = dist.strategy if dist is not None else None
    if spe is not None and spe > 1 and not backend.many_steps(strategy):
        under = f" under distribute.strategy {strategy}" if backend.steps_per_execution else ""
        problems.append(
            f"train.steps_per_execution {spe} does not run on the {backend.name} backend"
            f"{under} (its Keras trainer runs one batch per call there). Remove it: the "
            "default follows the backend."
        )
    return problems


def _train_problems(config: ConfigBase) -> list[str]:
    train = config.train
    problems = [*_class_weight_problems(config), *_metrics_problems(config)]
    name = train.optimizer.name.lower()
    if name not in OPTIMIZERS:
        close = difflib.get_close_matches(name, OPTIMIZERS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        problems.append(
            f"unknown train.optimizer.name '{train.optimizer.name}'.{hint} "
            f"Available: {', '.join(OPTIMIZERS)}."
        )
    elif train.optimizer.momentum is not None and name not in MOMENTUM_OPTIMIZERS:
        problems.append(
            f"train.optimizer.momentum applies to {' and '.join(MOMENTUM_OPTIMIZERS)}, "
            f"not '{train.optimizer.name}'; remove it."
        )
    es = train.early_stopping
    if es is not None and es.enabled:
        problems += _unlogged("train.early_stopping.monitor", es.monitor, _judged_metrics(config))
    if train.optimizer.schedule is not None:
        problems += _schedule_problems(config, train.optimizer.schedule)
    return problems


def _schedule_problems(config: ConfigBase, schedule: ScheduleConfig) -> list[str]:
    """The schedule's name, the keys its name takes, and epochs that fit the run's."""
    at = "train.optimizer.schedule"
    if schedule.name not in SCHEDULE_KEYS:
        close = difflib.get_close_matches(schedule.name, SCHEDULE_KEYS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return [
            f"unknown {at}.name '{schedule.name}'.{hint} Available: {', '.join(SCHEDULE_KEYS)}."
        ]
    problems = [
        f"{at}.{key} applies to "
        f"{' and '.join(n for n, keys in SCHEDULE_KEYS.items() if key in keys)}, "
        f"not {schedule.name}; remove it."
        # a changed value, not a key present: a stage's config is validated again from a
        # dump that holds every key
        for key, field in ScheduleConfig.model_fields.items()
        if key != "name"
        and key not in SCHEDULE_KEYS[schedule.name]
        and getattr(schedule, key) != field.default
    ]
    swept = _swept(config)
    epochs = config.train.epochs
    if schedule.name == "cosine" and "train.epochs" not in swept:
        if schedule.warmup_epochs >= epochs:
            problems.append(
                f"{at}.warmup_epochs is {schedule.warmup_epochs}, but train.epochs is {epochs}: "
                f"the warmup would take the whole run and the rate never decays. Use "
                f"warmup_epochs below {epochs}, or more epochs."
            )
        elif (
            schedule.decay_epochs is not None
            and schedule.warmup_epochs + schedule.decay_epochs > epochs
        ):
            problems.append(
                f"{at}.decay_epochs is {schedule.decay_epochs}, but after "
                f"{schedule.warmup_epochs} warmup epochs train.epochs ({epochs}) leaves "
                f"{epochs - schedule.warmup_epochs}: the run would end before the decay does. "
                f"Use decay_epochs: {epochs - schedule.warmup_epochs} or fewer, or remove it "
                "(the default decays over every epoch after the warmup)."
            )
    if (
        schedule.name == "exponential"
        and schedule.staircase
        and (schedule.decay_epochs or 1) >= epochs
        and "train.epochs" not in swept
    ):
        problems.append(
            f"{at}.decay_epochs is {schedule.decay_epochs or 1} with staircase: true, but "
            f"train.epochs is {epochs}: the rate would never be lowered. Use decay_epochs "
            f"below {epochs}."
        )
    if schedule.name == "reduce_on_plateau":
        problems += _plateau_problems(config, schedule)
    return problems


def _plateau_problems(config: ConfigBase, schedule: ScheduleConfig) -> list[str]:
    """reduce_on_plateau watches a logged metric, and acts before early stopping does."""
    at = "train.optimizer.schedule"
    problems = _unlogged(f"{at}.monitor", schedule.monitor, _judged_metrics(config))
    es = config.train.early_stopping
    if (
        es is not None
        and es.enabled
        and es.monitor == schedule.monitor
        and schedule.patience >= es.patience
    ):
        problems.append(
            f"{at}.patience is {schedule.patience}, but train.early_stopping.patience is "
            f"{es.patience} on the same metric: training stops before the rate is ever "
            f"lowered. Use a patience below {es.patience}, or raise early stopping's."
        )
    return problems


def _metrics_problems(config: ConfigBase) -> list[str]:
    """What is wrong with train.metrics (unknown names and parameters, a metric the
    task's labels do not fit); a swept task is judged by each trial instead."""
    if config.train.metrics is None or "task" in _swept(config):
        return []
    if not config.has_head:
        return [
            f"train.metrics: a {config.task} model logs its own metrics "
            f"({', '.join(config.task_metrics()) or 'its loss'}). Remove train.metrics."
        ]
    return metric_problems(config.train.metrics, config.task, config.data.labels)


def _class_weight_problems(config: ConfigBase) -> list[str]:
    if config.train.class_weight is None or config.task in ("binary", "multiclass"):
        return []
    why = {
        "regression": "a regression target has no classes",
        "multilabel": "a multilabel sample has several classes at once",
    }.get(config.task, f"a {config.task} model has no class labels to weigh")
    return [
        f"train.class_weight applies to binary and multiclass tasks, not '{config.task}': "
        f"{why}. Remove it."
    ]


def _class_weight_names(config: ConfigBase, labels: Labels) -> list[str]:
    """Classes `train.class_weight` names that the labels, as far as a look tells, lack."""
    weights = config.train.class_weight
    if not isinstance(weights, dict) or config.task not in ("binary", "multiclass"):
        return []
    if labels.names is not None:
        known = list(labels.names)
    elif labels.binary and not labels.text:
        known = ["0", "1"]
    elif labels.text:
        return []  # the names are the labels' words, which this look did not keep
    else:
        known = None
    unknown = [k for k in weights if class_index(k, known) is None]
    if not unknown:
        return []
    if known is None:
        return [
            f"train.class_weight names the class '{unknown[0]}', but "
            f"{config.data.describe()} has integer labels; name a class by its label (0, 1, ...)."
        ]
    close = difflib.get_close_matches(unknown[0], known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return [
        f"train.class_weight names the class '{unknown[0]}', which {config.data.describe()} "
        f"does not have.{hint} Its classes: {', '.join(known)}."
    ]


def _swept(config: ConfigBase) -> set[str]:
    return set(config.sweep.space) if config.sweep is not None else set()


def _validation_problems(config: ConfigBase) -> list[str]:
    v = config.data.validation
    chosen = [name for name in ("holdout", "fraction", "kfold") if getattr(v, name) is not None]
    if len(chosen) > 1:
        return [
            f"data.validation sets {' and '.join(chosen)}; choose one protocol "
            "(holdout: N, fraction: F or kfold: K)."
        ]
    if not chosen:
        return ["data.validation needs a protocol: holdout: N, fraction: F or kfold: K."]
    if v.repeats > 1 and v.kfold is None:
        return ["data.validation.repeats applies to kfold only; add kfold: K or remove repeats."]
    most = config.data.training_samples()
    if most is None:
        return []
    gives = f"{config.data.describe()} gives at most {most} training samples" + (
        " (data.limit)" if most == config.data.limit else ""
    )
    if v.kfold is not None and v.kfold > most:
        return [
            f"data.validation.kfold is {v.kfold}, but {gives}, and each fold needs one. "
            f"Use kfold: {most} or fewer."
        ]
    if v.holdout is not None and v.holdout >= most:
        return [
            f"data.validation.holdout is {v.holdout}, but {gives}, and some must be left to "
            f"train on. Hold out fewer than {most}."
        ]
    return []


def _labels_problems(config: ConfigBase) -> list[str]:
    if config.data.labels == "one_hot" and config.task != "multiclass":
        return ["data.labels 'one_hot' applies to multiclass tasks only."]
    return []


def _target_scale_problems(config: ConfigBase) -> list[str]:
    if config.data.target_scale is None or config.task == "regression":
        return []
    return [
        f"data.target_scale applies to task regression only, not '{config.task}': "
        "a class label is no measurement to standardize. Remove data.target_scale."
    ]


RESERVED_STAGES = ("baseline", "final")


def stage_raw(config: ConfigBase, stage: StageConfig) -> dict[str, Any]:
    """The base config with a stage's `model` and `train` keys merged over it (no workflow).
    A stage that changes `model.kind` keeps only the base's model keys its kind also has."""
    raw = config.model_dump(mode="json", exclude={"workflow"})
    if stage.model.get("kind", config.model.kind) != config.model.kind:
        kind = section_in(type(config).model_fields["model"], stage.model)
        if kind is not None:
            raw["model"] = {k: v for k, v in raw["model"].items() if k in kind.model_fields}
    for section in ("model", "train"):
        _deep_merge(raw[section], getattr(stage, section))
    return raw


def _deep_merge(into: dict[str, Any], data: dict[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value


def _workflow_problems(config: ConfigBase) -> list[str]:
    workflow = config.workflow
    if workflow is None:
        return []
    problems = []
    if workflow.stages is not None and (workflow.overfit is not None or workflow.regularize):
        problems.append(
            "workflow.stages replaces the shorthand: remove workflow.overfit and "
            "workflow.regularize, or remove workflow.stages."
        )
    if workflow.stages == []:
        problems.append("workflow.stages is empty; list at least one stage.")
    classification = config.task in CLASSIFICATION
    if workflow.baseline in ("majority", "shuffled") and config.task == "regression":
        problems.append(
            f"workflow.baseline '{workflow.baseline}' is for classification; "
            "a regression task uses 'mean' (or 'auto')."
        )
    if workflow.baseline == "mean" and classification:
        problems.append(
            f"workflow.baseline 'mean' is for regression; a {config.task} task uses "
            "'majority' or 'shuffled' (or 'auto')."
        )
    if workflow.baseline in ("persistence", "seasonal_naive"):
        if config.data.source != "timeseries":
            problems.append(
                f"workflow.baseline '{workflow.baseline}' forecasts from a window's past; it "
                "needs data.source: timeseries. Use 'auto' for this data."
            )
        elif workflow.baseline == "seasonal_naive" and not getattr(config.data, "season", None):
            problems.append(
                "workflow.baseline 'seasonal_naive' needs data.season (the steps in one "
                "season, e.g. 52 for weekly data with a yearly cycle)."
            )
    if workflow.final_mode == "keep_best" and config.data.validation.kfold is not None:
        problems.append(
            "workflow.final 'keep_best' needs a holdout validation set; with kfold there is one "
            "model per fold. Use final: retrain (the default)."
        )
    problems.extend(_ensemble_problems(workflow))
    if workflow.final_models > 1 and workflow.final_mode != "retrain":
        problems.append("workflow.final_models averages retrained copies; it needs final: retrain.")
    if config.seed + workflow.final_models - 1 > MAX_SEED:
        problems.append(
            f"workflow.final_models {workflow.final_models} trains copies with seeds {config.seed} "
            f"to {config.seed + workflow.final_models - 1}, past the largest seed, {MAX_SEED}. "
            f"Use a seed of at most {MAX_SEED - workflow.final_models + 1}."
        )
    problems.extend(_threshold_problems(config))
    # The base config's own problems are reported once, not again for every stage.
    schema = type(config)
    base = set(cross_field_problems(schema.model_validate(stage_raw(config, StageConfig()))))
    for stage in workflow.planned():
        if stage.name in RESERVED_STAGES:
            problems.append(f"workflow stage name '{stage.name}' is reserved; choose another name.")
        problems.extend(_stage_problems(config, stage, base))
    return problems


def _ensemble_problems(workflow: WorkflowConfig) -> list[str]:
    """An ensemble needs as many stages as it averages. (A config without a workflow
    section cannot ask for one: `final` is a workflow key, and an override of
    workflow.final.ensemble makes a one-stage workflow, which this refuses.)"""
    size = workflow.ensemble
    planned = [stage.name for stage in workflow.planned()]
    if size == 1 or size <= len(planned) or not planned:  # no stages at all is said apart
        return []
    more = "add stages (workflow.overfit, workflow.regularize or workflow.stages)"
    fix = (
        f"{more} or set ensemble to at most {len(planned)}"
        if len(planned) > 1
        else f"{more}, or, to average copies of this one stage, use workflow.final_models"
    )
    return [
        f"workflow.final.ensemble {size} averages the {size} best stages, but this workflow "
        f"plans {len(planned)} ({', '.join(planned)}): {fix}."
    ]


THRESHOLD_RULES = ("f1", "youden", "precision@P", "recall@R")


def threshold_rule(text: str | float) -> tuple[str, float | None] | None:
    """workflow.threshold as (rule, target): ("f1", None), ("precision", 0.9), ("fixed",
    0.3), ...; None when it is none of THRESHOLD_RULES (P and R in (0, 1]) nor a number
    in (0, 1)."""
    if not isinstance(text, str):
        return ("fixed", float(text)) if 0 < text < 1 else None
    if text in ("f1", "youden"):
        return text, None
    rule, at, target = text.partition("@")
    if rule not in ("precision", "recall") or not at:
        return None
    try:
        value = float(target)
    except ValueError:
        return None
    return (rule, value) if 0 < value <= 1 else None


def _threshold_problems(config: ConfigBase) -> list[str]:
    text = config.workflow.threshold if config.workflow is not None else None
    if text is None:
        return []
    problems = []
    if config.task != "binary" and "task" not in _swept(config):
        why = {
            "regression": "a regression target has no classes to decide between",
            "multiclass": "the predicted class is the most probable one, with no threshold",
            "multilabel": "each label is decided at 0.5",
        }[config.task]
        problems.append(
            f"workflow.threshold is for binary tasks, not '{config.task}': {why}. Remove it."
        )
    if threshold_rule(text) is None:
        problems.append(
            f"workflow.threshold '{text}' is not a rule dlrun knows; use one of "
            f"{', '.join(THRESHOLD_RULES)} with P and R between 0 and 1 (e.g. precision@0.9), "
            "or a fixed threshold between 0 and 1 (e.g. 0.3)."
        )
    return problems


def _stage_problems(config: ConfigBase, stage: StageConfig, base: set[str]) -> list[str]:
    """Schema and cross-field errors of a stage's merged config, caught before any training."""
    try:
        merged = type(config).model_validate(stage_raw(config, stage))
    except ValidationError as exc:
        raw = stage_raw(config, stage)
        return [
            f"workflow stage '{stage.name}': "
            f"{'.'.join(str(p) for p in without_tags(type(config), err['loc'], raw))}: "
            f"{err['msg']}."
            for err in exc.errors()
        ]
    return [
        f"workflow stage '{stage.name}': {p}" for p in cross_field_problems(merged) if p not in base
    ]


SPACE_KINDS = ("choice", "float", "int")
SPACE_KEYS = (*SPACE_KINDS, "log", "step")


def _sweep_problems(config: ConfigBase) -> list[str]:
    sweep = config.sweep
    if sweep is None:
        return []
    if not sweep.space:
        return [
            "sweep.space is empty; add the keys to vary, e.g. model.dropout: {float: [0.0, 0.5]}."
        ]
    problems = []
    for path, spec in sweep.space.items():
        problem = space_path_problem(path, config) or _space_spec_problem(spec, sweep.sampler)
        if problem:
            problems.append(f"sweep.space '{path}': {problem}")
    return problems


def space_path_problem(path: str, config: ConfigBase) -> str | None:
    """Why a dotted path cannot be swept (unknown key, or the sweep section itself), or None.
    Under `model` and `data` the keys are those of the config's kind and source."""
    parts = path.split(".")
    if parts[0] in ("sweep", "name", "objective", "workflow") or not all(parts):
        return "this key cannot be swept; vary keys of data, model, train, seed or task."
    if parts[0] in ("backend", "distribute"):
        return (
            "the backend and distribution are the sweep's, not a trial's: a worker process "
            "runs one backend. Set them in the base config (or sweep --backend), or run one "
            "sweep per backend."
        )
    cls: Any = type(config)
    value: Any = config
    union: Any = None
    for depth, part in enumerate(parts):
        fields = getattr(cls, "model_fields", None)
        if fields is None:
            # a free-form mapping (model.params): any key below it is the user's
            return None
        if part not in fields:
            here = ".".join(parts[:depth]) or "the top level"
            close = difflib.get_close_matches(part, list(fields), n=1, cutoff=0.6)
            hint = other_member_hint(part, here, union, value) if union is not None else ""
            if not hint and close:
                hint = f" Did you mean '{'.'.join([*parts[:depth], close[0]])}'?"
            return f"unknown key '{part}' in {here}.{hint} Keys there: {', '.join(fields)}."
        union = fields[part] if union_members(fields[part]) else None
        value = getattr(value, part, None)
        cls = section_in(fields[part], value)
        if cls is None and depth < len(parts) - 1:
            return f"'{'.'.join(parts[: depth + 1])}' is a value, not a section."
    return None


def _space_spec_problem(spec: dict[str, Any], sampler: str) -> str | None:
    unknown = [key for key in spec if key not in SPACE_KEYS]
    if unknown:
        return f"unknown key '{unknown[0]}'; a spec has one of choice, float, int (+ log, step)."
    kinds = [kind for kind in SPACE_KINDS if kind in spec]
    if len(kinds) != 1:
        return (
            "give exactly one of {choice: [a, b, ...]}, {float: [low, high]}, {int: [low, high]}."
        )
    kind, log, step = kinds[0], spec.get("log", False), spec.get("step")
    if not isinstance(log, bool):
        return "log must be true or false."
    if kind == "choice":
        choices = spec["choice"]
        if not isinstance(choices, list) or not choices:
            return "choice needs a non-empty list of values, e.g. {choice: [16, 32, 64]}."
        if log or step is not None:
            return "log and step apply to float and int ranges, not to choice."
        return None
    bounds = spec[kind]
    number = int if kind == "int" else (int, float)
    if (
        not isinstance(bounds, list)
        or len(bounds) != 2
        or not all(isinstance(b, number) and not isinstance(b, bool) for b in bounds)
    ):
        return f"{kind} needs [low, high] with two {'integers' if kind == 'int' else 'numbers'}."
    low, high = bounds
    if not all(math.isfinite(b) for b in bounds):
        return f"{kind} needs finite bounds, not [{low}, {high}]."
    if low >= high:
        return f"the range [{low}, {high}] is empty; write [low, high] with low < high."
    if log and low <= 0:
        return f"log: true needs a positive low bound, not {low}."
    if step is not None:
        if log:
            return "use log: true or step, not both."
        if not isinstance(step, number) or isinstance(step, bool) or not 0 < step < math.inf:
            return f"step must be a positive {'integer' if kind == 'int' else 'number'}."
    if sampler == "grid" and kind == "float" and step is None:
        return "the grid sampler needs a finite grid: add step: S, or use choice."
    return None
