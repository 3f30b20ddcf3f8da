"""The generative tasks end to end: `task: autoencoder` (autoencoder, vae), `task: gan`
(dcgan) and `task: language_model`, trained by `dlrun train`, scored once on test against
their baselines, drawn, generated from with `dlrun generate`, and refused by `dlrun check`
where they cannot train.

Images are scikit-learn's 8x8 digits (pixels 0..16, scaled to [0, 1]); the text is a small
corpus written by the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import check_error
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from dlrun.runs.rundir import read_history

ROOT = Path(__file__).resolve().parents[1]

DIGITS = {"source": "sklearn.digits", "limit": 400, "validation": {"fraction": 0.2}}
VAE = {
    "name": "vae",
    "seed": 3,
    "task": "autoencoder",
    "data": DIGITS,
    "model": {"kind": "vae", "latent_dim": 2, "filters": [8, 16]},
    "train": {"batch_size": 32, "epochs": 2, "optimizer": {"name": "adam"}},
}
GAN = {
    "name": "gan",
    "seed": 3,
    "task": "gan",
    "data": DIGITS,
    "model": {
        "kind": "dcgan",
        "latent_dim": 8,
        "generator_filters": [16, 8],
        "discriminator_filters": [8, 16],
    },
    "train": {"batch_size": 32, "epochs": 2, "optimizer": {"name": "adam"}},
}
WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "the",
    "mat",
    "and",
    "the",
    "dog",
    "sat",
    "on",
    "the",
    "log",
    "while",
    "the",
    "bird",
    "sang",
]


def corpus(path: Path, words: int = 3000) -> Path:
    rng = np.random.default_rng(0)
    path.write_text(" ".join(rng.choice(WORDS, size=words)), encoding="utf-8")
    return path


def language_model(path: Path) -> dict:
    return {
        "name": "lm",
        "seed": 3,
        "task": "language_model",
        "data": {"source": "text_file", "path": str(path), "sequence_length": 12, "step": 3},
        "model": {"kind": "rnn", "cell": "lstm", "units": [32]},
        "train": {"batch_size": 64, "epochs": 2, "optimizer": {"name": "adam"}},
    }


def accumulator(path: Path) -> EventAccumulator:
    events = EventAccumulator(str(path), size_guidance={"tensors": 0})
    events.Reload()
    return events


def only_run(runs_dir: Path) -> Path:
    (run,) = runs_dir.iterdir()
    return run


def test_a_vae_trains_beats_the_mean_image_and_draws_its_latent_space(
    cli, runs_dir, write_config
) -> None:
    # 20 epochs of 800 digits: a VAE's KL term first holds it at the mean image
    train = {**VAE["train"], "epochs": 20, "optimizer": {"name": "adam", "learning_rate": 0.003}}
    config = write_config({**VAE, "data": {**DIGITS, "limit": 1000}, "train": train})
    code, out, err = cli("train", config, "-q")
    assert code == 0, (out, err)
    run = only_run(runs_dir)
    history = read_history(run / "stages" / "train" / "history.csv")
    for key in ("loss", "reconstruction_loss", "kl_loss", "val_loss", "val_reconstruction_loss"):
        assert all(np.isfinite(row[key]) for row in history), key
    assert history[-1]["reconstruction_loss"] < history[0]["reconstruction_loss"]
    summary = json.loads((run / "summary.json").read_text())
    final = summary["final"]
    # scored by the model's own losses, through evaluate, against the mean image
    assert {"loss", "reconstruction_loss", "kl_loss"} <= set(final["test"])
    judged = final["baseline"]
    assert judged["reference"]["name"] == "mean_image"
    assert judged["reference"]["metric"] == "reconstruction_loss"
    assert judged["beaten"], judged["verdict"]
    for name in ("reconstructions", "latent_grid", "latent_scatter"):
        assert summary["plots"][name] == f"{name}.png"
        assert (run / f"{name}.png").is_file()
    # 15 x 15 decoded 8x8 digits, a gap of one pixel, twice the size
    width, height = Image.open(run / "latent_grid.png").size
    assert width == height == 2 * (15 * 9 - 1)
    assert (
        "![Images decoded from a grid of latent points](latent_grid.png)"
        in (run / "report.md").read_text()
    )


def test_generate_is_deterministic_with_a_seed(cli, runs_dir, write_config, tmp_path) -> None:
    code, out, err = cli("train", write_config(VAE), "-q")
    assert code == 0, (out, err)
    run = only_run(runs_dir)
    made = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        code, out, err = cli("generate", run, "-n", 16, "--seed", seed, "-o", tmp_path / name)
        assert code == 0, (out, err)
        images = np.load(tmp_path / name / "samples.npy")
        assert images.shape == (16, 8, 8, 1)
        assert images.min() >= 0 and images.max() <= 1
        assert (tmp_path / name / "samples.png").is_file()
        made.append(images)
    assert np.array_equal(made[0], made[1])
    assert not np.array_equal(made[0], made[2])
    np.savez(tmp_path / "x.npz", x=np.zeros((2, 8, 8)))
    code, out, err = cli("predict", run, tmp_path / "x.npz")
    assert code == 2 and "makes images, not predictions" in err and "dlrun generate" in err


def test_a_gan_trains_both_networks_and_draws_samples_each_epoch(
    cli, runs_dir, write_config, tmp_path
) -> None:
    code, out, err = cli("train", write_config(GAN), "-q")
    assert code == 0, (out, err)
    run = only_run(runs_dir)
    stage = run / "stages" / "train"
    history = read_history(stage / "history.csv")
    assert len(history) == 2
    for key in ("d_loss", "g_loss", "val_d_loss", "val_g_loss", "val_real_accuracy"):
        assert all(np.isfinite(row[key]) for row in history), key
    assert "val_accuracy" not in history[0]  # no classifier accuracy
    assert (stage / "samples" / "epoch-001.png").is_file()
    assert (stage / "samples" / "epoch-002.png").is_file()
    # TensorBoard's images tab shows each epoch's samples
    images = accumulator(stage / "tensorboard" / "samples").Tensors("samples")
    assert [e.step for e in images] == [1, 2]
    summary = json.loads((run / "summary.json").read_text())
    # a GAN's losses rank nothing: its fit keeps the last epoch
    assert summary["stages"]["train"]["best_epoch"] == 2
    assert summary["stages"]["train"]["verdict"] == (
        "its losses do not measure its samples: look at samples.png"
    )
    assert not (stage / "checkpoint.keras").exists()
    assert {"d_loss", "g_loss", "real_accuracy"} <= set(summary["final"]["test"])
    assert (run / "samples.png").is_file()
    assert "do not measure" not in out  # the warning is the report's, not noise
    assert "judge them by the pictures" in (run / "report.md").read_text()
    code, out, err = cli("generate", run, "-n", 4, "--seed", 1, "-o", tmp_path / "g")
    assert code == 0, (out, err)
    assert np.load(tmp_path / "g" / "samples.npy").shape == (4, 8, 8, 1)


def test_a_language_model_beats_the_unigram_baseline_and_continues_a_prompt(
    cli, runs_dir, write_config, tmp_path
) -> None:
    config = language_model(corpus(tmp_path / "corpus.txt"))
    config["train"]["epochs"] = 6
    code, out, err = cli("train", write_config(config), "-q")
    assert code == 0, (out, err)
    run = only_run(runs_dir)
    summary = json.loads((run / "summary.json").read_text())
    test = summary["final"]["test"]
    assert test["perplexity"] == pytest.approx(np.exp(test["loss"]), rel=1e-6)
    judged = summary["final"]["baseline"]
    assert judged["reference"]["name"] == "unigram"
    assert judged["beaten"], judged["verdict"]
    samples = (run / "stages" / "train" / "samples.txt").read_text()
    assert "## epoch 1\n" in samples and "## epoch 6\n" in samples
    assert "temperature 0.2:" in samples
    texts = accumulator(run / "stages" / "train" / "tensorboard" / "samples").Tensors("samples")
    assert [e.step for e in texts] == list(range(1, 7))
    shown = tensor_util.make_ndarray(texts[-1].tensor_proto).item().decode()
    assert shown == samples.split("## epoch 6\n")[1].strip()

    args = ("generate", run, "--prompt", "the cat", "--length", 40, "--seed", 2)
    first = cli(*args, "--temperature", "0.2,1.0")
    again = cli(*args, "--temperature", "0.2,1.0")
    assert first[0] == 0, first
    assert first[1] == again[1]
    assert first[1].count("--- temperature") == 2
    (tmp_path / "prompt.txt").write_text("the cat sat on the mat and the dog", encoding="utf-8")
    code, out, err = cli("predict", run, tmp_path / "prompt.txt")
    assert code == 0, (out, err)
    header, row = out.splitlines()
    # the next character's probability, by character: after "dog", " " comes
    assert header.startswith("predicted,p_,p_[UNK],p_ ,p_a,")
    assert row.startswith(" ,")
    code, out, err = cli(*args[:3], "the cat ¤", "--length", 5, "--seed", 2)
    assert code == 0, (out, err)
    assert "vocabulary lacks, read as [UNK]: '¤'" in " ".join(err.split())


def test_generate_refuses_a_run_that_does_not_generate(cli, runs_dir, write_config) -> None:
    config = write_config({**VAE, "model": {"kind": "autoencoder", "latent_dim": 4}})
    assert cli("train", config, "-q")[0] == 0
    code, out, err = cli("generate", only_run(runs_dir))
    assert code == 2
    assert "cannot generate" in err and "model.kind: vae" in err
    assert "Traceback" not in err


def test_check_refuses_what_a_contract_cannot_train(cli, write_config, tmp_path) -> None:
    err = check_error(cli, write_config({**GAN, "model": {"kind": "mlp"}}))
    assert "task 'gan' trains model.kind dcgan, not 'mlp'" in err
    err = check_error(cli, write_config({**VAE, "task": "binary"}))
    assert "model.kind 'vae' trains only for task autoencoder" in err
    err = check_error(cli, write_config({**GAN, "workflow": {"baseline": "auto"}}))
    assert "cannot rank stages" in err
    space = {"model.latent_dim": {"choice": [8, 16]}}
    err = check_error(cli, write_config({**GAN, "sweep": {"space": space}}, "s.yaml"))
    assert "cannot rank trials" in err
    three = {**VAE, "model": {"kind": "vae", "latent_dim": 3, "latent_grid": True}}
    err = check_error(cli, write_config(three, "three.yaml"))
    assert "model.latent_grid draws a plane of latent points, and model.latent_dim is 3" in err
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("x,y\n1,2\n3,4\n", encoding="utf-8")
    lm = language_model(numbers)
    lm["data"] = {"source": "csv", "path": str(numbers), "target": "y"}
    err = check_error(cli, write_config(lm, "lm.yaml"))
    assert "task language_model learns from text" in err


# Trains a config with the process killed (SIGKILL) in the middle of epoch 3: after its
# second batch, as a power cut would.
KILLER = """
import os, signal, sys
from dlrun.training import callbacks

state = {"epoch": 0}
def on_epoch_begin(self, epoch, logs=None):
    state["epoch"] = epoch + 1
def on_train_batch_end(self, batch, logs=None):
    if state["epoch"] == 3 and batch == 1:
        os.kill(os.getpid(), signal.SIGKILL)
callbacks.HistoryWriter.on_epoch_begin = on_epoch_begin
callbacks.HistoryWriter.on_train_batch_end = on_train_batch_end

from dlrun.cli import run
sys.exit(run(["train", sys.argv[1], "-q"]))
"""


@pytest.mark.parametrize("kind", ["vae", "gan", "language_model"])
def test_a_run_killed_mid_epoch_resumes_to_the_uninterrupted_result(
    kind, cli, runs_dir, write_config, tmp_path
) -> None:
    config = {"vae": VAE, "gan": GAN}.get(kind) or language_model(corpus(tmp_path / "c.txt"))
    # one batch per call, so that the kill comes between two batches of an epoch
    config = {**config, "train": {**config["train"], "epochs": 4, "steps_per_execution": 1}}
    path = write_config(config)
    assert cli("train", path, "-q", "--runs-dir", tmp_path / "reference")[0] == 0
    (reference,) = (tmp_path / "reference").iterdir()

    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(path)],
        cwd=ROOT,
        env={**os.environ, "DLRUN_RUNS_DIR": str(runs_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    run = only_run(runs_dir)
    assert len(read_history(run / "stages" / "train" / "history.csv")) == 2
    code, out, err = cli("train", "--resume", run, "-q")
    assert code == 0, (out, err)
    got = read_history(run / "stages" / "train" / "history.csv")
    want = read_history(reference / "stages" / "train" / "history.csv")
    assert len(got) == len(want) == 4
    for row, expected in zip(got, want, strict=True):
        assert row == pytest.approx(expected, rel=1e-5), f"epoch {expected['epoch']} differs"
    test = json.loads((run / "final" / "metrics.json").read_text())
    expected = json.loads((reference / "final" / "metrics.json").read_text())
    assert test["loss" if "loss" in test else "g_loss"] == pytest.approx(
        expected["loss" if "loss" in expected else "g_loss"], rel=1e-5
    )


@pytest.mark.parametrize(
    "model",
    [
        {"kind": "conv1d", "filters": [16], "kernel_size": 3},
        {"kind": "transformer", "embed_dim": 16, "heads": 2, "ff_dim": 32},
    ],
)
def test_each_sequence_kind_trains_as_a_language_model(
    model, cli, runs_dir, write_config, tmp_path
) -> None:
    config = language_model(corpus(tmp_path / "corpus.txt", words=1500))
    config = {
        **config,
        "model": model,
        "workflow": {"baseline": "auto", "stages": [{"name": "one"}]},
    }
    config["train"]["epochs"] = 1
    code, out, err = cli("train", write_config(config), "-q")
    assert code == 0, (out, err)
    run = only_run(runs_dir)
    summary = json.loads((run / "summary.json").read_text())
    assert np.isfinite(summary["final"]["test"]["perplexity"])
    unigram = summary["baseline"]["values"]["unigram"]["perplexity"]
    validation = np.exp(summary["stages"]["one"]["val"]["loss"])
    report = (run / "report.md").read_text()
    assert (
        f"Perplexity: validation {validation:.4g} (the unigram baseline's: {unigram:.4g}); "
        f"test {summary['final']['test']['perplexity']:.4g}"
    ) in report


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_gan_and_a_language_model_train_and_generate_on_another_backend(
    backend, runs_dir, write_config, tmp_path
) -> None:
    pytest.importorskip(backend)
    lm = language_model(corpus(tmp_path / "corpus.txt", words=1500))
    for config in (GAN, {**lm, "train": {**lm["train"], "epochs": 1}}):
        # a process's Keras backend is fixed once imported: each run is a process of its own
        trained = subprocess.run(
            [sys.executable, "-m", "dlrun", "train", str(write_config(config)), "-q"]
            + ["--backend", backend, "--runs-dir", str(runs_dir)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert trained.returncode == 0, trained.stderr
    gan, lm_run = sorted(runs_dir.iterdir(), key=lambda p: p.name.split("-")[-2])
    assert json.loads((gan / "meta.json").read_text())["runtime"]["backend"] == backend
    history = read_history(gan / "stages" / "train" / "history.csv")
    assert all(np.isfinite(row["g_loss"]) and np.isfinite(row["d_loss"]) for row in history)
    made = subprocess.run(
        [sys.executable, "-m", "dlrun", "generate", str(gan), "-n", "4", "--seed", "1"]
        + ["-o", str(tmp_path / "made"), "--backend", backend],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr
    assert np.load(tmp_path / "made" / "samples.npy").shape == (4, 8, 8, 1)
    assert "temperature 0.2:" in (lm_run / "stages" / "train" / "samples.txt").read_text()
