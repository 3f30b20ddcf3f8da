"""`dlrun train` + `dlrun evaluate` end to end, and what a run directory holds afterwards."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TINY_RUN_FILES = [
    "config.yaml",
    "meta.json",
    "preprocessing.json",
    "summary.json",
    "stages/train/history.csv",
    "stages/train/model.keras",
    "stages/train/checkpoint.keras",
    "final/model.keras",
    "final/metrics.json",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_config_module) -> dict:
    """One tiny digits run trained through the CLI and evaluated, shared by the tests below."""
    from dlrun.cli import run

    runs = tmp_path_factory.mktemp("runs")
    args = ["train", str(tiny_config_module), "train.epochs=3", "-q"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DLRUN_RUNS_DIR", str(runs))
        patch.setattr(sys, "argv", ["/usr/bin/dlrun", *args])  # as the console script sees it
        train_code = run(args)
        (path,) = runs.iterdir()
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            eval_code = run(["evaluate", str(path)])
    return {
        "train_code": train_code,
        "eval_code": eval_code,
        "eval_out": printed.getvalue(),
        "run": path,
    }


@pytest.fixture(scope="module")
def tiny_config_module(tmp_path_factory) -> Path:
    from tests.conftest import TINY_CONFIG

    path = tmp_path_factory.mktemp("config") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_CONFIG, sort_keys=False))
    return path


def printed_value(out: str, metric: str) -> str:
    """The value column of `metric`'s row in the first metrics table dlrun printed."""
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == [metric]]
    assert rows, f"no {metric} row in:\n{out}"
    return rows[0][1]


def test_evaluate_prints_the_test_metrics_training_recorded(trained) -> None:
    assert trained["train_code"] == 0
    assert trained["eval_code"] == 0
    metrics = json.loads((trained["run"] / "final" / "metrics.json").read_text())
    out = trained["eval_out"]
    assert printed_value(out, "accuracy") == f"{metrics['accuracy']:.4f}"
    assert printed_value(out, "loss") == f"{metrics['loss']:.4f}"
    assert printed_value(out, "samples") == "300"


def test_run_directory_holds_every_artifact(trained) -> None:
    run: Path = trained["run"]
    missing = [name for name in TINY_RUN_FILES if not (run / name).is_file()]
    assert not missing
    events = list((run / "stages" / "train" / "tensorboard").rglob("events.out.tfevents.*"))
    assert events
    assert (run / "final" / "evaluation.json").is_file()
    # atomic writes leave no temporary files behind; .lock is the run's lock (rundir.LOCK)
    assert [p.name for p in run.rglob(".*") if p.is_file()] == [".lock"]


def test_meta_records_provenance(trained, tiny_config_module) -> None:
    meta = json.loads((trained["run"] / "meta.json").read_text())
    assert meta["status"] == "completed"
    assert meta["error"] is None
    assert meta["seed"] == 7
    assert meta["id"] == trained["run"].name
    assert "tiny" in meta["id"]
    assert meta["command"] == ["dlrun", "train", str(tiny_config_module), "train.epochs=3", "-q"]
    assert {"dlrun", "python", "tensorflow", "keras", "numpy"} <= set(meta["versions"])
    assert meta["versions"]["tensorflow"].startswith("2.")
    assert meta["versions"]["keras"].startswith("3.")
    assert "git_commit" in meta
    assert meta["started"] <= meta["finished"]


def test_config_yaml_is_the_resolved_config(trained, tiny_config_module) -> None:
    from dlrun.spec import load_config

    saved = load_config(trained["run"] / "config.yaml").config
    # what the config left to the environment is written down: the backend that trained
    assert saved == load_config(tiny_config_module, ["train.epochs=3", "backend=tensorflow"]).config
    assert saved.train.epochs == 3 and saved.backend == "tensorflow"


def test_history_and_summary(trained) -> None:
    run: Path = trained["run"]
    with (run / "stages" / "train" / "history.csv").open() as fp:
        rows = list(csv.DictReader(fp))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(rows[0])
    summary = json.loads((run / "summary.json").read_text())
    stage = summary["stages"]["train"]
    assert stage["epochs_run"] == 3
    assert 1 <= stage["best_epoch"] <= 3
    assert stage["params"] == 64 * 8 + 8 + 8 * 10 + 10
    metrics = json.loads((run / "final" / "metrics.json").read_text())
    assert summary["final"]["test"]["accuracy"] == metrics["accuracy"]
    assert metrics["samples"] == 300  # data.limit applies to the test split too
    assert len(metrics["confusion_matrix"]) == 10
    assert sum(map(sum, metrics["confusion_matrix"])) == 300
    evaluated = json.loads((run / "final" / "evaluation.json").read_text())
    assert evaluated["accuracy"] == pytest.approx(metrics["accuracy"])


def test_tensorboard_reader_finds_epoch_scalars(trained) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logs = trained["run"] / "stages" / "train" / "tensorboard"
    found = {}
    for split in ("train", "validation"):
        accumulator = EventAccumulator(str(logs / split))
        accumulator.Reload()
        tags = accumulator.Tags()
        names = set(tags.get("scalars", [])) | set(tags.get("tensors", []))
        found[split] = names
        assert "epoch_loss" in names, tags
        assert "epoch_accuracy" in names
        events = (
            accumulator.Scalars("epoch_loss")
            if "epoch_loss" in tags.get("scalars", [])
            else accumulator.Tensors("epoch_loss")
        )
        assert [e.step for e in events] == [0, 1, 2]


def test_model_reloads_in_safe_mode(trained) -> None:
    import keras
    import numpy as np

    for name in ("final/model.keras", "stages/train/checkpoint.keras"):
        model = keras.saving.load_model(trained["run"] / name, safe_mode=True)
        assert model.output_shape == (None, 10)
        # the 8x8 digit images, which the mlp flattens itself
        probabilities = model.predict(np.zeros((2, 8, 8, 1), np.float32), verbose=0)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_evaluate_prints_metrics_and_confusion_matrix(cli, trained) -> None:
    code, out, err = cli("evaluate", trained["run"])
    assert code == 0, err
    assert "accuracy" in out
    assert "confusion matrix (rows: true class, columns: predicted)" in out


def test_training_the_saved_config_reproduces_the_run(cli, runs_dir, trained) -> None:
    code, out, err = cli("train", trained["run"] / "config.yaml", "-q")
    assert code == 0, err
    (again,) = runs_dir.iterdir()
    assert (again / "config.yaml").read_text() == (trained["run"] / "config.yaml").read_text()
    first = json.loads((trained["run"] / "final" / "metrics.json").read_text())
    second = json.loads((again / "final" / "metrics.json").read_text())
    assert second["loss"] == pytest.approx(first["loss"], rel=1e-4)  # seeded: same result
    assert second["confusion_matrix"] == first["confusion_matrix"]


def test_evaluate_on_a_missing_run(cli, tmp_path) -> None:
    code, out, err = cli("evaluate", tmp_path / "nope")
    assert code == 2
    assert err.startswith(f"error: run not found: {tmp_path / 'nope'}")
    assert "Traceback" not in err


CRASHING_BUILDER = """\
def build(config, input_spec, outputs, head):
    raise RuntimeError("the builder broke")
"""


def test_a_crash_marks_the_run_failed(cli, runs_dir, tiny_config, tmp_path) -> None:
    builder = tmp_path / "crash.py"
    builder.write_text(CRASHING_BUILDER)
    code, out, err = cli("train", tiny_config, f"model={{kind: 'python:{builder}:build'}}", "-q")
    assert code == 1
    assert "Traceback" not in err
    (run,) = runs_dir.iterdir()
    assert err.startswith("error: the run failed: RuntimeError: the builder broke")
    log_path = run / "stages" / "train" / "error.log"
    assert str(log_path) in " ".join(err.split())
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "failed"
    assert meta["error"] == "RuntimeError: the builder broke"
    assert meta["finished"] is not None
    log = log_path.read_text()
    assert log.startswith("Traceback") and 'raise RuntimeError("the builder broke")' in log


def test_a_builder_that_calls_sys_exit_marks_the_run_failed_and_exits_1(
    cli, runs_dir, tiny_config, tmp_path
) -> None:
    builder = tmp_path / "leave.py"
    builder.write_text("def build(config, input_spec, outputs, head):\n    raise SystemExit(3)\n")
    code, _, err = cli("train", tiny_config, f"model={{kind: 'python:{builder}:build'}}", "-q")
    assert code == 1  # the README's "the run failed", not the builder's 3
    assert err.startswith("error: the run failed: SystemExit: 3") and "Traceback" not in err
    (run,) = runs_dir.iterdir()
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "failed" and meta["finished"] is not None
    assert "raise SystemExit(3)" in (run / "stages" / "train" / "error.log").read_text()


def test_nan_loss_is_a_failure_that_says_what_to_do(cli, runs_dir, write_config) -> None:
    config = write_config(
        {
            "name": "nan",
            "task": "regression",
            "data": {"source": "sklearn.diabetes", "normalize": True},
            "model": {"units": [8]},
            "train": {
                "optimizer": {"name": "sgd", "learning_rate": 1.0e6},
                "epochs": 3,
                "tensorboard": False,
            },
        }
    )
    code, out, err = cli("train", config, "-q")
    assert code == 1
    assert "Traceback" not in err
    assert err.startswith("error: the run failed: the loss became NaN or infinite")
    assert "lower train.optimizer.learning_rate" in " ".join(err.split())
    (run,) = runs_dir.iterdir()
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "failed"
    assert "NaN" in meta["error"]
    assert not (run / "final" / "model.keras").exists()


def test_progress_is_one_plain_line_per_epoch(cli, runs_dir, tiny_config) -> None:
    code, out, err = cli("train", tiny_config, "train.tensorboard=false")
    assert code == 0, err
    assert "\x1b[" not in out + err  # not a terminal: no colour codes
    epochs = [line for line in out.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2
    assert epochs[0].startswith("epoch 1/2  loss ")
    for name in ("accuracy", "val_loss", "val_accuracy"):
        assert f" {name} " in epochs[0]
    assert "final model on the test split" in out

    code, out, err = cli("train", tiny_config, "train.tensorboard=false", "-q")
    assert code == 0, err
    assert "epoch 1/2" not in out  # --quiet keeps only the results
    assert "accuracy" in out


@pytest.mark.parametrize(
    ("task", "data", "metric"),
    [
        ("binary", {"source": "sklearn.breast_cancer"}, "accuracy"),
        ("regression", {"source": "sklearn.diabetes"}, "mae"),
        ("multilabel", {"source": "npz"}, "binary_accuracy"),
    ],
)
def test_every_task_trains_and_evaluates(cli, runs_dir, write_config, task, data, metric) -> None:
    import numpy as np

    if data["source"] == "npz":  # three independent labels per sample
        rng = np.random.RandomState(0)
        x = rng.rand(120, 5).astype(np.float32)
        y = (x[:, :3] > 0.5).astype(np.int64)
        data["path"] = str(runs_dir.parent / "multilabel.npz")
        np.savez(data["path"], x_train=x[:90], y_train=y[:90], x_test=x[90:], y_test=y[90:])
    config = write_config(
        {
            "name": task,
            "task": task,
            "data": data,
            "model": {"units": [4]},
            "train": {"epochs": 1, "tensorboard": False},
        }
    )
    code, out, err = cli("train", config, "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    metrics = json.loads((run / "final" / "metrics.json").read_text())
    assert metric in metrics
    assert ("confusion_matrix" in metrics) == (task == "binary")
    code, out, err = cli("evaluate", run)
    assert code == 0, err
    assert printed_value(out, metric) == f"{metrics[metric]:.4f}"


def test_history_with_a_metric_missing_from_some_epochs(tmp_path) -> None:
    import math

    from dlrun.runs.rundir import read_history

    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,learning_rate\n1,0.5,\n2,0.4,0.001\n")
    rows = read_history(path)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert math.isnan(rows[0]["learning_rate"])
    assert rows[1]["learning_rate"] == pytest.approx(0.001)


def test_run_files_are_readable_like_any_file_the_user_writes(tmp_path: Path) -> None:
    import stat

    from dlrun.runs.rundir import write_json

    target = tmp_path / "meta.json"
    write_json(target, {"status": "running"})
    plain = tmp_path / "plain.txt"
    plain.write_text("x")  # the mode this user's umask gives any file
    # Atomic writes go through mkstemp (0600); other users and TensorBoard must read them.
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_kfold_without_a_workflow_trains_the_folds_then_all_the_data(cli, runs_dir) -> None:
    code, _, err = cli(
        "train", "configs/digits.yaml", "workflow=null", "data.validation={kfold: 3}",
        "data.limit=240", "train.epochs=3", "-q",
    )  # fmt: skip
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    stage = summary["stages"]["train"]
    assert [f["name"] for f in stage["folds"]] == ["fold-1", "fold-2", "fold-3"]
    # One common best epoch, read off the fold-averaged curve, is what the final model gets.
    assert summary["final"]["mode"] == "retrain"
    assert summary["final"]["epochs"] == stage["best_epoch"]
    assert summary["final"]["samples"] == 240
    assert (run / "curves_train.png").is_file()


def test_a_single_run_writes_its_learning_curves(cli, runs_dir, tiny_config) -> None:
    code, _, err = cli("train", tiny_config, "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stages"]["train"]["plot"] == "curves_train.png"
    assert (run / "curves_train.png").stat().st_size > 1000
    assert summary["final"]["mode"] == "keep_best" and summary["chosen"] == "train"


def test_resume_keeps_stage_and_no_final_even_before_any_summary(cli, runs_dir: Path) -> None:
    args = ["configs/digits.yaml", "train.epochs=1", "data.limit=300", "-q"]
    code, _, err = cli("train", *args, "--stage", "small", "--no-final")
    assert code == 0, err
    (run,) = list(runs_dir.iterdir())
    # As if stopped before the workflow wrote anything: only config.yaml and meta.json.
    for child in run.iterdir():
        if child.name not in ("config.yaml", "meta.json"):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    meta = json.loads((run / "meta.json").read_text())
    (run / "meta.json").write_text(json.dumps({**meta, "status": "interrupted"}))

    code, _, err = cli("train", "--resume", "last", "-q")  # a run id or 'last' works too
    assert code == 0, err
    summary = json.loads((run / "summary.json").read_text())
    assert list(summary["stages"]) == ["small"]
    assert summary["final"] is None  # still --no-final: the test split stays untouched
    assert not (run / "final" / "model.keras").exists()


def test_damaged_or_unwritable_runs_get_a_message_not_a_traceback(
    cli, runs_dir: Path, tmp_path: Path
) -> None:
    code, _, err = cli("train", "configs/digits.yaml", "workflow=null", "train.epochs=1", "-q")
    assert code == 0, err
    (run,) = list(runs_dir.iterdir())
    (run / "meta.json").write_text('{"status": "interr')  # cut off mid-write by hand
    code, _, err = cli("train", "--resume", run)
    assert code == 2 and "meta.json is damaged" in err and "Traceback" not in err
    (run / "preprocessing.json").unlink()
    code, _, err = cli("evaluate", run)
    assert code == 2 and "Traceback" not in err

    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    code, _, err = cli("train", "configs/digits.yaml", "--runs-dir", blocked / "runs")
    assert code == 2 and "cannot create the run directory" in err


def test_a_sweep_trial_is_a_trial_from_its_first_meta_json(tmp_path: Path, monkeypatch) -> None:
    from dlrun.runs import rundir
    from dlrun.runs.catalog import load_run

    written: list[dict] = []
    write_json = rundir.write_json

    def recording(path: Path, data) -> None:
        if path.name == "meta.json":
            written.append(json.loads(json.dumps(data)))
        write_json(path, data)

    monkeypatch.setattr(rundir, "write_json", recording)
    sweep = {"name": "tiny", "trial": 4, "metric": "val_accuracy"}
    run = rundir.Run.create(
        tmp_path, "tiny-t004", "task: binary\n", argv=["dlrun"], seed=1, meta={"sweep": sweep}
    )
    # `dlrun runs` (or a test) reading at any moment sees a sweep trial, never a plain run.
    assert written and all(meta["sweep"] == sweep for meta in written)
    assert load_run(run.path).sweep == sweep
    assert run.meta["status"] == "running" and run.meta["name"] == "tiny-t004"


KILLED_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from dlrun.runs.rundir import atomic_path
with atomic_path(Path(sys.argv[1])) as tmp:
    tmp.write_text("half of a summ")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_kill_during_an_atomic_write_leaves_nothing_behind(tmp_path: Path) -> None:
    from dlrun.runs.rundir import Run, atomic_path

    run = Run.create(tmp_path / "runs", "tiny", "task: binary\n", argv=["dlrun"], seed=1)
    for target in (run.path / "summary.json", run.path / "stages" / "train" / "model.keras"):
        target.parent.mkdir(parents=True, exist_ok=True)
        killed = subprocess.run(
            [sys.executable, "-c", KILLED_MID_WRITE, str(target)],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            timeout=60,
        )
        assert killed.returncode == -9
    assert len(list(run.path.rglob(".*"))) == 2  # the writer died: its temporaries linger
    with atomic_path(run.path / "report.md") as writing:  # a live writer, mid-write
        writing.write_text("# tiny")
        Run.open(run.path)  # e.g. dlrun train --resume
        assert [p.name for p in run.path.rglob(".*")] == [writing.name]
    assert not list(run.path.rglob(".*"))
    assert (run.path / "report.md").read_text() == "# tiny"
    assert not (run.path / "summary.json").exists()
