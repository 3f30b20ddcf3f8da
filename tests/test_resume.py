"""Ctrl-C during `dlrun train` keeps the run; `dlrun train --resume RUN` finishes it."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 12


def history_epochs(run: Path) -> list[int]:
    path = run / "stages" / "train" / "history.csv"
    if not path.is_file():
        return []
    with path.open() as fp:
        return [int(row["epoch"]) for row in csv.DictReader(fp)]


def wait_for_epochs(runs_dir: Path, proc: subprocess.Popen, count: int, timeout: float) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dlrun train ended before it could be interrupted: {proc.communicate()}")
        runs = list(runs_dir.glob("*")) if runs_dir.is_dir() else []
        if runs and len(history_epochs(runs[0])) >= count:
            return runs[0]
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no {count} epochs in history.csv after {timeout} s")


def test_interrupt_then_resume(cli, runs_dir: Path, write_config, tiny_config) -> None:
    # the whole digits set in batches of 16: epochs long enough to interrupt in the middle
    config = write_config(
        {
            "name": "resume",
            "seed": 3,
            "task": "multiclass",
            "data": {"source": "sklearn.digits", "validation": {"holdout": 300}},
            "model": {"units": [16]},
            "train": {"batch_size": 16, "epochs": EPOCHS, "tensorboard": False},
        }
    )
    env = {**os.environ, "DLRUN_RUNS_DIR": str(runs_dir), "NO_COLOR": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlrun", "train", str(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a shell starts `dlrun train ... &`: SIGINT ignored, so Python installs no
        # KeyboardInterrupt handler of its own; dlrun must stop resumably all the same
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    run = wait_for_epochs(runs_dir, proc, 2, timeout=120)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "Traceback" not in err
    assert f"dlrun train --resume {run}" in " ".join(err.split())
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "interrupted"
    done = history_epochs(run)
    assert 2 <= len(done) < EPOCHS, "the run finished before the interrupt"
    assert done == list(range(1, len(done) + 1))
    assert not (run / "final" / "model.keras").exists()

    code, out, err = cli("train", "--resume", run, "-q")
    assert code == 0, (code, out, err)
    epochs = history_epochs(run)
    assert epochs == list(range(1, EPOCHS + 1))  # continued, not restarted from epoch 1
    assert epochs[: len(done)] == done
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "completed"
    assert meta["resumed"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stages"]["train"]["epochs_run"] == EPOCHS
    assert (run / "final" / "model.keras").is_file()

    # a completed run has nothing to resume
    code, out, err = cli("train", "--resume", run)
    assert code == 2
    assert err.startswith(f"error: {run} is already completed; nothing to resume.")


def test_resume_with_a_config_is_a_usage_error(cli, runs_dir, tiny_config, tmp_path) -> None:
    code, out, err = cli("train", tiny_config, "--resume", tmp_path)
    assert code == 2
    assert err.startswith("error: --resume continues a run with its own config.yaml")


def test_resume_of_a_directory_that_is_not_a_run(cli, tmp_path) -> None:
    code, out, err = cli("train", "--resume", tmp_path)
    assert code == 2
    assert err.startswith(f"error: {tmp_path} is not a dlrun run directory")


def test_resume_refuses_a_run_that_is_still_running(cli, runs_dir, tiny_config) -> None:
    from dlrun.runs.rundir import Run
    from dlrun.spec import load_config

    loaded = load_config(tiny_config, ["train.epochs=1"])
    run = Run.create(runs_dir, "tiny", loaded.to_yaml(), ["dlrun", "train"], seed=7)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run.update_meta(pid=other.pid)  # status 'running', owned by a live process
        code, out, err = cli("train", "--resume", run.path)
        assert code == 2
        assert err.startswith(f"error: {run.path} is still running (pid {other.pid})")
    finally:
        other.kill()
        other.wait()
    # the process is gone (killed, machine rebooted...): the run can be resumed
    code, out, err = cli("train", "--resume", run.path, "-q")
    assert code == 0, err
    assert json.loads((run.path / "meta.json").read_text())["status"] == "completed"


# Trains with a garbage-collected object that sends SIGINT from its own __del__ at the end
# of epoch 2: the KeyboardInterrupt is raised in the __del__, where Python cannot raise it
# and goes on. It happened for real inside numpy's zip file in CI, and in JAX's
# garbage-collection callback (JAX is imported beside TensorFlow).
SWALLOWER = """
import os, signal, sys
from dlrun.cli import run
from dlrun.training import callbacks

class Interrupts:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass

original = callbacks.HistoryWriter.on_epoch_end

def on_epoch_end(self, epoch, logs=None):
    original(self, epoch, logs)
    if epoch + 1 == 2:
        Interrupts()

callbacks.HistoryWriter.on_epoch_end = on_epoch_end
sys.exit(run(["train", sys.argv[1], "-q"]))
"""


def test_an_interrupt_swallowed_by_a_destructor_still_stops_the_run(
    cli, runs_dir: Path, write_config
) -> None:
    config = write_config(
        {
            "name": "swallowed",
            "seed": 3,
            "task": "multiclass",
            "data": {"source": "sklearn.digits", "limit": 300, "validation": {"holdout": 100}},
            "model": {"units": [8]},
            "train": {"batch_size": 32, "epochs": 6, "tensorboard": False},
        }
    )
    env = {**os.environ, "DLRUN_RUNS_DIR": str(runs_dir), "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", SWALLOWER, str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 130, (proc.returncode, proc.stdout, proc.stderr)
    # the lost KeyboardInterrupt is not shown as a traceback ("Exception ignored in ...")
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    (run,) = runs_dir.iterdir()
    assert json.loads((run / "meta.json").read_text())["status"] == "interrupted"
    assert history_epochs(run) == [1, 2]  # stopped at the epoch it came in, kept

    code, out, err = cli("train", "--resume", run, "-q")
    assert code == 0, (code, out, err)
    assert history_epochs(run) == list(range(1, 7))
