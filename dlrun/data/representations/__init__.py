"""Representations registry: a name -> the object that fits, applies, batches and reads
that kind of input (the protocol is `base.Representation`).

Adding a representation is one module and one line here; a data source names it as
its `RawData.kind`, and model kinds list it in what they accept (`dlrun.models.MODELS`).

Example:

```python
state = load_state(run)             # the run's preprocessing.json, checked
rep = representation_of(state)      # the one a run was trained with
x = rep.apply(rep.read(Path("new.txt"), state, config.data), state)
```
"""

from __future__ import annotations

from typing import Any

from dlrun.data.representations.base import (
    INTEGER,
    NUMBER,
    TEXT,
    Check,
    Representation,
    absent_or,
    key_problem,
    list_of,
    nullable,
    one_of,
)
from dlrun.data.representations.features import FeatureVectors
from dlrun.data.representations.image_files import ImageFiles
from dlrun.data.representations.images import ImageArrays
from dlrun.data.representations.multi_hot import MultiHot
from dlrun.data.representations.sequence import TokenSequences
from dlrun.data.representations.series import SeriesWindows
from dlrun.data.representations.table import Table
from dlrun.data.representations.table_text import TableText
from dlrun.data.representations.text import RawText
from dlrun.data.representations.token_windows import NextTokenWindows
from dlrun.errors import RunError
from dlrun.runs.rundir import Run

REPRESENTATIONS: dict[str, Representation] = {
    rep.name: rep
    for rep in (
        FeatureVectors(),
        Table(),
        ImageArrays(),
        MultiHot(),
        TokenSequences(),
        RawText(),
        TableText(),
        SeriesWindows(),
        ImageFiles(),
        NextTokenWindows(),
    )
}
# preprocessing.json of runs saved before multi_hot had its name
_OLD_NAMES = {"sequences": "multi_hot"}


def representation_of(state: dict[str, Any]) -> Representation:
    """The representation a fitted state belongs to."""
    return REPRESENTATIONS[_OLD_NAMES.get(state["kind"], state["kind"])]


# what every fitted state holds besides its representation's own keys
_KIND: dict[str, Check] = {"kind": one_of(*REPRESENTATIONS, *_OLD_NAMES)}
_TARGET_SCALE: dict[str, Check] = {
    "mean": list_of(NUMBER, "numbers"),
    "std": list_of(NUMBER, "numbers"),
    "loss_scale": NUMBER,
}
_COMMON_KEYS: dict[str, Check] = {
    "outputs": INTEGER,
    "class_names": absent_or(nullable(list_of(TEXT, "strings"))),
    # runs from before data.target_scale have none, and predict as they did
    "target_scale": absent_or(
        (
            lambda v: key_problem(v, _TARGET_SCALE) is None,
            "an object of the targets' mean, std and loss_scale",
        )
    ),
}


def load_state(run: Run) -> dict[str, Any]:
    """The preprocessing a run fitted (its preprocessing.json), checked once here for every
    command that reads it back: a damaged file is a RunError that names it, not a
    traceback from deep in the first step that uses it."""
    state = run.read_json("preprocessing.json")
    problem = (
        key_problem(state, _KIND)
        or representation_of(state).state_problem(state)
        or key_problem(state, _COMMON_KEYS)
    )
    if problem:
        raise RunError(
            f"{run.path / 'preprocessing.json'} is damaged: {problem}. The run cannot be used "
            "to evaluate, predict, export or show.",
            hint="dlrun writes the file when the run trains; train the run again to replace "
            f"it: dlrun train {run.path / 'config.yaml'}",
        )
    return state
