"""`sklearn.*`: the small data sets bundled inside scikit-learn (no download, no file).

Example:

```python
raw = sklearn_source("digits", SklearnConfig(source="sklearn.digits"))
raw.train.x.shape   # (1438, 8, 8)
```
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from dlrun.data.arrays import ArrayKeys
from dlrun.data.splits import RawData, with_test_split
from dlrun.tasks import Labels

# name -> (loader in sklearn.datasets, representation, what its labels are)
SKLEARN_DATASETS = {
    "digits": ("load_digits", "images", Labels(10)),
    "breast_cancer": ("load_breast_cancer", "features", Labels(2, binary=True)),
    "iris": ("load_iris", "features", Labels(3)),
    "wine": ("load_wine", "features", Labels(3)),
    "diabetes": ("load_diabetes", "features", Labels(None)),
}


class SklearnConfig(ArrayKeys):
    """One of scikit-learn's bundled data sets; a seeded test split is carved from it."""

    source: Literal[
        "sklearn.digits", "sklearn.breast_cancer", "sklearn.iris", "sklearn.wine",
        "sklearn.diabetes",
    ] = Field(description="A data set bundled with scikit-learn.")  # fmt: skip
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share held out as the test split.")

    def peek_labels(self) -> Labels | None:
        return SKLEARN_DATASETS[self.source.removeprefix("sklearn.")][2]


def sklearn_source(name: str, config: SklearnConfig) -> RawData:
    import sklearn.datasets

    loader_name, kind, _ = SKLEARN_DATASETS[name]
    bunch = getattr(sklearn.datasets, loader_name)()
    x = np.asarray(bunch.images if kind == "images" else bunch.data)
    y = np.asarray(bunch.target)
    class_names = [str(c) for c in bunch.target_names] if "target_names" in bunch else None
    feature_names = list(bunch.get("feature_names", []))
    return with_test_split(x, y, config.test_fraction, kind, class_names, feature_names)  # type: ignore[arg-type]
