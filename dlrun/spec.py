"""The whole config schema, assembled from the model and data registries.

`DlrunConfig` is `dlrun.config.schema.ConfigBase` with `model` a discriminated union of
the kinds in `dlrun.models.MODELS` (on `kind`; `python:file.py:fn` is the `python` kind)
and `data` one of the sources in `dlrun.data.sources.SOURCES` (on `source`). Both unions
are built from the registries, so a new kind or source needs no edit here. The rules
only the registries can judge (does the kind accept what the source gives?) live here
too, above the layers they read. `load_config` and `validate` are the loader's, bound to
this schema. No TensorFlow here.

Example:

```python
loaded = load_config("configs/imdb.yaml", overrides=["train.epochs=4"])
loaded.config.model.describe()   # 'mlp 16-16'
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from dlrun.config import loader
from dlrun.config.loader import LoadedConfig
from dlrun.config.schema import ConfigBase, KeyPath, KeyTag, tagged_union
from dlrun.contracts import TASKS, contract_for
from dlrun.contracts import kind_problems as contract_kind_problems
from dlrun.data.sources import SOURCES
from dlrun.models import MODELS, kind_tag

DEFAULT_KIND = "mlp"

ModelUnion = tagged_union(
    {name: kind.config for name, kind in MODELS.items()},
    key="kind",
    tag=KeyTag("kind", kind_tag, default=DEFAULT_KIND),
)
DataUnion = tagged_union({name: source.config for name, source in SOURCES.items()}, key="source")


class DlrunConfig(ConfigBase):
    """A whole experiment."""

    # the tasks of the training contracts (each says what a batch is, how the model is
    # compiled, scored and drawn)
    task: Literal[tuple(TASKS)]  # type: ignore[valid-type]
    data: DataUnion = Field(description="Where the data comes from; the keys follow data.source.")
    model: ModelUnion = Field(
        default_factory=MODELS[DEFAULT_KIND].config,
        description="The network body; the keys follow model.kind. The head follows the task.",
    )

    def kind_problems(self) -> list[str]:
        contract = contract_kind_problems(self.task, kind_tag(self.model.kind))
        if contract:
            return contract
        return [
            *contract_for(self.task).problems(self),
            *self._input_kind_problems(),
            *self._word_vector_problems(),
        ]

    def default_metric(self) -> str:
        return contract_for(self.task).default_metric(self)

    def task_metrics(self) -> list[str]:
        return contract_for(self.task).metrics(self)

    def _word_vector_problems(self) -> list[str]:
        embedding = getattr(self.model, "embedding", None)
        if getattr(embedding, "weights", None) is None or self.data.gives_words:
            return []
        if SOURCES[self.data.source].representation(self.data) == "series":
            return [
                "model.embedding.weights gives word vectors, but the data are time-series "
                "windows, with no words to embed. Remove model.embedding.weights."
            ]
        return [
            f"model.embedding.weights needs each token id's word to find its vector, and "
            f"{self.data.describe()} gives ids without their words. Give the raw text "
            "(data.source: text_dir, or csv with data.text_columns) with data.text.output: "
            "int, or remove model.embedding.weights."
        ]

    def _input_kind_problems(self) -> list[str]:
        kind = MODELS[kind_tag(self.model.kind)]
        given = SOURCES[self.data.source].representation(self.data)
        if given is None or given in kind.accepts:
            return []
        # only kinds this task trains: a vae takes images too, but not for a classifier
        takers = [
            n
            for n, k in MODELS.items()
            if given in k.accepts and n != "python" and not contract_kind_problems(self.task, n)
        ]
        use = f" Use model.kind: {' or '.join(takers)}." if takers else ""
        if given == "multi_hot" and "sequence" in kind.accepts:
            # the data can be given in order: that is the fix, not another model
            use = (
                f" A {self.model.kind} reads word order: give it ordered token ids with "
                "data.text.output: int (text_dir) or data.vectorize: sequence and data.maxlen "
                f"(keras.imdb, keras.reuters), or use model.kind: {' or '.join(takers)}."
            )
        return [
            f"model.kind '{self.model.kind}' does not accept {given} input, which data.source "
            f"'{self.data.source}' gives; it accepts {', '.join(kind.accepts)}.{use}"
        ]


def load_config(
    path: str | Path,
    overrides: list[str] | tuple[str, ...] = (),
    extra_files: list[str | Path] | tuple[str | Path, ...] | list[Path] = (),
    *,
    inputs: bool = True,
) -> LoadedConfig:
    """Read `path` (then each of `extra_files` layered on top), apply overrides, validate;
    with `inputs`, also look at the files the config names (`dlrun.config.checks`)."""
    return loader.load_config(DlrunConfig, path, overrides, extra_files, inputs=inputs)


def validate(
    raw: dict[str, Any],
    origins: dict[KeyPath, str] | None = None,
    sources: list[Path] | None = None,
) -> LoadedConfig:
    """Validate a raw mapping (e.g. a sweep trial's config); raise ConfigError if it is wrong."""
    return loader.validate(DlrunConfig, raw, origins, sources)
