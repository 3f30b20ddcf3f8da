"""Representations registry: a name -> the object that fits, applies, batches and reads
that kind of input (the protocol is `base.Representation`).

Adding a representation is one module and one line here; a data source names it as
its `RawData.kind`, and model kinds list it in what they accept (`dlrun.models.MODELS`).

Example:

```python
rep = representation_of(state)      # the one a run was trained with
x = rep.apply(rep.read(Path("new.txt"), state, config.data), state)
```
"""

from __future__ import annotations

from typing import Any

from dlrun.data.representations.base import Representation
from dlrun.data.representations.features import FeatureVectors
from dlrun.data.representations.image_files import ImageFiles
from dlrun.data.representations.images import ImageArrays
from dlrun.data.representations.multi_hot import MultiHot
from dlrun.data.representations.sequence import TokenSequences
from dlrun.data.representations.series import SeriesWindows
from dlrun.data.representations.table import Table
from dlrun.data.representations.table_text import TableText
from dlrun.data.representations.text import RawText

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
    )
}
# preprocessing.json of runs saved before multi_hot had its name
_OLD_NAMES = {"sequences": "multi_hot"}


def representation_of(state: dict[str, Any]) -> Representation:
    """The representation a fitted state belongs to."""
    return REPRESENTATIONS[_OLD_NAMES.get(state["kind"], state["kind"])]
