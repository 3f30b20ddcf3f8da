"""The workflow's pure parts, on numbers checked by hand: baselines, verdicts, K-fold
averaging, the stage plan and the workflow section's config checks. No TensorFlow."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlrun.errors import ConfigError, UsageError
from dlrun.objective import Objective
from dlrun.spec import validate
from dlrun.training import mean_curves
from dlrun.workflow.baselines import (
    compute_baselines,
    majority_class,
    mean_of_train,
    reference,
    shuffled_labels,
)
from dlrun.workflow.stages import plan
from dlrun.workflow.verdicts import overfitting, verdict


def test_majority_class_is_scored_on_validation_with_the_training_majority() -> None:
    # train says 0 is the majority; 3 of the 4 validation labels are 0
    assert majority_class(np.array([0, 0, 1]), np.array([0, 1, 0, 0])) == {"accuracy": 0.75}
    # the validation split's own majority (1) does not matter: the guess comes from train
    assert majority_class(np.array([0, 0, 1]), np.array([1, 1, 1, 0]))["accuracy"] == 0.25


def test_majority_class_multilabel_uses_each_labels_most_frequent_value() -> None:
    train = np.array([[1, 0], [1, 0], [0, 1]])
    val = np.array([[1, 0], [0, 0]])  # guess [1, 0]: 3 of 4 label values right
    assert majority_class(train, val)["binary_accuracy"] == 0.75


def test_shuffled_labels_is_the_random_classifier_expectation_exactly() -> None:
    assert shuffled_labels(np.zeros(5), np.zeros(50)) == {"accuracy": 1.0}
    balanced = np.repeat(np.arange(4), 250)  # expectation sum p_k^2 = 4 * (1/4)^2
    assert shuffled_labels(balanced, balanced)["accuracy"] == pytest.approx(0.25, rel=1e-12)
    skewed = np.array([0] * 800 + [1] * 200)  # 0.8^2 + 0.2^2 = 0.68
    assert shuffled_labels(skewed, skewed)["accuracy"] == pytest.approx(0.68, rel=1e-12)
    # multilabel: each label's own expectation, averaged: (0.625 + 0.5) / 2
    rows = np.array([[1, 0], [0, 0], [1, 1], [1, 1]])
    assert shuffled_labels(rows, rows)["binary_accuracy"] == pytest.approx(0.5625, rel=1e-12)
    # what it is the expectation of: the mean accuracy over many shuffles comes to it
    rng = np.random.default_rng(0)
    drawn = np.mean([(skewed == skewed[rng.permutation(1000)]).mean() for _ in range(4000)])
    assert shuffled_labels(skewed, skewed)["accuracy"] == pytest.approx(drawn, abs=0.002)
    # no labels: no number, for a single label and for multilabel rows alike
    assert math.isnan(shuffled_labels(np.zeros(0), np.zeros(0))["accuracy"])
    assert math.isnan(shuffled_labels(rows, np.zeros((0, 2)))["binary_accuracy"])


def test_mean_of_train_predicts_the_training_mean() -> None:
    metrics = mean_of_train(np.array([1.0, 3.0]), np.array([0.0, 4.0]))  # predicts 2
    assert metrics["mae"] == 2.0
    assert metrics["mse"] == 4.0


def test_baselines_average_over_folds_and_pick_the_strongest_reference() -> None:
    portions = [(np.array([0.0, 2.0]), np.array([1.0])), (np.array([4.0]), np.array([0.0]))]
    values = compute_baselines("regression", "auto", portions)
    assert values["mean"]["mae"] == pytest.approx((0 + 4) / 2)  # fold MAEs 0 and 4
    labels = np.array([0, 0, 0, 1])
    values = compute_baselines("binary", "auto", [(labels, labels)])
    assert set(values) == {"majority", "shuffled"}
    assert reference(values, Objective.of("val_accuracy")) == ("majority", 0.75)
    assert compute_baselines("binary", "none", [(labels, labels)]) == {}


def _curves(val_loss: list[float], loss: list[float]) -> dict[str, list[float]]:
    n = len(loss)
    return {
        "loss": loss,
        "val_loss": val_loss,
        "accuracy": [0.7 + 0.05 * i for i in range(n)],
        "val_accuracy": [0.7] * n,
    }


def test_overfitting_is_the_epoch_validation_loss_turns_while_training_loss_falls() -> None:
    curves = _curves([0.5, 0.4, 0.35, 0.4, 0.5], [0.5, 0.4, 0.3, 0.2, 0.1])
    found = overfitting(curves, "val_accuracy")
    assert found.overfits and found.after_epoch == 3
    assert found.gap == pytest.approx(0.9 - 0.7)  # train minus val accuracy at the last epoch


def test_no_overfitting_while_validation_loss_still_falls_or_barely_moves() -> None:
    falling = _curves([0.5, 0.4, 0.3, 0.25], [0.5, 0.4, 0.3, 0.2])
    assert not overfitting(falling, "val_accuracy").overfits
    one_epoch_up = _curves([0.5, 0.4, 0.3, 0.35], [0.5, 0.4, 0.3, 0.2])
    assert not overfitting(one_epoch_up, "val_accuracy").overfits  # needs 2 epochs after
    flat = _curves([0.5, 0.4, 0.400, 0.4001], [0.5, 0.4, 0.3, 0.2])
    assert not overfitting(flat, "val_accuracy").overfits  # within the 1 % noise band


def test_verdicts_say_what_a_practitioner_would() -> None:
    over = overfitting(
        _curves([0.5, 0.4, 0.35, 0.4, 0.5], [0.5, 0.4, 0.3, 0.2, 0.1]), "val_accuracy"
    )
    none = overfitting(_curves([0.5, 0.4, 0.3], [0.5, 0.4, 0.3]), "val_accuracy")
    accuracy = Objective.of("val_accuracy")
    text = verdict("overfit", 0.88, accuracy, over, ("majority", 0.5), best_so_far=False)
    assert text == "beats baseline by 0.38; overfits after epoch 3 (gap 0.2)"
    text = verdict("overfit", 0.88, accuracy, none, ("majority", 0.5), best_so_far=True)
    assert "does not overfit yet: scale up" in text and text.endswith("best so far")
    # lower is better for an error: 7.1 MAE against a 6.5 mean predictor does not beat it
    text = verdict("small", 7.1, Objective.of("val_mae"), none, ("mean", 6.5), best_so_far=False)
    assert text == "does not beat the baseline (7.1 vs 6.5)"


def test_kfold_curves_average_per_epoch_up_to_the_shortest_fold() -> None:
    folds = [
        {"val_mae": [3.0, 2.0, 1.0, 2.0], "mae": [4.0, 3.0, 2.0, 1.0]},
        {"val_mae": [5.0, 4.0, 3.0, 1.0], "mae": [6.0, 5.0, 4.0, 3.0]},
        {"val_mae": [4.0, 3.0, 2.0], "mae": [5.0, 4.0, 3.0]},  # stopped early
    ]
    averaged = mean_curves(folds)
    assert averaged["val_mae"] == [4.0, 3.0, 2.0]
    assert averaged["mae"] == [5.0, 4.0, 3.0]


BASE = {
    "name": "t",
    "task": "binary",
    "data": {"source": "sklearn.breast_cancer"},
    "model": {"units": [16, 16]},
}


def _config(workflow: dict, **extra: object):
    return validate({**BASE, **extra, "workflow": workflow}).config


def test_shorthand_plan_names_and_merges_stages() -> None:
    config = _config(
        {
            "overfit": {"model": {"units": [512, 512]}},
            "regularize": [{"model": {"dropout": 0.5}}, {"model": {"dropout": 0.3}}],
        }
    )
    stages = plan(config)
    assert [(s.name, s.role) for s in stages] == [
        ("small", "small"),
        ("overfit", "overfit"),
        ("dropout", "regularize"),
        ("dropout-2", "regularize"),
    ]
    assert stages[1].resolve().model.describe() == "mlp 512-512"
    assert stages[3].resolve().model.describe() == "mlp 16-16 + dropout 0.3"
    assert stages[3].resolve().workflow is None  # a stage is a single training
    assert [s.name for s in plan(config, only="overfit")] == ["overfit"]
    with pytest.raises(UsageError, match="no such stage; this config has small, overfit"):
        plan(config, only="bigger")


def test_explicit_stages_and_deep_merged_train_overrides() -> None:
    config = _config(
        {"stages": [{"name": "fast", "role": "small", "train": {"optimizer": {"name": "adam"}}}]},
        train={"optimizer": {"name": "rmsprop", "learning_rate": 0.01}},
    )
    (stage,) = plan(config)
    optimizer = stage.resolve().train.optimizer
    assert (optimizer.name, optimizer.learning_rate) == ("adam", 0.01)


@pytest.mark.parametrize(
    ("workflow", "extra", "message"),
    [
        ({"overfit": {"model": {"unit": [8]}}}, {}, "workflow stage 'overfit': model.unit"),
        (
            {"stages": [{"name": "a"}], "regularize": [{"model": {"dropout": 0.5}}]},
            {},
            "workflow.stages replaces the shorthand",
        ),
        (
            {"final": "keep_best"},
            {"data": {"source": "sklearn.breast_cancer", "validation": {"kfold": 3}}},
            "needs a holdout validation set",
        ),
        ({"baseline": "mean"}, {}, "workflow.baseline 'mean' is for regression"),
        ({"metric": "val_mae"}, {}, "use one of: val_loss, val_accuracy"),
        ({"stages": [{"name": "final"}]}, {}, "'final' is reserved"),
    ],
)
def test_workflow_config_mistakes_are_caught_before_training(
    workflow: dict, extra: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _config(workflow, **extra)


def test_choice_is_the_best_validation_score_and_with_kfold_the_one_standard_error_rule() -> None:
    from dlrun.workflow.runner import choose

    stages = {
        "small": {"status": "completed", "score": 2.15, "score_std": 0.3, "params": 5000},
        "overfit": {"status": "completed", "score": 2.08, "score_std": 0.3, "params": 140000},
        "l2": {"status": "completed", "score": 2.40, "score_std": 0.3, "params": 5000},
        "broken": {"status": "failed"},
    }
    assert choose(stages, Objective.of("val_mae")) == "overfit"  # holdout: the best score
    # 4 folds: SE = 0.3 / 2 = 0.15; small (2.15) is within 2.08 + 0.15 with far fewer weights
    assert choose(stages, Objective.of("val_mae"), folds=4) == "small"
    # 100 folds: SE = 0.03, so only the best itself is close enough
    assert choose(stages, Objective.of("val_mae"), folds=100) == "overfit"
    assert choose({"broken": {"status": "failed"}}, Objective.of("val_accuracy")) is None
