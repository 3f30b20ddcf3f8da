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

Task = Literal["binary", "multiclass", "multilabel", "regression"]


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


class DlrunConfig(Section):
    """A whole experiment."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="Run name (used in run ids).")
    seed: int = Field(1337, description="Seed for Python, NumPy, TensorFlow and data splits.")
    task: Task
    data: DataConfig
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
