"""`EpochPrinter`: one line per epoch with every metric, readable in a terminal and a log;
`FoldProgress`: a K-fold fit's epochs as a progress step, where the fold prints no lines.

Args:
    out: the command's `Output`; every line goes through it.
    epochs: the total number of epochs, for the `epoch 3/20` counter.

Example:

```python
model.fit(ds, epochs=20, callbacks=[EpochPrinter(out, epochs=20)])
# epoch  3/20  loss 0.2812  accuracy 0.9123  val_loss 0.3011  val_accuracy 0.8870  0.8s

with FoldProgress(out, fold=2, folds=4) as progress:
    model.fit(ds, epochs=20, callbacks=[EpochPrinter(quiet, epochs=20), progress])
# a terminal: fold 2/4 ━━━━━━━━━━━━━━━━━━━━━━━━━ 3/20 epochs 0.08/s 0:00:37 0:03:30
# a log:      fold 2/4: 3/20 epochs (15%), 37.1s, about 3m30s left
```
"""

from __future__ import annotations

import time
from typing import Any

import keras

from dlrun.console import Output, Step


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


class FoldProgress(keras.callbacks.Callback):
    """The epochs of fold `fold` of `folds` as a progress step on `out` (`Output.progress`):
    a K-fold fit's own EpochPrinter is quiet, so that k folds do not print k times the
    epoch lines, and this says which fold and epoch the stage is at meanwhile. With one
    fold (holdout) it shows nothing: the EpochPrinter prints each epoch.

    Wrap the fit in `contextlib.closing(FoldProgress(...))`: Keras calls no `on_train_end`
    when the fit raises, and the step must end all the same (a terminal's bar would stay
    drawn).
    """

    def __init__(self, out: Output, fold: int, folds: int) -> None:
        super().__init__()
        self.out = out
        self.fold = fold
        self.folds = folds
        self.step = Step(f"fold {fold}/{folds}", None, "epochs")  # silent until the fit begins

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if self.folds > 1:
            epochs = self.params["epochs"]
            self.step = self.out.progress(f"fold {self.fold}/{self.folds}", epochs, "epochs")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # by the epoch's number: a resumed fit's first epoch is not epoch 1
        self.step(epoch + 1 - self.step.done)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.close()

    def close(self) -> None:
        self.step.close()


def _metric_order(item: tuple[str, Any]) -> tuple[bool, bool, str]:
    """loss first, then the metrics, then the same for validation."""
    key = item[0]
    base = key.removeprefix("val_")
    return (key.startswith("val_"), base != "loss", base)
