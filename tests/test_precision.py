"""Mixed precision (train.precision): a mixed run's hidden layers compute in bfloat16 or
float16 with float32 weights, its head stays float32 (so predictions and losses are
float32), the default run is float32 throughout as before, a mixed run leaves the
process's dtype policy as it found it, and `dlrun check` names the precisions it takes.
"""

from __future__ import annotations

import copy
import csv
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_CONFIG, check_error

HIDDEN = ("dense_0", "dense_1")


@pytest.fixture(scope="module")
def keras():
    from dlrun.tfenv import import_keras

    return import_keras()


def train(cli, runs_dir: Path, write_config, keras, *overrides: str) -> object:
    """Train TINY_CONFIG with two hidden layers; the run's loaded final model."""
    config = copy.deepcopy(TINY_CONFIG)
    config["model"]["units"] = [16, 8]
    config["train"]["tensorboard"] = False
    code, _, err = cli("train", write_config(config), "-q", *overrides)
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    with (run / "stages" / "train" / "history.csv").open() as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses), losses
    return keras.saving.load_model(run / "final" / "model.keras")


def digits() -> np.ndarray:
    from sklearn.datasets import load_digits

    return load_digits().images[:5, :, :, None].astype("float32") / 16.0


@pytest.mark.parametrize(
    ("precision", "compute"), [("mixed_bfloat16", "bfloat16"), ("mixed_float16", "float16")]
)
def test_mixed_run_computes_hidden_layers_low_and_the_head_in_float32(
    cli, runs_dir: Path, write_config, keras, precision: str, compute: str
) -> None:
    model = train(cli, runs_dir, write_config, keras, f"train.precision={precision}")
    for name in HIDDEN:
        policy = model.get_layer(name).dtype_policy
        assert (policy.compute_dtype, policy.variable_dtype) == (compute, "float32"), name
    head = model.get_layer("head")
    assert head.dtype_policy.name == "float32"
    probabilities = model.predict(digits(), verbose=0)
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    # The cli fixture runs in this process: the next fit must not inherit the policy.
    assert keras.config.dtype_policy().name == "float32"


def test_default_run_is_float32_throughout(cli, runs_dir: Path, write_config, keras) -> None:
    model = train(cli, runs_dir, write_config, keras)
    for layer in model.layers:
        policy = layer.dtype_policy
        assert (policy.compute_dtype, policy.variable_dtype) == ("float32", "float32"), layer.name
    assert model.predict(digits(), verbose=0).dtype == np.float32


def test_building_a_mixed_model_leaves_the_process_policy_as_it_was(
    keras, tiny_config: Path
) -> None:
    # Each fit ends with clear_session, which resets the policy too; a model built
    # without a fit (or a builder that raises) must not leave the policy behind either.
    from dlrun.data.portions import make_portions
    from dlrun.data.sources import load_raw
    from dlrun.spec import load_config
    from dlrun.training import compiled_model

    config = load_config(tiny_config, ["train.precision=mixed_bfloat16"]).config
    (portion,) = make_portions(load_raw(config.data), config)
    keras.config.set_dtype_policy("float32")
    model = compiled_model(config, portion.prepared)
    assert model.get_layer("dense_0").dtype_policy.compute_dtype == "bfloat16"
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("precision", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_check_accepts_each_precision(cli, tiny_config: Path, precision: str) -> None:
    code, out, err = cli("check", tiny_config, f"train.precision={precision}")
    assert code == 0, err
    assert f"precision: {precision}" in out


def test_check_refuses_an_unknown_precision_with_the_allowed_ones(cli, tiny_config: Path) -> None:
    err = check_error(cli, tiny_config, "train.precision=float16")
    assert "train.precision" in err
    for allowed in ("float32", "mixed_float16", "mixed_bfloat16"):
        assert allowed in err, err
