"""The sweep section: space parsing, Optuna suggestions, and the errors a user sees (no TF)."""

from __future__ import annotations

import copy
from pathlib import Path

import optuna
import pytest
from conftest import TINY_CONFIG

from dlrun.errors import ConfigError
from dlrun.spec import load_config
from dlrun.sweep.space import check_values, grid_size, parse_space, trial_loaded

SPACE = {
    "model.units": {"choice": [[16], [32, 32]]},
    "model.dropout": {"float": [0.0, 0.5]},
    "train.optimizer.learning_rate": {"float": [0.0001, 0.01], "log": True},
    "train.batch_size": {"int": [16, 128], "log": True},
}


def with_sweep(write_config, space: dict, **sweep) -> Path:
    config = copy.deepcopy(TINY_CONFIG)
    config["sweep"] = {"metric": "val_accuracy", "space": space, **sweep}
    return write_config(config)


def test_space_suggestions_are_config_values_and_validate(write_config) -> None:
    loaded = load_config(with_sweep(write_config, SPACE))
    params = parse_space(loaded.config.sweep)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_units = set()
    for _ in range(12):
        trial = study.ask()
        values = {p.path: p.suggest(trial) for p in params}
        config = trial_loaded(loaded.raw, values).config
        assert config.model.units in ([16], [32, 32])  # lists come back as lists
        assert 0.0 <= config.model.dropout <= 0.5
        assert 0.0001 <= config.train.optimizer.learning_rate <= 0.01
        assert isinstance(config.train.batch_size, int) and 16 <= config.train.batch_size <= 128
        assert config.sweep is None  # a trial's config is a plain training config
        seen_units.add(tuple(config.model.units))
        study.tell(trial, 0.5)
    assert seen_units == {(16,), (32, 32)}


def test_grid_covers_every_point(write_config) -> None:
    space = {
        "model.units": {"choice": [[8], [16]]},
        "train.batch_size": {
            "int": [
                16,
                64,
            ],
            "step": 16,
        },
    }
    loaded = load_config(with_sweep(write_config, space, sampler="grid"))
    params = parse_space(loaded.config.sweep)
    assert grid_size(params) == 2 * 4


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (
            {"model.unit": {"choice": [[8]]}},
            "unknown key 'unit' in model. Did you mean 'model.units'?",
        ),
        ({"train.optimizer.lr": {"float": [0.1, 0.2]}}, "unknown key 'lr' in train.optimizer"),
        ({"model.dropout": {"float": [0.5, 0.1]}}, "the range [0.5, 0.1] is empty"),
        ({"model.dropout": {"float": [0.1, 0.5], "int": [1, 2]}}, "give exactly one of"),
        ({"model.dropout": {"uniform": [0.1, 0.5]}}, "unknown key 'uniform'"),
        ({"train.optimizer.learning_rate": {"float": [0, 0.1], "log": True}}, "positive low"),
        ({"train.batch_size": {"int": [16.5, 64]}}, "two integers"),
        ({"model.units": {"choice": []}}, "non-empty list"),
        ({"sweep.trials": {"int": [1, 4]}}, "cannot be swept"),
        ({"train.epochs.x": {"int": [1, 4]}}, "is a value, not a section"),
    ],
)
def test_bad_space_is_a_config_error_with_the_key(write_config, cli, space, message) -> None:
    path = with_sweep(write_config, space)
    code, out, err = cli("check", path)
    assert code == 2
    assert f"sweep.space '{next(iter(space))}'" in err
    assert message in " ".join(err.split())


def test_metric_that_is_never_logged_is_reported(write_config, cli) -> None:
    path = with_sweep(write_config, SPACE, metric="val_auc")
    code, out, err = cli("check", path)
    assert code == 2
    assert (
        "sweep.metric" in err
        and "'val_auc'" in err
        and "is not logged" in err
        and "val_accuracy" in err
    )


def test_value_the_schema_never_accepts_stops_the_sweep_before_any_trial(
    write_config, cli, runs_dir
) -> None:
    path = with_sweep(write_config, {"train.batch_size": {"int": [0, 64]}})
    code, out, err = cli("sweep", path)
    assert code == 2
    assert "sweep.space 'train.batch_size': the value 0 is invalid" in " ".join(err.split())
    assert not runs_dir.exists() or not any(runs_dir.glob("*-t000-*"))


def test_config_without_sweep_section_says_what_to_add(cli, tiny_config) -> None:
    code, out, err = cli("sweep", tiny_config)
    assert code == 2
    assert "has no sweep section" in err and "space:" in err


def test_invalid_mix_is_left_to_the_trial(write_config) -> None:
    # softmax alone is fine for multiclass; the check of the whole mix happens per trial
    loaded = load_config(
        with_sweep(write_config, {"model.output_activation": {"choice": ["softmax", "sigmoid"]}})
    )
    params = parse_space(loaded.config.sweep)
    check_values(params, loaded.raw)  # each value has the right type: no error up front
    with pytest.raises(ConfigError, match="sigmoid"):
        trial_loaded(loaded.raw, {"model.output_activation": "sigmoid"})


def test_imdb_config_sweep_section_is_valid() -> None:
    config = load_config("configs/imdb.yaml").config
    assert config.sweep is not None and config.resolved_objective().maximize
    assert {p.path for p in parse_space(config.sweep)} >= {"model.units", "model.dropout"}
