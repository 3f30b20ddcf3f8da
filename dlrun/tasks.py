"""The book's task table: which last layer, loss and metrics fit each task.

Pure data and rules, no TensorFlow, so `dlrun check` can use them. `METRICS` is Keras's
metric names with their parameters: `metric_problems` judges `train.metrics` by it, and
`metric_name` says what a metric with parameters is logged as (`auc_pr`).

| task | last layer | loss | default metrics |
| --- | --- | --- | --- |
| binary | Dense(1, sigmoid) | binary_crossentropy | accuracy, precision, recall, auc |
| multiclass | Dense(N, softmax) | (sparse_)categorical_crossentropy | accuracy |
| multilabel | Dense(N, sigmoid) | binary_crossentropy | binary_accuracy, auc |
| regression | Dense(1) | mse | mae |

The first metric is the one the default objective (`val_` + it) judges by.

Example:

```python
head_for("multiclass", activation="auto", loss="auto", labels="sparse")
# Head(activation='softmax', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
```
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

CLASSIFICATION = ("binary", "multiclass", "multilabel")

_ACTIVATION = {
    "binary": "sigmoid",
    "multiclass": "softmax",
    "multilabel": "sigmoid",
    "regression": "linear",
}
# The tasks of this table; the generative ones have training contracts of their own.
HEAD_TASKS = tuple(_ACTIVATION)
_LOSSES = {
    "binary": ("binary_crossentropy", "binary_focal_crossentropy", "hinge"),
    "multiclass": ("sparse_categorical_crossentropy", "categorical_crossentropy"),
    "multilabel": ("binary_crossentropy", "binary_focal_crossentropy"),
    "regression": ("mse", "mae", "huber", "mean_squared_error", "mean_absolute_error", "log_cosh"),
}
_METRICS = {
    # Accuracy alone hides a model that never flags a rare positive class (issue #24):
    # precision, recall and ROC-AUC (at Keras's defaults: threshold 0.5, 200 thresholds)
    # say so from the first run. Accuracy stays first, so the default objective is unchanged.
    "binary": ["accuracy", "precision", "recall", "auc"],
    "multiclass": ["accuracy"],
    "multilabel": ["binary_accuracy", "auc"],
    "regression": ["mae"],
}
_WHY_ACTIVATION = {
    ("binary", "softmax"): "softmax over a single unit always outputs 1.0",
    ("multiclass", "sigmoid"): "sigmoid scores each class independently; one label needs softmax",
    ("multilabel", "softmax"): "softmax makes the labels compete; independent labels need sigmoid",
}


@dataclass(frozen=True)
class MetricSpec:
    """A Keras metric class built with parameters, logged under `name`
    (`keras.metrics.AUC(curve="PR", name="auc_pr")`)."""

    name: str
    keras: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Head:
    """The last layer's activation with its loss and metrics: `compiled` is what compile
    takes (a Keras name, or a MetricSpec for a metric with parameters), `metrics` what fit
    logs of them."""

    activation: str
    loss: str
    compiled: list[str | MetricSpec] = field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        return [m if isinstance(m, str) else m.name for m in self.compiled]


def default_loss(task: str, labels: str = "sparse") -> str:
    if task == "multiclass":
        return (
            "categorical_crossentropy" if labels == "one_hot" else "sparse_categorical_crossentropy"
        )
    return _LOSSES[task][0]


def head_problems(task: str, activation: str, loss: str, labels: str = "sparse") -> list[str]:
    """Contradictions between the task and an explicit activation or loss, each with its fix."""
    problems = []
    right = _ACTIVATION[task]
    if activation not in ("auto", right):
        why = _WHY_ACTIVATION.get((task, activation), f"a {task} task needs {right}")
        problems.append(
            f"model.output_activation '{activation}' does not fit task '{task}': {why}. "
            f"Use '{right}' (or 'auto')."
        )
    if loss != "auto":
        allowed = _LOSSES[task]
        if loss not in allowed:
            problems.append(
                f"train.loss '{loss}' does not fit task '{task}'. "
                f"Use '{default_loss(task, labels)}' (or 'auto'); allowed: {', '.join(allowed)}."
            )
        elif task == "multiclass" and loss != default_loss(task, labels):
            problems.append(
                f"train.loss '{loss}' does not fit data.labels '{labels}'. "
                f"Use '{default_loss(task, labels)}', or set data.labels to "
                f"'{'one_hot' if labels == 'sparse' else 'sparse'}'."
            )
    return problems


def head_for(
    task: str,
    activation: str = "auto",
    loss: str = "auto",
    labels: str = "sparse",
    metrics: list[str | dict[str, Any]] | None = None,
) -> Head:
    """Resolve `auto` choices; call `head_problems` and `metric_problems` first to reject
    contradictions."""
    return Head(
        activation=_ACTIVATION[task] if activation == "auto" else activation,
        loss=default_loss(task, labels) if loss == "auto" else loss,
        compiled=[metric_spec(m) for m in metrics] if metrics is not None else list(_METRICS[task]),
    )


@dataclass(frozen=True)
class Labels:
    """What a cheap look at a data set's labels tells, without loading its inputs.

    `classes` is the number of distinct labels when they are classes (integers or text),
    None when they are continuous; `binary` says whether they are exactly 0 and 1 (or two
    text values, which the csv reader encodes as 0 and 1); `columns` is the label width
    (1 for one label per sample); `partial` marks a look at only the first rows; `text`
    says the labels are words (which the reader encodes as class numbers), not numbers;
    `names` are the classes' names in the order of their numbers, when the look saw them
    all (text labels, class folders).
    """

    classes: int | None
    binary: bool = False
    columns: int = 1
    partial: bool = False
    text: bool = False
    names: tuple[str, ...] | None = None


def label_problems(task: str, labels: Labels, source: str) -> list[str]:
    """Contradictions between the task and what the labels are, each with its fix."""
    some = "at least " if labels.partial else ""
    if task == "multilabel":
        if labels.columns == 1:
            return [
                f"task 'multilabel' needs one 0/1 column per label, but {source} has one label "
                "per sample. Use task: multiclass (or binary for two classes)."
            ]
        return []
    if labels.columns > 1:
        if task == "regression":
            return []
        return [
            f"task '{task}' needs one label per sample, but {source} has {labels.columns} "
            "label columns. Use task: multilabel (or regression for several targets)."
        ]
    if task == "regression" and labels.text:
        return [
            f"task 'regression' needs numbers, but {source} holds text: a regression model "
            "would learn its values as the numbers 0, 1, 2, ... of their sorted order. Use "
            "task: multiclass (or binary for two classes) to predict one of them, or choose "
            "a numeric data.target."
        ]
    if task in ("binary", "multiclass") and labels.classes is None:
        return [
            f"task '{task}' needs class labels, but {source} has continuous labels. "
            "Use task: regression."
        ]
    if task in ("binary", "multiclass") and labels.classes == 1 and not labels.partial:
        return [
            f"{source} has a single value: a {task} model has nothing to tell apart. Check "
            "data.target and the file, or use task: regression if the target is a measurement."
        ]
    if task == "binary" and not labels.binary:
        if labels.classes == 2:
            return [
                f"task 'binary' needs labels 0 and 1, but {source} has two other values. "
                "Relabel them 0 and 1, or use task: multiclass."
            ]
        return [
            f"task 'binary' needs labels 0 and 1, but {source} has {some}{labels.classes} "
            "classes. Use task: multiclass."
        ]
    return []


def class_index(name: str, class_names: list[str] | tuple[str, ...] | None) -> int | None:
    """The model's class number for a class as `train.class_weight` names it: its place in
    the data's class names when the data has names (text labels, class folders), else the
    integer label itself; None when it names no class."""
    if class_names is not None:
        return list(class_names).index(name) if name in class_names else None
    number = _number(name)
    return int(number) if number is not None and number.is_integer() and number >= 0 else None


# --- Keras's metrics, their parameters and logged names -------------------------------
# A table of keras.metrics, so that `dlrun check` judges train.metrics without importing
# Keras (tests/test_imbalanced.py holds it to Keras's own classes and arguments).


@dataclass(frozen=True)
class Param:
    """One argument of a Keras metric class: its default (None: Keras's own, or a value
    the metric cannot go without when `required`), and the values it takes."""

    default: Any = None
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    integer: bool = False
    flag: bool = False
    required: bool = False


@dataclass(frozen=True)
class MetricKind:
    """A Keras metric class, its arguments, and the tasks it fits (None: any task).

    Tasks are as `_label_shape` names them: a metric that compares labels with outputs
    element by element needs labels shaped like the outputs."""

    keras: str
    params: dict[str, Param] = field(default_factory=dict)
    fits: tuple[str, ...] | None = None


_FRACTION = Param(low=0.0, high=1.0)
_THRESHOLDS = {"thresholds": _FRACTION}
_NUM_THRESHOLDS = Param(200, low=2, integer=True)
_CLASS_ID = Param(low=0, integer=True)
_SHAPED_LIKE_OUTPUTS = ("binary", "multilabel", "multiclass/one_hot")
_TWO_D = ("multilabel", "multiclass/one_hot")


def _at(target: str, keras: str) -> MetricKind:
    """A metric at a fixed value of another (precision at recall 0.9)."""
    return MetricKind(
        keras,
        {
            target: Param(low=0.0, high=1.0, required=True),
            "num_thresholds": _NUM_THRESHOLDS,
            "class_id": _CLASS_ID,
        },
        _SHAPED_LIKE_OUTPUTS,
    )


def _counts(keras: str) -> MetricKind:
    return MetricKind(keras, dict(_THRESHOLDS), _SHAPED_LIKE_OUTPUTS)


def _fbeta(keras: str, beta: bool) -> MetricKind:
    params = {
        "average": Param(choices=("micro", "macro", "weighted")),
        "threshold": _FRACTION,
    }
    if beta:
        params["beta"] = Param(1.0, low=0.0)
    return MetricKind(keras, params, _TWO_D)


_PRECISION_RECALL = {
    **_THRESHOLDS,
    "top_k": Param(low=1, integer=True),
    "class_id": _CLASS_ID,
}

# Keras's names for its metrics (keras.metrics.get), the aliases included.
METRICS: dict[str, MetricKind] = {
    "accuracy": MetricKind("accuracy"),
    "acc": MetricKind("accuracy"),
    "binary_accuracy": MetricKind(
        "BinaryAccuracy", {"threshold": Param(0.5, low=0.0, high=1.0)}, _SHAPED_LIKE_OUTPUTS
    ),
    "categorical_accuracy": MetricKind("CategoricalAccuracy"),
    "sparse_categorical_accuracy": MetricKind("SparseCategoricalAccuracy"),
    "top_k_categorical_accuracy": MetricKind(
        "TopKCategoricalAccuracy", {"k": Param(5, low=1, integer=True)}
    ),
    "sparse_top_k_categorical_accuracy": MetricKind(
        "SparseTopKCategoricalAccuracy", {"k": Param(5, low=1, integer=True)}
    ),
    "auc": MetricKind(
        "AUC",
        {
            "curve": Param("ROC", choices=("ROC", "PR")),
            "num_thresholds": _NUM_THRESHOLDS,
            "summation_method": Param(
                "interpolation", choices=("interpolation", "minoring", "majoring")
            ),
            "multi_label": Param(False, flag=True),
        },
        _SHAPED_LIKE_OUTPUTS,
    ),
    "precision": MetricKind("Precision", _PRECISION_RECALL, _SHAPED_LIKE_OUTPUTS),
    "recall": MetricKind("Recall", _PRECISION_RECALL, _SHAPED_LIKE_OUTPUTS),
    "precision_at_recall": _at("recall", "PrecisionAtRecall"),
    "recall_at_precision": _at("precision", "RecallAtPrecision"),
    "sensitivity_at_specificity": _at("specificity", "SensitivityAtSpecificity"),
    "specificity_at_sensitivity": _at("sensitivity", "SpecificityAtSensitivity"),
    "true_positives": _counts("TruePositives"),
    "true_negatives": _counts("TrueNegatives"),
    "false_positives": _counts("FalsePositives"),
    "false_negatives": _counts("FalseNegatives"),
    "f1_score": _fbeta("F1Score", beta=False),
    "f_beta_score": _fbeta("FBetaScore", beta=True),
    "binary_crossentropy": MetricKind("BinaryCrossentropy"),
    "bce": MetricKind("BinaryCrossentropy"),
    "categorical_crossentropy": MetricKind("CategoricalCrossentropy"),
    "sparse_categorical_crossentropy": MetricKind("SparseCategoricalCrossentropy"),
    "kl_divergence": MetricKind("KLDivergence"),
    "poisson": MetricKind("Poisson"),
    "hinge": MetricKind("Hinge"),
    "squared_hinge": MetricKind("SquaredHinge"),
    "categorical_hinge": MetricKind("CategoricalHinge"),
    "mean_absolute_error": MetricKind("MeanAbsoluteError"),
    "mae": MetricKind("MeanAbsoluteError"),
    "mean_squared_error": MetricKind("MeanSquaredError"),
    "mse": MetricKind("MeanSquaredError"),
    "root_mean_squared_error": MetricKind("RootMeanSquaredError"),
    "mean_absolute_percentage_error": MetricKind("MeanAbsolutePercentageError"),
    "mape": MetricKind("MeanAbsolutePercentageError"),
    "mean_squared_logarithmic_error": MetricKind("MeanSquaredLogarithmicError"),
    "msle": MetricKind("MeanSquaredLogarithmicError"),
    "log_cosh_error": MetricKind("LogCoshError"),
    "cosine_similarity": MetricKind("CosineSimilarity"),
    "r2_score": MetricKind("R2Score"),
    "pearson_correlation": MetricKind("PearsonCorrelation"),
    "concordance_correlation": MetricKind("ConcordanceCorrelation"),
}
# Keras also takes a class's own name (AUC, MeanAbsoluteError) and upper-case aliases.
_OTHER_SPELLINGS = {
    **{kind.keras: name for name, kind in METRICS.items() if kind.keras[0].isupper()},
    **{name.upper(): name for name in ("bce", "mae", "mse", "mape", "msle")},
}
# One spelling of a parameter stands for the other: Keras's Precision says `thresholds`,
# its BinaryAccuracy `threshold`.
_PARAM_ALIASES = {"threshold": "thresholds", "thresholds": "threshold"}


def _label_shape(task: str, labels: str) -> str:
    return f"multiclass/{labels}" if task == "multiclass" else task


def _kind(name: str) -> MetricKind | None:
    return METRICS.get(_OTHER_SPELLINGS.get(name, name))


def metric_class(name: str) -> str | None:
    """The Keras metric a plain name stands for, whichever of its names it is (`acc` and
    `accuracy`: "accuracy"; `mae`: "MeanAbsoluteError"), or None for no metric."""
    kind = _kind(name)
    return kind.keras if kind is not None else None


def metric_problems(metrics: list[str | dict[str, Any]], task: str, labels: str) -> list[str]:
    """What is wrong with `train.metrics` for this task: unknown names or parameters,
    values out of range, metrics that do not fit the task's labels, two metrics that
    would log under one name. Each a sentence with its fix."""
    problems: list[str] = []
    logged: dict[str, str] = {}
    for i, metric in enumerate(metrics):
        where = f"train.metrics[{i}]"
        found = _metric_problems(metric, where, task, labels)
        problems += found
        if found:
            continue
        name = metric_name(metric)
        if name in logged:
            problems.append(
                f"{where} logs as '{name}', as {logged[name]} does; give each metric once."
            )
        logged.setdefault(name, where)
    return problems


def _metric_problems(metric: Any, where: str, task: str, labels: str) -> list[str]:
    if isinstance(metric, dict):
        name = metric.get("name")
        if not isinstance(name, str):
            return [f"{where} needs a name: the Keras metric, e.g. {{name: auc, curve: PR}}."]
        params = {k: v for k, v in metric.items() if k != "name"}
    elif isinstance(metric, str):
        name, params = metric, {}
    else:
        return [f"{where} must be a metric name or {{name: ..., <parameter>: ...}}."]
    kind = _kind(name)
    if kind is None:
        return [_unknown_metric(name, where)]
    problems = [_param_problem(name, kind, key, value, where) for key, value in params.items()]
    problems += [
        f"{where}: {name} needs {key}: a number from 0 to 1, e.g. {{name: {name}, {key}: 0.9}}."
        for key, param in kind.params.items()
        if param.required and _given(params, key) is None
    ]
    if set(params) >= {"threshold", "thresholds"}:
        problems.append(f"{where} gives both threshold and thresholds; keep one.")
    shape = _label_shape(task, labels)
    if kind.fits is not None and shape not in kind.fits:
        problems.append(
            f"{where}: {name} scores the outputs against 0/1 labels of the same shape, "
            f"which task '{task}'{' with sparse labels' if shape == 'multiclass/sparse' else ''}"
            f" does not have. It fits {_fits(kind.fits)}; remove it"
            + (" or set data.labels: one_hot." if shape == "multiclass/sparse" else ".")
        )
    return [p for p in problems if p]


def _fits(fits: tuple[str, ...]) -> str:
    said = {
        "binary": "binary",
        "multilabel": "multilabel",
        "multiclass/one_hot": "multiclass with data.labels: one_hot",
    }
    return ", ".join(said[f] for f in fits)


def _given(params: dict[str, Any], key: str) -> Any:
    """The value `params` gives for `key`, in either spelling of a threshold."""
    if key in params:
        return params[key]
    return params.get(_PARAM_ALIASES.get(key, ""))


def _param_problem(name: str, kind: MetricKind, key: str, value: Any, where: str) -> str:
    key = key if key in kind.params else _PARAM_ALIASES.get(key, key)
    param = kind.params.get(key)
    if param is None:
        if not kind.params:
            return f"{where}: {name} takes no parameters; write it as the name '{name}'."
        close = difflib.get_close_matches(key, list(kind.params), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        return (
            f"{where}: {name} has no parameter '{key}'.{hint} It takes: {', '.join(kind.params)}."
        )
    said = f"{where}: {name}'s {key} is {value!r}"
    if param.choices:
        if _choice(param, value) is None:
            return f"{said}; use one of: {', '.join(param.choices)}."
    elif param.flag:
        if not isinstance(value, bool):
            return f"{said}; use true or false."
    elif isinstance(value, bool) or not isinstance(value, int | float):
        return f"{said}; use a{'n integer' if param.integer else ' number'}{_range(param)}."
    elif param.integer and not isinstance(value, int):
        return f"{said}; use an integer{_range(param)}."
    elif (param.low is not None and value < param.low) or (
        param.high is not None and value > param.high
    ):
        return f"{said}; use a{'n integer' if param.integer else ' number'}{_range(param)}."
    return ""


def _range(param: Param) -> str:
    if param.low is not None and param.high is not None:
        return f" from {param.low:g} to {param.high:g}"
    if param.low is not None:
        return f" of at least {param.low:g}"
    return ""


def _choice(param: Param, value: Any) -> str | None:
    """The choice `value` names, in any case (`pr` is PR), or None."""
    lowered = str(value).lower()
    return next((c for c in param.choices if c.lower() == lowered), None)


def _unknown_metric(name: str, where: str) -> str:
    written = _written_as(name)
    if written is not None:
        flow = ", ".join(f"{k}: {_text(v)}" for k, v in written.items())
        return (
            f"{where}: '{name}' is not a Keras metric name. Write {{{flow}}}, which logs "
            f"as '{metric_name(written)}'."
        )
    close = difflib.get_close_matches(name, list(METRICS), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return f"{where}: unknown metric '{name}'.{hint} Keras's metrics: {', '.join(METRICS)}."


def _written_as(name: str) -> dict[str, Any] | None:
    """The metric with parameters a name looks like the logged name of (`auc_pr` is
    `{name: auc, curve: PR}`, `recall_at_0.3` is `{name: recall, thresholds: 0.3}`), or
    None."""
    for base in sorted(METRICS, key=len, reverse=True):
        if not name.startswith(base + "_"):
            continue
        rest, params = name[len(base) + 1 :], METRICS[base].params
        threshold = next((k for k in ("thresholds", "threshold") if k in params), None)
        if threshold and rest.startswith("at_") and _number(rest[3:]) is not None:
            return {"name": base, threshold: _number(rest[3:])}
        for key, param in params.items():
            if param.required and _number(rest) is not None:
                return {"name": base, key: _number(rest)}
            choice = _choice(param, rest) if param.choices else None
            if choice is not None:
                return {"name": base, key: choice}
    return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def metric_name(metric: str | dict[str, Any]) -> str:
    """The name fit logs a metric under: a plain name as it is written; a metric with
    parameters as its name with a suffix for each parameter that differs from Keras's
    default, e.g. `auc_pr`, `recall_at_0.3`, `precision_at_recall_0.9`,
    `auc_num_thresholds_500`."""
    if isinstance(metric, str):
        return metric
    name = metric["name"]
    kind = _kind(name)
    if kind is None:  # metric_problems refuses it; a report still names it
        return str(name)
    parts = [name]
    for key, value in _kwargs(kind, metric).items():
        param = kind.params[key]
        if key in ("threshold", "thresholds"):
            parts.append(f"at_{_text(value)}")
        elif param.choices:
            parts.append(str(value).lower())
        elif param.required:
            parts.append(_text(value))
        elif param.flag:
            parts.append(key)
        else:
            parts.append(f"{key}_{_text(value)}")
    return "_".join(parts)


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _kwargs(kind: MetricKind, metric: dict[str, Any]) -> dict[str, Any]:
    """The Keras arguments a metric's parameters give, in the table's order, without the
    ones equal to Keras's defaults."""
    kwargs = {}
    for key, param in kind.params.items():
        value = _given(metric, key)
        if value is not None and param.choices:
            value = _choice(param, value)
        elif value is not None and not (param.flag or param.integer):
            value = float(value)
        if value is not None and value != param.default:
            kwargs[key] = value
    return kwargs


def metric_spec(metric: str | dict[str, Any]) -> str | MetricSpec:
    """What compile takes for a metric of train.metrics: a plain name as Keras spells it,
    or a MetricSpec; a mapping whose parameters are all Keras's defaults is its name."""
    if isinstance(metric, str):
        return metric
    kind = _kind(metric["name"])
    if kind is None:
        raise ValueError(f"unknown metric {metric['name']!r}; call metric_problems first")
    kwargs = _kwargs(kind, metric)
    if not kwargs:
        return metric["name"]
    return MetricSpec(name=metric_name(metric), keras=kind.keras, kwargs=kwargs)
