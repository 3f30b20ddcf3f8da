"""`Backup`: the state a fit needs to resume exactly, written atomically after every epoch.

Keras's BackupAndRestore writes its weights file in place, so a kill during the first
write leaves a file no resume can read, and it restores neither the random state of
dropout nor anything that proves which epoch the weights belong to. This backup writes
`epoch-<N>.weights.h5` (model and optimizer) and `epoch-<N>.rng.npz` (the seed states of
dropout and other random layers) to temporary names, moves them into place, and only then
points `state.json` at them: a kill at any moment leaves the previous complete backup.
It must be the last callback of an epoch, so that everything it vouches for (history
row, checkpoint) is already written. An interrupt that was swallowed during the epoch
(see `stop_requested`) stops the fit here, with this epoch backed up.

Args:
    directory: the stage's `backup/` directory.

Example:

```python
initial_epoch = restore(stage / "backup", model)   # 0 when there is nothing to resume
model.fit(ds, initial_epoch=initial_epoch, callbacks=[..., Backup(stage / "backup")])
```
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dlrun.runs.lifecycle import stop_requested
from dlrun.runs.rundir import write_json

STATE = "state.json"


class Backup(keras.callbacks.Callback):
    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        done = epoch + 1
        weights = self.directory / f"epoch-{done}.weights.h5"
        rng = self.directory / f"epoch-{done}.rng.npz"
        # Keras wants the .weights.h5 ending, so the temporary name keeps it.
        tmp = self.directory / f".tmp-{weights.name}"
        self.model.save_weights(tmp, overwrite=True)
        os.replace(tmp, weights)
        tmp_rng = self.directory / f".tmp-{rng.name}"
        with open(tmp_rng, "wb") as handle:
            np.savez(handle, *[np.asarray(v) for v in random_state(self.model)])
        os.replace(tmp_rng, rng)
        write_json(
            self.directory / STATE, {"epoch": done, "weights": weights.name, "rng": rng.name}
        )
        for old in self.directory.iterdir():
            if old.name not in (STATE, weights.name, rng.name):
                old.unlink()
        if stop_requested():
            raise KeyboardInterrupt  # the signal's own was swallowed; this epoch is kept


def random_state(model: Any) -> list[Any]:
    """The model's seed-generator states (dropout, noise): variables that are not weights."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


class BackupUnreadable(Exception):
    """The backup exists but cannot be loaded; the caller restarts the stage."""


def restore(directory: Path, model: Any) -> int:
    """Load the last complete backup into `model`; returns the epochs it covers (0: none).

    Raises BackupUnreadable when a backup is there but cannot be read back.
    """
    state_file = directory / STATE
    if not state_file.is_file():
        return 0
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
        epoch = int(state["epoch"])
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(directory / state["weights"])
        with np.load(directory / state["rng"]) as saved:
            values = [saved[f"arr_{i}"] for i in range(len(saved.files))]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BackupUnreadable(f"{directory}: {type(exc).__name__}: {exc}") from exc
    variables = random_state(model)
    if len(values) != len(variables):
        raise BackupUnreadable(f"{directory}: the saved random state does not fit this model")
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)
    return epoch
