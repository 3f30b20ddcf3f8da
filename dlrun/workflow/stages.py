"""The stage plan: which configs the workflow trains, in order, and how to name them.

Each stage is the base config with the stage's `model` and `train` keys deep-merged
over it (`dlrun.config.checks.stage_raw`), validated like any config. The
shorthand `overfit: {...}` / `regularize: [...]` plans `small` (the base config),
`overfit`, then one stage per regularize entry; `stages: [...]` lists them
explicitly.

Example:

```python
for stage in plan(config):
    stage.name, stage.role, stage.resolve().model.describe()
    # ("small", "small", "mlp 16-16"), ("dropout", "regularize", "mlp 16-16 + dropout 0.5")
```
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlrun.config.checks import stage_raw
from dlrun.config.schema import StageConfig
from dlrun.errors import UsageError
from dlrun.spec import DlrunConfig, validate
from dlrun.training import SINGLE_STAGE


@dataclass(frozen=True)
class Stage:
    name: str
    role: str
    base: DlrunConfig
    spec: StageConfig

    @property
    def overrides(self) -> dict[str, Any]:
        return {k: v for k, v in (("model", self.spec.model), ("train", self.spec.train)) if v}

    def resolve(self) -> DlrunConfig:
        """The stage's full config; raises ConfigError if the merged config is invalid."""
        return validate(stage_raw(self.base, self.spec)).config


def plan(config: DlrunConfig, only: str | None = None) -> list[Stage]:
    """The workflow's stages in order; `only` keeps the one stage of that name.

    A config without a workflow section is a one-stage workflow: the base config as
    stage `train`.
    """
    if config.workflow is None:
        single = StageConfig(role="small")
        stages = [Stage(name=SINGLE_STAGE, role="small", base=config, spec=single)]
        if only not in (None, SINGLE_STAGE):
            raise UsageError(f"--stage {only}: this config has no workflow section, so no stages.")
        return stages
    stages = [
        Stage(name=s.name or s.role, role=s.role, base=config, spec=s)
        for s in config.workflow.planned()
    ]
    if only is None:
        return stages
    chosen = [s for s in stages if s.name == only]
    if not chosen:
        raise UsageError(
            f"--stage {only}: no such stage; this config has {', '.join(s.name for s in stages)}."
        )
    return chosen
