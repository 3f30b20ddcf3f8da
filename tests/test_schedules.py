"""Learning-rate schedules and optimizer settings (train.optimizer.schedule, weight_decay,
clipnorm): the rate history.csv logs each epoch is Keras's own schedule at that epoch's
last step, reduce_on_plateau lowers it after `patience` epochs without improvement, a
kill -9 and `--resume` give the same rates as a run nobody interrupted, and `dlrun check`
refuses a schedule that does not fit the run.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_CONFIG, check_error

from dlrun.runs.rundir import read_history

ROOT = Path(__file__).resolve().parents[1]
RATE = 0.01
EPOCHS = 4


def _config(optimizer: dict, epochs: int = EPOCHS, **train: object) -> dict:
    config = copy.deepcopy(TINY_CONFIG)
    config["train"].update(
        epochs=epochs,
        tensorboard=False,
        optimizer={"name": "adam", "learning_rate": RATE, **optimizer},
        **train,
    )
    return config


def _train(cli, write_config, config: dict, runs_dir: Path) -> Path:
    code, _, err = cli("train", write_config(config), "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    return run


def _rates(run: Path) -> list[float]:
    return [row["learning_rate"] for row in read_history(run / "stages" / "train" / "history.csv")]


def _steps_per_epoch(run: Path) -> int:
    summary = json.loads((run / "summary.json").read_text())
    return -(-summary["workflow"]["protocol"]["train"] // TINY_CONFIG["train"]["batch_size"])


def _keras_schedule(schedule: dict | None, steps: int):
    """The schedule the config means, built here with keras.optimizers.schedules."""
    import keras

    schedules = keras.optimizers.schedules
    if schedule is None:
        return lambda step: RATE
    if schedule["name"] == "exponential":
        return schedules.ExponentialDecay(
            RATE,
            decay_steps=schedule.get("decay_epochs", 1) * steps,
            decay_rate=schedule["decay_rate"],
            staircase=schedule.get("staircase", False),
        )
    warmup = schedule.get("warmup_epochs", 0)
    if not warmup:
        return schedules.CosineDecay(RATE, decay_steps=EPOCHS * steps)
    return schedules.CosineDecay(
        0.0,
        decay_steps=(EPOCHS - warmup) * steps,
        warmup_target=RATE,
        warmup_steps=warmup * steps,
    )


@pytest.mark.parametrize(
    "schedule",
    [
        None,
        {"name": "cosine"},
        {"name": "cosine", "warmup_epochs": 2},
        {"name": "exponential", "decay_rate": 0.5},
        {"name": "exponential", "decay_rate": 0.5, "decay_epochs": 2, "staircase": True},
    ],
    ids=["constant", "cosine", "warmup-cosine", "exponential", "staircase"],
)
def test_the_logged_rate_is_the_keras_schedule_at_each_epoch_end(
    schedule: dict | None, cli, write_config, runs_dir: Path
) -> None:
    optimizer = {"schedule": schedule} if schedule else {}
    run = _train(cli, write_config, _config(optimizer), runs_dir)
    steps = _steps_per_epoch(run)
    keras_schedule = _keras_schedule(schedule, steps)
    expected = [float(keras_schedule(epoch * steps)) for epoch in range(1, EPOCHS + 1)]
    assert _rates(run) == pytest.approx(expected, rel=1e-6)
    if schedule is not None:  # the rate changed, so the comparison above could fail
        assert len(set(_rates(run))) > 1


def test_weight_decay_and_clipnorm_reach_the_keras_optimizer(
    cli, write_config, runs_dir: Path
) -> None:
    import keras

    optimizer = {"weight_decay": 0.05, "clipnorm": 0.5, "schedule": {"name": "cosine"}}
    run = _train(cli, write_config, _config(optimizer), runs_dir)
    model = keras.saving.load_model(run / "stages" / "train" / "model.keras")
    config = model.optimizer.get_config()
    assert config["weight_decay"] == pytest.approx(0.05)
    assert config["clipnorm"] == pytest.approx(0.5)
    assert config["learning_rate"]["class_name"] == "CosineDecay"


def test_reduce_on_plateau_lowers_the_rate_after_patience_epochs(
    cli, write_config, runs_dir: Path
) -> None:
    # No epoch improves val_loss by 10: the rate falls after every `patience` epochs.
    plateau = {"name": "reduce_on_plateau", "patience": 2, "factor": 0.5, "min_delta": 10.0}
    run = _train(cli, write_config, _config({"schedule": plateau}, epochs=6), runs_dir)
    # Each row holds the rate the epoch trained with; the callback lowers it at epochs 3, 5.
    assert _rates(run) == pytest.approx([RATE, RATE, RATE, RATE / 2, RATE / 2, RATE / 4], rel=1e-6)


# Trains with the backup wrapped so that the process SIGKILLs itself once epoch N is saved.
KILLER = """
import os, signal, sys
from dlrun.training import callbacks

config, epoch = sys.argv[1], int(sys.argv[2])
original = callbacks.Backup.on_epoch_end
def backup(self, e, logs=None):
    original(self, e, logs)
    if e + 1 == epoch:
        os.kill(os.getpid(), signal.SIGKILL)
callbacks.Backup.on_epoch_end = backup

from dlrun.cli import run
sys.exit(run(["train", config, "-q"]))
"""


@pytest.mark.parametrize(
    "schedule",
    [
        {"name": "cosine", "warmup_epochs": 2},
        {"name": "reduce_on_plateau", "patience": 2, "factor": 0.5, "min_delta": 10.0},
    ],
    ids=["warmup-cosine", "reduce_on_plateau"],
)
def test_a_killed_run_resumes_with_the_rates_of_an_uninterrupted_one(
    schedule: dict, cli, write_config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config({"schedule": schedule}, epochs=6)
    reference_runs = tmp_path / "reference"
    monkeypatch.setenv("DLRUN_RUNS_DIR", str(reference_runs))
    reference = _train(cli, write_config, config, reference_runs)

    killed_runs = tmp_path / "killed"
    monkeypatch.setenv("DLRUN_RUNS_DIR", str(killed_runs))
    # Killed after epoch 2: reduce_on_plateau has counted one epoch without improvement,
    # which the resumed callback must remember to lower the rate at epoch 3, not 4.
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(write_config(config, "killed.yaml")), "2"],
        cwd=ROOT,
        env={**os.environ, "DLRUN_RUNS_DIR": str(killed_runs)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run,) = killed_runs.iterdir()
    assert len(_rates(run)) == 2
    code, _, err = cli("train", "--resume", run, "-q")
    assert code == 0, err
    assert _rates(run) == _rates(reference)
    assert len(set(_rates(reference))) > 1


@pytest.mark.parametrize(
    ("optimizer", "epochs", "expected"),
    [
        ({"schedule": {"name": "cosin"}}, 4, ["train.optimizer.schedule.name", "'cosine'"]),
        (
            {"schedule": {"name": "cosine", "warmup_epochs": 4}},
            4,
            ["train.optimizer.schedule.warmup_epochs", "below 4"],
        ),
        (
            {"schedule": {"name": "cosine", "warmup_epochs": 1, "decay_epochs": 5}},
            4,
            ["train.optimizer.schedule.decay_epochs", "decay_epochs: 3 or fewer"],
        ),
        (
            {"schedule": {"name": "exponential", "staircase": True, "decay_epochs": 4}},
            4,
            ["train.optimizer.schedule.decay_epochs", "never be lowered"],
        ),
        (
            {"schedule": {"name": "cosine", "factor": 0.5}},
            4,
            ["train.optimizer.schedule.factor", "reduce_on_plateau, not cosine", "remove it"],
        ),
        (
            {"schedule": {"name": "reduce_on_plateau", "monitor": "val_acuracy"}},
            4,
            ["train.optimizer.schedule.monitor", "'val_accuracy'"],
        ),
        ({"weight_decay": -0.1}, 4, ["train.optimizer.weight_decay"]),
        ({"clipnorm": 0}, 4, ["train.optimizer.clipnorm"]),
    ],
    ids=[
        "unknown-name",
        "warmup-whole-run",
        "decay-past-the-end",
        "staircase-never-steps",
        "key-of-another-schedule",
        "unknown-monitor",
        "negative-weight-decay",
        "zero-clipnorm",
    ],
)
def test_check_refuses_a_schedule_that_does_not_fit(
    optimizer: dict, epochs: int, expected: list[str], cli, write_config
) -> None:
    err = check_error(cli, write_config(_config(optimizer, epochs=epochs)))
    for part in expected:
        assert part in " ".join(err.split()), err


def test_check_refuses_a_plateau_patience_that_early_stopping_preempts(cli, write_config) -> None:
    config = _config(
        {"schedule": {"name": "reduce_on_plateau", "patience": 3}},
        early_stopping={"monitor": "val_loss", "patience": 3},
    )
    err = check_error(cli, write_config(config))
    assert "train.optimizer.schedule.patience" in err and "below 3" in " ".join(err.split())


def test_check_accepts_the_issue_example(cli, write_config) -> None:
    optimizer = {"weight_decay": 0.0001, "schedule": {"name": "cosine", "warmup_epochs": 2}}
    code, out, err = cli("check", write_config(_config(optimizer)))
    assert code == 0, err
    assert "warmup_epochs: 2" in out
