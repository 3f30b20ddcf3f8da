"""Scoring a trained model on a split: Keras metrics plus a confusion matrix.

Example:

```python
metrics = evaluate_model(model, prepared.test, config, prepared.outputs)
metrics["accuracy"], metrics["confusion_matrix"]
```
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlrun.config.schema import DlrunConfig
from dlrun.data.pipeline import make_dataset
from dlrun.data.splits import Split


def one_hot_width(config: DlrunConfig, outputs: int) -> int | None:
    return outputs if config.task == "multiclass" and config.data.labels == "one_hot" else None


def evaluate_model(model: Any, split: Split, config: DlrunConfig, outputs: int) -> dict[str, Any]:
    """Metrics of `model` on `split`; classification adds the confusion matrix."""
    dataset = make_dataset(split, config.train.batch_size, one_hot=one_hot_width(config, outputs))
    scores = model.evaluate(dataset, verbose=0, return_dict=True)
    metrics: dict[str, Any] = {k: float(v) for k, v in scores.items()}
    metrics["samples"] = len(split)
    if config.task in ("binary", "multiclass"):
        from sklearn.metrics import confusion_matrix

        predicted = model.predict(dataset, verbose=0)
        if config.task == "binary":
            labels = (predicted.reshape(-1) > 0.5).astype(int)
            classes = [0, 1]
        else:
            labels = predicted.argmax(axis=1)
            classes = list(range(outputs))
        truth = np.asarray(split.y).astype(int)
        metrics["confusion_matrix"] = confusion_matrix(truth, labels, labels=classes).tolist()
    return metrics
