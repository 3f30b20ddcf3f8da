"""`features`: dense feature vectors (sklearn sets, npz, Boston housing).

Scaled by `data.scale`, then standardized with the training portion's mean and
standard deviation per feature unless `data.normalize: false`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.representations.base import (
    NUMBER,
    Misfits,
    Representation,
    absent_or,
    list_of,
    refuse_non_finite,
)
from dlrun.data.splits import RawData, Split


class FeatureVectors(Representation):
    name = "features"
    what = "feature arrays"
    state_keys = {
        "scale": NUMBER,
        "mean": absent_or(list_of(NUMBER, "numbers")),
        "std": absent_or(list_of(NUMBER, "numbers")),
    }

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        state: dict[str, Any] = {"scale": getattr(data, "scale", None) or 1.0}
        if getattr(data, "normalize", None) is not False:
            x = np.asarray(train.x, dtype=np.float64) * state["scale"]
            std = x.std(axis=0)
            state.update(mean=x.mean(axis=0).tolist(), std=np.where(std > 0, std, 1.0).tolist())
        return state

    def apply(self, x: Any, state: dict[str, Any]) -> np.ndarray:
        return standardized(np.asarray(x, dtype=np.float32) * np.float32(state["scale"]), state)

    def misfits(self, x: Any, state: dict[str, Any], first_row: int, path: Path) -> Misfits:
        refuse_non_finite(x, first_row, path)
        return Misfits()


def standardized(x: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    """(x - mean) / std with the fitted statistics, when the state has them."""
    if "mean" in state:
        x = (x - np.asarray(state["mean"], dtype=np.float32)) / np.asarray(
            state["std"], dtype=np.float32
        )
    return x.astype(np.float32)
