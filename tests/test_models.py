"""Model builders: the body each config asks for, and the head each task needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dlrun.data.inputs import InputSpec
from dlrun.errors import ConfigError
from dlrun.models import build_model
from dlrun.models.convnet import ConvnetConfig
from dlrun.models.mlp import MlpConfig
from dlrun.models.user import PythonModelConfig
from dlrun.tasks import head_for


@pytest.fixture(scope="module", autouse=True)
def keras():
    from dlrun.tfenv import import_keras

    return import_keras()


def layers_of(model, kind: str) -> list:
    return [layer for layer in model.layers if type(layer).__name__ == kind]


def regularization(layer) -> tuple[float, float]:
    reg = layer.kernel_regularizer
    if reg is None:
        return (0.0, 0.0)
    return (pytest.approx(float(reg.l1)), pytest.approx(float(reg.l2)))


@pytest.mark.parametrize(
    ("task", "outputs", "activation"),
    [
        ("binary", 1, "sigmoid"),
        ("multiclass", 7, "softmax"),
        ("multilabel", 5, "sigmoid"),
        ("regression", 1, "linear"),
    ],
)
def test_mlp_head_follows_the_task(task, outputs, activation) -> None:
    model = build_model(MlpConfig(units=[8, 4]), InputSpec((12,)), outputs, head_for(task))
    head = model.layers[-1]
    assert head.name == "head"
    assert head.units == outputs
    assert head.activation.__name__ == activation
    assert [layer.units for layer in layers_of(model, "Dense")] == [8, 4, outputs]
    assert model.input_shape == (None, 12)


def test_mlp_global_regularization() -> None:
    config = MlpConfig(units=[8, 4], dropout=0.25, l2=0.001)
    model = build_model(config, InputSpec((12,)), 3, head_for("multiclass"))
    assert [d.rate for d in layers_of(model, "Dropout")] == [0.25, 0.25]
    hidden = layers_of(model, "Dense")[:-1]
    assert [regularization(layer) for layer in hidden] == [(0.0, 0.001), (0.0, 0.001)]
    assert layers_of(model, "Dense")[-1].kernel_regularizer is None  # the head is left alone


def test_mlp_per_layer_regularization() -> None:
    config = MlpConfig(units=[8, 6, 4], dropout=[0.5, 0.0, 0.1], l1=[0.01, 0.0, 0.0])
    model = build_model(config, InputSpec((12,)), 1, head_for("binary"))
    assert [(d.name, d.rate) for d in layers_of(model, "Dropout")] == [
        ("dropout_0", 0.5),
        ("dropout_2", 0.1),
    ]
    hidden = layers_of(model, "Dense")[:-1]
    assert [regularization(layer) for layer in hidden] == [(0.01, 0.0), (0.0, 0.0), (0.0, 0.0)]


def test_mlp_per_layer_list_of_the_wrong_length(cli, write_config) -> None:
    with pytest.raises(ConfigError) as info:
        build_model(MlpConfig(units=[8, 4], dropout=[0.5]), InputSpec((12,)), 1, head_for("binary"))
    assert str(info.value) == (
        "model.dropout has 1 values but model.units has 2 layers; "
        "give one value per layer or a single value for all."
    )
    # `dlrun check` finds it before any training starts
    path = write_config(
        "name: t\ntask: binary\ndata: {source: sklearn.breast_cancer}\n"
        "model: {units: [8, 4], l2: [0.1, 0.2, 0.3]}\n"
    )
    code, out, err = cli("check", path)
    assert code == 2
    assert "model.l2 has 3 values but model.units has 2 layers" in err


def test_mlp_on_sparse_multi_hot_input() -> None:
    model = build_model(MlpConfig(units=[4]), InputSpec((50,), sparse=True), 1, head_for("binary"))
    assert model.inputs[0].sparse


def test_mlp_flattens_images() -> None:
    model = build_model(MlpConfig(units=[4]), InputSpec((8, 8, 1)), 10, head_for("multiclass"))
    assert layers_of(model, "Flatten")
    assert model.output_shape == (None, 10)


def test_convnet_on_images() -> None:
    config = ConvnetConfig(kind="convnet", filters=[4, 8], kernel_size=3, pool_size=2, units=[6])
    model = build_model(config, InputSpec((12, 12, 1)), 10, head_for("multiclass"))
    assert [c.filters for c in layers_of(model, "Conv2D")] == [4, 8]
    assert len(layers_of(model, "MaxPooling2D")) == 1  # between blocks, not after the last
    assert [d.units for d in layers_of(model, "Dense")] == [6, 10]
    assert model.layers[-1].activation.__name__ == "softmax"
    assert model.output_shape == (None, 10)


def test_convnet_on_vector_data_is_a_clear_error() -> None:
    with pytest.raises(ConfigError) as info:
        build_model(ConvnetConfig(kind="convnet"), InputSpec((64,)), 10, head_for("multiclass"))
    assert str(info.value) == (
        "model.kind 'convnet' needs images (height, width, channels); the data gives shape (64,).\n"
        "Use model.kind: mlp for vector data."
    )


def test_convnet_trains_on_digit_images(cli, runs_dir, tiny_config, keras) -> None:
    code, out, err = cli(
        "train",
        tiny_config,
        "model.kind=convnet",
        "model.filters=[4]",
        "train.epochs=1",
        "train.tensorboard=false",
        "-q",
    )
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    assert json.loads((run / "preprocessing.json").read_text())["kind"] == "images"
    model = keras.saving.load_model(run / "final" / "model.keras")
    assert model.input_shape == (None, 8, 8, 1)  # images keep their shape; the model decides
    assert [c.filters for c in layers_of(model, "Conv2D")] == [4]
    assert model.output_shape == (None, 10)


USER_BUILDER = """\
import keras


def build(config, input_spec, outputs, head, width=3):
    inputs = keras.Input(shape=input_spec.shape)
    x = keras.layers.Flatten()(inputs)  # python: builders get images unflattened
    x = keras.layers.Dense(width, activation="tanh", name="mine")(x)
    return keras.Model(inputs, keras.layers.Dense(outputs, activation=head.activation)(x))


def not_a_model(config, input_spec, outputs, head):
    return "nope"
"""


@pytest.fixture
def builder_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_models.py"
    path.write_text(USER_BUILDER)
    return path


@pytest.mark.parametrize(
    ("task", "outputs", "activation"), [("binary", 1, "sigmoid"), ("multiclass", 4, "softmax")]
)
def test_python_builder(builder_file, task, outputs, activation) -> None:
    config = PythonModelConfig(kind=f"python:{builder_file}:build", params={"width": 5})
    model = build_model(config, InputSpec((12,)), outputs, head_for(task))
    assert model.get_layer("mine").units == 5  # model.params reach the function
    assert model.layers[-1].units == outputs
    assert model.layers[-1].activation.__name__ == activation


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("{file}:missing", "model.kind: {file} has no function 'missing'."),
        ("{file}:not_a_model", "model.kind: {file}:not_a_model returned str, not a keras.Model."),
        ("{dir}/absent.py:build", "model.kind: builder file not found: {dir}/absent.py"),
    ],
)
def test_python_builder_errors(builder_file, target, message) -> None:
    fill = {"file": builder_file, "dir": builder_file.parent}
    config = PythonModelConfig(kind=f"python:{target.format(**fill)}")
    with pytest.raises(ConfigError) as info:
        build_model(config, InputSpec((12,)), 1, head_for("binary"))
    assert str(info.value).startswith(message.format(**fill))


def test_python_builder_trains_through_the_cli(
    cli, runs_dir, tiny_config, builder_file, keras
) -> None:
    code, out, err = cli(
        "train",
        tiny_config,
        f"model={{kind: 'python:{builder_file}:build', params: {{width: 5}}}}",
        "train.epochs=1",
        "-q",
    )
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    assert json.loads((run / "meta.json").read_text())["status"] == "completed"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stages"]["train"]["params"] == 64 * 5 + 5 + 5 * 10 + 10
    model = keras.saving.load_model(run / "final" / "model.keras")
    mine = model.get_layer("mine")  # the user's layer, with its model.params, is what trained
    assert mine.units == 5 and mine.activation.__name__ == "tanh"
