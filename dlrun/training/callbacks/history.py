"""`HistoryWriter`: history.csv, rewritten atomically at the end of every epoch.

Args:
    path: the stage's `history.csv`.
    done: the rows of the epochs finished before this fit (`previous_rows`); rows written
        after them (before a kill, but not covered by the backup) are dropped and rerun.

Example:

```python
writer = HistoryWriter(stage_dir / "history.csv", done=[])
model.fit(ds, epochs=5, callbacks=[writer])
writer.columns()["val_loss"]
```
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import keras

from dlrun.objective import Objective
from dlrun.runs.rundir import read_history, write_text
from dlrun.training.callbacks.backup import BackupUnreadable


class HistoryWriter(keras.callbacks.Callback):
    def __init__(self, path: Path, done: list[dict[str, float]]) -> None:
        super().__init__()
        self.path = path
        self.rows = list(done)

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


def previous_rows(path: Path, initial_epoch: int) -> list[dict[str, float]]:
    """The rows of the epochs a resumed fit does not run again.

    Raises BackupUnreadable when history.csv cannot give them (damaged, or short of the
    backup's epochs): the best epoch and early stopping carry on from these rows, so a
    resume without them would choose from the later epochs alone.
    """
    if not initial_epoch:
        return []
    try:
        rows = [r for r in read_history(path) if int(r["epoch"]) <= initial_epoch]
    except (OSError, ValueError, KeyError, TypeError, csv.Error) as exc:
        raise BackupUnreadable(f"{path} is damaged ({type(exc).__name__}: {exc})") from None
    if [int(r["epoch"]) for r in rows] != list(range(1, initial_epoch + 1)):
        raise BackupUnreadable(f"{path} lacks rows of the {initial_epoch} backed-up epochs")
    return rows


def resumed_best(
    rows: list[dict[str, float]], objective: Objective
) -> tuple[int, float, int] | None:
    """(best 1-based epoch, its value, epochs done) over the epochs finished before a resume.

    The backup brings back the weights and the epoch, not the state of the other
    callbacks; history.csv has what they need to carry on where they stopped.
    """
    values = [r.get(objective.name, math.nan) for r in rows]
    epoch = objective.best_epoch(values)
    if epoch is None:
        return None
    return int(rows[epoch - 1]["epoch"]), values[epoch - 1], len(rows)
