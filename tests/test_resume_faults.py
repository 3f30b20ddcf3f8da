"""kill -9 at every callback boundary of an epoch, then `--resume`: nothing lost or repeated.

A subprocess trains with one callback method wrapped so that the process SIGKILLs itself
at epoch 3, at one point of the epoch's end: before the history row, after it, inside the
best checkpoint's write, inside the backup's write, and right after the backup. The
resumed run must parse, hold each epoch exactly once, and equal the uninterrupted run:
the same history (the shuffle and dropout follow the epoch) and the same test metrics.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dlrun.runs.rundir import read_history

ROOT = Path(__file__).resolve().parents[1]
KILL_EPOCH = 3

CONFIG = {
    "name": "faults",
    "seed": 11,
    "task": "multiclass",
    "data": {"source": "sklearn.digits", "limit": 400, "validation": {"holdout": 100}},
    "model": {"kind": "mlp", "units": [16], "dropout": 0.3},
    "train": {
        "batch_size": 32,
        "epochs": 6,
        "tensorboard": False,
        "early_stopping": {"monitor": "val_loss", "patience": 10},
    },
}

# Runs `dlrun train` with one method wrapped to kill the process at KILL_EPOCH.
KILLER = """
import os, signal, sys
from dlrun.training import callbacks

where, config, epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])

def die():
    os.kill(os.getpid(), signal.SIGKILL)

if where == "before-history":
    original = callbacks.HistoryWriter.on_epoch_end
    def first(self, e, logs=None):
        if e + 1 == epoch:
            die()
        return original(self, e, logs)
    callbacks.HistoryWriter.on_epoch_end = first
elif where == "after-history":
    original = callbacks.HistoryWriter.on_epoch_end
    def after(self, e, logs=None):
        original(self, e, logs)
        if e + 1 == epoch:
            die()
    callbacks.HistoryWriter.on_epoch_end = after
elif where == "during-checkpoint":
    import dlrun.training.callbacks.checkpoint as checkpoint
    saved = checkpoint.save_with
    state = {"epoch": 0}
    original = callbacks.BestCheckpoint.on_epoch_end
    def track(self, e, logs=None):
        state["epoch"] = e + 1
        return original(self, e, logs)
    callbacks.BestCheckpoint.on_epoch_end = track
    def half_save(path, save):
        if state["epoch"] >= epoch:  # the first save from that epoch on: one that improves
            def partial(tmp):
                save(tmp)
                with open(tmp, "r+b") as f:
                    f.truncate(100)
                die()
            return saved(path, partial)
        return saved(path, save)
    checkpoint.save_with = half_save
elif where in ("during-backup", "after-backup"):
    import keras
    original = callbacks.Backup.on_epoch_end
    if where == "during-backup":
        save_weights = keras.Model.save_weights
        def broken(self, path, *a, **k):
            save_weights(self, path, *a, **k)
            if self._dlrun_epoch == epoch:
                with open(path, "r+b") as f:
                    f.truncate(0)
                die()
        keras.Model.save_weights = broken
    def backup(self, e, logs=None):
        self.model._dlrun_epoch = e + 1
        original(self, e, logs)
        if where == "after-backup" and e + 1 == epoch:
            die()
    callbacks.Backup.on_epoch_end = backup

from dlrun.cli import run
sys.exit(run(["train", config, "-q"]))
"""

WHERE = ["before-history", "after-history", "during-checkpoint", "during-backup", "after-backup"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict], dict]:
    """History and test metrics of the run nobody interrupted."""
    from dlrun.cli import run

    base = tmp_path_factory.mktemp("reference")
    config = _write(base)
    os.environ["DLRUN_RUNS_DIR"] = str(base / "runs")
    try:
        assert run(["train", str(config), "-q"]) == 0
    finally:
        del os.environ["DLRUN_RUNS_DIR"]
    (done,) = (base / "runs").iterdir()
    return _history(done), json.loads((done / "final" / "metrics.json").read_text())


def _write(directory: Path) -> Path:
    import yaml

    path = directory / "faults.yaml"
    path.write_text(yaml.safe_dump(CONFIG))
    return path


def _history(run: Path) -> list[dict]:
    return read_history(run / "stages" / "train" / "history.csv")


@pytest.mark.parametrize("where", WHERE)
def test_kill_at_each_boundary_then_resume_equals_the_uninterrupted_run(
    where: str, reference, cli, runs_dir: Path, tmp_path: Path
) -> None:
    config = _write(tmp_path)
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, where, str(config), str(KILL_EPOCH)],
        cwd=ROOT,
        env={**os.environ, "DLRUN_RUNS_DIR": str(runs_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (run,) = runs_dir.iterdir()
    assert json.loads((run / "meta.json").read_text())["status"] == "running"

    code, out, err = cli("train", "--resume", run, "-q")
    assert code == 0, err
    history = _history(run)
    expected, metrics = reference
    assert [int(r["epoch"]) for r in history] == [int(r["epoch"]) for r in expected]
    for got, want in zip(history, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-5), f"epoch {want['epoch']} differs"
    final = json.loads((run / "final" / "metrics.json").read_text())
    assert final["accuracy"] == pytest.approx(metrics["accuracy"], rel=1e-6)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stages"]["train"]["epochs_run"] == len(expected)
    # no temporary file left; .lock is the run's lock (dlrun.runs.rundir.LOCK)
    assert [p.name for p in run.rglob(".*") if p.is_file()] == [".lock"]


def test_an_unreadable_backup_restarts_the_stage_and_says_so(
    cli, runs_dir: Path, tmp_path: Path
) -> None:
    code, _, err = cli("train", _write(tmp_path), "train.epochs=2", "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    backup = run / "stages" / "train" / "backup"
    state = json.loads((backup / "state.json").read_text())
    (backup / state["weights"]).write_bytes(b"")  # as a kill during Keras's own write left it
    meta = json.loads((run / "meta.json").read_text())
    (run / "meta.json").write_text(json.dumps({**meta, "status": "interrupted"}))
    (run / "final" / "model.keras").unlink()
    (run / "summary.json").unlink()

    code, out, err = cli("train", "--resume", run)
    assert code == 0, err
    assert "cannot be read" in " ".join(err.split()) and "again from epoch 1" in err
    assert [int(r["epoch"]) for r in _history(run)] == [1, 2]
