"""`dlrun export --format onnx|saved_model` under each Keras backend.

A tiny digits run (8x8 images, one hidden layer) trains once, under TensorFlow. Its ONNX
export is written in this process (TensorFlow) and by `python -m dlrun` under JAX and
torch (KERAS_BACKEND in the environment: a process picks its backend once), then run
here with onnxruntime and compared with the Keras model, loaded here under TensorFlow.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import TINY_CONFIG

from dlrun.cli import run as dlrun
from dlrun.commands.export import check_supported
from dlrun.errors import UsageError
from dlrun.tfenv import import_keras

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("digits")
    config = copy.deepcopy(TINY_CONFIG)
    config["train"].update(epochs=1, tensorboard=False)
    path = base / "tiny.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    runs = base / "runs"
    assert dlrun(["train", str(path), "--runs-dir", str(runs), "-q"]) == 0
    (run,) = runs.iterdir()
    return run


@pytest.fixture(scope="module")
def expected(digits_run: Path) -> tuple[np.ndarray, np.ndarray]:
    """Digit-like inputs of 3 samples (a batch size the export never saw) and the Keras
    model's outputs for them."""
    keras = import_keras()
    model = keras.saving.load_model(digits_run / "final" / "model.keras")
    x = np.random.RandomState(3).uniform(0, 1, size=(3, 8, 8, 1)).astype(np.float32)
    return x, model.predict(x, verbose=0)


def export_in(backend: str, *args: object) -> subprocess.CompletedProcess[str]:
    """`python -m dlrun export ARGS` in a process running `backend`."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    return subprocess.run(
        [sys.executable, "-m", "dlrun", "export", *map(str, args), "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_onnx_agrees(target: Path, expected: tuple[np.ndarray, np.ndarray]) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    assert sorted(p.name for p in target.iterdir()) == [
        ".dlrun-export",
        "model.keras",
        "model.onnx",
        "preprocessing.json",
    ]
    x, keras_outputs = expected
    session = onnxruntime.InferenceSession(str(target / "model.onnx"))
    (got,) = session.run(None, {"inputs": x})
    np.testing.assert_allclose(got, keras_outputs, rtol=0, atol=1e-5)


def test_onnx_export_under_tensorflow_agrees_with_keras(
    cli, digits_run: Path, expected, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    target = tmp_path / "served"
    code, out, err = cli("export", digits_run, "--format", "onnx", "--output", target)
    assert code == 0, err
    assert "model.onnx    loaded with onnxruntime: outputs agree on 8 samples" in out
    assert "{'inputs': x}" in out
    assert_onnx_agrees(target, expected)


@pytest.mark.parametrize(("backend", "converter"), [("jax", "jax2onnx"), ("torch", "torch")])
def test_onnx_export_under_jax_and_torch_agrees_with_keras(
    digits_run: Path, expected, tmp_path: Path, backend: str, converter: str
) -> None:
    pytest.importorskip(backend)
    pytest.importorskip(converter)
    pytest.importorskip("onnxruntime")
    target = tmp_path / "served"
    done = export_in(backend, digits_run, "--format", "onnx", "--output", target)
    assert done.returncode == 0, done.stderr
    assert_onnx_agrees(target, expected)


def test_saved_model_export_under_jax_agrees_with_keras(
    digits_run: Path, expected, tmp_path: Path
) -> None:
    pytest.importorskip("jax")
    import tensorflow as tf

    target = tmp_path / "served"
    done = export_in("jax", digits_run, "--output", target)  # saved_model is the default
    assert done.returncode == 0, done.stderr
    x, keras_outputs = expected
    reloaded = tf.saved_model.load(str(target / "saved_model"))  # held: its variables die with it
    served = reloaded.serve(tf.constant(x))
    np.testing.assert_allclose(np.asarray(served), keras_outputs, rtol=0, atol=1e-5)


def test_missing_onnx_extra_is_a_usage_error_before_the_model_loads(
    cli, digits_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dlrun.commands.export as export_module

    def no_load(*args: object) -> None:
        raise AssertionError("the model loaded before the missing package was named")

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    monkeypatch.setattr(export_module, "load_final_model", no_load)
    target = tmp_path / "served"
    code, out, err = cli("export", digits_run, "--format", "onnx", "--output", target)
    assert code == 2
    assert out == ""
    assert "'onnxruntime' package" in err and "pip install 'dlrun[onnx]'" in err
    assert "Traceback" not in err
    assert not target.exists() and not list(tmp_path.glob(".served*"))


@pytest.mark.parametrize(
    ("fmt", "backend", "strings", "sparse", "message"),
    [
        ("saved_model", "torch", False, False, "needs the tensorflow or jax Keras backend"),
        ("onnx", "tensorflow", True, False, "cannot export a raw-text run"),
        ("saved_model", "jax", True, False, "under the tensorflow backend only"),
        ("onnx", "torch", False, True, "sparse inputs"),
        ("onnx", "numpy", False, False, "needs the tensorflow, jax, torch Keras backend"),
    ],
)
def test_exports_a_backend_cannot_write_are_refused_naming_the_alternative(
    fmt: str, backend: str, strings: bool, sparse: bool, message: str
) -> None:
    with pytest.raises(UsageError, match=message) as refused:
        check_supported(fmt, backend, strings=strings, sparse=sparse)
    hint = refused.value.hint or ""
    assert "KERAS_BACKEND=" in hint or "--format saved_model" in hint
