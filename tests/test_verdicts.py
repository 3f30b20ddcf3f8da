"""A stage's verdict from its curves: still improving when training ended (train longer),
and overfitting only when training pulls away from validation by the objective's
direction. Curves checked by hand, then one `dlrun train` whose summary says so."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from conftest import TINY_CONFIG

from dlrun.objective import Objective
from dlrun.workflow.verdicts import (
    STILL_IMPROVING,
    metric_gap,
    overfitting,
    still_improving,
    verdict,
)

ACCURACY = Objective.of("val_accuracy")
MAE = Objective.of("val_mae")

# validation loss bottoms out at epoch 3 and rises for two epochs while training loss falls
TURNING = {"loss": [0.5, 0.4, 0.3, 0.2, 0.1], "val_loss": [0.5, 0.4, 0.35, 0.4, 0.5]}


def _accuracy(train: list[float], val: list[float]) -> dict[str, list[float]]:
    return {**TURNING, "accuracy": train, "val_accuracy": val}


# -- still improving -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "improving"),
    [
        ([0.5, 0.6, 0.7], True),  # the best epoch is the last
        ([0.7], True),  # one epoch: its only epoch is its best
        ([0.80, 0.85, 0.90, 0.89, 0.895], True),  # a dip after the best, rising again
        ([0.80, 0.90, 0.89], True),  # one dip after a best that ends a rise
        ([0.85, 0.88, 0.87, 0.86], False),  # worse at every epoch since the best
        ([0.9, 0.8, 0.8, 0.8], False),  # the best is long past
        ([0.9, 0.9, 0.9], False),  # flat: the first of equals is the best
        ([0.90, 0.91, 0.90, 0.89, 0.905], False),  # best 3 epochs before the end
    ],
)
def test_still_improving_on_a_maximized_metric(values: list[float], improving: bool) -> None:
    assert still_improving({"val_accuracy": values}, ACCURACY) is improving


def test_still_improving_follows_the_objectives_direction() -> None:
    falling = {"val_mae": [3.0, 2.0, 1.5], "val_accuracy": [3.0, 2.0, 1.5]}
    assert still_improving(falling, MAE)  # a falling error is getting better
    assert not still_improving(falling, ACCURACY)  # a falling accuracy is not
    assert not still_improving(falling, Objective.of("val_mae", "maximize"))
    dipped = {"val_mae": [3.0, 2.0, 1.5, 1.6, 1.45, 1.5]}  # best at the end but one
    assert still_improving(dipped, MAE)


def test_a_stage_early_stopping_or_a_pruner_ended_is_not_still_improving() -> None:
    curves = {"val_accuracy": [0.5, 0.6, 0.7]}
    assert not still_improving(curves, ACCURACY, stopped=True)
    assert not still_improving({"val_loss": [0.5, 0.4]}, ACCURACY)  # no objective column
    assert not still_improving({"val_accuracy": [0.5, float("nan")]}, ACCURACY)


# -- overfitting -----------------------------------------------------------------------


def test_overfits_when_the_gap_opens_after_the_best_epoch() -> None:
    # train accuracy climbs away from a flat validation accuracy: gap 0.1 at epoch 3, 0.2 at 5
    found = overfitting(_accuracy([0.7, 0.75, 0.8, 0.85, 0.9], [0.7] * 5), ACCURACY)
    assert found.overfits and found.after_epoch == 3
    assert found.gap == pytest.approx(0.2)


def test_a_negative_gap_is_not_overfitting() -> None:
    # dropout: training (with units dropped) scores below validation, and the loss turns
    curves = _accuracy([0.6, 0.65, 0.7, 0.72, 0.74], [0.7, 0.75, 0.8, 0.8, 0.79])
    found = overfitting(curves, ACCURACY)
    assert not found.overfits and found.after_epoch is None
    assert found.gap == pytest.approx(-0.05)  # reported, and negative: validation does better


def test_a_positive_gap_that_narrows_after_the_best_epoch_is_not_overfitting() -> None:
    curves = _accuracy([0.7, 0.8, 0.9, 0.88, 0.86], [0.7, 0.75, 0.8, 0.8, 0.8])
    assert metric_gap(curves, ACCURACY, 3) == pytest.approx(0.1)
    assert metric_gap(curves, ACCURACY) == pytest.approx(0.06)
    assert not overfitting(curves, ACCURACY).overfits


def test_the_wrong_way_of_a_minimized_metric_is_a_higher_validation_error() -> None:
    # validation error above training error, further apart after epoch 3: overfits
    wider = {**TURNING, "mae": [2.0, 1.5, 1.0, 0.8, 0.6], "val_mae": [2.1, 1.6, 1.2, 1.3, 1.4]}
    found = overfitting(wider, MAE)
    assert found.overfits and found.after_epoch == 3
    assert found.gap == pytest.approx(0.8)  # 1.4 - 0.6: positive means training does better
    # validation error below training error (dropout, or augmentation) while the loss turns
    below = {**TURNING, "mae": [2.0, 1.8, 1.7, 1.6, 1.5], "val_mae": [1.5, 1.2, 1.0, 1.05, 1.1]}
    assert not overfitting(below, MAE).overfits


def test_the_direction_is_the_objectives_not_a_guess_from_the_metric_name() -> None:
    # "kappa" reads as an error to `auto`; the config says higher is better
    curves = {
        **TURNING,
        "kappa": [0.5, 0.6, 0.7, 0.8, 0.9],
        "val_kappa": [0.5, 0.55, 0.6, 0.6, 0.6],
    }
    assert overfitting(curves, Objective.of("val_kappa", "maximize")).overfits
    assert not overfitting(curves, Objective.of("val_kappa")).overfits  # auto: minimize


def test_without_a_training_column_the_losses_gap_decides() -> None:
    rising = {**TURNING, "val_auc_pr": [0.6, 0.7, 0.7, 0.7, 0.7]}  # no train auc_pr logged
    found = overfitting(rising, Objective.of("val_auc_pr"))
    assert found.overfits and found.gap is None  # val_loss 0.5 > loss 0.1, wider than at 3
    dropout = {**rising, "loss": [0.9, 0.8, 0.7, 0.65, 0.6]}  # val_loss below loss throughout
    assert not overfitting(dropout, Objective.of("val_auc_pr")).overfits


# -- the verdict's words ---------------------------------------------------------------


def test_the_verdict_says_train_longer_only_for_a_stage_that_does_not_overfit() -> None:
    none = overfitting(_accuracy([0.5, 0.6, 0.7, 0.8, 0.9], [0.5, 0.6, 0.7, 0.8, 0.9]), ACCURACY)
    text = verdict(
        "small", 0.9, ACCURACY, none, ("majority", 0.5), best_so_far=False, improving=True
    )
    assert text == f"beats baseline by 0.4; {STILL_IMPROVING}"
    text = verdict("overfit", 0.9, ACCURACY, none, None, best_so_far=True, improving=True)
    assert text == (
        "does not overfit yet: scale up (more units/layers/epochs); "
        "still improving at the last epoch: train longer; best so far"
    )
    over = overfitting(_accuracy([0.7, 0.75, 0.8, 0.85, 0.9], [0.7] * 5), ACCURACY)
    text = verdict("overfit", 0.7, ACCURACY, over, None, best_so_far=False, improving=True)
    assert text == "overfits after epoch 3 (gap 0.2), though val_accuracy was still improving"
    assert verdict("small", 0.9, ACCURACY, none, None, best_so_far=False) == ""


# -- end to end ------------------------------------------------------------------------


def test_a_workflow_stopped_while_improving_says_train_longer(
    cli, runs_dir: Path, write_config
) -> None:
    config = copy.deepcopy(TINY_CONFIG)
    config["train"].update(epochs=2, optimizer={"name": "adam", "learning_rate": 0.0005})
    config["objective"] = {"metric": "val_loss"}
    config["workflow"] = {"regularize": [{"model": {"dropout": 0.2}}]}
    code, out, err = cli("train", write_config(config))
    assert code == 0, err
    (run,) = list(runs_dir.iterdir())
    summary = json.loads((run / "summary.json").read_text())
    chosen = summary["stages"][summary["chosen"]]
    assert chosen["best_epoch"] == chosen["epochs_run"] == 2
    assert chosen["still_improving"] is True
    assert STILL_IMPROVING in chosen["verdict"]
    assert all(stage["still_improving"] for stage in summary["stages"].values())
    assert STILL_IMPROVING in out  # in the stage rows the workflow prints
