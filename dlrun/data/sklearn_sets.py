"""`sklearn.*`: the small data sets bundled inside scikit-learn (no download, no file).

Example:

```python
raw = sklearn_source("digits", SklearnConfig(source="sklearn.digits"))
raw.train.x.shape   # (1438, 8, 8)
```
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from pydantic import Field

from dlrun.data.arrays import ArrayKeys
from dlrun.data.splits import Kind, RawData, size_of_test_split, with_test_split
from dlrun.tasks import Labels


class Bundled(NamedTuple):
    """A bundled set: its loader in sklearn.datasets, its representation, what its labels
    are, and its number of samples (fixed, so `dlrun check` knows it without loading)."""

    loader: str
    kind: Kind
    labels: Labels
    samples: int


SKLEARN_DATASETS = {
    "digits": Bundled("load_digits", "images", Labels(10), 1797),
    "breast_cancer": Bundled("load_breast_cancer", "features", Labels(2, binary=True), 569),
    "iris": Bundled("load_iris", "features", Labels(3), 150),
    "wine": Bundled("load_wine", "features", Labels(3), 178),
    "diabetes": Bundled("load_diabetes", "features", Labels(None), 442),
}


class SklearnConfig(ArrayKeys):
    """One of scikit-learn's bundled data sets; a seeded test split is carved from it."""

    source: Literal[
        "sklearn.digits", "sklearn.breast_cancer", "sklearn.iris", "sklearn.wine",
        "sklearn.diabetes",
    ] = Field(description="A data set bundled with scikit-learn.")  # fmt: skip
    test_fraction: float = Field(0.2, gt=0, lt=1, description="Share held out as the test split.")

    @property
    def bundled(self) -> Bundled:
        return SKLEARN_DATASETS[self.source.removeprefix("sklearn.")]

    def peek_labels(self) -> Labels | None:
        return self.bundled.labels

    def training_samples(self) -> int | None:
        samples = self.bundled.samples
        train = samples - size_of_test_split(samples, self.test_fraction)
        return train if self.limit is None else min(train, self.limit)


def sklearn_source(name: str, config: SklearnConfig) -> RawData:
    import sklearn.datasets

    bundled = SKLEARN_DATASETS[name]
    bunch = getattr(sklearn.datasets, bundled.loader)()
    x = np.asarray(bunch.images if bundled.kind == "images" else bunch.data)
    y = np.asarray(bunch.target)
    class_names = [str(c) for c in bunch.target_names] if "target_names" in bunch else None
    feature_names = list(bunch.get("feature_names", []))
    return with_test_split(x, y, config.test_fraction, bundled.kind, class_names, feature_names)
