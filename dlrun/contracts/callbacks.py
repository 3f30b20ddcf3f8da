"""Callbacks that show a generative model's work after every epoch.

Imported only by a contract's `epoch_callbacks`, when a fit starts (it imports Keras).

Example:

```python
EpochSamples(lambda model: model.generator.predict(z, verbose=0), stage_dir, tensorboard)
```
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from dlrun.contracts.pictures import save_grid, write_image, write_text
from dlrun.models.visualize import tile
from dlrun.runs.rundir import write_text as write_file


class EpochSamples(keras.callbacks.Callback):
    """Draws the model's samples after every epoch: `samples.png` (the latest) and
    `samples/epoch-N.png` in `directory`, and TensorBoard's images tab.

    Args:
        make: the model -> images in [0, 1] (from a fixed latent batch, so the epochs
            compare).
        directory: the fit's directory.
        tensorboard: the fit's TensorBoard log directory, or None.
    """

    def __init__(
        self, make: Callable[[Any], np.ndarray], directory: Path, tensorboard: Path | None
    ) -> None:
        super().__init__()
        self.make = make
        self.directory = directory
        self.tensorboard = tensorboard

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        images = np.asarray(self.make(self.model))
        save_grid(self.directory / "samples" / f"epoch-{epoch + 1:03d}.png", images)
        save_grid(self.directory / "samples.png", images)
        if self.tensorboard is not None:
            write_image(self.tensorboard, "samples", tile(list(images)), epoch + 1)


class EpochText(keras.callbacks.Callback):
    """Writes the model's text samples after every epoch to `samples.txt` in `directory`
    (every epoch's, appended) and to TensorBoard's text tab.

    Args:
        make: the model -> text.
        directory: the fit's directory.
        tensorboard: the fit's TensorBoard log directory, or None.
    """

    def __init__(self, make: Callable[[Any], str], directory: Path, tensorboard: Path | None):
        super().__init__()
        self.make = make
        self.directory = directory
        self.tensorboard = tensorboard

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        text = self.make(self.model)
        path = self.directory / "samples.txt"
        before = path.read_text(encoding="utf-8") if path.is_file() else ""
        # a resumed fit rewrites the epochs it trains again
        kept = before.split(f"## epoch {epoch + 1}\n")[0]
        write_file(path, f"{kept}## epoch {epoch + 1}\n{text}\n\n")
        if self.tensorboard is not None:
            write_text(self.tensorboard, "samples", text, epoch + 1)
