"""Data sources registry: a name -> (typed config, the representation it gives, load function).

Adding a source is one module (its `DataSection` subclass, whose `source` literal lists
the names it serves, and its load function) and one line in `SOURCES`; `dlrun.spec`
builds the `data` union of the schema from this mapping. Sources return raw train and
test splits; `dlrun.data.prepare` carves validation out of train and fits preprocessing
on train only.

A source's representation is a name in `dlrun.data.representations.REPRESENTATIONS`
(`dlrun.models.MODELS` says which model kinds accept which): `features` (dense vectors),
`table` (CSV rows), `images` (height, width[, channels]), `multi_hot` (sparse token sets),
`sequence` (ordered token ids), `series` (windows over a time series).

Example:

```python
raw = SOURCES["sklearn.digits"].load(SklearnConfig(source="sklearn.digits"))
raw.train.x.shape   # (1438, 8, 8)
```
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from operator import attrgetter
from typing import Any, NamedTuple

from dlrun.config.schema import DataSection
from dlrun.data.cache import cached
from dlrun.data.corpus import TextFileConfig, text_file_source
from dlrun.data.images_dir import ImageDirConfig, image_dir_source
from dlrun.data.keras_files import KERAS_DATASETS, KerasArraysConfig, KerasTextConfig, keras_source
from dlrun.data.npz import NpzConfig, npz_source
from dlrun.data.sklearn_sets import SKLEARN_DATASETS, SklearnConfig, sklearn_source
from dlrun.data.splits import RawData
from dlrun.data.tabular import CsvConfig, csv_source
from dlrun.data.text import TextDirConfig, text_dir_source
from dlrun.data.timeseries import TimeseriesConfig, series_source


class Source(NamedTuple):
    config: type[DataSection]
    # the representation, or a function of the config when a key (vectorize) or the
    # file decides; None when it cannot tell
    provides: str | Callable[[Any], str | None]
    load: Callable[[Any], RawData]

    def representation(self, config: DataSection) -> str | None:
        return self.provides if isinstance(self.provides, str) else self.provides(config)


# the config's own `representation` property decides
_BY_CONFIG = attrgetter("representation")

SOURCES: dict[str, Source] = {
    **{
        f"keras.{name}": Source(
            KerasTextConfig if kind == "text" else KerasArraysConfig,
            _BY_CONFIG if kind == "text" else kind,
            partial(keras_source, name),
        )
        for name, (_, kind) in KERAS_DATASETS.items()
    },
    **{
        f"sklearn.{name}": Source(SklearnConfig, bundled.kind, partial(sklearn_source, name))
        for name, bundled in SKLEARN_DATASETS.items()
    },
    "csv": Source(CsvConfig, _BY_CONFIG, csv_source),
    "npz": Source(NpzConfig, _BY_CONFIG, npz_source),
    "text_dir": Source(TextDirConfig, _BY_CONFIG, text_dir_source),
    "timeseries": Source(TimeseriesConfig, "series", series_source),
    "image_dir": Source(ImageDirConfig, "images", image_dir_source),
    "text_file": Source(TextFileConfig, "token_windows", text_file_source),
}


def load_raw(config: DataSection) -> RawData:
    """Run the configured source, or read what it gave last time from the data cache."""
    return cached(config, SOURCES[config.source].load)
