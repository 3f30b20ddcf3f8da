"""Scoring a trained model on a split: Keras metrics plus a confusion matrix.

Example:

```python
metrics = evaluate_model(model, prepared.test, config, prepared.outputs)
metrics["accuracy"], metrics["confusion_matrix"]
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlrun.config.schema import ConfigBase
from dlrun.console import progress
from dlrun.contracts import contract_for
from dlrun.data.pipeline import make_dataset
from dlrun.data.splits import Split
from dlrun.runs.rundir import write_text
from dlrun.runtime import current


def predict_batches(model: Any, dataset: Any, what: str = "predicting") -> np.ndarray:
    """`model.predict(dataset)`, one batch per call whatever the model's
    `steps_per_execution`, its batches counted as the progress of `what`
    (`dlrun.console.progress`).

    Keras's TensorFlow trainer unrolls `steps_per_execution` predict steps into one graph
    (a Python loop, where fit and evaluate loop inside the graph): for a GRU on Jena's
    windows, 32 copies of the model raised the run's peak from 798 MB to 1,064 MB. A step per call
    costs one Python call per batch instead.

    Example:

    ```python
    probabilities = predict_batches(model, make_dataset(prepared.test, 512))
    ```
    """
    import keras

    model = current().local(model)  # a distributed model predicts through a local copy
    steps = model.steps_per_execution
    model.steps_per_execution, model.predict_function = 1, None
    try:
        with progress(what, _batch_count(dataset), "batches") as step:
            # by the batch's number, which Keras passes after the batch is predicted
            counter = keras.callbacks.LambdaCallback(
                on_predict_batch_end=lambda batch, logs: step(batch + 1 - step.done)
            )
            return np.asarray(model.predict(dataset, verbose=0, callbacks=[counter]))
    finally:
        model.steps_per_execution, model.predict_function = steps, None


def _batch_count(dataset: Any) -> int | None:
    """The dataset's number of batches, None when tf.data cannot tell (a filter)."""
    if not hasattr(dataset, "cardinality"):  # numpy batches (`dlrun.data.array_batches`)
        return len(dataset)
    count = int(dataset.cardinality())
    return count if count >= 0 else None


def one_hot_width(config: ConfigBase, outputs: int) -> int | None:
    return outputs if config.task == "multiclass" and config.data.labels == "one_hot" else None


def evaluate_model(
    model: Any,
    split: Split,
    config: ConfigBase,
    outputs: int,
    predictions_to: Path | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """Metrics of `model` on `split`; classification adds the confusion matrix.

    For regression, `predictions_to` gets a CSV of true and predicted targets (what the
    report's predicted-vs-true plot draws), so nothing has to predict the split again.
    A binary task's `threshold` (None: 0.5) decides the classes of the confusion matrix;
    it is reported with the accuracy at it (Keras's own accuracy stays at 0.5).
    """
    model = current().local(model)  # once: predictions and scores both use it
    contract = contract_for(config.task)
    if not contract.scores_predictions:
        import keras

        dataset = make_dataset(split, config.train.batch_size, batch=contract.batch)
        with progress("evaluating", _batch_count(dataset), "batches") as step:
            counter = keras.callbacks.LambdaCallback(
                on_test_batch_end=lambda batch, logs: step(batch + 1 - step.done)
            )
            return {**contract.evaluate(model, dataset, [counter]), "samples": len(split)}
    one_hot = one_hot_width(config, outputs)
    predicted = predict_batches(
        model, make_dataset(split, config.train.batch_size, one_hot=one_hot), "evaluating"
    )
    truth = np.asarray(split.y)
    metrics: dict[str, Any] = scores(
        model,
        np.eye(one_hot, dtype=np.float32)[truth] if one_hot else truth,
        predicted,
        split.loss_weight,
    )
    metrics["samples"] = len(split)
    if config.task == "regression" and predictions_to is not None:
        write_predictions(predictions_to, truth.astype(np.float64), predicted.astype(np.float64))
    if config.task in ("binary", "multiclass"):
        if config.task == "binary":
            labels, classes = binary_classes(predicted, threshold), 2
            if threshold is not None:
                metrics["threshold"] = threshold
                hits = labels == truth.reshape(-1).astype(np.int64)
                metrics["accuracy_at_threshold"] = float(hits.mean()) if len(hits) else None
        else:
            labels, classes = predicted.argmax(axis=1), outputs
        metrics["confusion_matrix"] = confusion_matrix(truth, labels, classes).tolist()
    return metrics


def binary_classes(predicted: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """0 or 1 per sample: 1 when the probability is above `threshold` (None: 0.5).

    Compared in float64: a threshold chosen halfway between two float32 probabilities
    could round onto one of them in float32.
    """
    cut = 0.5 if threshold is None else threshold
    return (np.asarray(predicted, dtype=np.float64).reshape(-1) > cut).astype(np.int64)


def confusion_matrix(truth: np.ndarray, predicted: np.ndarray, classes: int) -> np.ndarray:
    """Counts of (true class, predicted class): row i, column j is how many samples of
    class i were predicted as class j.

    In numpy, as sklearn.metrics.confusion_matrix counts them; importing sklearn at the
    end of a run would add its libraries to the run's peak memory.

    Example:

    ```python
    confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), 2)  # [[1, 0], [1, 1]]
    ```
    """
    rows = np.asarray(truth, dtype=np.int64).reshape(-1)
    columns = np.asarray(predicted, dtype=np.int64).reshape(-1)
    counts = np.bincount(rows * classes + columns, minlength=classes * classes)
    return counts.reshape(classes, classes)


def scores(
    model: Any, truth: np.ndarray, predicted: np.ndarray, loss_weight: float | None = None
) -> dict[str, float]:
    """What `model.evaluate` reports, from predictions already made: the compiled loss
    (with the weights' regularization penalties, as evaluate adds them) and metrics.
    `loss_weight` weighs every sample's loss, as the split's batches do in training
    (`Split.loss_weight`), so a test loss compares with the validation loss.

    Scoring the predictions instead of evaluating spares a second pass over the split
    (decoding every test image again) and the graph of Keras's test step.

    Example:

    ```python
    scores(model, y_test, model.predict(x_test))  # {"loss": 0.03, "accuracy": 0.99}
    ```
    """
    model.reset_metrics()
    try:
        weights = None if loss_weight is None else np.full(len(truth), loss_weight, np.float32)
        loss = model.compute_loss(y=truth, y_pred=predicted, sample_weight=weights, training=False)
        results = model.compute_metrics(None, truth, predicted)
        return {**{k: float(v) for k, v in results.items()}, "loss": float(loss)}
    finally:
        model.reset_metrics()


def write_predictions(target: Path, truth: np.ndarray, predicted: np.ndarray) -> None:
    """A CSV of true and predicted targets, one row per sample (one pair per output)."""
    truth = truth.reshape(len(truth), -1)
    predicted = predicted.reshape(len(predicted), -1)
    width = truth.shape[1]
    if width == 1:
        header = ["true", "predicted"]
    else:
        header = [*(f"true_{i}" for i in range(width)), *(f"predicted_{i}" for i in range(width))]
    rows = np.concatenate([truth, predicted], axis=1)
    body = "\n".join(",".join(f"{v:.6g}" for v in row) for row in rows)
    write_text(target, ",".join(header) + "\n" + body + "\n")
