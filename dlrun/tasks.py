"""The book's task table: which last layer, loss and metrics fit each task.

Pure data and rules, no TensorFlow, so `dlrun check` can use them.

| task       | last layer        | loss                              | default metric |
| ---------- | ----------------- | --------------------------------- | -------------- |
| binary     | Dense(1, sigmoid) | binary_crossentropy               | accuracy       |
| multiclass | Dense(N, softmax) | (sparse_)categorical_crossentropy | accuracy       |
| multilabel | Dense(N, sigmoid) | binary_crossentropy               | binary_accuracy|
| regression | Dense(1)          | mse                               | mae            |

Example:

```python
head_for("multiclass", activation="auto", loss="auto", labels="sparse")
# Head(activation='softmax', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
```
"""

from __future__ import annotations

from dataclasses import dataclass, field

CLASSIFICATION = ("binary", "multiclass", "multilabel")

_ACTIVATION = {
    "binary": "sigmoid",
    "multiclass": "softmax",
    "multilabel": "sigmoid",
    "regression": "linear",
}
_LOSSES = {
    "binary": ("binary_crossentropy", "binary_focal_crossentropy", "hinge"),
    "multiclass": ("sparse_categorical_crossentropy", "categorical_crossentropy"),
    "multilabel": ("binary_crossentropy", "binary_focal_crossentropy"),
    "regression": ("mse", "mae", "huber", "mean_squared_error", "mean_absolute_error", "log_cosh"),
}
_METRICS = {
    "binary": ["accuracy"],
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
class Head:
    """The last layer's activation with its loss and default metrics."""

    activation: str
    loss: str
    metrics: list[str] = field(default_factory=list)


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
    metrics: list[str] | None = None,
) -> Head:
    """Resolve `auto` choices; call `head_problems` first to reject contradictions."""
    return Head(
        activation=_ACTIVATION[task] if activation == "auto" else activation,
        loss=default_loss(task, labels) if loss == "auto" else loss,
        metrics=list(metrics) if metrics is not None else list(_METRICS[task]),
    )


@dataclass(frozen=True)
class Labels:
    """What a cheap look at a data set's labels tells, without loading its inputs.

    `classes` is the number of distinct labels when they are classes (integers or text),
    None when they are continuous; `binary` says whether they are exactly 0 and 1 (or two
    text values, which the csv reader encodes as 0 and 1); `columns` is the label width
    (1 for one label per sample); `partial` marks a look at only the first rows; `text`
    says the labels are words (which the reader encodes as class numbers), not numbers.
    """

    classes: int | None
    binary: bool = False
    columns: int = 1
    partial: bool = False
    text: bool = False


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
