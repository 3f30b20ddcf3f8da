"""The config schema: one typed class per section (the Ludwig pattern).

This module holds the sections every experiment has (train, workflow, sweep, ...) and the
bases the per-kind sections derive from: `ModelSection` (each model kind's typed config
lives in its module under `dlrun.models`) and `DataSection` (each data source's in its
module under `dlrun.data`). `ConfigBase` is the whole config without `model` and `data`;
`dlrun.spec` adds them as discriminated unions built from the two registries, so this
package never imports the layers above it.

Cross-field rules (task vs. loss vs. activation, validation protocol) live in
`dlrun.config.checks`, apart from the field types.

Example:

```python
from dlrun.spec import DlrunConfig

config = DlrunConfig.model_validate({"name": "digits", "task": "multiclass",
                                     "data": {"source": "sklearn.digits"}})
config.train.epochs  # 10
```
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

from dlrun.errors import ConfigError
from dlrun.objective import Objective
from dlrun.runtime import BACKENDS, HEARTBEAT_SECONDS
from dlrun.tasks import HEAD_TASKS, Labels, head_for

# A key's place in a config: ("train", "optimizer", "name") is train.optimizer.name.
KeyPath = tuple[str, ...]


class KeyTag:
    """Picks a union member by a function of one key's value (`model.kind`'s part before
    ':'), for tags that are not literal values of the key."""

    def __init__(self, key: str, tag: Callable[[str], str], default: str | None = None) -> None:
        self.key, self.tag, self.default = key, tag, default
        self.__name__ = key  # pydantic names the discriminator in its messages

    def __call__(self, value: Any) -> str | None:
        if isinstance(value, dict) or value is None:
            # an absent section is its default member's
            got = (value or {}).get(self.key, self.default)
        else:
            got = getattr(value, self.key, None)
        return self.tag(got) if isinstance(got, str) else None


def tagged_union(members: dict[str, type[BaseModel]], key: str, tag: KeyTag | None = None) -> Any:
    """A discriminated union of section classes, picked by the value of `key`: each class's
    `key` literal lists the values it serves (`members` maps every value to its class), or
    `tag` maps the value to a name of `members` (one class per name)."""
    classes = tuple(dict.fromkeys(members.values()))
    if tag is None:
        return Annotated[typing.Union[classes], Field(discriminator=key)]  # noqa: UP007
    choices = tuple(Annotated[cls, Tag(name)] for name, cls in members.items())
    return Annotated[typing.Union[choices], Discriminator(tag)]  # noqa: UP007


def union_key(info: FieldInfo) -> str | None:
    """The key that picks the member of a `tagged_union` field (kind, source), or None."""
    if isinstance(info.discriminator, str):
        return info.discriminator
    for meta in info.metadata:
        if isinstance(meta, Discriminator) and isinstance(meta.discriminator, KeyTag):
            return meta.discriminator.key
    return None


def union_members(info: FieldInfo) -> dict[str, type[BaseModel]] | None:
    """tag -> section class of a `tagged_union` field, or None for any other field."""
    key = union_key(info)
    if key is None:
        return None
    members: dict[str, type[BaseModel]] = {}
    for arg in typing.get_args(info.annotation):
        cls, *extras = typing.get_args(arg) or (arg,)
        tags = [extra.tag for extra in extras if isinstance(extra, Tag)]
        if not tags:
            tags = [str(v) for v in typing.get_args(cls.model_fields[key].annotation)]
        members.update(dict.fromkeys(tags, cls))
    return members


def union_tag(info: FieldInfo, value: Any) -> str | None:
    """The tag `value` (a mapping or a section) selects in a `tagged_union` field, or None."""
    if isinstance(info.discriminator, str):
        return KeyTag(info.discriminator, str)(value)
    for meta in info.metadata:
        if isinstance(meta, Discriminator) and isinstance(meta.discriminator, KeyTag):
            return meta.discriminator(value)
    return None


def section_in(info: FieldInfo, value: Any = None) -> Any:
    """The section class of a field (through unions and Optional), `dict` for a free-form
    mapping, or None for a plain value. For a discriminated union (`model`, `data`) it is
    the member `value` selects, or None when `value` selects none."""
    members = union_members(info)
    if members is not None:
        return members.get(union_tag(info, value) or "")
    return _section_of(info.annotation)


def without_tags(schema: type[BaseModel], loc: tuple[Any, ...], raw: Any) -> tuple[Any, ...]:
    """A pydantic error location without the member tag it puts after a union field
    (`model.mlp.units` -> `model.units`)."""
    out: list[Any] = []
    cls: Any = schema
    skip: str | None = None
    for part in loc:
        if skip is not None and part == skip:
            skip = None
            continue
        out.append(part)
        raw = raw.get(part) if isinstance(raw, dict) else None
        info = (
            cls.model_fields.get(part) if isinstance(cls, type) and isinstance(part, str) else None
        )
        skip = union_tag(info, raw) if info is not None else None
        cls = section_in(info, raw) if info is not None else None
    return tuple(out)


def other_member_hint(key: str, where: str, info: FieldInfo, value: Any) -> str:
    """ " 'filters' is a convnet key; this model is mlp." when another member of the union
    field `info` has the key that `value`'s member lacks, else ''."""
    tag = union_tag(info, value)
    members = union_members(info) or {}
    owners = [t for t, cls in members.items() if key in cls.model_fields and t != tag]
    if not owners:
        return ""
    if len(owners) > 4:
        shown = f"{', '.join(owners[:3])} and {len(owners) - 3} more"
        return f" '{key}' is a key of {shown}; this {where} is {tag}."
    named = " and ".join([", ".join(owners[:-1]), owners[-1]] if len(owners) > 1 else owners)
    return f" '{key}' is a {named} key; this {where} is {tag}."


def _section_of(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if annotation is dict or getattr(annotation, "__origin__", None) is dict:
        return dict
    for arg in getattr(annotation, "__args__", ()):
        found = _section_of(arg)
        if found is not None:
            return found
    return None


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are checked strictly.

    Numbers are finite (no .inf or .nan: no key means them; a key that did would say
    `Field(allow_inf_nan=True)`), and true or false is never read as the number 1 or 0.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_number(cls, data: Any) -> Any:
        # pydantic's lax mode reads true as 1 for an int or a float: in a config that is a
        # slip (`epochs: true` would train one epoch), never a number
        if not isinstance(data, dict):
            return data
        errors = []
        for key, value in data.items():
            field = cls.model_fields.get(key) if isinstance(key, str) else None
            at = _bool_for_number(annotation_types(field.annotation), value) if field else None
            if at is not None:
                found = value
                for part in at:
                    found = found[part]
                errors.append(InitErrorDetails(type=BOOL_FOR_NUMBER, loc=(key, *at), input=found))
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return data


BOOL_FOR_NUMBER = PydanticCustomError(
    "bool_for_number", "Input should be a number, not true or false"
)


def annotation_types(annotation: Any) -> list[Any]:
    """The types an annotation admits, through unions, Optional and Annotated."""
    if typing.get_origin(annotation) is Annotated:
        return annotation_types(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in annotation_types(arg)]
    return [annotation]


def _bool_for_number(members: list[Any], value: Any) -> tuple[Any, ...] | None:
    """Where `value` holds a bool that the `members` of an annotation would read as a
    number (no bool, nor Any, fits there): () at its top, (1,) for the second item of a
    list, ("x",) in a mapping; None when it holds none."""
    if any(m is Any or m is bool for m in members):
        return None
    if isinstance(value, bool):
        return () if any(m is int or m is float for m in members) else None
    if isinstance(value, list | tuple):
        origins: tuple[Any, ...] = (list, tuple, set)
        inner = [
            arg for m in members if typing.get_origin(m) in origins for arg in typing.get_args(m)
        ]
        items = [a for arg in inner if arg is not Ellipsis for a in annotation_types(arg)]
        found = enumerate(value)
    elif isinstance(value, dict):
        inner = [typing.get_args(m)[1] for m in members if typing.get_origin(m) is dict]
        items = [a for arg in inner for a in annotation_types(arg)]
        found = iter(value.items())
    else:
        return None
    if not items:
        return None
    for key, item in found:
        at = _bool_for_number(items, item)
        if at is not None:
            return (key, *at)
    return None


class ValidationConfig(Section):
    """How the validation data is carved out of the training data.

    Exactly one of `holdout` (a count), `fraction`, `kfold`; the default is a
    seeded 20 % holdout. The test split is never used for validation.
    """

    holdout: int | None = Field(None, ge=1, description="Number of training samples held out.")
    fraction: float | None = Field(
        None, gt=0, lt=1, description="Fraction of training samples held out."
    )
    kfold: int | None = Field(None, ge=2, description="K for K-fold cross-validation.")
    repeats: int = Field(1, ge=1, description="Iterated K-fold: repeats with reshuffling.")
    shuffle: bool = Field(True, description="Shuffle (seeded) before carving the split.")


# NumPy's seeds (RandomState) are 32-bit: the largest seed a run, or a copy of it, can take.
MAX_SEED = 2**32 - 1

# Numeric ranges shared by the model kinds, so `dlrun check` refuses what Keras would.
Rate = Annotated[float, Field(ge=0, lt=1)]
Penalty = Annotated[float, Field(ge=0)]
Units = Annotated[int, Field(ge=1)]


class ModelSection(Section):
    """Keys every model kind has. A kind's module subclasses it with a `kind` literal and
    its own keys; `dlrun.models.MODELS` says which inputs the kind accepts."""

    kind: str = Field(
        description="Model builder: mlp, convnet, pretrained, or python:path/file.py:function."
    )
    output_activation: Literal["auto", "sigmoid", "softmax", "linear"] = Field(
        "auto", description="Last-layer activation; auto follows the task."
    )

    def describe(self) -> str:
        """A short description for tables, e.g. 'mlp 16-16 + dropout 0.5'."""
        return self.kind

    def problems(self) -> list[str]:
        """Rules between this section's keys, each a sentence with its fix."""
        return []

    def input_problems(self) -> list[str]:
        """What a look at the files the section names finds wrong (they are never run)."""
        return []

    def shape_problems(self, shape: tuple[int, ...]) -> list[str]:
        """What is wrong with inputs of `shape` (one sample's, as `DataSection.peek_shape`
        tells it) for this model, found from the files the section names."""
        return []

    def compiles_faster(self) -> bool:
        """Whether XLA speeds this model's train step on TensorFlow where Keras leaves it
        off (a CPU): `train.jit_compile`'s default."""
        return False

    def continues_from(self, earlier: ModelSection) -> bool:
        """Whether a workflow stage of this model starts from the weights that an earlier
        stage of model `earlier` trained (fine-tuning), not from its own initialization."""
        return False


class DataSection(Section):
    """Keys every data source has. A source's module subclasses it with a `source` literal
    and its own keys; `dlrun.data.sources.SOURCES` says which representation it gives."""

    source: str = Field(
        description=(
            "Data source: keras.{imdb,reuters,mnist,fashion_mnist,cifar10,boston_housing}, "
            "sklearn.{digits,breast_cancer,iris,wine,diabetes}, csv, npz, text_dir, image_dir."
        )
    )
    labels: Literal["sparse", "one_hot"] = Field(
        "sparse", description="Multiclass labels as integers or one-hot vectors."
    )
    limit: int | None = Field(
        None,
        ge=1,
        description="Use a sample of N training and N test samples (stratified by label, "
        "seeded; the first N windows of a series).",
    )
    validation: ValidationConfig = Field(default_factory=lambda: ValidationConfig(fraction=0.2))
    target_scale: Literal["standard", "none"] | None = Field(
        None,
        description="Regression only: 'standard' trains on (y - mean) / std of each fit's "
        "training targets, the model's last layer turning its output back into the "
        "target's units (every metric and prediction is in them); 'none' trains on the "
        "targets as they are. Default: standard, none for a time series (its targets are "
        "in the target's units already, less its mean or as changes).",
    )
    cache: bool = Field(
        True,
        description="Keep the loaded data in dlrun's cache ($DLRUN_CACHE_DIR or "
        "~/.cache/dlrun), so later runs memory-map it instead of loading it again.",
    )

    # whether the ids the source gives come with their words (a vocabulary dlrun builds
    # from raw text), which pretrained word vectors need to find each id's vector
    gives_words: ClassVar[bool] = False

    def problems(self) -> list[str]:
        """Rules between this section's keys, each a sentence with its fix."""
        return []

    def training_samples(self) -> int | None:
        """At most how many training samples the source gives, when that is known without
        loading the data (else None): `limit` caps them; a source of a known size may say
        fewer. `dlrun check` holds the validation protocol to it."""
        return self.limit

    def input_files(self) -> list[Path]:
        """The files the source reads, when it reads any: the data cache keys on them."""
        return []

    def input_problems(self) -> list[str]:
        """What a look at the files the section names finds wrong (missing, wrong format)."""
        return []

    def describe(self) -> str:
        """The data as a message names it, e.g. "data.source 'keras.mnist'"."""
        return f"data.source '{self.source}'"

    def peek_labels(self) -> Labels | None:
        """What a cheap look tells about the labels (known data sets, a file's label
        column), or None when only loading the data would tell."""
        return None

    def peek_shape(self) -> tuple[int, ...] | None:
        """The shape of one sample as the model will receive it, when a cheap look tells
        (a file's header), else None."""
        return None


SCHEDULE_KEYS = {
    "cosine": ("warmup_epochs", "decay_epochs", "alpha"),
    "exponential": ("decay_epochs", "decay_rate", "staircase"),
    "reduce_on_plateau": ("monitor", "factor", "patience", "min_delta", "cooldown", "min_lr"),
}


class ScheduleConfig(Section):
    """How the learning rate changes during a fit: Keras's own schedules, given in epochs
    (dlrun turns them into optimizer steps with the fit's steps per epoch).

    `cosine` is keras.optimizers.schedules.CosineDecay (with `warmup_epochs`, a linear
    rise from 0 to the learning rate first), `exponential` is ExponentialDecay, and
    `reduce_on_plateau` is the keras.callbacks.ReduceLROnPlateau callback. Each key applies
    to the schedules `SCHEDULE_KEYS` lists it under.
    """

    name: str = Field(description="cosine, exponential or reduce_on_plateau.")
    warmup_epochs: int = Field(
        0, ge=0, description="cosine: epochs of linear rise from 0 to learning_rate first."
    )
    decay_epochs: int | None = Field(
        None,
        ge=1,
        description="cosine: epochs the decay takes (default: every epoch after the warmup); "
        "exponential: epochs over which the rate is multiplied by decay_rate (default 1).",
    )
    alpha: float = Field(
        0.0, ge=0, le=1, description="cosine: the lowest rate, as a fraction of learning_rate."
    )
    decay_rate: float = Field(0.9, gt=0, lt=1, description="exponential: factor per decay.")
    staircase: bool = Field(
        False, description="exponential: lower the rate in steps, once per decay_epochs."
    )
    monitor: str = Field(
        "val_loss",
        description="reduce_on_plateau: the metric watched (its training twin when there is "
        "no validation data).",
    )
    factor: float = Field(
        0.1, gt=0, lt=1, description="reduce_on_plateau: the rate is multiplied by this."
    )
    patience: int = Field(
        2,
        ge=0,
        description="reduce_on_plateau: epochs without improvement before the rate is "
        "lowered (below train.early_stopping.patience, or training stops first).",
    )
    min_delta: float = Field(
        1e-4, ge=0, description="reduce_on_plateau: the least change that is an improvement."
    )
    cooldown: int = Field(
        0, ge=0, description="reduce_on_plateau: epochs to wait after lowering the rate."
    )
    min_lr: float = Field(0.0, ge=0, description="reduce_on_plateau: the rate's floor.")


class OptimizerConfig(Section):
    name: str = Field("rmsprop", description="Keras optimizer name (rmsprop, adam, sgd, ...).")
    learning_rate: float = Field(0.001, gt=0)
    momentum: float | None = Field(None, ge=0, description="sgd / rmsprop momentum.")
    weight_decay: float | None = Field(
        None,
        ge=0,
        description="Decoupled weight decay of the Keras optimizer (each step, weights shrink "
        "by learning_rate * weight_decay); adamw's own default is 0.004.",
    )
    clipnorm: float | None = Field(
        None, gt=0, description="Clip each weight's gradient to this norm (Keras clipnorm)."
    )
    schedule: ScheduleConfig | None = Field(
        None, description="Change the learning rate during the fit; none keeps it constant."
    )


class EarlyStoppingConfig(Section):
    enabled: bool = True
    monitor: str = "val_loss"
    patience: int = Field(3, ge=0)
    min_delta: float = Field(0.0, ge=0)
    restore_best_weights: bool = True


class TrainConfig(Section):
    """The fit loop and its callbacks."""

    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    loss: str = Field("auto", description="Loss; auto follows the task.")
    metrics: list[str | dict[str, Any]] | None = Field(
        None,
        description="Metrics; default follows the task. A Keras metric name (accuracy, auc, "
        "precision, ...), or one with parameters: {name: auc, curve: PR} (logged as auc_pr), "
        "{name: recall, thresholds: 0.3} (recall_at_0.3).",
    )
    class_weight: Literal["balanced"] | dict[str, Annotated[float, Field(gt=0)]] | None = Field(
        None,
        description="Weigh each class's samples in the training loss (Keras fit's "
        "class_weight; binary and multiclass). balanced: n_samples / (n_classes * "
        "class count), from each fit's training labels; or {class: weight}, a class as the "
        "data names it (a CSV's text label, or the integer label); unnamed classes weigh 1.",
    )
    batch_size: int = Field(32, ge=1)
    epochs: int = Field(10, ge=1)
    early_stopping: EarlyStoppingConfig | None = Field(
        None, description="Stop when the monitored metric stops improving."
    )
    steps_per_execution: int | None = Field(
        None,
        ge=1,
        description="Batches run per compiled call (Keras compile), at most: the largest "
        "divisor of the epoch's steps up to this. The same updates with fewer Python round "
        "trips, which small models spend most time on; per-batch callbacks see every Nth. "
        "Default 32, and 1 on torch, whose Keras trainer runs one batch per call.",
    )
    jit_compile: bool | None = Field(
        None,
        description="Compile the train step with XLA (Keras compile's jit_compile). "
        "Default: Keras's choice (on: JAX; off: torch, and TensorFlow on a CPU), except "
        "that recurrent models (rnn) on TensorFlow compile: IMDB's LSTM trained 1.15x as "
        "fast on a 2-core CPU, for ~200 MB more peak RSS (false saves it). Not for sparse "
        "inputs under TensorFlow.",
    )
    precision: Literal["float32", "mixed_float16", "mixed_bfloat16"] = Field(
        "float32",
        description="Keras's dtype policy for the model's layers: mixed_* computes in "
        "float16/bfloat16 with float32 weights; the head stays float32, so losses and "
        "probabilities are float32. mixed_float16 (with loss scaling) is for GPUs with "
        "float16 units: on CPU it is far slower (a small MNIST convnet ~150x); mixed_bfloat16 "
        "suits TPUs, recent GPUs and CPUs with bfloat16 instructions (AMX/AVX512-BF16).",
    )
    tensorboard: bool = Field(True, description="Write TensorBoard events under the run.")
    checkpoint: bool = Field(
        True,
        description="Keep the weights of the best epoch in checkpoint.keras: best by the "
        "run's objective (objective.metric; default val_ + the task's first metric, e.g. "
        "val_accuracy or val_mae), not by val_loss unless that is the objective. Needs "
        "validation data.",
    )
    terminate_on_nan: bool = True

    @field_validator("class_weight", mode="before")
    @classmethod
    def _class_names_as_text(cls, value: Any) -> Any:
        # YAML reads `{0: 1, 1: 5}` with integer keys and `{yes: 5}` with a boolean key;
        # classes are matched by their text, and a boolean names no class.
        if not isinstance(value, dict):
            return value
        for key in value:
            if isinstance(key, bool) or not isinstance(key, int | str):
                raise PydanticCustomError(
                    "class_name",
                    "a class is named by its label, but {key} is not one; quote it "
                    "(YAML reads yes/no/true/false unquoted as booleans)",
                    {"key": repr(key)},
                )
        return {str(key): weight for key, weight in value.items()}

    @field_validator("early_stopping", mode="before")
    @classmethod
    def _early_stopping_flag(cls, value: Any) -> Any:
        # `early_stopping: true` means the defaults, `false` means none.
        if value is True:
            return {}
        if value is False:
            return None
        return value


STAGE_NAME = r"^[A-Za-z0-9_.-]+$"


class StageConfig(Section):
    """One workflow stage: `model` and `train` keys merged over the base config."""

    name: str | None = Field(
        None, pattern=STAGE_NAME, description="Stage name (default: from its role or its keys)."
    )
    role: Literal["small", "overfit", "regularize"] = Field(
        "regularize",
        description="small: must beat the baseline; overfit: must overfit; regularize: tune.",
    )
    model: dict[str, Any] = Field(default_factory=dict, description="model keys to override.")
    train: dict[str, Any] = Field(default_factory=dict, description="train keys to override.")


class OverfitConfig(Section):
    """The scaled-up stage of the shorthand: `overfit: {model: {units: [512, 512, 512]}}`."""

    model: dict[str, Any] = Field(default_factory=dict, description="model keys to override.")
    train: dict[str, Any] = Field(default_factory=dict, description="train keys to override.")


class FinalConfig(Section):
    """`workflow.final` as a mapping: the mode, and how many of the best stages to average."""

    mode: Literal["retrain", "keep_best"] = Field(
        "retrain", description="retrain or keep_best, as `final: retrain | keep_best` says."
    )
    ensemble: int = Field(
        1,
        ge=1,
        description="Average the K best stages (by the objective, as the one stage is chosen): "
        "each made as `mode` makes the chosen stage's model, the final model outputting the "
        "mean of their outputs (the book's model ensembling, across architectures).",
    )


class WorkflowConfig(Section):
    """The universal workflow: baseline -> small -> overfit -> regularize -> final on test.

    Either the shorthand (`overfit` and `regularize`, after a `small` stage that is the
    base config itself) or an explicit `stages` list.
    """

    baseline: Literal[
        "auto", "majority", "shuffled", "mean", "persistence", "seasonal_naive", "none"
    ] = Field(
        "auto",
        description="Common-sense baseline: auto (majority class and shuffled labels for "
        "classification, mean of train for regression, persistence and seasonal_naive for "
        "a time series), one of them, or none.",
    )
    overfit: OverfitConfig | None = Field(None, description="Shorthand: the scaled-up stage.")
    regularize: list[StageConfig] = Field(
        default_factory=list, description="Shorthand: regularized variants of the base config."
    )
    stages: list[StageConfig] | None = Field(
        None, description="Explicit stages instead of the shorthand (small/overfit/regularize)."
    )
    # The plain word stays a word (not a FinalConfig) so the configs runs save read as before.
    final: Literal["retrain", "keep_best"] | FinalConfig = Field(
        "retrain",
        description="retrain: the chosen stage on train+validation for its best epoch count; "
        "keep_best: keep the chosen stage's best checkpoint (holdout only); "
        "{mode: retrain | keep_best, ensemble: K}: the same for the K best stages, averaged.",
    )
    final_models: int = Field(
        1,
        ge=1,
        description="final: retrain N copies (seeds seed, seed+1, ...) and average their "
        "predictions: on small data this removes much of the test error's dependence on one "
        "random initialization (the book's model ensembling). With final.ensemble, each "
        "member N times, all averaged.",
    )
    threshold: str | float | None = Field(
        None,
        description="Binary tasks: the decision threshold, chosen on the chosen stage's "
        "validation predictions (an ensemble's: its members' averaged; K-fold: out-of-fold) "
        "and used for the test confusion matrix, "
        "evaluate and predict. f1 (the best F1), youden (the best recall minus false-positive "
        "rate), precision@P (the lowest threshold with precision >= P, e.g. precision@0.9), "
        "recall@R (the highest threshold with recall >= R), or a fixed number in (0, 1). "
        "Default: 0.5.",
    )

    @field_validator("final", mode="before")
    @classmethod
    def _final_word(cls, value: Any) -> Any:
        # Against both members of the union pydantic would say "a valid dictionary or
        # instance of FinalConfig" for a misspelled word: say the choices instead.
        if isinstance(value, dict | FinalConfig) or value in ("retrain", "keep_best"):
            return value
        raise PydanticCustomError(
            "literal_error",
            "Input should be 'retrain', 'keep_best' or {mode: retrain | keep_best, ensemble: K}",
        )

    @property
    def final_mode(self) -> str:
        """retrain or keep_best, whichever form `final` takes."""
        return self.final if isinstance(self.final, str) else self.final.mode

    @property
    def ensemble(self) -> int:
        """How many of the best stages the final model averages (1: the chosen one alone)."""
        return 1 if isinstance(self.final, str) else self.final.ensemble

    def planned(self) -> list[StageConfig]:
        """The stages in order, each with its name resolved (unique, directory-safe)."""
        if self.stages is not None:
            entries = [(s, s.name or s.role) for s in self.stages]
        else:
            entries = [(StageConfig(role="small"), "small")]
            if self.overfit is not None:
                overfit = StageConfig(role="overfit", **self.overfit.model_dump())
                entries.append((overfit, "overfit"))
            entries += [
                (s, s.name or "-".join([*s.model, *s.train]) or "regularize")
                for s in self.regularize
            ]
        planned, seen = [], set()
        for stage, name in entries:
            unique, n = name, 2
            while unique in seen:
                unique, n = f"{name}-{n}", n + 1
            seen.add(unique)
            planned.append(stage.model_copy(update={"name": unique}))
        return planned


class SweepConfig(Section):
    """Hyperparameter search for `dlrun sweep` (Optuna): what to vary and how to score it.

    `space` maps dotted config paths (as in command-line overrides) to a spec:
    `{choice: [...]}`, `{float: [low, high]}` or `{int: [low, high]}`, with optional
    `log: true` or `step: S`. The checks are in `dlrun.config.checks`.
    """

    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Sweep name: its directory runs/sweeps/<name>/ and study (default: name).",
    )
    sampler: Literal["tpe", "random", "grid"] = Field("tpe", description="Optuna sampler.")
    pruner: Literal["median", "hyperband", "none"] = Field(
        "median", description="Stop unpromising trials early, judged by the metric each epoch."
    )
    trials: int = Field(20, ge=1, description="Trials in the study (finished, pruned or failed).")
    startup_trials: int | None = Field(
        None,
        ge=0,
        description="Trials sampled at random and never pruned before TPE and the pruner "
        "start (default: a quarter of the trials, between 2 and 10).",
    )
    warmup_epochs: int | None = Field(
        None,
        ge=0,
        description="Epochs every trial runs before the pruner may stop it (default: 30 % "
        "of train.epochs, as in Optuna's own MedianPruner example, at least 1).",
    )
    space: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Dotted config path -> {choice: [...]} | {float: [lo, hi]} | "
        "{int: [lo, hi]}, with optional log: true or step: S.",
    )


class ObjectiveConfig(Section):
    """What "better" means for the whole run, decided here once.

    The metric picks each fit's best epoch and checkpoint, each stage's score, the
    workflow's stage, a sweep trial's score and the sweep's best trial. A sweep trial's
    config.yaml and the sweep's best.yaml keep this section, so `dlrun train best.yaml`
    selects by the metric the trial was scored by. `workflow.metric`, `sweep.metric` and
    `sweep.direction` are read as this section (`lift_objective`).
    """

    metric: str | None = Field(
        None,
        description="Logged metric that decides which epoch, stage and trial is best "
        "(default: val_ + the task's first metric, e.g. val_accuracy, val_mae).",
    )
    direction: Literal["auto", "minimize", "maximize"] = Field(
        "auto", description="auto: maximize accuracy/auc/precision/recall, minimize the rest."
    )


# Where configs written before the objective had a section of its own name it.
LEGACY_OBJECTIVE_KEYS: tuple[KeyPath, ...] = (
    ("workflow", "metric"),
    ("sweep", "metric"),
    ("sweep", "direction"),
)


def lift_objective(raw: Any) -> Any:
    """`raw` with `workflow.metric`, `sweep.metric` and `sweep.direction` moved into the
    `objective` section (a copy; `raw` itself is left alone).

    Two places that name different metrics (or a direction) are refused: a run has one
    objective, and a sweep that scored by one metric while its best.yaml trained by
    another is the mistake this section exists to prevent.
    """
    if not isinstance(raw, dict):
        return raw
    objective = raw.get("objective")
    if isinstance(objective, str):  # `objective: val_auc` is short for its metric
        objective = {"metric": objective}
    elif not isinstance(objective, dict | None):
        return raw  # the schema names the wrong type
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    lifted = dict(objective or {})
    said = {key: "objective." + key for key in lifted}
    for section, key in LEGACY_OBJECTIVE_KEYS:
        part = raw.get(section)
        if not isinstance(part, dict) or key not in part:
            continue
        value = part.pop(key)
        name = "metric" if key == "metric" else "direction"
        if name in lifted and lifted[name] != value:
            raise ConfigError(
                f"{said[name]} is {lifted[name]!r} but {section}.{key} is {value!r}: a run has "
                "one objective, used by the workflow, the sweep and best.yaml alike.",
                hint=f"Give it once, as objective.{name}.",
            )
        lifted[name], said[name] = value, f"{section}.{key}"
    if lifted:
        raw["objective"] = lifted
    return raw


class DistributeConfig(Section):
    """Data-parallel training on the backend's own mechanism."""

    strategy: Literal["data_parallel", "mirrored"] = Field(
        description="data_parallel: keras.distribution.DataParallel (JAX; one process over "
        "several devices, or several processes with --processes/--process-id/--coordinator); "
        "mirrored: tf.distribute.MirroredStrategy over this machine's devices (TensorFlow)."
    )
    devices: int | None = Field(
        None,
        ge=1,
        description="Devices to train over, across all processes (default: all the backend "
        "sees). On a CPU without accelerators, the CPU is split into this many devices.",
    )
    heartbeat_seconds: int = Field(
        HEARTBEAT_SECONDS,
        ge=1,
        description="With several processes: how long a silent one is waited for before the "
        "others stop with an error (JAX's coordination service; its default is 100).",
    )


class ConfigBase(Section):
    """A whole experiment but its `model` and `data`, which `dlrun.spec.DlrunConfig` adds
    as discriminated unions over the registered kinds and sources."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Run name (used in run ids).")
    seed: int = Field(
        1337,
        ge=0,
        le=MAX_SEED,
        description="Seed for Python, NumPy, TensorFlow and data splits (0 to 2**32 - 1).",
    )
    # the values are the training contracts' (`dlrun.spec` narrows it to them)
    task: str = Field(description="What is learned: binary, multiclass, regression, ...")
    data: DataSection
    model: ModelSection
    train: TrainConfig = Field(default_factory=TrainConfig)
    backend: Literal[tuple(BACKENDS)] | None = Field(  # type: ignore[valid-type]
        None,
        description="The Keras backend that trains: tensorflow, jax or torch (default: "
        "$KERAS_BACKEND, else tensorflow). dlrun train writes the one it used here.",
    )
    distribute: DistributeConfig | None = Field(
        None, description="Data-parallel training over several devices; absent: one device."
    )
    objective: ObjectiveConfig = Field(
        default_factory=ObjectiveConfig,
        description="The metric (and direction) that decides the best epoch, stage and trial.",
    )
    workflow: WorkflowConfig | None = Field(
        None, description="Walk the universal workflow; without it, train the base model once."
    )
    sweep: SweepConfig | None = Field(
        None, description="Hyperparameter search over sweep.space (dlrun sweep)."
    )

    @model_validator(mode="before")
    @classmethod
    def _lift_objective(cls, raw: Any) -> Any:
        return lift_objective(raw)

    def resolved_objective(self) -> Objective:
        """The run's objective: `objective.metric`, or val_ + the task's first metric."""
        metric = self.objective.metric
        if metric is None:
            metric = self.default_metric()
        return Objective.of(metric, self.objective.direction)

    def default_metric(self) -> str:
        """The objective without `objective.metric`: val_ + the task's first metric (the
        assembled config class asks the task's training contract)."""
        metrics = self.task_metrics()
        return f"val_{metrics[0]}" if metrics else "val_loss"

    def task_metrics(self) -> list[str]:
        """What a fit logs besides the loss (the assembled config class asks the task's
        training contract)."""
        return head_for(self.task, loss=self.train.loss, metrics=self.train.metrics).metrics

    @property
    def has_head(self) -> bool:
        """Whether the task is one of the book's table (`dlrun.tasks`): a last layer, loss
        and metrics that follow it, and labels they are judged against."""
        return self.task in HEAD_TASKS

    def kind_problems(self) -> list[str]:
        """Rules only the registries can judge (a model kind given an input it cannot take);
        the assembled config class overrides this."""
        return []


# The whole-config class a loader is given (dlrun.spec.DlrunConfig), so config/ never
# imports the registries that class is built from.
Schema = type[ConfigBase]
