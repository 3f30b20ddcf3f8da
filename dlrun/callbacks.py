"""dlrun's Keras callbacks. Importing this module imports Keras: import it lazily,
after `dlrun.tfenv.import_keras`, from code that trains.

Example:

```python
model.fit(ds, callbacks=[HistoryWriter(stage / "history.csv"), EpochPrinter(out, epochs=20)])
```
"""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path
from typing import Any

import keras

from dlrun.console import Output
from dlrun.runs import read_history, save_with, write_text
from dlrun.tasks import higher_is_better


class HistoryWriter(keras.callbacks.Callback):
    """Rewrites history.csv atomically at each epoch end; keeps earlier rows on resume."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.rows: list[dict[str, float]] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        initial = getattr(self.model, "_initial_epoch", 0) or 0
        self.rows = read_history(self.path)[:initial] if initial else []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        self.rows = [r for r in self.rows if r["epoch"] < epoch + 1] + [row]
        keys: list[str] = []
        for r in self.rows:
            keys.extend(k for k in r if k not in keys)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.rows)
        write_text(self.path, buffer.getvalue())

    def columns(self) -> dict[str, list[float]]:
        keys = [k for k in (self.rows[0] if self.rows else {}) if k != "epoch"]
        return {k: [float(r.get(k, math.nan)) for r in self.rows] for k in keys}


class EpochPrinter(keras.callbacks.Callback):
    """One line per epoch with every metric: readable in a terminal and in a log file."""

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


def resumed_best(model: Any, history_path: Path, monitor: str) -> tuple[int, float, int] | None:
    """(best 1-based epoch, its value, epochs done) over the epochs finished before a resume.

    BackupAndRestore brings back the weights and the epoch, not the state of the other
    callbacks; history.csv has what they need to carry on where they stopped.
    """
    initial = getattr(model, "_initial_epoch", 0) or 0
    rows = read_history(history_path)[:initial] if initial else []
    values = [
        (int(r["epoch"]), r[monitor]) for r in rows if not math.isnan(r.get(monitor, math.nan))
    ]
    if not values:
        return None
    pick = max if higher_is_better(monitor) else min
    epoch, value = pick(values, key=lambda item: item[1])
    return epoch, value, len(rows)


class BestCheckpoint(keras.callbacks.Callback):
    """Save the model with the best `monitor` value so far, atomically; resumes its record."""

    def __init__(self, path: Path, history_path: Path, monitor: str = "val_loss") -> None:
        super().__init__()
        self.path = path
        self.history_path = history_path
        self.monitor = monitor
        self.higher = higher_is_better(monitor)
        self.best = -math.inf if self.higher else math.inf

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        resumed = resumed_best(self.model, self.history_path, self.monitor)
        if resumed is not None and self.path.is_file():
            self.best = resumed[1]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        if value > self.best if self.higher else value < self.best:
            self.best = value
            save_with(self.path, self.model.save)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that, after a resume, keeps its best value, patience count and weights."""

    def __init__(self, history_path: Path, checkpoint: Path | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history_path = history_path
        self.checkpoint = checkpoint

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        resumed = resumed_best(self.model, self.history_path, self.monitor)
        if resumed is None:
            return
        epoch, self.best, done = resumed
        self.best_epoch = epoch - 1  # Keras counts epochs from 0
        self.wait = done - epoch
        if self.restore_best_weights and self.checkpoint is not None and self.checkpoint.is_file():
            # The checkpoint holds the weights of that same best epoch (same monitor).
            best = keras.saving.load_model(self.checkpoint, safe_mode=True)
            self.best_weights = best.get_weights()


def _metric_order(item: tuple[str, Any]) -> tuple[bool, bool, str]:
    """loss first, then the metrics, then the same for validation."""
    key = item[0]
    base = key.removeprefix("val_")
    return (key.startswith("val_"), base != "loss", base)
