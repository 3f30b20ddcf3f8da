"""`Objective(name, direction)`: what "better" means, decided once and used everywhere.

Early stopping, the best checkpoint, a stage's best epoch, the workflow's stage choice,
the sweep's direction, HParams, and the sorting of `dlrun runs` and `dlrun compare` all
ask an Objective. `Objective.of(name)` is the one place where `auto` is resolved from a
metric's name; nothing else guesses a direction.

Args:
    name: a logged metric, e.g. `val_accuracy`, `val_mae`, `loss`, `test_auc`.
    direction: `minimize` or `maximize`.

Example:

```python
objective = Objective.of("val_accuracy")          # maximize
objective.best_epoch([0.8, 0.9, 0.85])            # 2
objective.better(0.9, 0.8)                         # True
Objective.of("val_mae", "auto").direction          # "minimize"
```
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

Direction = Literal["minimize", "maximize"]
K = TypeVar("K")

# Metric names whose values rise as the model gets better (a substring of the name).
RISING = ("acc", "auc", "precision", "recall", "f1", "r2")


@dataclass(frozen=True)
class Objective:
    """A metric and whether higher or lower values of it are better."""

    name: str
    direction: Direction

    @classmethod
    def of(cls, name: str, direction: str = "auto") -> Objective:
        """The objective for `name`; `auto` maximizes accuracy-like metrics, minimizes the rest."""
        if direction == "auto":
            base = name.lower().removeprefix("test_").removeprefix("val_")
            rising = any(word in base for word in RISING) and "loss" not in base
            direction = "maximize" if rising else "minimize"
        if direction not in ("minimize", "maximize"):
            raise ValueError(f"direction must be minimize, maximize or auto, not {direction!r}")
        return cls(name, direction)  # type: ignore[arg-type]

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    @property
    def base(self) -> str:
        """The metric without its split prefix: `val_accuracy` -> `accuracy`."""
        return self.name.removeprefix("val_").removeprefix("test_")

    @property
    def worst(self) -> float:
        """A value every real value beats."""
        return -math.inf if self.maximize else math.inf

    def on(self, name: str) -> Objective:
        """The same direction for a sibling metric (`val_accuracy` -> `accuracy`)."""
        return Objective(name, self.direction)

    def better(self, value: float, than: float) -> bool:
        """Whether `value` strictly beats `than` (NaN never beats anything)."""
        if math.isnan(value):
            return False
        if math.isnan(than):
            return True
        return value > than if self.maximize else value < than

    def margin(self, value: float, reference: float) -> float:
        """How much `value` beats `reference` (negative when it is worse)."""
        return value - reference if self.maximize else reference - value

    def best(self, values: Iterable[float]) -> float | None:
        """The best finite value, or None when there is none."""
        found: float | None = None
        for value in values:
            if math.isfinite(value) and (found is None or self.better(value, found)):
                found = value
        return found

    def best_epoch(self, values: list[float]) -> int | None:
        """1-based position of the first best finite value, or None."""
        best = self.best(values)
        return None if best is None else values.index(best) + 1

    def pick(self, scores: Mapping[K, float]) -> K | None:
        """The key with the best score (the first of equals), or None when empty."""
        chosen: K | None = None
        for key, score in scores.items():
            if chosen is None or self.better(score, scores[chosen]):
                chosen = key
        return chosen

    def sort_key(self, value: float | None) -> tuple[bool, float]:
        """For `sorted`: best first, missing or NaN values last."""
        if value is None or math.isnan(value):
            return (True, 0.0)
        return (False, -value if self.maximize else value)
