"""Training: one fit (`fit_model`) and the one stage path over portions (`train_stage`).

A single `dlrun train`, a workflow stage and a sweep trial all train through
`train_stage`; the workflow's final retrain calls `fit_model` directly (no validation,
a fixed epoch count). TensorFlow is imported only when a fit starts.
"""

from dlrun.training.fit import (
    Fit,
    compiled_model,
    fit_model,
    make_optimizer,
)
from dlrun.training.stage import (
    SINGLE_STAGE,
    FoldRecord,
    StageHooks,
    StageRecord,
    best_model_file,
    mean_curves,
    stage_curves,
    train_stage,
)

__all__ = [
    "SINGLE_STAGE",
    "Fit",
    "FoldRecord",
    "StageHooks",
    "StageRecord",
    "best_model_file",
    "compiled_model",
    "fit_model",
    "make_optimizer",
    "mean_curves",
    "stage_curves",
    "train_stage",
]
