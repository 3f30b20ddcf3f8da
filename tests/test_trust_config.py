"""Config input a new user's probe got through (issue 23): overrides read like files, no
number taken from true/false or infinity, a seed NumPy can take, a wrong-length list named
as such, a validation protocol held to the data, and a field description that says what
the code does. Each is `dlrun check` refusing with exit 2, the key named, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import check_error

ROOT = Path(__file__).resolve().parents[1]

BASE = "name: t\ntask: multiclass\ndata:\n  source: sklearn.digits\n"


@pytest.fixture
def python_kind(write_config) -> Path:
    """A config whose model is a python: builder, so model.params takes any value."""
    builder = write_config("def build(**kwargs):\n    pass\n", "builder.py")
    return write_config(
        f"name: t\ntask: binary\ndata: {{source: sklearn.breast_cancer}}\n"
        f"model: {{kind: 'python:{builder}:build'}}\n"
    )


# --- overrides are read like files ------------------------------------------------------


def test_an_override_whose_alias_holds_itself_is_refused(cli, python_kind) -> None:
    # was a "Circular reference detected" traceback from pydantic
    err = check_error(cli, python_kind, "model.params.x=&a [*a]")
    assert err.startswith(
        "error: override 'model.params.x=&a [*a]': a YAML alias (*name) refers to a value "
        "that holds it, which would never end."
    )


def test_a_file_whose_alias_holds_itself_is_refused_naming_the_line(cli, write_config) -> None:
    path = write_config(BASE + "model:\n  kind: mlp\n  units: &u [8, *u]\n")
    err = check_error(cli, path)
    assert err.startswith(f"error: {path}, line 7: a YAML alias (*name) refers to a value")


def test_an_alias_bomb_in_an_override_is_refused_quickly(python_kind) -> None:
    # was 120 s and 27 MB of output; a 2 GB address space makes a regression fail, not swap
    lists = "".join(
        f"{name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['lol'] * 9)}], "
        for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=True)
    )
    override = "model.params.x={" + lists + "j: *i}"
    code = (
        "import resource, sys; "
        "resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3)); "
        "from dlrun.cli import run; sys.exit(run(['check', sys.argv[1], sys.argv[2]]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(python_kind), override],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stdout == ""
    assert "error: override 'model.params.x={a: &a [lol" in result.stderr
    assert "YAML aliases (*name) expand to more than 10,000 values" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr) < 1000


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("train={epochs: 1, epochs: 2}", "train.epochs"),
        ("train.optimizer={name: adam, learning_rate: 0.1, name: sgd}", "train.optimizer.name"),
        ("model={units: [8], kind: mlp, units: [4]}", "model.units"),
    ],
)
def test_a_key_given_twice_in_an_override_is_an_error(cli, write_config, override, key) -> None:
    err = check_error(cli, write_config(BASE), override)
    assert err == (
        f"error: duplicate key '{key}' (override '{override}'): YAML would keep only the "
        "last one.\nMerge the two into one, or delete the one you do not mean.\n"
    )


def test_an_override_nested_past_the_parsers_limit_is_refused(cli, python_kind) -> None:
    # libyaml refuses depth 1000; the pure-Python parser that words its error recursed out
    deep = "[" * 5000 + "]" * 5000
    err = check_error(cli, python_kind, f"model.params.x={deep}")
    assert "exceeded maximum nesting depth" in err
    assert len(err) < 1000, "the override is quoted in full"


def test_anchors_and_aliases_within_the_bound_still_work_in_an_override(write_config) -> None:
    from dlrun.spec import load_config

    loaded = load_config(write_config(BASE), ["model={units: &u [8, 8], l2: 0.01}"])
    assert loaded.config.model.units == [8, 8]


# --- true and false are not numbers -----------------------------------------------------


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("train.epochs=true", "train.epochs"),
        ("train.batch_size=false", "train.batch_size"),
        ("seed=true", "seed"),
        ("model.units=[8, true]", "model.units.1"),
        ("model.dropout=false", "model.dropout"),
        ("model.l2=[0.1, true]", "model.l2.1"),
        ("train.optimizer.learning_rate=true", "train.optimizer.learning_rate"),
        ("data.limit=true", "data.limit"),  # a data source's own section
        ("data.validation.kfold=true", "data.validation.kfold"),
    ],
)
def test_true_or_false_is_not_taken_as_a_number(cli, write_config, override, key) -> None:
    # `train.epochs=true` trained one epoch
    err = check_error(cli, write_config(BASE), override)
    value = override.partition("=")[2]
    got = "True" if "true" in value else "False"
    assert err == (
        f"error: '{key}' (command-line override '{override}'): input should be a number, "
        f"not true or false; got {got}.\n"
    )


def test_true_or_false_in_a_file_and_a_stage_is_not_a_number(cli, write_config) -> None:
    path = write_config(BASE + "train:\n  epochs: true\n")
    err = check_error(cli, path)
    assert err.startswith(f"error: 'train.epochs' ({path}, line 6): input should be a number")
    path = write_config(BASE + "workflow:\n  regularize:\n    - {train: {epochs: true}}\n")
    err = check_error(cli, path)
    assert "workflow stage 'epochs': train.epochs: Input should be a number" in err


def test_keys_that_take_true_or_false_still_do(cli, write_config) -> None:
    code, out, err = cli(
        "check", write_config(BASE), "train.tensorboard=false", "train.early_stopping=true"
    )
    assert code == 0, err
    resolved = yaml.safe_load(out)
    assert resolved["train"]["tensorboard"] is False
    assert resolved["train"]["early_stopping"]["patience"] == 3


# --- the seed NumPy takes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ("-1", "input should be greater than or equal to 0; got -1."),
        ("4294967296", "input should be less than or equal to 4294967295; got 4294967296."),
    ],
)
def test_a_seed_numpy_cannot_take_is_refused_naming_the_key(
    cli, write_config, seed, message
) -> None:
    # was a ValueError from RandomState at run time, not naming the key
    err = check_error(cli, write_config(BASE), f"seed={seed}")
    assert err == f"error: 'seed' (command-line override 'seed={seed}'): {message}\n"


def test_the_largest_seed_is_taken(cli, write_config) -> None:
    code, out, err = cli("check", write_config(BASE), "seed=4294967295")
    assert code == 0, err
    assert yaml.safe_load(out)["seed"] == 2**32 - 1


def test_final_models_may_not_count_seeds_past_the_largest(cli, write_config) -> None:
    # copy i trains with seed + i: the last copy's seed must be one NumPy takes too
    path = write_config(BASE + "seed: 4294967294\nworkflow:\n  final_models: 3\n")
    err = check_error(cli, path)
    assert (
        "workflow.final_models 3 trains copies with seeds 4294967294 to 4294967296, past the "
        "largest seed, 4294967295. Use a seed of at most 4294967293." in err
    )


# --- numbers are finite -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "key", "got"),
    [
        ("train.optimizer.learning_rate=.inf", "train.optimizer.learning_rate", "inf"),
        ("train.optimizer.momentum=.inf", "train.optimizer.momentum", "inf"),
        ("train.early_stopping.min_delta=.inf", "train.early_stopping.min_delta", "inf"),
        ("model.l2=[.inf]", "model.l2.0", "inf"),
        ("data.scale=.nan", "data.scale", "nan"),  # a data source's own key
    ],
)
def test_infinity_and_nan_are_not_numbers_a_config_takes(
    cli, write_config, override, key, got
) -> None:
    # `learning_rate: .inf` passed check and failed the run
    err = check_error(cli, write_config(BASE), override)
    assert err == (
        f"error: '{key}' (command-line override '{override}'): input should be a finite "
        f"number; got {got}.\n"
    )


def test_a_sweep_range_is_finite(cli, write_config) -> None:
    path = write_config(
        BASE + "sweep:\n  space:\n    train.optimizer.learning_rate: {float: [0.001, .inf]}\n"
    )
    err = check_error(cli, path)
    assert (
        "sweep.space 'train.optimizer.learning_rate': float needs finite bounds, "
        "not [0.001, inf]." in err
    )


# --- a list of the wrong length ---------------------------------------------------------

IMAGES = "name: t\ntask: binary\ndata:\n  source: image_dir\n  path: pictures\n"
IMAGE_SIZE_HELP = (
    "[height, width] every image is resized to (default: the images' own size, when they "
    "all have one)"
)


@pytest.mark.parametrize("value", ["[16]", "[16, 16, 16]", "[]", "16"])
def test_an_image_size_of_the_wrong_length_says_it_takes_two(cli, write_config, value) -> None:
    # `image_size=[16]` was reported as a missing key
    err = check_error(cli, write_config(IMAGES), f"data.image_size={value}")
    got = repr(yaml.safe_load(value))
    assert err == (
        f"error: 'data.image_size' (command-line override 'data.image_size={value}'): should "
        f"be a list of 2 values ({IMAGE_SIZE_HELP}); got {got}.\n"
    )


def test_a_short_list_in_a_file_names_its_line(cli, write_config) -> None:
    path = write_config(IMAGES + "  image_size: [32]\n")
    err = check_error(cli, path)
    assert err.startswith(
        f"error: 'data.image_size' ({path}, line 6): should be a list of 2 values ("
    )


# --- the validation protocol and the data's size ----------------------------------------


@pytest.mark.parametrize(
    ("validation", "message"),
    [
        (
            "{kfold: 10}",
            "data.validation.kfold is 10, but data.source 'sklearn.digits' gives at most 5 "
            "training samples (data.limit), and each fold needs one. Use kfold: 5 or fewer.",
        ),
        (
            "{holdout: 5}",
            "data.validation.holdout is 5, but data.source 'sklearn.digits' gives at most 5 "
            "training samples (data.limit), and some must be left to train on. Hold out fewer "
            "than 5.",
        ),
    ],
    ids=["kfold", "holdout"],
)
def test_a_protocol_larger_than_the_limit_is_refused_by_check(
    cli, write_config, validation, message
) -> None:
    err = check_error(cli, write_config(BASE), "data.limit=5", f"data.validation={validation}")
    assert message in err


def test_a_protocol_that_fits_the_limit_passes(cli, write_config) -> None:
    code, _, err = cli("check", write_config(BASE), "data.limit=5", "data.validation={kfold: 5}")
    assert code == 0, err
    code, _, err = cli("check", write_config(BASE), "data.limit=5", "data.validation.holdout=4")
    assert code == 0, err


def test_a_kfold_larger_than_a_csv_fails_at_load_naming_the_key(
    cli, write_config, tmp_path, runs_dir
) -> None:
    # check cannot count a CSV's rows today: the load refuses it, naming the key
    rows = "".join(f"{i * 0.1:.1f},{(i * 7) % 5 * 0.2:.1f},{i % 2}\n" for i in range(12))
    (tmp_path / "d.csv").write_text("a,b,y\n" + rows)
    path = write_config(
        {
            "name": "kf",
            "task": "binary",
            "data": {"source": "csv", "path": str(tmp_path / "d.csv"), "target": "y"},
            "model": {"units": [4]},
            "train": {"epochs": 1},
        }
    )
    code, _, err = cli("train", path, "data.validation={kfold: 20}")
    assert code == 1, err
    assert "error: data.validation.kfold is 20, but there are only" in err
    assert "Traceback" not in err


# --- descriptions say what the code does ------------------------------------------------


def test_the_checkpoint_is_described_by_the_objective_not_val_loss(cli) -> None:
    # the code keeps the best epoch by the run's objective (val_accuracy for a classifier)
    code, out, err = cli("schema")
    assert code == 0, err
    described = json.loads(out)["$defs"]["TrainConfig"]["properties"]["checkpoint"]
    assert "objective" in described["description"]
    assert "validation loss" not in described["description"]
