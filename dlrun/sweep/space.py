"""The search space: `sweep.space` specs -> Optuna suggestions -> one trial's config.

Each key of `sweep.space` is a dotted config path, the same as a command-line
override, and is also the Optuna parameter name. Choices that are not plain
scalars (e.g. `model.units: {choice: [[16, 16], [64, 64, 64]]}`) are stored in
the study as their JSON text, because Optuna's categorical values must be
scalars. No TensorFlow here.

Example:

```python
params = parse_space(config.sweep)            # the sweep section was checked by the schema
check_values(params, loaded.raw)              # ConfigError if a value can never be valid
values = {p.path: p.suggest(trial) for p in params}
trial_config = trial_loaded(loaded.raw, values, objective).config  # ConfigError: invalid mix
```
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dlrun.config import LoadedConfig
from dlrun.config.loader import set_path
from dlrun.config.schema import SweepConfig
from dlrun.errors import ConfigError
from dlrun.objective import Objective
from dlrun.spec import DlrunConfig, validate

SCALARS = (bool, int, float, str, type(None))


@dataclass(frozen=True)
class Param:
    """One dimension of the search space."""

    path: str
    kind: str  # choice | float | int
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] = ()

    @property
    def labels(self) -> list[Any]:
        """The categorical values Optuna stores: the choices, or their JSON if not scalars."""
        if all(isinstance(c, SCALARS) for c in self.choices):
            return list(self.choices)
        return [json.dumps(c) for c in self.choices]

    def decode(self, stored: Any) -> Any:
        """A value as stored in the study -> the config value."""
        if self.kind == "choice" and not all(isinstance(c, SCALARS) for c in self.choices):
            return json.loads(stored)
        if self.kind == "int":
            return int(stored)
        return stored

    def suggest(self, trial: Any) -> Any:
        """Ask an Optuna trial for this parameter; returns the config value."""
        if self.kind == "choice":
            return self.decode(trial.suggest_categorical(self.path, self.labels))
        if self.kind == "int":
            return trial.suggest_int(
                self.path, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(self.path, self.low, self.high, step=self.step, log=self.log)

    def grid(self) -> list[Any]:
        """Every value of a finite dimension (the grid sampler's axis)."""
        if self.kind == "choice":
            return self.labels
        step = self.step or 1
        count = math.floor((self.high - self.low) / step + 1e-9) + 1
        if self.kind == "int":
            return [int(self.low) + i * int(step) for i in range(count)]
        return [round(self.low + i * step, 12) for i in range(count)]

    def candidates(self) -> list[Any]:
        """The values checked before the sweep starts: every choice, or both bounds."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return [int(self.low), int(self.high)]
        return [self.low, self.high]


def parse_space(sweep: SweepConfig) -> list[Param]:
    """The checked `sweep.space` as parameters (see `dlrun.config.checks` for the rules)."""
    params = []
    for path, spec in sweep.space.items():
        if "choice" in spec:
            params.append(Param(path, "choice", choices=tuple(spec["choice"])))
            continue
        kind = "int" if "int" in spec else "float"
        low, high = spec[kind]
        params.append(
            Param(
                path,
                kind,
                low=low,
                high=high,
                log=bool(spec.get("log", False)),
                step=spec.get("step"),
            )
        )
    return params


def grid_space(params: list[Param]) -> dict[str, list[Any]]:
    return {p.path: p.grid() for p in params}


def grid_size(params: list[Param]) -> int:
    return math.prod(len(p.grid()) for p in params)


def trial_raw(
    base: dict[str, Any], values: dict[str, Any], objective: Objective | None = None
) -> dict[str, Any]:
    """The base config with the trial's values set, as a plain training config.

    `sweep` and `workflow` are dropped: a trial is one training, and its config.yaml
    (and best.yaml) must reproduce exactly that with `dlrun train`. The sweep's
    `objective` is written out in full: the trial selects its best epoch by it, and so
    does `dlrun train best.yaml`, even where a swept `train.metrics` would change the
    default.
    """
    raw = copy.deepcopy(base)
    raw.pop("sweep", None)
    raw.pop("workflow", None)
    if objective is not None:
        raw["objective"] = {"metric": objective.name, "direction": objective.direction}
    for path, value in values.items():
        set_path(raw, tuple(path.split(".")), value)
    return raw


def trial_loaded(
    base: dict[str, Any], values: dict[str, Any], objective: Objective | None = None
) -> LoadedConfig:
    """Validate a trial's config with the same schema and checks as any config."""
    return validate(trial_raw(base, values, objective))


def check_values(params: list[Param], base: dict[str, Any]) -> None:
    """Raise ConfigError if a value in the space can never pass the schema (type or range).

    Rules between keys (e.g. a loss that does not fit the output activation) are left to
    each trial: another swept key may make the mix valid; an invalid mix fails that trial only.
    """
    problems = []
    for param in params:
        for value in param.candidates():
            try:
                DlrunConfig.model_validate(trial_raw(base, {param.path: value}))
            except ValidationError as exc:
                err = exc.errors()[0]
                problems.append(
                    f"sweep.space '{param.path}': the value {format_value(value)} is invalid "
                    f"({err['msg'][0].lower() + err['msg'][1:]})."
                )
    if problems:
        raise ConfigError(
            " ".join(problems), hint="Change the space so that every value is allowed for its key."
        )


def format_value(value: Any) -> str:
    """Short, readable text for a parameter value (tables, log lines)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)
