"""One job for `dlrun train` and sweep trials: one objective, a lock, and "completed" that
means every promised file is there; and the baseline judged on the test split."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import TINY_CONFIG

from dlrun.runs.rundir import read_history

ROOT = Path(__file__).resolve().parents[1]


def only_run(runs_dir: Path) -> Path:
    runs = [p for p in runs_dir.iterdir() if p.is_dir() and p.name != "sweeps"]
    assert len(runs) == 1, runs
    return runs[0]


def meta(run: Path) -> dict:
    return json.loads((run / "meta.json").read_text())


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


# -- one objective, from the sweep to best.yaml ------------------------------------------


def test_best_yaml_selects_by_the_metric_the_sweep_scored_by(write_config, cli, runs_dir) -> None:
    # val_loss, where the task's default would be val_accuracy: before, best.yaml lost the
    # sweep section and with it the metric, and `dlrun train best.yaml` chose its epoch and
    # checkpoint by val_accuracy while the trial had been scored by val_loss.
    config = copy.deepcopy(TINY_CONFIG)
    config["train"]["epochs"] = 4
    config["sweep"] = {
        "metric": "val_loss",
        "pruner": "none",
        "trials": 1,
        "space": {"model.units": {"choice": [[8]]}},
    }
    code, _, err = cli("sweep", write_config(config))
    assert code == 0, err
    best = runs_dir / "sweeps" / "tiny" / "best.yaml"
    assert yaml.safe_load(best.read_text())["objective"] == {
        "metric": "val_loss",
        "direction": "minimize",
    }
    (trial,) = [p for p in runs_dir.glob("*-t000-*")]
    assert summary(trial)["workflow"]["metric"] == "val_loss"

    code, _, err = cli("train", best, "--runs-dir", runs_dir / "again")
    assert code == 0, err
    again = only_run(runs_dir / "again")
    stage = summary(again)["stages"]["train"]
    assert summary(again)["workflow"]["metric"] == "val_loss" and stage["metric"] == "val_loss"
    losses = [row["val_loss"] for row in read_history(again / "stages" / "train" / "history.csv")]
    assert stage["best_epoch"] == int(np.argmin(losses)) + 1


def test_a_trial_is_a_run_like_any_other(write_config, cli, runs_dir) -> None:
    config = copy.deepcopy(TINY_CONFIG)
    config["sweep"] = {"pruner": "none", "trials": 1, "space": {"model.units": {"choice": [[8]]}}}
    code, _, err = cli("sweep", write_config(config))
    assert code == 0, err
    (trial,) = runs_dir.glob("*-t000-*")
    # the same job as `dlrun train --no-final`: report, curves, preprocessing, completed last
    for name in ("report.md", "curves_train.png", "preprocessing.json", "summary.json"):
        assert (trial / name).is_file(), name
    assert meta(trial)["status"] == "completed"
    assert summary(trial)["sweep"]["state"] == "complete"
    # one default objective: the task's first metric, for the sweep as for a training
    assert summary(trial)["sweep"]["metric"] == "val_accuracy"


def test_two_places_naming_different_objectives_are_refused(write_config, cli) -> None:
    config = copy.deepcopy(TINY_CONFIG)
    config["workflow"] = {"metric": "val_loss"}
    config["sweep"] = {"metric": "val_accuracy", "space": {"model.dropout": {"float": [0, 0.5]}}}
    code, _, err = cli("check", write_config(config))
    assert code == 2
    assert "workflow.metric" in err and "sweep.metric" in err and "objective" in err


# -- completed means complete; resume finishes what is missing ----------------------------


def test_an_interrupt_while_the_report_is_written_leaves_a_resumable_run(
    cli, runs_dir, tiny_config, monkeypatch
) -> None:
    import dlrun.workflow.job as job

    real = job.write_report

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C after final/metrics.json, before report.md

    monkeypatch.setattr(job, "write_report", interrupted)
    code, _, err = cli("train", tiny_config)
    assert code == 130, err
    run = only_run(runs_dir)
    assert meta(run)["status"] == "interrupted"
    assert (run / "final" / "metrics.json").is_file() and not (run / "report.md").exists()
    assert "interrupted" in err

    monkeypatch.setattr(job, "write_report", real)
    history = (run / "stages" / "train" / "history.csv").read_text()
    code, out, err = cli("train", "--resume", run)
    assert code == 0, err
    assert meta(run)["status"] == "completed"
    assert (run / "report.md").is_file() and (run / "confusion_matrix.png").is_file()
    assert "# tiny: completed" in (run / "report.md").read_text()
    # nothing was trained again: the stage and the final model were kept
    assert (run / "stages" / "train" / "history.csv").read_text() == history
    assert "test metric" in out


def test_resume_finishes_a_completed_run_that_misses_its_report(cli, runs_dir, tiny_config):
    code, _, err = cli("train", tiny_config)
    assert code == 0, err
    run = only_run(runs_dir)
    (run / "report.md").unlink()  # as an older dlrun left it, killed after "completed"
    code, _, err = cli("train", "--resume", run)
    assert code == 0, err
    assert "misses report.md" in err
    assert (run / "report.md").is_file() and meta(run)["status"] == "completed"

    code, _, err = cli("train", "--resume", run)
    assert code == 2 and "already completed; nothing to resume" in err


HOLD = """
import sys, time
from dlrun.runs.rundir import Run
with Run(sys.argv[1]).locked():
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_a_second_process_cannot_train_a_run_that_is_being_trained(
    cli, runs_dir, tiny_config
) -> None:
    code, _, err = cli("train", tiny_config, "train.epochs=1")
    assert code == 0, err
    run = only_run(runs_dir)
    data = meta(run)
    data["status"] = "interrupted"
    (run / "meta.json").write_text(json.dumps(data))
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, _, err = cli("train", "--resume", run)
        assert code == 2
        assert "being trained by another process" in err
        assert meta(run)["status"] == "interrupted"  # the refused resume changed nothing
    finally:
        holder.communicate("", timeout=30)
    # the lock goes with its process: now the resume goes through
    code, _, err = cli("train", "--resume", run)
    assert code == 0, err


# -- the common-sense baseline on the test split ------------------------------------------


def random_walk(path: Path, n: int = 400) -> Path:
    rng = np.random.RandomState(0)
    values = np.cumsum(rng.normal(0, 1, n)) + 50
    lines = ["t,value"] + [f"{i},{v:.4f}" for i, v in enumerate(values)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_forecaster_that_loses_to_persistence_on_test_says_so(
    cli, runs_dir, write_config, tmp_path
) -> None:
    # A random walk: tomorrow = today is the best forecast there is, and a model trained
    # one epoch at a tiny learning rate is far from it.
    config = {
        "name": "walk",
        "seed": 1,
        "task": "regression",
        "data": {
            "source": "timeseries",
            "path": str(random_walk(tmp_path / "walk.csv")),
            "time_column": "t",
            "target": "value",
            "lookback": 8,
            "horizon": 1,
        },
        "model": {"kind": "mlp", "units": [4]},
        "train": {"epochs": 1, "batch_size": 32, "optimizer": {"learning_rate": 1e-6}},
    }
    code, _, err = cli("train", write_config(config))
    assert code == 0, err
    assert "does not beat persistence on test" in err
    run = only_run(runs_dir)
    judged = summary(run)["final"]["baseline"]
    assert judged["beaten"] is False and judged["reference"]["name"] == "persistence"
    test_mae = summary(run)["final"]["test"]["mae"]
    assert judged["model"] == pytest.approx(test_mae) and judged["reference"]["value"] < test_mae
    assert (
        "**Warning: the final model does not beat persistence on test"
        in (run / "report.md").read_text()
    )

    code, out, err = cli("evaluate", run)
    assert code == 0, err
    assert "does not beat persistence on test" in err
    evaluation = json.loads((run / "final" / "evaluation.json").read_text())
    assert evaluation["baseline"]["reference"]["value"] == pytest.approx(
        judged["reference"]["value"]
    )


# -- faults: a damaged history, a directory that takes no file -----------------------------


def test_resume_with_a_damaged_history_trains_the_stage_again(
    cli, runs_dir, tiny_config, monkeypatch
) -> None:
    import dlrun.workflow.job as job

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(job, "write_report", interrupted)
    code, _, _ = cli("train", tiny_config, "train.epochs=3")
    assert code == 130
    monkeypatch.undo()
    run = only_run(runs_dir)
    # a backup of epoch 3 is there; the history it goes with is garbage
    (run / "summary.json").unlink()
    (run / "final").rename(run / "final-old")
    (run / "stages" / "train" / "history.csv").write_text("epoch,loss\nthree,x\n")
    code, _, err = cli("train", "--resume", run)
    assert code == 0, err
    assert "history.csv is damaged" in err and "training it again from epoch 1" in err
    rows = read_history(run / "stages" / "train" / "history.csv")
    assert [row["epoch"] for row in rows] == [1, 2, 3]


@pytest.fixture
def tmpfs(tmp_path: Path):
    """mount(size, read_only=False): a small filesystem of its own under tmp_path (root
    only): a disk that fills up, or one that is read-only, for real."""
    mounted: list[Path] = []

    def mount(size: str, read_only: bool = False, copy_from: Path | None = None) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
            capture_output=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(where)
        if copy_from is not None:
            subprocess.run(["cp", "-a", str(copy_from), str(where)], check=True)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_read_only_run_directory_is_refused_before_any_work(
    cli, runs_dir, tiny_config, tmpfs
) -> None:
    code, _, err = cli("train", tiny_config, "train.epochs=1")
    assert code == 0, err
    run = only_run(runs_dir)
    copy = tmpfs("8m", read_only=True, copy_from=run) / run.name
    code, out, err = cli("evaluate", copy)
    assert code == 2, err
    assert "cannot write to the run directory" in err and "Read-only file system" in err
    assert "Traceback" not in err and "test metric" not in out  # refused before the work
    code, _, err = cli("train", "--resume", copy)
    assert code == 2 and "cannot write to the run directory" in err
    code, _, err = cli("export", copy)
    assert code == 2 and "cannot write the export" in err and "Read-only file system" in err


def test_a_disk_that_fills_up_fails_the_run_with_a_clear_error(cli, tiny_config, tmpfs) -> None:
    runs = tmpfs("160k") / "runs"
    code, _, err = cli("train", tiny_config, "--runs-dir", runs)
    assert code == 1
    assert "No space left on device" in err and "Traceback" not in err


def test_runs_and_show_flag_a_completed_run_that_misses_its_report(cli, runs_dir, tiny_config):
    code, _, err = cli("train", tiny_config, "train.epochs=1")
    assert code == 0, err
    run = only_run(runs_dir)
    (run / "report.md").unlink()
    code, out, _ = cli("runs")
    assert code == 0 and "completed (incomplete)" in out
    code, out, _ = cli("show", run)
    assert code == 0
    said = " ".join(out.split())
    assert "misses report.md" in said and "dlrun train --resume" in said
    code, _, err = cli("evaluate", "last")
    assert code == 2 and "misses report.md" in " ".join(err.split())
