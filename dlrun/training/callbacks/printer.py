"""`EpochPrinter`: one line per epoch with every metric, readable in a terminal and a log.

Args:
    out: the command's `Output`; every line goes through it.
    epochs: the total number of epochs, for the `epoch 3/20` counter.

Example:

```python
model.fit(ds, epochs=20, callbacks=[EpochPrinter(out, epochs=20)])
# epoch  3/20  loss 0.2812  accuracy 0.9123  val_loss 0.3011  val_accuracy 0.8870  0.8s
```
"""

from __future__ import annotations

import time
from typing import Any

import keras

from dlrun.console import Output


class EpochPrinter(keras.callbacks.Callback):
    def __init__(self, out: Output, epochs: int) -> None:
        super().__init__()
        self.out = out
        self.epochs = epochs
        self.started = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        width = len(str(self.epochs))
        parts = [f"epoch {epoch + 1:>{width}}/{self.epochs}"]
        for key, value in sorted((logs or {}).items(), key=_metric_order):
            if key == "learning_rate":
                continue
            style = "cyan" if key.startswith("val_") else ""
            text = f"{key} {float(value):.4f}"
            parts.append(f"[{style}]{text}[/]" if style else text)
        parts.append(f"[dim]{time.perf_counter() - self.started:.1f}s[/]")
        self.out.info("  ".join(parts))


def _metric_order(item: tuple[str, Any]) -> tuple[bool, bool, str]:
    """loss first, then the metrics, then the same for validation."""
    key = item[0]
    base = key.removeprefix("val_")
    return (key.startswith("val_"), base != "loss", base)
