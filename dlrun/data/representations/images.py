"""`images`: image arrays in memory (MNIST, CIFAR-10, npz), (height, width[, channels]).

Images keep their shape: a model that wants vectors flattens them itself. Pixels are
scaled (1/255 for 8-bit images by default) and standardized with one mean and standard
deviation over the training portion when `data.normalize: true`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.representations.base import (
    FLAG,
    NUMBER,
    Misfits,
    Representation,
    absent_or,
    refuse_non_finite,
)
from dlrun.data.representations.features import standardized
from dlrun.data.splits import RawData, Split


class ImageArrays(Representation):
    name = "images"
    what = "image arrays"
    state_keys = {
        "scale": NUMBER,
        "flatten": absent_or(FLAG),
        "mean": absent_or(NUMBER),
        "std": absent_or(NUMBER),
    }

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        x = np.asarray(train.x)
        scale = getattr(data, "scale", None)
        if scale is None:
            scale = 1 / 255 if x.dtype == np.uint8 else 1 / float(max(x.max(), 1e-12))
        state: dict[str, Any] = {"scale": float(scale)}
        if getattr(data, "normalize", None):
            scaled = self.apply(x, state)
            state.update(mean=float(scaled.mean()), std=float(scaled.std() or 1.0))
        return state

    def apply(self, x: Any, state: dict[str, Any]) -> np.ndarray:
        out = np.asarray(x, dtype=np.float32) * np.float32(state["scale"])
        if state.get("flatten"):
            # runs trained before the models flattened images themselves
            out = out.reshape(len(out), -1)
        elif out.ndim == 3:
            out = out[..., None]  # grayscale images get their channel axis
        return standardized(out, state)

    def misfits(self, x: Any, state: dict[str, Any], first_row: int, path: Path) -> Misfits:
        refuse_non_finite(x, first_row, path)
        return Misfits()
