"""Images from class folders, augmentation, pretrained bases, and what a convnet learned.

The images are real PNG and JPEG files the tests write: stripes, horizontal or vertical
by class, which a tiny convnet tells apart in a few epochs. Pretrained bases are never
downloaded: a test writes the weights file (an application built with weights=None) or
uses a dlrun run of its own as the base.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import yaml

from dlrun.cli import run as dlrun
from dlrun.data.representations.image_files import ImagePaths
from dlrun.data.sources import load_raw
from dlrun.errors import DataError, DataWarning, FatalError
from dlrun.spec import validate
from dlrun.tfenv import import_keras

CLASSES = ("horizontal", "vertical")


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def stripes(rng: np.random.RandomState, label: int, size: int = 16) -> np.ndarray:
    """An RGB image of bright stripes on noise: rows for class 0, columns for class 1."""
    image = rng.randint(0, 70, (size, size, 3)).astype(np.uint8)
    offset = rng.randint(4)
    if label == 0:
        image[offset::4] = 230
    else:
        image[:, offset::4] = 230
    return image


def write_tree(root: Path, n: dict[str, int], size: int = 16, seed: int = 0) -> Path:
    """<root>/<split>/<class>/<i>.png|.jpg for each split in `n` (n[split] per class)."""
    from PIL import Image

    rng = np.random.RandomState(seed)
    for split, count in n.items():
        for label, name in enumerate(CLASSES):
            folder = root / split / name if split else root / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                suffix = "png" if i % 2 else "jpg"
                Image.fromarray(stripes(rng, label, size)).save(folder / f"{i}.{suffix}")
    return root


def image_config(root: Path, **changes) -> dict:
    config = {
        "name": "stripes",
        "seed": 5,
        "task": "binary",
        "data": {
            "source": "image_dir",
            "path": str(root),
            "color_mode": "grayscale",
            "augment": {"flip": "horizontal", "rotation": 0.02},
        },
        "model": {"kind": "convnet", "filters": [8, 8], "units": [8]},
        "train": {
            "batch_size": 8,
            "epochs": 6,
            "optimizer": {"name": "adam", "learning_rate": 0.01},
            "tensorboard": False,
        },
    }
    for key, value in changes.items():
        config[key] = value
    return config


def train(config: dict, directory: Path, runs: Path) -> Path:
    """`dlrun train` in this process; returns the run directory."""
    path = directory / f"{config['name']}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    before = set(runs.iterdir()) if runs.is_dir() else set()
    assert dlrun(["train", str(path), "--runs-dir", str(runs), "-q"]) == 0
    (run,) = set(runs.iterdir()) - before
    return run


@pytest.fixture(scope="module")
def stripes_run(tmp_path_factory, keras) -> Path:
    """A grayscale convnet trained on RGB stripes (PNG and JPEG) with augmentation."""
    tmp = tmp_path_factory.mktemp("stripes")
    root = write_tree(tmp / "images", {"train": 24, "test": 8})
    return train(image_config(root), tmp, tmp / "runs")


def test_image_dir_lists_paths_and_decodes_nothing_up_front(tmp_path) -> None:
    root = write_tree(tmp_path / "images", {"": 10})
    raw = load_raw(validate(image_config(root)).config.data)
    assert raw.kind == "image_files" and raw.class_names == list(CLASSES)
    assert isinstance(raw.train.x, ImagePaths) and len(raw.train) + len(raw.test) == 20
    assert len(raw.test) == 4  # test_fraction 0.2, carved with a seed
    # only paths and sizes: nothing grows with the pixels
    assert raw.train.x.shapes.tolist()[0] == [16, 16, 3]
    assert sorted(set(raw.train.y.tolist())) == [0, 1]
    # Held relative to the tree, so TensorFlow keeps each path inside its string tensor
    # (up to 20 bytes, measured) instead of allocating it; the full paths come back out.
    assert raw.train.x.root == os.fsencode(f"{root}{os.sep}")
    assert max(len(p) for p in raw.train.x.paths) <= 20
    listed = {str(p) for p in root.rglob("*.*")}
    assert set(raw.train.x.names()) | set(raw.test.x.names()) == listed


def test_a_validation_folder_is_the_validation_split(tmp_path) -> None:
    from dlrun.data.portions import make_portions

    root = write_tree(tmp_path / "images", {"train": 6, "validation": 3, "test": 2})
    config = validate(image_config(root)).config
    portion = make_portions(load_raw(config.data), config)[0]
    assert (len(portion.train_y), len(portion.val_y)) == (12, 6)


def test_train_evaluate_predict_a_folder_export_and_reload(stripes_run, cli, keras) -> None:
    import tensorflow as tf

    summary = json.loads((stripes_run / "summary.json").read_text())
    assert summary["final"]["test"]["accuracy"] >= 0.9
    code, out, err = cli("evaluate", stripes_run)
    assert code == 0, err
    test_folder = Path(yaml.safe_load((stripes_run / "config.yaml").read_text())["data"]["path"])
    code, out, err = cli("predict", stripes_run, test_folder / "test" / "vertical")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "file,predicted,probability" and len(lines) == 9
    given = {str(p) for p in (test_folder / "test" / "vertical").iterdir()}
    assert {line.split(",")[0] for line in lines[1:]} == given
    assert sum(line.split(",")[1] == "vertical" for line in lines[1:]) >= 7
    # the input was RGB and the run grayscale: converted, and said so
    assert "converted 8 RGB images to grayscale" in err

    code, out, err = cli("export", stripes_run)
    assert code == 0, err
    served = tf.saved_model.load(str(stripes_run / "export" / "saved_model"))
    model = keras.saving.load_model(stripes_run / "final" / "model.keras")
    images = np.random.RandomState(0).uniform(0, 1, (3, 16, 16, 1)).astype(np.float32)
    np.testing.assert_allclose(served.serve(images), model.predict(images, verbose=0), atol=1e-5)


def test_augmentation_is_active_in_training_only(stripes_run, cli, keras) -> None:
    model = keras.saving.load_model(stripes_run / "final" / "model.keras")
    assert [layer.name for layer in model.layers[1:3]] == ["augment_flip", "augment_rotation"]
    image = np.random.RandomState(1).uniform(0, 1, (1, 16, 16, 1)).astype(np.float32)
    trained = [np.asarray(model(image, training=True)) for _ in range(4)]
    assert any(not np.allclose(trained[0], t) for t in trained[1:])
    np.testing.assert_array_equal(model.predict(image, verbose=0), model.predict(image, verbose=0))
    folder = Path(yaml.safe_load((stripes_run / "config.yaml").read_text())["data"]["path"])
    one = folder / "test" / "horizontal" / "1.png"
    assert cli("predict", stripes_run, one)[1] == cli("predict", stripes_run, one)[1]
    first, second = cli("evaluate", stripes_run)[1], cli("evaluate", stripes_run)[1]
    assert first == second


def test_show_draws_activations_filters_heatmap_and_augmentation(stripes_run, cli) -> None:
    from PIL import Image

    folder = Path(yaml.safe_load((stripes_run / "config.yaml").read_text())["data"]["path"])
    image = folder / "test" / "vertical" / "0.jpg"
    code, out, err = cli(
        "show", stripes_run, "--activations", image, "--layers", "conv_0,pool_0",
        "--filters", "conv_1", "--heatmap", image, "--augmented", "3",
    )  # fmt: skip
    assert code == 0, err
    written = [Path(line) for line in out.strip().splitlines() if line.endswith(".png")]
    names = sorted(p.name for p in written)
    assert names == [
        "activations_0_conv_0.png",
        "activations_0_pool_0.png",
        "augmented.png",
        "filters_conv_1.png",
        "heatmap_0.png",
    ]
    for path in written:
        pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
        assert pixels.shape[0] >= 16 and pixels.shape[1] >= 64, path.name
        assert pixels.std() > 1.0, f"{path.name} is constant"
    report = (stripes_run / "report.md").read_text()
    assert "## What the model learned" in report and "visuals/heatmap_0.png" in report
    code, _, err = cli("show", stripes_run, "--filters", "conv_9")
    assert code == 2 and "no layer 'conv_9'" in err and "Did you mean 'conv_1'" in err


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory, keras) -> Path:
    """MobileNet (alpha 0.25, no top) built with weights=None, saved: a stand-in for imagenet."""
    path = tmp_path_factory.mktemp("weights") / "mobilenet_025.weights.h5"
    base = keras.applications.MobileNet(
        include_top=False, weights=None, input_shape=(32, 32, 3), alpha=0.25
    )
    base.save_weights(path)
    return path


def test_feature_extraction_keeps_the_base_and_fine_tuning_changes_only_the_top(
    tmp_path, weights_file, keras
) -> None:
    root = write_tree(tmp_path / "images", {"train": 12, "test": 4})
    config = image_config(root, name="mobilenet")
    config["data"].update(image_size=[32, 32], color_mode="rgb")
    config["model"] = {
        "kind": "pretrained",
        "base": "MobileNet",
        "weights": str(weights_file),
        "options": {"alpha": 0.25},
        # A randomly initialized base passes (almost) nothing through all of its blocks:
        # its first blocks carry a signal, and make a small, quick model.
        "cut": "conv_pw_2_relu",
        "units": [],  # the head right on the pooled features: no ReLU to die between
    }
    config["train"]["epochs"] = 2
    config["workflow"] = {
        "baseline": "none",
        "final": "keep_best",
        "stages": [
            {"name": "features", "role": "small"},
            {"name": "finetune", "model": {"unfreeze": 3}},
        ],
    }
    run = train(config, tmp_path, tmp_path / "runs")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stages"]["finetune"]["continues"] == "features"

    original = keras.applications.MobileNet(
        include_top=False, weights=str(weights_file), input_shape=(32, 32, 3), alpha=0.25
    )
    features = keras.saving.load_model(run / "stages" / "features" / "model.keras")
    finetuned = keras.saving.load_model(run / "stages" / "finetune" / "model.keras")
    assert [layer.name for layer in features.layers[:3]] == [
        "inputs",
        "augment_flip",
        "augment_rotation",
    ]
    base, tuned = features.get_layer("base"), finetuned.get_layer("base")
    for kept, trained in zip(original.weights, base.weights, strict=False):
        np.testing.assert_array_equal(kept.numpy(), trained.numpy())
    changed = []
    for position, (before, after) in enumerate(zip(base.layers, tuned.layers, strict=True)):
        same = all(
            np.array_equal(a.numpy(), b.numpy())
            for a, b in zip(before.weights, after.weights, strict=True)
        )
        if not same:
            changed.append(position)
        if type(after).__name__ == "BatchNormalization":  # inference mode: statistics kept
            np.testing.assert_array_equal(before.moving_mean.numpy(), after.moving_mean.numpy())
    assert changed and min(changed) >= len(base.layers) - 3
    assert not features.get_layer("preprocess_input").trainable


def test_a_run_of_your_own_is_a_base_for_feature_extraction_then_fine_tuning(
    tmp_path, stripes_run, keras
) -> None:
    config = image_config(
        Path(yaml.safe_load((stripes_run / "config.yaml").read_text())["data"]["path"]),
        name="transfer",
    )
    config["model"] = {"kind": "pretrained", "base": f"run:{stripes_run}", "units": [4]}
    config["train"]["epochs"] = 2
    config["workflow"] = {
        "baseline": "none",
        "stages": [
            {"name": "features", "role": "small"},
            {"name": "finetune", "model": {"unfreeze": 2}, "train": {"epochs": 1}},
        ],
        "metric": "val_loss",
    }
    run = train(config, tmp_path, tmp_path / "runs")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stages"]["finetune"]["continues"] == "features"
    # the final retrain walks the same chain: features first, in a folder of its own
    assert (run / "stages" / "final" / "features" / "model.keras").is_file()
    source = keras.saving.load_model(stripes_run / "final" / "model.keras")
    final = keras.saving.load_model(run / "stages" / "final" / "features" / "model.keras")
    base = final.get_layer("base")
    assert base.layers[-1].name == "flatten"  # cut below the source's dense layers
    np.testing.assert_array_equal(
        source.get_layer("conv_0").kernel.numpy(), base.get_layer("conv_0").kernel.numpy()
    )


def test_a_run_base_by_id_is_found_in_the_runs_dir_of_the_command(
    tmp_path, stripes_run, monkeypatch, keras
) -> None:
    """`dlrun train --runs-dir X` with `base: run:<id>` looks for that run in X, as every
    other command does, not in ./runs."""
    monkeypatch.chdir(tmp_path)  # no ./runs here
    monkeypatch.delenv("DLRUN_RUNS_DIR", raising=False)
    config = image_config(
        Path(yaml.safe_load((stripes_run / "config.yaml").read_text())["data"]["path"]),
        name="by-id",
    )
    config["model"] = {"kind": "pretrained", "base": f"run:{stripes_run.name}", "units": [4]}
    config["train"]["epochs"] = 1
    run = train(config, tmp_path, stripes_run.parent)
    summary = json.loads((run / "summary.json").read_text())
    assert stripes_run.name in next(iter(summary["stages"].values()))["model"]
    assert "DLRUN_RUNS_DIR" not in os.environ  # the command's own, not the process's


def test_offline_imagenet_weights_name_the_file(tmp_path, monkeypatch, keras) -> None:
    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    from dlrun.data.inputs import InputSpec
    from dlrun.models.pretrained import PretrainedConfig, build_pretrained
    from dlrun.tasks import head_for

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))  # never a cached copy
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    config = PretrainedConfig(kind="pretrained", base="MobileNetV2", options={"alpha": 0.35})
    with pytest.raises(FatalError) as caught:
        build_pretrained(config, InputSpec((32, 32, 3)), 1, head_for("binary"))
    name = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5"
    assert name in caught.value.message and "no network here" in caught.value.message
    assert f"{tmp_path / 'models'}/" in caught.value.hint


def test_preprocess_input_becomes_one_fixed_affine_layer(keras) -> None:
    from dlrun.models.pretrained import preprocess_weights

    pixels = np.random.RandomState(0).uniform(0, 1, (5, 3)).astype(np.float32)
    for name in ("VGG16", "MobileNetV2", "DenseNet121", "EfficientNetB0"):
        kernel, bias = preprocess_weights(name, 3)
        module = sys.modules[getattr(keras.applications, name).__module__]
        expected = module.preprocess_input(pixels.reshape(5, 1, 1, 3) * 255).reshape(5, 3)
        np.testing.assert_allclose(pixels @ kernel + bias, expected, rtol=1e-4, atol=1e-3)
    kernel, bias = preprocess_weights("MobileNetV2", 1)  # gray into R, G and B: [-1, 1]
    np.testing.assert_allclose(kernel, [[2.0, 2.0, 2.0]], rtol=1e-5)
    np.testing.assert_allclose(bias, [-1.0, -1.0, -1.0], rtol=1e-5)


def test_the_application_names_are_keras_own(keras) -> None:
    from dlrun.models.pretrained import APPLICATIONS

    assert set(APPLICATIONS) == {n for n in dir(keras.applications) if n[0].isupper()}


# Clean errors: each is one paragraph naming what is wrong and what to do.


def check(cli, write_config, config: dict) -> tuple[int, str]:
    code, _, err = cli("check", write_config(config))
    return code, " ".join(err.split())


def test_check_of_image_folders_and_a_pretrained_base_imports_no_tensorflow(tmp_path) -> None:
    import subprocess

    root = write_tree(tmp_path / "images", {"train": 2, "test": 1})
    config = image_config(root)
    config["model"] = {"kind": "pretrained", "base": "VGG16", "weights": None}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    code = (
        f"import sys; from dlrun.cli import run; assert run(['check', {str(path)!r}]) == 0; "
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_one_class_folder_is_refused_at_check(tmp_path, cli, write_config) -> None:
    root = write_tree(tmp_path / "images", {"": 2})
    (root / "vertical" / "0.jpg").unlink()
    (root / "vertical" / "1.png").unlink()
    (root / "vertical").rmdir()
    code, err = check(cli, write_config, image_config(root))
    assert code == 2 and "1 class folder (horizontal); a classifier needs at least two" in err


def test_mixed_sizes_are_resized_and_said_so(tmp_path) -> None:
    from PIL import Image

    root = write_tree(tmp_path / "images", {"": 4})
    Image.fromarray(np.zeros((20, 12, 3), np.uint8)).save(root / "vertical" / "big.png")
    with pytest.raises(DataError) as caught:
        load_raw(validate(image_config(root)).config.data)
    assert caught.value.message == (
        f"the images differ in size: {root / 'horizontal' / '0.jpg'} is 16x16, "
        f"{root / 'vertical' / 'big.png'} is 20x12 (height x width), and data.image_size "
        "is not set."
    )
    config = image_config(root)
    config["data"]["image_size"] = [16, 16]
    with pytest.warns(DataWarning, match="1 of 9 images are not 16x16 .*each is resized"):
        raw = load_raw(validate(config).config.data)
    assert len(raw.train) + len(raw.test) == 9


def test_a_corrupt_file_is_named_or_skipped_with_a_count(tmp_path) -> None:
    root = write_tree(tmp_path / "images", {"": 4})
    bad = root / "horizontal" / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 this is not a JPEG")
    (root / "horizontal" / "notes.txt").write_text("not an image")
    data = validate(image_config(root)).config.data
    with (
        pytest.raises(DataError, match=f"{bad} is not a readable image") as caught,
        pytest.warns(DataWarning, match="ignored 1 file that are not images \\(.txt\\)"),
    ):
        load_raw(data)
    assert "skip_bad_files: true" in caught.value.hint
    data = data.model_copy(update={"skip_bad_files": True})
    with pytest.warns(DataWarning, match=f"skipped 1 file .*the first {bad}"):
        raw = load_raw(data)
    assert len(raw.train) + len(raw.test) == 8


def test_an_unknown_application_gets_a_did_you_mean(tmp_path, cli, write_config) -> None:
    root = write_tree(tmp_path / "images", {"": 2})
    config = image_config(root)
    config["model"] = {"kind": "pretrained", "base": "MobilenetV2"}
    code, err = check(cli, write_config, config)
    assert code == 2 and "'MobilenetV2' is not a keras.applications model" in err
    assert "Did you mean 'MobileNetV2'?" in err


def test_a_run_base_without_a_final_model_is_refused(tmp_path, cli, write_config) -> None:
    root = write_tree(tmp_path / "images", {"": 2})
    unfinished = tmp_path / "runs" / "20260101-000000-stripes-abc123"
    (unfinished / "stages").mkdir(parents=True)
    (unfinished / "meta.json").write_text(json.dumps({"status": "interrupted"}))
    (unfinished / "config.yaml").write_text(yaml.safe_dump(image_config(root)))
    config = image_config(root)
    config["model"] = {"kind": "pretrained", "base": f"run:{unfinished}"}
    code, err = check(cli, write_config, config)
    assert code == 2 and f"{unfinished} has no final model (status: interrupted)" in err


def test_the_example_config_is_valid() -> None:
    from dlrun.spec import load_config

    config = load_config(Path(__file__).parents[1] / "configs" / "images.yaml", inputs=False)
    stages = config.config.workflow.planned()
    assert [s.name for s in stages] == ["features", "finetune"]
    assert config.config.model.describe() == "pretrained MobileNetV2 (frozen) + 256 + dropout 0.5"


@pytest.mark.filterwarnings("ignore::UserWarning")  # Keras warns for each layer that differs
def test_a_weights_file_of_another_model_is_refused_by_name(weights_file, keras) -> None:
    from dlrun.data.inputs import InputSpec
    from dlrun.errors import ConfigError
    from dlrun.models.pretrained import PretrainedConfig, build_pretrained
    from dlrun.tasks import head_for

    wider = PretrainedConfig(
        kind="pretrained", base="MobileNet", weights=str(weights_file), options={"alpha": 0.5}
    )
    with pytest.raises(ConfigError, match=f"model.weights {weights_file} does not fit MobileNet"):
        build_pretrained(wider, InputSpec((32, 32, 3)), 1, head_for("binary"))


def test_run_last_as_a_base_is_refused_as_not_reproducible(tmp_path, cli, write_config) -> None:
    config = image_config(write_tree(tmp_path / "images", {"": 2}))
    config["model"] = {"kind": "pretrained", "base": "run:last"}
    code, err = check(cli, write_config, config)
    assert code == 2 and "would not reproduce; give the run's id or path" in err
