"""The command line's surface a user meets first: --version, -v, --help, `show --format json`,
`compare` of several runs, `tensorboard --port RUN...`, the sweep's options and pruners,
early stopping and the checkpoint through `dlrun train`, and CIFAR-10 with one-hot labels."""

from __future__ import annotations

import copy
import csv
import importlib.metadata
import json
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml

from dlrun.cli import app
from dlrun.cli import run as dlrun
from dlrun.sweep.study import outcome
from tests.conftest import TINY_CONFIG
from tests.test_data import write_cifar10
from tests.test_tensorboard import get_json, read_url

ROOT = Path(__file__).resolve().parents[1]
UNITS = ([4], [8], [12])


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Three tiny digits runs (one epoch each) that differ only in model.units."""
    base = tmp_path_factory.mktemp("surface")
    config = base / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY_CONFIG, sort_keys=False))
    runs_dir = base / "runs"
    runs = []
    for units in UNITS:
        name = f"units{units[0]}"
        args = ["train", config, f"name={name}", f"model.units={units}", "train.epochs=1"]
        assert dlrun([str(a) for a in [*args, "--runs-dir", runs_dir, "-q"]]) == 0
        (run,) = runs_dir.glob(f"*-{name}-*")
        runs.append(run)
    return runs_dir, runs


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def history(stage_dir: Path) -> list[dict[str, str]]:
    with (stage_dir / "history.csv").open() as fp:
        return list(csv.DictReader(fp))


# -- --version, -v, --help ----------------------------------------------------------------


def test_version_prints_the_installed_version(cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0
    assert out.strip() == f"dlrun {importlib.metadata.version('dlrun')}"


def test_help_lists_every_command_and_the_examples(cli, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # no wrapped example lines
    code, out, _ = cli("--help")
    assert code == 0
    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert commands >= {"train", "evaluate", "check", "sweep", "runs", "show", "compare"}
    assert commands >= {"tensorboard", "predict", "export", "schema"}
    listed = {line.split()[1] for line in out.splitlines() if line.strip().startswith("│ ")}
    assert commands <= listed, out
    assert "Examples" in out and "dlrun train configs/digits.yaml" in out
    for command in sorted(commands - {"schema"}):
        code, out, _ = cli(command, "--help")
        assert code == 0
        examples = [line.strip() for line in out.splitlines()]
        assert "Examples" in examples, (command, out)
        assert [line for line in examples if line.startswith(f"dlrun {command} ")], out


def test_verbose_shows_tensorflows_own_log_lines(three_runs) -> None:
    runs_dir, (run, *_) = three_runs
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["NO_COLOR"] = "1"
    printed = {}
    for flags in ((), ("-v",)):
        done = subprocess.run(
            [sys.executable, "-m", "dlrun", "evaluate", str(run), *flags],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        printed[flags] = done
    # TensorFlow's C++ side logs as absl does: "I0000 ... port.cc:153] oneDNN custom ..."
    tensorflow_line = re.compile(r"\w+\.cc:\d+\]")
    assert not tensorflow_line.search(printed[()].stderr), printed[()].stderr
    assert tensorflow_line.search(printed[("-v",)].stderr), printed[("-v",)].stderr
    accuracy = f"{read_json(run / 'final' / 'metrics.json')['accuracy']:.4f}"
    assert accuracy in printed[()].stdout and accuracy in printed[("-v",)].stdout


# -- show --format json, compare ----------------------------------------------------------


def test_show_format_json_holds_the_runs_config_and_metrics(cli, three_runs) -> None:
    runs_dir, (_, run, _) = three_runs
    code, out, err = cli("show", run.name, "--runs-dir", runs_dir, "--format", "json")
    assert code == 0, err
    record = json.loads(out)
    assert record["config"] == yaml.safe_load((run / "config.yaml").read_text())
    assert record["config"]["model"]["units"] == [8]
    assert record["meta"]["status"] == "completed" and record["meta"]["id"] == run.name
    assert record["summary"] == read_json(run / "summary.json")
    metrics = read_json(run / "final" / "metrics.json")
    assert record["summary"]["final"]["test"]["accuracy"] == metrics["accuracy"]
    files = {f["path"]: f["bytes"] for f in record["files"]}
    assert files["final/model.keras"] == (run / "final" / "model.keras").stat().st_size


def test_compare_three_runs_side_by_side(cli, three_runs) -> None:
    runs_dir, runs = three_runs
    names = [run.name for run in runs]
    code, out, err = cli("compare", *names, "--runs-dir", runs_dir, "--format", "json")
    assert code == 0, err
    diff = json.loads(out)
    assert diff["runs"] == names
    assert diff["config"]["model.units"] == ["[4]", "[8]", "[12]"]
    assert diff["config"]["name"] == ["units4", "units8", "units12"]
    accuracies = [read_json(run / "final" / "metrics.json")["accuracy"] for run in runs]
    assert diff["metrics"]["test_accuracy"] == accuracies
    if len(set(accuracies)) > 1:
        assert diff["best"]["test_accuracy"] == names[accuracies.index(max(accuracies))]

    code, out, err = cli("compare", *names, "--runs-dir", runs_dir, "--format", "csv")
    assert code == 0, err
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["section", "key", *names]
    assert ["config", "model.units", "[4]", "[8]", "[12]"] in rows


# -- tensorboard --port RUN... ------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tensorboard_serves_the_given_runs_on_the_given_port(three_runs) -> None:
    runs_dir, (first, second, third) = three_runs
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "dlrun", "tensorboard", first.name, second.name),
            *("--port", str(port), "--runs-dir", str(runs_dir), "-v"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        address = read_url(process, timeout=180)  # printed once TensorBoard answers
        assert address == f"127.0.0.1:{port}"
        served = get_json(f"http://{address}/data/runs")
        for run in (first, second):
            assert f"{run.name}/stages/train/tensorboard/validation" in served, served
        assert not [name for name in served if third.name in name]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    err = process.stderr.read()
    assert process.returncode == 0, err[-2000:]
    # -v prints the TensorBoard command it starts
    assert "tensorboard.main" in err and f"--port {port}" in err


# -- sweep: --trials, --name, hyperband, an explicit direction ------------------------------


def sweep_config(write_config, space: dict, train: dict | None = None, **sweep) -> Path:
    config = copy.deepcopy(TINY_CONFIG)
    config["train"].update({"tensorboard": False, "checkpoint": False, **(train or {})})
    config["sweep"] = {"pruner": "none", "space": space, **sweep}
    return write_config(config)


def trial_metas(runs_dir: Path) -> list[dict]:
    metas = [read_json(m) for m in runs_dir.glob("*-t[0-9]*-*/meta.json")]
    return sorted(metas, key=lambda m: m["sweep"]["trial"])


def study_of(runs_dir: Path, name: str) -> optuna.Study:
    url = f"sqlite:///{runs_dir / 'sweeps' / name / 'study.db'}"
    return optuna.load_study(study_name=name, storage=url)


def test_sweep_trials_name_and_an_explicit_direction(write_config, cli, runs_dir) -> None:
    # val_loss is minimized by default; maximize says the opposite, so the best trial is the
    # one with the highest val_loss (the learning rates give far apart losses).
    path = sweep_config(
        write_config,
        {"train.optimizer.learning_rate": {"choice": [0.0001, 0.003, 0.05]}},
        train={"epochs": 2},
        sampler="grid",
        metric="val_loss",
        direction="maximize",
        trials=5,
    )
    code, out, err = cli("sweep", path, "--trials", "2", "--name", "other")
    assert code == 0, err
    assert sorted(p.name for p in (runs_dir / "sweeps").iterdir()) == ["other"]
    study = study_of(runs_dir, "other")
    assert len(study.get_trials()) == 2
    metas = trial_metas(runs_dir)
    assert [m["sweep"]["trial"] for m in metas] == [0, 1]
    assert {m["sweep"]["name"] for m in metas} == {"other"}
    assert all("-other-t00" in m["id"] for m in metas)

    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    values = [m["sweep"]["value"] for m in metas]
    assert values[0] != values[1]
    worst_loss = metas[values.index(max(values))]
    assert study.best_trial.number == worst_loss["sweep"]["trial"]
    best = yaml.safe_load((runs_dir / "sweeps" / "other" / "best.yaml").read_text())
    learning_rate = worst_loss["sweep"]["params"]["train.optimizer.learning_rate"]
    assert best["train"]["optimizer"]["learning_rate"] == learning_rate


def test_hyperband_prunes_at_its_rungs(write_config, cli, runs_dir, tmp_path) -> None:
    # A study holding finished trials with val_loss 0.001 at every epoch: a real trial that
    # meets one of them in its Hyperband bracket is stopped at that bracket's first rung.
    # Over 9 epochs (min_resource 1, reduction factor 3) the rungs are epochs 1, 3 and 9; the
    # median pruner would stop every trial at epoch 1 instead.
    storage = f"sqlite:///{tmp_path / 'hyperband.db'}"
    study = optuna.create_study(study_name="tiny", storage=storage, direction="minimize")
    good = {epoch: 0.001 for epoch in range(1, 10)}
    for _ in range(6):
        study.add_trial(optuna.trial.create_trial(value=0.001, intermediate_values=good))
    path = sweep_config(
        write_config,
        {"model.dropout": {"float": [0.0, 0.3]}},
        train={"epochs": 9},
        metric="val_loss",
        pruner="hyperband",
        startup_trials=0,
        sampler="random",
        trials=9,
    )
    code, out, err = cli("sweep", path, "--storage", storage)
    assert code == 0, err
    assert "hyperband pruner" in out
    pruned = [t for t in study.get_trials() if outcome(t) == "pruned"]
    assert pruned
    epochs = [t.user_attrs["pruned_epoch"] for t in pruned]
    assert set(epochs) <= {1, 3, 9} and max(epochs) > 1
    for meta in trial_metas(runs_dir):
        if meta["sweep"]["state"] == "pruned":
            rows = history(runs_dir / meta["id"] / "stages" / "train")
            assert len(rows) == meta["sweep"]["pruned_epoch"]


# -- early stopping and the checkpoint through `dlrun train` --------------------------------

# Adam at 0.3 on 240 digits overshoots: validation loss and accuracy are best at epoch 4 of 8
# (seed 7), so the best epoch is not the last one.
OVERSHOOT = ["train.optimizer={name: adam, learning_rate: 0.3}", "model.units=[32]"]


def test_early_stopping_ends_the_run_before_its_epochs(cli, runs_dir, tiny_config) -> None:
    code, _, err = cli(
        "train",
        tiny_config,
        *OVERSHOOT,
        "train.epochs=20",
        "train.early_stopping={monitor: val_loss, patience: 2}",
        "train.tensorboard=false",
        "-q",
    )
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    stage = read_json(run / "summary.json")["stages"]["train"]
    rows = history(run / "stages" / "train")
    assert stage["epochs_run"] == len(rows) < 20
    losses = [float(r["val_loss"]) for r in rows]
    best = losses.index(min(losses)) + 1
    assert len(rows) == best + 2  # Keras's rule: `patience` epochs without a better val_loss


def test_checkpoint_holds_the_best_epoch_not_the_last(cli, runs_dir, tiny_config) -> None:
    code, _, err = cli(
        "train", tiny_config, *OVERSHOOT, "train.epochs=8", "train.tensorboard=false", "-q"
    )
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    stage = read_json(run / "summary.json")["stages"]["train"]
    rows = history(run / "stages" / "train")
    best = rows[stage["best_epoch"] - 1]
    assert stage["best_epoch"] < len(rows) == 8
    assert float(best["val_loss"]) != pytest.approx(float(rows[-1]["val_loss"]), rel=1e-3)

    # Score the checkpoint on the validation portion the run trained against.
    from dlrun.data.portions import make_portions
    from dlrun.data.sources import load_raw
    from dlrun.spec import load_config
    from dlrun.tfenv import import_keras

    config = load_config(run / "config.yaml").config
    (portion,) = make_portions(load_raw(config.data), config)
    validation = portion.prepared.validation
    model = import_keras().saving.load_model(run / "stages" / "train" / "checkpoint.keras")
    scores = model.evaluate(validation.x, validation.y, verbose=0, return_dict=True)
    assert scores["loss"] == pytest.approx(float(best["val_loss"]), rel=1e-4)
    assert scores["accuracy"] == pytest.approx(float(best["val_accuracy"]), abs=1e-6)


# -- CIFAR-10 and one-hot labels through `dlrun train` --------------------------------------


def test_cifar10_with_one_hot_labels_trains(cli, runs_dir, write_config, tmp_path) -> None:
    archive = write_cifar10(tmp_path / "cifar", np.random.RandomState(11), batch=8)
    config = write_config(
        {
            "name": "cifar",
            "seed": 3,
            "task": "multiclass",
            "data": {"source": "keras.cifar10", "path": str(archive), "labels": "one_hot"},
            "model": {"kind": "convnet", "filters": [4], "units": [4]},
            "train": {"epochs": 1, "batch_size": 8, "tensorboard": False},
        }
    )
    code, _, err = cli("train", config, "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    from dlrun.tfenv import import_keras

    model = import_keras().saving.load_model(run / "final" / "model.keras")
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    assert model.loss == "categorical_crossentropy"  # one-hot targets, not sparse ones
    metrics = read_json(run / "final" / "metrics.json")
    assert metrics["samples"] == 8  # the archive's test_batch
    test_batch = tmp_path / "cifar" / "cifar-10-batches-py" / "test_batch"
    labels = pickle.loads(test_batch.read_bytes())[b"labels"]  # written by this test
    rows = [sum(row) for row in metrics["confusion_matrix"]]
    assert rows == np.bincount(labels, minlength=10).tolist()
