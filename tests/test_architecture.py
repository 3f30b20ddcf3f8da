"""The book's advanced architecture options (ch. 7): batch normalization, residual
connections and depthwise separable convolutions, in convnet and mlp.

Each model trains through `dlrun train` on 300 digits (8x8 images for the convnet) for two
epochs; the test reads the saved final model's layers, the run's summary and history.
"""

from __future__ import annotations

import copy
import csv
import json
import math
from pathlib import Path

import pytest
from conftest import TINY_CONFIG, check_error

CONVNET = {"kind": "convnet", "filters": [4, 4], "units": [8]}
MLP = {"kind": "mlp", "units": [16, 16]}


@pytest.fixture(scope="module")
def keras():
    from dlrun.tfenv import import_keras

    return import_keras()


def train(cli, runs_dir: Path, write_config, keras, model: dict) -> tuple[dict, object]:
    """Train TINY_CONFIG with `model`; the run's summary and its loaded final model."""
    config = copy.deepcopy(TINY_CONFIG)
    config["model"] = model
    config["train"]["tensorboard"] = False
    code, _, err = cli("train", write_config(config), "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    with (run / "stages" / "train" / "history.csv").open() as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses), losses
    summary = json.loads((run / "summary.json").read_text())
    return summary, keras.saving.load_model(run / "final" / "model.keras")


def types(model) -> list[str]:
    return [type(layer).__name__ for layer in model.layers]


def names(model) -> set[str]:
    return {layer.name for layer in model.layers}


@pytest.mark.parametrize(
    ("model", "description", "layer_types", "params"),
    [
        # Layer types and parameter counts of these two configs, recorded from `dlrun train`
        # at commit c7cadcc, before the options existed: without them a model is unchanged.
        (
            CONVNET,
            "convnet 4-4 + 8",
            ["InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "Flatten", "Dense", "Dense"],
            318,
        ),
        (MLP, "mlp 16-16", ["InputLayer", "Flatten", "Dense", "Dense", "Dense"], 1482),
    ],
)
def test_without_the_options_a_model_is_unchanged(
    cli, runs_dir, write_config, keras, model, description, layer_types, params
) -> None:
    summary, built = train(cli, runs_dir, write_config, keras, model)
    assert types(built) == layer_types
    assert built.count_params() == params
    assert summary["stages"]["train"]["model"] == description
    assert summary["stages"]["train"]["params"] == params


@pytest.mark.parametrize(
    "options",
    [
        {"batch_norm": True},
        {"residual": True},
        {"separable": True},
        {"batch_norm": True, "residual": True, "separable": True},
    ],
)
def test_convnet_options(cli, runs_dir, write_config, keras, options) -> None:
    summary, model = train(cli, runs_dir, write_config, keras, {**CONVNET, **options})
    batch_norm, residual, separable = (
        options.get(key, False) for key in ("batch_norm", "residual", "separable")
    )
    tags = "".join(
        f" {t}" for t, on in (("bn", batch_norm), ("res", residual), ("sep", separable)) if on
    )
    assert summary["stages"]["train"]["model"] == f"convnet 4-4{tags} + 8"

    # separable: the first block stays a Conv2D on the raw pixels, the second is separable
    assert type(model.get_layer("conv_0")).__name__ == "Conv2D"
    second = "SeparableConv2D" if separable else "Conv2D"
    assert type(model.get_layer("conv_1")).__name__ == second
    assert ("SeparableConv2D" in types(model)) == separable

    # batch_norm: conv (no bias) -> BatchNormalization -> the activation, conv and dense alike
    assert ("BatchNormalization" in types(model)) == batch_norm
    for name in ("conv_0", "conv_1", "dense_0"):
        layer = model.get_layer(name)
        assert layer.use_bias == (not batch_norm)
        if batch_norm:
            assert layer.activation.__name__ == "linear"
            assert type(model.get_layer(f"{name}_bn")).__name__ == "BatchNormalization"
            assert model.get_layer(f"{name}_act").activation.__name__ == "relu"
        else:
            assert layer.activation.__name__ == "relu"

    # residual: block 0 (1 channel in, 4 out, pooled) adds through a strided 1x1 Conv2D;
    # block 1 (4 in, 4 out, no pooling after the last block) adds its input as it is
    adds = [layer.name for layer in model.layers if type(layer).__name__ == "Add"]
    assert adds == (["conv_0_add", "conv_1_add"] if residual else [])
    shortcuts = sorted(n for n in names(model) if n.endswith("_shortcut"))
    assert shortcuts == (["conv_0_shortcut"] if residual else [])
    if residual:
        shortcut = model.get_layer("conv_0_shortcut")
        assert type(shortcut).__name__ == "Conv2D"
        assert tuple(shortcut.kernel_size) == (1, 1) and tuple(shortcut.strides) == (2, 2)
        assert model.get_layer("conv_0").padding == "same"
    else:
        assert model.get_layer("conv_0").padding == "valid"
    assert model.output_shape == (None, 10)


@pytest.mark.parametrize(
    ("options", "description"),
    [
        ({"batch_norm": True}, "mlp 16-16 bn"),
        ({"residual": True, "dropout": 0.2}, "mlp 16-16 res + dropout 0.2"),
    ],
)
def test_mlp_options(cli, runs_dir, write_config, keras, options, description) -> None:
    summary, model = train(cli, runs_dir, write_config, keras, {**MLP, **options})
    assert summary["stages"]["train"]["model"] == description
    batch_norm = options.get("batch_norm", False)
    assert ("BatchNormalization" in types(model)) == batch_norm
    for name in ("dense_0", "dense_1"):
        assert model.get_layer(name).use_bias == (not batch_norm)
        assert (f"{name}_bn" in names(model)) == batch_norm
    if options.get("residual"):
        # 64 pixels into 16 units: a Dense projection; 16 into 16: the input as it is
        assert [n for n in types(model) if n == "Add"] == ["Add", "Add"]
        assert model.get_layer("dense_0_shortcut").units == 16
        assert "dense_1_shortcut" not in names(model)
        # the dropout acts on the layer's output before its input is added back
        add = model.get_layer("dense_1_add")
        added = {id(model.get_layer(n).output) for n in ("dropout_1", "dense_0_add")}
        assert {id(t) for t in add.input} == added
    else:
        assert "Add" not in types(model)


def test_separable_on_a_table_is_refused_by_check(cli, write_config) -> None:
    table = write_config("a,b,label\n1,2,0\n3,4,1\n", "table.csv")
    path = write_config(
        f"name: t\ntask: binary\ndata: {{source: csv, path: {table}, target: label}}\n"
        "model: {kind: convnet, filters: [8, 16], separable: true}\n"
    )
    err = check_error(cli, path)
    assert "model.kind 'convnet' does not accept table input" in err
    assert "it accepts images. Use model.kind: mlp." in err
    err = check_error(cli, path, "model={kind: mlp, separable: true}")
    assert "unknown key 'model.separable'" in err
    assert "'separable' is a convnet key; this model is mlp." in err


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (
            {"kind": "convnet", "filters": [8], "separable": True},
            "model.separable makes the conv blocks after the first SeparableConv2D (the first "
            "stays a Conv2D on the raw pixels), and model.filters has 1 block, so none would "
            "be separable; give two blocks or more (e.g. filters: [32, 64]) or remove "
            "model.separable.",
        ),
        (
            {"kind": "convnet", "filters": [], "residual": True},
            "model.residual acts on the conv blocks of model.filters, which is empty; add a "
            "block (e.g. filters: [32]) or remove model.residual.",
        ),
        (
            {"kind": "mlp", "units": [], "batch_norm": True},
            "model.batch_norm acts on the hidden Dense layers of model.units, which is empty; "
            "add a layer (e.g. units: [16]) or remove model.batch_norm.",
        ),
    ],
)
def test_an_option_with_nothing_to_act_on_is_refused_by_check(
    cli, write_config, model, message
) -> None:
    config = copy.deepcopy(TINY_CONFIG)
    config["model"] = model
    err = check_error(cli, write_config(config))
    assert message in " ".join(err.split())
