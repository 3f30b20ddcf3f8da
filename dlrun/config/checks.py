"""Cross-field rules of a config, kept apart from the per-field types in `schema`.

Each rule returns sentences that say what is wrong and what to write instead.

Example:

```python
cross_field_problems(config)
# ["train.loss 'binary_crossentropy' does not fit task 'multiclass'. Use ..."]
```
"""

from __future__ import annotations

from dlrun.config.schema import DlrunConfig
from dlrun.tasks import head_problems

SEQUENCE_SOURCES = ("keras.imdb", "keras.reuters")
FILE_SOURCES = ("csv", "npz")


def cross_field_problems(config: DlrunConfig) -> list[str]:
    return [
        *head_problems(
            config.task, config.model.output_activation, config.train.loss, config.data.labels
        ),
        *_validation_problems(config),
        *_data_problems(config),
        *_model_problems(config),
        *_registry_problems(config),
    ]


def _validation_problems(config: DlrunConfig) -> list[str]:
    v = config.data.validation
    chosen = [name for name in ("holdout", "fraction", "kfold") if getattr(v, name) is not None]
    if len(chosen) > 1:
        return [
            f"data.validation sets {' and '.join(chosen)}; choose one protocol "
            "(holdout: N, fraction: F or kfold: K)."
        ]
    if not chosen:
        return ["data.validation needs a protocol: holdout: N, fraction: F or kfold: K."]
    if v.repeats > 1 and v.kfold is None:
        return ["data.validation.repeats applies to kfold only; add kfold: K or remove repeats."]
    return []


def _data_problems(config: DlrunConfig) -> list[str]:
    data = config.data
    problems = []
    if data.num_words is not None and data.source not in SEQUENCE_SOURCES:
        problems.append(
            f"data.num_words applies to {', '.join(SEQUENCE_SOURCES)}, not '{data.source}'; "
            "remove it."
        )
    if data.source in FILE_SOURCES and not data.path:
        problems.append(f"data.source '{data.source}' needs data.path: the file to read.")
    if data.source == "csv" and not data.target:
        problems.append("data.source 'csv' needs data.target: the name of the label column.")
    if data.source != "csv" and (data.target or data.drop or data.categorical):
        problems.append("data.target, data.drop and data.categorical apply to csv data only.")
    if data.labels == "one_hot" and config.task != "multiclass":
        problems.append("data.labels 'one_hot' applies to multiclass tasks only.")
    return problems


def _model_problems(config: DlrunConfig) -> list[str]:
    # Checked here so `dlrun check` reports it, not the model builder after the data loads.
    model = config.model
    layers = len(model.units)
    return [
        f"model.{key} has {len(value)} values but model.units has {layers} layers; "
        "give one value per layer or a single value for all."
        for key, value in (("dropout", model.dropout), ("l1", model.l1), ("l2", model.l2))
        if isinstance(value, list) and len(value) != layers
    ]


def _registry_problems(config: DlrunConfig) -> list[str]:
    # The registries import TensorFlow lazily, so checking names here stays fast.
    from dlrun.data.sources import SOURCES
    from dlrun.models import BUILDERS

    problems = []
    if config.data.source not in SOURCES:
        problems.append(
            f"unknown data.source '{config.data.source}'. Available: {', '.join(sorted(SOURCES))}."
        )
    kind = config.model.kind
    if not kind.startswith("python:") and kind not in BUILDERS:
        problems.append(
            f"unknown model.kind '{kind}'. Available: {', '.join(sorted(BUILDERS))}, "
            "or python:path/file.py:function."
        )
    return problems
