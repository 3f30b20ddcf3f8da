"""The generative model kinds (book ch. 8): autoencoder, vae, dcgan, and the transformer
that predicts the next token. Each trains through plain `fit` on tiny data, logs what it
says it logs, and loads back from a .keras file in safe mode in another process.

A process's Keras backend is fixed once Keras is imported (pytest's is TensorFlow), so
the VAE and the GAN train on JAX and PyTorch in processes of their own. The VAE starts
there from the weights this process saved, so its losses can be compared across
backends: evaluated on the same weights they agree to float rounding, and after training
they stay close (each backend draws its own random numbers for the sampling).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from dlrun.data.inputs import InputSpec
from dlrun.errors import ConfigError
from dlrun.models.autoencoder import AutoencoderConfig, build_autoencoder
from dlrun.models.dcgan import DcganConfig, build_dcgan
from dlrun.models.transformer import TransformerConfig, build_transformer
from dlrun.models.vae import VaeConfig, build_vae
from dlrun.tasks import head_for

ROOT = Path(__file__).resolve().parents[1]
HAVE = {name: importlib.util.find_spec(name) is not None for name in ("jax", "torch")}
needs_jax = pytest.mark.skipif(not HAVE["jax"], reason="jax is not installed")
needs_torch = pytest.mark.skipif(not HAVE["torch"], reason="torch is not installed")
TIMEOUT = 300  # seconds for one process: generous, the machine is shared

IMAGE = (16, 16, 1)
SMALL_GAN = {"latent_dim": 16, "generator_filters": [32, 16], "discriminator_filters": [16, 32]}
VOCABULARY, STEPS = 20, 12


@pytest.fixture(scope="module", autouse=True)
def keras():
    from dlrun.tfenv import import_keras

    return import_keras()


def blobs(n: int = 64, seed: int = 0) -> np.ndarray:
    """n 16x16 images in [0, 1], each a 4x4 white square somewhere on black: easy to learn."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, *IMAGE), "float32")
    for image, (row, col) in zip(images, rng.integers(2, 14, (n, 2)), strict=True):
        image[row - 2 : row + 2, col - 2 : col + 2, 0] = 1.0
    return images


def counting(n: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences that count up by 3 (mod the vocabulary, ids 1..19), and the next id."""
    start = np.random.default_rng(seed).integers(1, VOCABULARY, n)
    ids = (start[:, None] + 3 * np.arange(STEPS + 1)[None, :]) % (VOCABULARY - 1) + 1
    ids = ids.astype("int32")
    return ids[:, :STEPS], ids[:, STEPS]


def history(fitted) -> dict[str, list[float]]:
    return {key: [float(v) for v in values] for key, values in fitted.history.items()}


def finite(logs: dict[str, list[float]]) -> bool:
    return all(math.isfinite(v) for values in logs.values() for v in values)


# autoencoder


def test_conv_autoencoder_learns_to_reconstruct(keras) -> None:
    keras.utils.set_random_seed(1)
    x = blobs()
    config = AutoencoderConfig(kind="autoencoder", latent_dim=8, noise=0.1)
    model = build_autoencoder(config, InputSpec(IMAGE), 0, None)
    assert model.name == "autoencoder"
    encoder, decoder = model.get_layer("encoder"), model.get_layer("decoder")
    assert encoder.output_shape == (None, 8)
    assert decoder.input_shape == (None, 8) and decoder.output_shape == (None, *IMAGE)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    losses = history(model.fit(x, x, epochs=4, batch_size=16, verbose=0))["loss"]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0] - 0.05, losses
    reconstructions = model.predict(x[:4], verbose=0)
    assert reconstructions.shape == (4, *IMAGE)
    assert reconstructions.min() >= 0 and reconstructions.max() <= 1
    # the noise is for training only: predictions of the same input agree
    np.testing.assert_allclose(model.predict(x[:4], verbose=0), reconstructions, atol=1e-6)


def test_dense_autoencoder_takes_vectors() -> None:
    config = AutoencoderConfig(kind="autoencoder", architecture="dense", units=[16], latent_dim=4)
    model = build_autoencoder(config, InputSpec((64,)), 0, None)
    assert model.get_layer("encoder").output_shape == (None, 4)
    assert model.output_shape == (None, 64)
    assert config.describe() == "autoencoder dense 16 latent 4"


def test_conv_bodies_refuse_what_is_no_fitting_image() -> None:
    config = AutoencoderConfig(kind="autoencoder")
    assert "needs images" in config.shape_problems((64,))[0]
    assert "must divide by 4" in config.shape_problems((10, 10, 1))[0]
    assert config.shape_problems(IMAGE) == []
    with pytest.raises(ConfigError, match="needs images"):
        build_autoencoder(config, InputSpec((64,)), 0, None)
    with pytest.raises(ConfigError, match="must divide by 4"):
        build_vae(VaeConfig(kind="vae"), InputSpec((10, 10, 1)), 0, None)
    with pytest.raises(ConfigError, match="must divide by 4"):
        build_dcgan(DcganConfig(kind="dcgan"), InputSpec((30, 30, 3)), 0, None)
    assert VaeConfig(kind="vae", filters=[]).problems()
    assert AutoencoderConfig(kind="autoencoder", output_activation="softmax").problems()


# vae


@pytest.fixture(scope="module")
def vae_run(keras, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A VAE trained 3 epochs on the blobs in this process (TensorFlow): the directory with
    its initial weights and the blobs, and what it logged, for the other backends to
    compare with."""
    base = tmp_path_factory.mktemp("vae")
    keras.utils.set_random_seed(1)
    x = blobs()
    np.save(base / "blobs.npy", x)
    model = build_vae(VaeConfig(kind="vae"), InputSpec(IMAGE), 0, None)
    model.save_weights(base / "init.weights.h5")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))  # no loss: the VAE's own
    before = model.evaluate(x, x, batch_size=16, verbose=0, return_dict=True)
    logs = history(model.fit(x, x, epochs=3, batch_size=16, verbose=0, shuffle=False))
    return base, {"model": model, "evaluate": before, "fit": logs}


def test_vae_logs_its_losses_and_learns(vae_run) -> None:
    _, run = vae_run
    model, before, logs = run["model"], run["evaluate"], run["fit"]
    assert model.encoder.name == "encoder" and model.decoder.name == "decoder"
    assert [tuple(s) for s in model.encoder.output_shape] == [(None, 2), (None, 2)]
    assert set(logs) == {"loss", "reconstruction_loss", "kl_loss"}
    assert finite(logs)
    assert logs["loss"][-1] < logs["loss"][0] - 5, logs
    parts = zip(logs["loss"], logs["reconstruction_loss"], logs["kl_loss"], strict=True)
    for total, reconstruction, kl in parts:
        assert total == pytest.approx(reconstruction + kl, rel=1e-4)
    # batches of x alone train it too
    x = blobs()
    alone = history(model.fit(x, epochs=1, batch_size=16, verbose=0))
    assert set(alone) == {"loss", "reconstruction_loss", "kl_loss"} and finite(alone)
    after = model.evaluate(x, x, batch_size=16, verbose=0, return_dict=True)
    assert set(after) == {"loss", "reconstruction_loss", "kl_loss"}
    assert after["loss"] < before["loss"]
    generated = model.decoder.predict(np.zeros((2, 2), "float32"), verbose=0)
    assert generated.shape == (2, *IMAGE) and 0 <= generated.min() <= generated.max() <= 1


# dcgan


def test_dcgan_trains_and_generates_images(keras) -> None:
    keras.utils.set_random_seed(1)
    x = blobs()
    config = DcganConfig(kind="dcgan", discriminator_learning_rate=1e-4, **SMALL_GAN)
    model = build_dcgan(config, InputSpec(IMAGE), 0, None)
    assert model.count_params() > 0
    assert model.generator.output_shape == (None, *IMAGE)
    assert model.discriminator.output_shape == (None, 1)
    model.compile(optimizer=keras.optimizers.Adam(2e-4))
    assert float(model.discriminator_optimizer.learning_rate) == pytest.approx(1e-4)
    logs = history(
        model.fit(x, epochs=2, batch_size=16, verbose=0, validation_data=(blobs(32, seed=1),))
    )
    names = ["d_loss", "g_loss", "real_accuracy"]
    assert set(logs) == {*names, *(f"val_{name}" for name in names)}
    assert finite(logs)
    assert all(0 <= v <= 1 for v in logs["val_real_accuracy"])
    # labels, if the data has any, are ignored
    with_labels = history(model.fit(x, np.zeros(len(x)), epochs=1, batch_size=16, verbose=0))
    assert set(with_labels) == set(names) and finite(with_labels)
    # both networks trained: 3 epochs of 4 batches
    assert int(model.optimizer.iterations) == int(model.discriminator_optimizer.iterations) == 12
    evaluated = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert set(evaluated) == set(names)
    images = model.predict(np.random.default_rng(0).normal(size=(5, 16)), verbose=0)
    assert images.shape == (5, *IMAGE) and 0 <= images.min() <= images.max() <= 1


def test_dcgan_wants_its_own_losses(keras) -> None:
    model = build_dcgan(DcganConfig(kind="dcgan", **SMALL_GAN), InputSpec(IMAGE), 0, None)
    with pytest.raises(ValueError, match="own losses"):
        model.compile(optimizer="adam", loss="binary_crossentropy")


# transformer


def test_transformer_learns_the_next_token(keras) -> None:
    keras.utils.set_random_seed(1)
    x, y = counting()
    spec = InputSpec((STEPS,), dtype="int32", vocabulary=VOCABULARY)
    model = build_transformer(
        TransformerConfig(kind="transformer"), spec, VOCABULARY, head_for("multiclass")
    )
    assert model.output_shape == (None, VOCABULARY)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    logs = history(model.fit(x, y, epochs=3, batch_size=32, verbose=0))
    assert finite(logs) and logs["loss"][-1] < logs["loss"][0] / 2, logs
    assert logs["accuracy"][-1] > 0.9
    # padded at the end, the last real token is the one that predicts: 3 more than it
    padded = x[:4].copy()
    padded[:, 6:] = 0
    predicted = model.predict(padded, verbose=0).argmax(axis=1)
    np.testing.assert_array_equal(predicted, (padded[:, 5] + 3 - 1) % (VOCABULARY - 1) + 1)


def test_transformer_refuses_what_is_no_token_sequence() -> None:
    with pytest.raises(ConfigError, match="needs token sequences"):
        build_transformer(
            TransformerConfig(kind="transformer"), InputSpec((12, 3)), 2, head_for("binary")
        )
    assert TransformerConfig(kind="transformer", embed_dim=30, heads=4).problems()


# saved models, other processes, other backends


def run_python(code: str, backend: str = "tensorflow") -> dict:
    """Run `code` in a new Python process on `backend`; the JSON of its last stdout line."""
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_saved_models_load_in_safe_mode_in_a_new_process(keras, tmp_path: Path) -> None:
    keras.utils.set_random_seed(2)
    images, (ids, next_ids) = blobs(32), counting(32)
    noise = np.random.default_rng(0).normal(size=(4, 16)).astype("float32")
    models = {
        "autoencoder": build_autoencoder(
            AutoencoderConfig(kind="autoencoder", noise=0.1), InputSpec(IMAGE), 0, None
        ),
        "vae": build_vae(VaeConfig(kind="vae"), InputSpec(IMAGE), 0, None),
        "dcgan": build_dcgan(DcganConfig(kind="dcgan", **SMALL_GAN), InputSpec(IMAGE), 0, None),
        "transformer": build_transformer(
            TransformerConfig(kind="transformer"),
            InputSpec((STEPS,), dtype="int32", vocabulary=VOCABULARY),
            VOCABULARY,
            head_for("multiclass"),
        ),
    }
    inputs = {"autoencoder": images, "vae": images, "dcgan": noise, "transformer": ids}
    models["autoencoder"].compile(optimizer="adam", loss="binary_crossentropy")
    models["vae"].compile(optimizer="adam")
    models["dcgan"].compile(optimizer="adam")
    models["transformer"].compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    # one step each, so that the files hold optimizer states too
    models["autoencoder"].fit(images, images, epochs=1, batch_size=32, verbose=0)
    models["vae"].fit(images, images, epochs=1, batch_size=32, verbose=0)
    models["dcgan"].fit(images, epochs=1, batch_size=32, verbose=0)
    models["transformer"].fit(ids, next_ids, epochs=1, batch_size=32, verbose=0)
    for name, model in models.items():
        model.save(tmp_path / f"{name}.keras")
        np.save(tmp_path / f"{name}.in.npy", inputs[name])
        np.save(tmp_path / f"{name}.out.npy", model.predict(inputs[name], verbose=0))
    found = run_python(
        f"""
        import json, sys
        import numpy as np
        import dlrun.models.autoencoder, dlrun.models.dcgan
        import dlrun.models.transformer, dlrun.models.vae
        imported_keras = "keras" in sys.modules  # importing the kinds must not
        for kind in (dlrun.models.vae, dlrun.models.dcgan, dlrun.models.transformer):
            kind.register()
        import keras
        base = {str(tmp_path)!r}
        diffs = {{}}
        for name in ("autoencoder", "vae", "dcgan", "transformer"):
            model = keras.saving.load_model(f"{{base}}/{{name}}.keras", safe_mode=True)
            got = model.predict(np.load(f"{{base}}/{{name}}.in.npy"), verbose=0)
            diffs[name] = float(np.abs(got - np.load(f"{{base}}/{{name}}.out.npy")).max())
        gan = keras.saving.load_model(f"{{base}}/dcgan.keras", safe_mode=True)
        steps = [int(gan.optimizer.iterations), int(gan.discriminator_optimizer.iterations)]
        print(json.dumps({{"keras": imported_keras, "diffs": diffs, "gan_steps": steps}}))
        """
    )
    assert found["keras"] is False
    assert all(diff < 1e-5 for diff in found["diffs"].values()), found["diffs"]
    assert found["gan_steps"] == [1, 1]  # both optimizers' states come back


BACKEND_RUN = """
    import json
    import numpy as np
    import keras
    from dlrun.data.inputs import InputSpec
    from dlrun.models.dcgan import DcganConfig, build_dcgan
    from dlrun.models.vae import VaeConfig, build_vae

    base = {base!r}
    x = np.load(f"{{base}}/blobs.npy")
    keras.utils.set_random_seed(1)
    vae = build_vae(VaeConfig(kind="vae"), InputSpec({image}), 0, None)
    vae.load_weights(f"{{base}}/init.weights.h5")
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = vae.evaluate(x, x, batch_size=16, verbose=0, return_dict=True)
    fit = vae.fit(x, x, epochs=3, batch_size=16, verbose=0, shuffle=False).history
    keras.utils.set_random_seed(1)
    gan = build_dcgan(DcganConfig(kind="dcgan", **{gan}), InputSpec({image}), 0, None)
    gan.compile(optimizer=keras.optimizers.Adam(2e-4))
    gan_fit = gan.fit(x, epochs=2, batch_size=16, verbose=0, validation_data=(x[:32],)).history
    steps = [int(gan.optimizer.iterations), int(gan.discriminator_optimizer.iterations)]
    print(json.dumps({{
        "backend": keras.backend.backend(),
        "evaluate": before,
        "fit": {{k: [float(v) for v in vs] for k, vs in fit.items()}},
        "gan": {{k: [float(v) for v in vs] for k, vs in gan_fit.items()}},
        "gan_steps": steps,
    }}))
"""


@pytest.mark.parametrize(
    "backend", [pytest.param("jax", marks=needs_jax), pytest.param("torch", marks=needs_torch)]
)
def test_vae_and_gan_train_on_the_other_backends(vae_run, backend: str) -> None:
    base, reference = vae_run  # this process's (TensorFlow) run, from the same weights
    found = run_python(
        BACKEND_RUN.format(base=str(base), image=IMAGE, gan=SMALL_GAN), backend=backend
    )
    assert found["backend"] == backend
    # the same weights, the same data: the same losses, to float rounding
    for key, value in reference["evaluate"].items():
        assert found["evaluate"][key] == pytest.approx(value, rel=1e-4, abs=1e-4), key
    # trained: close, not equal (each backend samples its own noise), and decreasing
    logs = found["fit"]
    assert finite(logs) and set(logs) == {"loss", "reconstruction_loss", "kl_loss"}
    assert logs["loss"][-1] < logs["loss"][0] - 5, logs
    np.testing.assert_allclose(logs["loss"], reference["fit"]["loss"], rtol=0.02)
    np.testing.assert_allclose(logs["kl_loss"], reference["fit"]["kl_loss"], rtol=0.5, atol=0.05)
    gan = found["gan"]
    names = ["d_loss", "g_loss", "real_accuracy"]
    assert set(gan) == {*names, *(f"val_{name}" for name in names)} and finite(gan)
    assert found["gan_steps"] == [8, 8]  # 2 epochs of 4 batches, for both networks
