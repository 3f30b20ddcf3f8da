"""The config schema: one typed class per section (the Ludwig pattern).

Cross-field rules (task vs. loss vs. activation, validation protocol) live in
`dlrun.config.checks`, apart from the field types. `DlrunConfig.model_json_schema()`
is what `dlrun schema` prints for editors.

Example:

```python
config = DlrunConfig.model_validate({"name": "digits", "task": "multiclass",
                                     "data": {"source": "sklearn.digits"}})
config.train.epochs  # 10
```
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from dlrun.tasks import higher_is_better

Task = Literal["binary", "multiclass", "multilabel", "regression"]


def section_in(annotation: Any) -> Any:
    """The section class inside a field's annotation (through unions and Optional), `dict`
    for a free-form mapping, or None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if annotation is dict or getattr(annotation, "__origin__", None) is dict:
        return dict
    for arg in getattr(annotation, "__args__", ()):
        found = section_in(arg)
        if found is not None:
            return found
    return None


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are checked strictly."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


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


class DataConfig(Section):
    """Where the data comes from and how it is prepared for the model."""

    source: str = Field(
        description=(
            "Data source: keras.{imdb,reuters,mnist,fashion_mnist,cifar10,boston_housing}, "
            "sklearn.{digits,breast_cancer,iris,wine,diabetes}, csv, npz."
        )
    )
    path: str | None = Field(
        None, description="Local file: a copy of a Keras dataset file, a CSV, or an .npz."
    )
    num_words: int | None = Field(
        None, ge=3, description="Keep the N most frequent words (imdb, reuters)."
    )
    vectorize: Literal["auto", "multi_hot"] = Field(
        "auto", description="Token sequences: multi_hot builds sparse multi-hot vectors on the fly."
    )
    labels: Literal["sparse", "one_hot"] = Field(
        "sparse", description="Multiclass labels as integers or one-hot vectors."
    )
    normalize: bool | None = Field(
        None,
        description="Standardize features with mean/std fitted on the training split "
        "(default: on for tabular data).",
    )
    scale: float | None = Field(
        None, description="Multiply inputs by this (default 1/255 for 8-bit images)."
    )
    flatten: bool | None = Field(
        None, description="Flatten images to vectors (default: for mlp models)."
    )
    limit: int | None = Field(
        None, ge=1, description="Use only the first N training and N test samples."
    )
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="Test share for sources without a test split (csv, sklearn)."
    )
    target: str | None = Field(None, description="CSV: the target column.")
    drop: list[str] = Field(default_factory=list, description="CSV: columns to ignore.")
    categorical: list[str] | None = Field(
        None, description="CSV: columns to one-hot encode (default: the non-numeric ones)."
    )
    delimiter: str = Field(",", description="CSV: field delimiter.")
    validation: ValidationConfig = Field(default_factory=lambda: ValidationConfig(fraction=0.2))


class ModelConfig(Section):
    """The network body; the head (last layer) follows from the task."""

    kind: str = Field(
        "mlp", description="Model builder: mlp, convnet, or python:path/file.py:function."
    )
    units: list[int] = Field(
        default_factory=lambda: [64, 64], description="Hidden Dense layer sizes."
    )
    activation: str = Field("relu", description="Hidden-layer activation.")
    dropout: float | list[float] = Field(
        0.0, description="Dropout rate after each hidden layer (one value or one per layer)."
    )
    l1: float | list[float] = Field(0.0, description="L1 weight penalty (global or per layer).")
    l2: float | list[float] = Field(0.0, description="L2 weight penalty (global or per layer).")
    filters: list[int] = Field(
        default_factory=lambda: [32, 64, 64], description="convnet: filters per conv block."
    )
    kernel_size: int = Field(3, ge=1, description="convnet: kernel size.")
    pool_size: int = Field(2, ge=1, description="convnet: max-pooling size between blocks.")
    output_activation: Literal["auto", "sigmoid", "softmax", "linear"] = Field(
        "auto", description="Last-layer activation; auto follows the task."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Extra keyword arguments for a python: builder."
    )


class OptimizerConfig(Section):
    name: str = Field("rmsprop", description="Keras optimizer name (rmsprop, adam, sgd, ...).")
    learning_rate: float = Field(0.001, gt=0)
    momentum: float | None = Field(None, ge=0, description="sgd / rmsprop momentum.")


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
    metrics: list[str] | None = Field(None, description="Metrics; default follows the task.")
    batch_size: int = Field(32, ge=1)
    epochs: int = Field(10, ge=1)
    early_stopping: EarlyStoppingConfig | None = Field(
        None, description="Stop when the monitored metric stops improving."
    )
    tensorboard: bool = Field(True, description="Write TensorBoard events under the run.")
    checkpoint: bool = Field(True, description="Keep the best model by validation loss.")
    terminate_on_nan: bool = True

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


class WorkflowConfig(Section):
    """The universal workflow: baseline -> small -> overfit -> regularize -> final on test.

    Either the shorthand (`overfit` and `regularize`, after a `small` stage that is the
    base config itself) or an explicit `stages` list.
    """

    baseline: Literal["auto", "majority", "shuffled", "mean", "none"] = Field(
        "auto",
        description="Common-sense baseline: auto (majority class and shuffled labels for "
        "classification, mean of train for regression), one of them, or none.",
    )
    metric: str | None = Field(
        None,
        description="Validation metric that picks each stage's best epoch and the best stage "
        "(default: val_ + the task's first metric, e.g. val_accuracy, val_mae).",
    )
    overfit: OverfitConfig | None = Field(None, description="Shorthand: the scaled-up stage.")
    regularize: list[StageConfig] = Field(
        default_factory=list, description="Shorthand: regularized variants of the base config."
    )
    stages: list[StageConfig] | None = Field(
        None, description="Explicit stages instead of the shorthand (small/overfit/regularize)."
    )
    final: Literal["retrain", "keep_best"] = Field(
        "retrain",
        description="retrain: the chosen stage on train+validation for its best epoch count; "
        "keep_best: keep the chosen stage's best checkpoint (holdout only).",
    )
    final_models: int = Field(
        1,
        ge=1,
        description="final: retrain N copies (seeds seed, seed+1, ...) and average their "
        "predictions: on small data this removes much of the test error's dependence on one "
        "random initialization (the book's model ensembling).",
    )

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
    metric: str = Field(
        "val_loss", description="Logged metric each trial is scored by, e.g. val_accuracy."
    )
    direction: Literal["auto", "minimize", "maximize"] = Field(
        "auto", description="auto: maximize accuracy/auc/precision/recall, minimize the rest."
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
    warmup_epochs: int = Field(
        1, ge=0, description="Epochs every trial runs before the pruner may stop it."
    )
    space: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Dotted config path -> {choice: [...]} | {float: [lo, hi]} | "
        "{int: [lo, hi]}, with optional log: true or step: S.",
    )

    def maximize(self) -> bool:
        """Whether a higher metric is better (direction, or guessed from the metric's name)."""
        if self.direction != "auto":
            return self.direction == "maximize"
        return higher_is_better(self.metric)


class DlrunConfig(Section):
    """A whole experiment."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Run name (used in run ids).")
    seed: int = Field(1337, description="Seed for Python, NumPy, TensorFlow and data splits.")
    task: Task
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    workflow: WorkflowConfig | None = Field(
        None, description="Walk the universal workflow; without it, train the base model once."
    )
    sweep: SweepConfig | None = Field(
        None, description="Hyperparameter search over sweep.space (dlrun sweep)."
    )
