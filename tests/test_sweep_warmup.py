"""The sweep's pruner waits a share of the epochs, and the importances say what they rest on."""

from __future__ import annotations

import copy

from conftest import TINY_CONFIG

from dlrun.spec import DlrunConfig
from dlrun.sweep.study import warmup_epochs


def sweep_config(epochs: int, **sweep) -> DlrunConfig:
    config = copy.deepcopy(TINY_CONFIG)
    config["train"]["epochs"] = epochs
    config["sweep"] = {"space": {"model.dropout": {"float": [0.0, 0.5]}}, **sweep}
    return DlrunConfig.model_validate(config)


def test_the_default_warmup_is_a_share_of_the_epochs_not_one_epoch() -> None:
    # Pruned after epoch 1, trials with a low learning rate never got a chance.
    assert warmup_epochs(sweep_config(20)) == 6
    assert warmup_epochs(sweep_config(10)) == 3
    assert warmup_epochs(sweep_config(2)) == 1
    assert warmup_epochs(sweep_config(20, warmup_epochs=2)) == 2


def test_a_sweep_says_when_its_pruner_starts_and_what_importances_rest_on(
    write_config, cli, runs_dir
) -> None:
    config = copy.deepcopy(TINY_CONFIG)
    config["train"].update(epochs=5, tensorboard=False)
    config["sweep"] = {
        "trials": 2,
        "startup_trials": 2,
        "space": {"train.optimizer.learning_rate": {"float": [0.001, 0.01], "log": True}},
    }
    code, out, err = cli("sweep", write_config(config))
    assert code == 0, err
    assert "median pruner (from epoch 3)" in out
    assert "importance.png rests on 2 completed trials" in err
