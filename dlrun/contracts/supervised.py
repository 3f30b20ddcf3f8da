"""`supervised`: the book's tasks (binary, multiclass, multilabel, regression).

A batch is (features, targets); the task's head (last layer, loss and metrics from
`dlrun.tasks`) is compiled into the model; a split is scored from its predictions
(`dlrun.evaluation.evaluate_model`, which adds the confusion matrix).

Example:

```python
SUPERVISED.compile(model, config, optimizers, steps_per_execution=32)
# model.compile(optimizer=..., loss="sparse_categorical_crossentropy", metrics=["accuracy"])
```
"""

from __future__ import annotations

from typing import Any, ClassVar

from dlrun.contracts.base import Contract, Optimizers
from dlrun.tasks import Head, head_for
from dlrun.tfenv import import_keras


def resolve_head(config: Any) -> Head:
    return head_for(
        config.task,
        activation=config.model.output_activation,
        loss=config.train.loss,
        labels=config.data.labels,
        metrics=config.train.metrics,
    )


def keras_metrics(head: Head) -> list[Any]:
    """What compile takes for the head's metrics: Keras's names as they are (compile picks
    the accuracy that fits the labels), and a fresh metric object for each metric with
    parameters, named as the run logs it (`keras.metrics.AUC(curve="PR", name="auc_pr")`)."""
    keras = import_keras()
    return [
        m if isinstance(m, str) else getattr(keras.metrics, m.keras)(name=m.name, **m.kwargs)
        for m in head.compiled
    ]


class Supervised(Contract):
    name = "supervised"
    tasks: ClassVar[tuple[str, ...]] = ("binary", "multiclass", "multilabel", "regression")
    scores_predictions = True

    def metrics(self, config: Any) -> list[str]:
        return head_for(config.task, loss=config.train.loss, metrics=config.train.metrics).metrics

    def head(self, config: Any) -> Head:
        return resolve_head(config)

    def compile(
        self, model: Any, config: Any, optimizers: Optimizers, steps_per_execution: int
    ) -> None:
        head = self.head(config)
        model.compile(
            optimizer=optimizers(),
            loss=head.loss,
            metrics=keras_metrics(head),
            steps_per_execution=steps_per_execution,
        )
