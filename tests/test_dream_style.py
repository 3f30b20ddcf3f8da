"""`dlrun dream` and `dlrun style`: DeepDream and neural style transfer through the CLI.

ImageNet weights are never downloaded: the tests write the weights files themselves
(InceptionV3 and VGG19 built with weights=None, saved), train a tiny dlrun convnet for
`run:` bases, and point Keras's download at a function that fails for the offline error.
Images are small PNGs the tests write; steps and iterations are few.
"""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import one_paragraph
from PIL import Image

from dlrun.cli import run as dlrun
from dlrun.tfenv import import_keras


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def write_png(path: Path, size: tuple[int, int], seed: int = 0, stripes: bool = False) -> Path:
    """An RGB PNG of `size` (width, height): smooth colour waves and noise, or stripes."""
    width, height = size
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:height, 0:width]
    if stripes:
        image = np.zeros((height, width, 3), np.uint8)
        image[::4] = 230
        image[:, ::6, 2] = 200
    else:
        waves = [(np.sin(x / 5) + 1) * 100, (np.cos(y / 7) + 1) * 100, rng.randint(0, 90, x.shape)]
        image = np.stack(waves, -1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def read_png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32)


@pytest.fixture(scope="module")
def weights(tmp_path_factory, keras) -> dict[str, Path]:
    """InceptionV3 and VGG19 without their tops, random weights: stand-ins for imagenet."""
    folder = tmp_path_factory.mktemp("weights")
    files = {"inception": folder / "inception_v3.weights.h5", "vgg": folder / "vgg19.weights.h5"}
    # seeded: how far a few steps move the image depends on the weights
    keras.utils.set_random_seed(0)
    keras.applications.InceptionV3(
        include_top=False, weights=None, input_shape=(75, 75, 3)
    ).save_weights(files["inception"])
    keras.applications.VGG19(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(
        files["vgg"]
    )
    return files


@pytest.fixture(scope="module")
def convnet_run(tmp_path_factory, keras) -> Path:
    """A tiny grayscale convnet trained one epoch on 16x16 stripes."""
    tmp = tmp_path_factory.mktemp("convnet")
    for label, name in enumerate(("rows", "columns")):
        for i in range(8):
            image = np.random.RandomState(i).randint(0, 60, (16, 16, 3)).astype(np.uint8)
            if label:
                image[:, i % 4 :: 4] = 230
            else:
                image[i % 4 :: 4] = 230
            folder = tmp / "images" / name
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{i}.png")
    config = {
        "name": "stripes",
        "seed": 3,
        "task": "binary",
        "data": {"source": "image_dir", "path": str(tmp / "images"), "color_mode": "grayscale"},
        "model": {"kind": "convnet", "filters": [4, 4], "units": [4]},
        "train": {"batch_size": 8, "epochs": 1, "tensorboard": False},
    }
    path = tmp / "stripes.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    runs = tmp / "runs"
    assert dlrun(["train", str(path), "--runs-dir", str(runs), "-q"]) == 0
    (run,) = runs.iterdir()
    return run


def test_dream_writes_a_changed_image_of_the_input_size_with_its_settings(
    cli, tmp_path, weights
) -> None:
    image = write_png(tmp_path / "sky.png", (106, 100))
    args = ["dream", image, "--weights", weights["inception"], "--octaves", "2", "--steps", "3"]
    args += ["--step-size", "0.05"]  # a visible change in 3 steps
    code, out, err = cli(*args)
    assert code == 0, err
    target = tmp_path / "sky-dream.png"
    assert out.splitlines()[-2] == str(target)
    before, after = read_png(image), read_png(target)
    assert after.shape == before.shape == (100, 106, 3)
    assert np.abs(after - before).mean() > 1.0  # dreamed, not copied
    settings = json.loads((tmp_path / "sky-dream.json").read_text())
    assert settings["command"] == "dream" and settings["base"] == "InceptionV3"
    assert settings["weights"] == str(weights["inception"].resolve())
    assert settings["layers"] == {"mixed4": 1.0, "mixed5": 1.5, "mixed6": 2.0, "mixed7": 2.5}
    assert (settings["octaves"], settings["octave_scale"], settings["steps"]) == (2, 1.4, 3)
    assert (settings["step_size"], settings["max_loss"]) == (0.05, 15.0)
    assert settings["image"] == str(image.resolve()) and settings["size"] == [106, 100]
    assert settings["seed"] is None and settings["dlrun_version"] and settings["seconds"] > 0
    assert [o["shape"] for o in settings["octave_results"]] == [[71, 75], [100, 106]]
    assert all(o["steps"] == 3 for o in settings["octave_results"])

    code, _, err = cli(*args)  # never overwritten unawares
    assert code == 2 and "sky-dream.png exists already" in one_paragraph(err)
    assert "--force" in err
    code, _, err = cli(*args, "--force")  # nothing random: the same dream again
    assert code == 0, err
    np.testing.assert_array_equal(read_png(target), after)

    code, _, err = cli(*args, "--layers", "mixed4=1,mixd5=2", "-o", tmp_path / "other.png")
    message = one_paragraph(err)
    assert code == 2
    assert "--layers: InceptionV3 has no layer 'mixd5'. Did you mean 'mixed5'?" in message
    # a few of its 300-odd layers: the first and the last ones
    assert "Its layers with feature maps (310): conv2d" in message
    assert message.count(", ") < 15 and ", ..., " in message and "mixed10." in message
    assert not (tmp_path / "other.png").exists()


def test_dream_refuses_octaves_too_small_for_the_base(cli, tmp_path, weights) -> None:
    image = write_png(tmp_path / "small.png", (80, 80))
    code, _, err = cli("dream", image, "--weights", weights["inception"], "--steps", "1")
    message = one_paragraph(err)
    assert code == 2
    assert "the smallest octave, 40x40, is too small for InceptionV3" in message
    assert "Use fewer --octaves (now 3)" in message
    assert not (tmp_path / "small-dream.png").exists()


def test_style_blends_the_content_towards_the_style(cli, tmp_path, weights) -> None:
    content = write_png(tmp_path / "photo.png", (48, 40), seed=1)
    style = write_png(tmp_path / "art" / "stripes.png", (32, 32), stripes=True)
    target = tmp_path / "out" / "blend.png"
    code, out, err = cli(
        "style", content, style, "--weights", weights["vgg"], "--iterations", "6",
        "--learning-rate", "1000", "-o", target,
    )  # fmt: skip
    assert code == 0, err
    before, after = read_png(content), read_png(target)
    assert after.shape == before.shape == (40, 48, 3)
    assert np.abs(after - before).mean() > 1.0  # moved away from the content
    settings = json.loads((tmp_path / "out" / "blend.json").read_text())
    assert settings["command"] == "style" and settings["base"] == "VGG19"
    assert settings["content_layer"] == "block5_conv2"
    assert settings["style_layers"] == [f"block{i}_conv1" for i in range(1, 6)]
    assert (settings["content_weight"], settings["style_weight"], settings["tv_weight"]) == (
        2.5e-8,
        1e-6,
        1e-6,
    )
    assert (settings["iterations"], settings["learning_rate"]) == (6, 1000.0)
    assert settings["content"] == str(content.resolve())
    assert settings["style"] == str(style.resolve()) and settings["size"] == [48, 40]
    loss = settings["loss"]
    assert loss["final"] < loss["initial"] == loss["history"]["1"]
    assert list(loss["history"]) == [str(i) for i in range(1, 7)]
    assert settings["seconds"] > 0 and settings["dlrun_version"]


def test_offline_imagenet_weights_name_the_file_and_where_it_goes(
    cli, tmp_path, monkeypatch, keras
) -> None:
    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)  # nothing leaves the machine
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))  # never a cached copy
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    image = write_png(tmp_path / "sky.png", (80, 80))
    code, out, err = cli("dream", image, "--weights", "imagenet", "--octaves", "1")
    message = one_paragraph(err)
    assert code == 1
    assert message.startswith("error: could not get InceptionV3's imagenet weights, ")
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "no network here" in message
    assert f"{tmp_path / 'models'}/" in message and "or pass --weights a local copy" in message
    assert not (tmp_path / "sky-dream.png").exists()


def test_a_run_of_your_own_is_a_base(cli, tmp_path, convnet_run) -> None:
    image = write_png(tmp_path / "digit.png", (40, 36))
    base = f"run:{convnet_run}"
    code, _, err = cli("dream", image, "--base", base)
    message = one_paragraph(err)
    assert code == 2 and "has no default layers to dream with; name them with --layers" in message
    assert "conv_0" in message

    code, _, err = cli("dream", image, "--base", base, "--layers", "conv_1,flatten")
    message = one_paragraph(err)
    assert code == 2 and f"--layers: layer 'flatten' of {base} has no feature maps" in message
    assert "Its layers with feature maps (3): conv_0, pool_0, conv_1." in message

    code, out, err = cli(
        "dream", image, "--base", base, "--layers", "conv_1=1.0,conv_0=0.5", "--steps", "4"
    )
    assert code == 0, err
    dreamed = read_png(tmp_path / "digit-dream.png")
    assert dreamed.shape == (36, 40, 3)
    gray = read_png(image).mean(axis=-1, keepdims=True)  # the run's model sees gray
    assert np.abs(dreamed - gray).mean() > 0.5
    settings = json.loads((tmp_path / "digit-dream.json").read_text())
    assert settings["base"] == base and settings["weights"] is None
    assert settings["layers"] == {"conv_1": 1.0, "conv_0": 0.5}

    style = write_png(tmp_path / "stripes.png", (20, 20), stripes=True)
    code, out, err = cli(
        "style", image, style, "--base", f"run:{convnet_run.name}",
        "--runs-dir", convnet_run.parent, "--content-layer", "conv_1",
        "--style-layers", "conv_0,conv_1", "--iterations", "5", "--learning-rate", "1000",
    )  # fmt: skip
    assert code == 0, err
    assert read_png(tmp_path / "digit-style.png").shape == (36, 40, 3)
    settings = json.loads((tmp_path / "digit-style.json").read_text())
    assert settings["loss"]["final"] < settings["loss"]["initial"]

    code, _, err = cli("style", image, style, "--base", base, "--content-layer", "x", "--force")
    message = one_paragraph(err)
    assert code == 2 and "--style-layers" in message
    layers = ["--content-layer", "conv_9", "--style-layers", "conv_0", "--force"]
    code, _, err = cli("style", image, style, "--base", base, *layers)
    message = one_paragraph(err)
    assert code == 2 and f"--content-layer: {base} has no layer 'conv_9'" in message
    assert "Did you mean 'conv_0'?" in message or "Did you mean 'conv_1'?" in message


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["dream", "{tmp}/absent.png"], "IMAGE {tmp}/absent.png: no such file."),
        (["dream", "{tmp}/text.png"], "IMAGE {tmp}/text.png: cannot read it as an image"),
        (["style", "{tmp}/sky.png", "{tmp}/absent.png"], "STYLE {tmp}/absent.png: no such file."),
        (["dream", "{tmp}/sky.png", "--base", "inceptoin_v3"], "Did you mean 'InceptionV3'?"),
        (["dream", "{tmp}/sky.png", "--base", "run:x", "--weights", "w.h5"], "--weights is for"),
        (["dream", "{tmp}/sky.png", "-o", "{tmp}/sky.jpg"], "give a path ending in .png"),
        (["dream", "{tmp}/sky.png", "--layers", "mixed4=big"], "'mixed4=big' is not LAYER"),
        (["dream", "{tmp}/sky.png", "--octave-scale", "1"], "give a number above 1"),
        (["dream", "{tmp}"], "IMAGE {tmp} is a directory"),
        (["dream", "{tmp}/sky.png", "--weights", "{tmp}/none.h5"], "{tmp}/none.h5: not found"),
    ],
)
def test_bad_input_is_a_usage_error(cli, tmp_path, args, expected) -> None:
    write_png(tmp_path / "sky.png", (8, 8))
    (tmp_path / "text.png").write_text("not an image")
    code, out, err = cli(*(a.format(tmp=tmp_path) for a in args))
    assert code == 2, err
    assert expected.format(tmp=tmp_path) in one_paragraph(err)
    assert out == ""
