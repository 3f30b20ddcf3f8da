"""`dlrun sweep` end to end on tiny digits models: results, pruning, failures, jobs, resume."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from conftest import TINY_CONFIG

from dlrun.runs.rundir import read_history
from dlrun.sweep.study import outcome

ROOT = Path(__file__).resolve().parents[1]


def sweep_config(write_config, space: dict, train: dict | None = None, **sweep) -> Path:
    config = copy.deepcopy(TINY_CONFIG)
    config["train"].update({"tensorboard": False, "checkpoint": False, **(train or {})})
    config["sweep"] = {"metric": "val_accuracy", "pruner": "none", "space": space, **sweep}
    return write_config(config)


def trial_runs(runs_dir: Path) -> dict[int, dict]:
    """meta.json of every trial run directory, by trial number."""
    metas = [json.loads(m.read_text()) for m in runs_dir.glob("*-t[0-9]*-*/meta.json")]
    return {m["sweep"]["trial"]: m for m in metas}


def load_study(runs_dir: Path, name: str = "tiny") -> optuna.Study:
    url = f"sqlite:///{runs_dir / 'sweeps' / name / 'study.db'}"
    return optuna.load_study(study_name=name, storage=url)


def test_tiny_sweep_end_to_end(write_config, cli, runs_dir: Path) -> None:
    space = {
        "model.units": {"choice": [[8], [16, 16]]},
        "model.dropout": {"float": [0.0, 0.3]},
        "train.optimizer.learning_rate": {"float": [0.001, 0.02], "log": True},
    }
    path = sweep_config(write_config, space, trials=3)
    code, out, err = cli("sweep", path)
    assert code == 0, err

    runs = trial_runs(runs_dir)
    assert sorted(runs) == [0, 1, 2]
    study_db = runs_dir / "sweeps" / "tiny" / "study.db"
    for number, meta in runs.items():
        assert meta["status"] == "completed"
        assert meta["sweep"]["name"] == "tiny" and meta["sweep"]["study"] == str(study_db)
        assert meta["id"].split("-")[-2] == f"t{number:03d}"  # easy to find
        run = runs_dir / meta["id"]
        assert (run / "stages" / "train" / "model.keras").is_file()
        assert (run / "stages" / "train" / "history.csv").is_file()
        assert yaml.safe_load((run / "config.yaml").read_text())["model"]["units"] in (
            [8],
            [16, 16],
        )

    # the table is sorted best first and lists the parameters
    values = [meta["sweep"]["value"] for meta in runs.values()]
    table = out[out.index("trials of sweep") :]
    assert f"{max(values):.4f}" in table.splitlines()[2]
    assert "dropout" in table and "learning_rate" in table

    sweep_dir = runs_dir / "sweeps" / "tiny"
    assert (sweep_dir / "history.png").stat().st_size > 1000
    assert (sweep_dir / "importance.png").stat().st_size > 1000
    assert len((sweep_dir / "trials.csv").read_text().splitlines()) == 4

    # best.yaml is the best trial's config and trains as it is
    best = yaml.safe_load((sweep_dir / "best.yaml").read_text())
    # val_accuracy on 60 samples is coarse: trials may tie for the best value
    top = max(m["sweep"]["value"] for m in runs.values())
    tied = [m["sweep"]["params"] for m in runs.values() if m["sweep"]["value"] == top]
    assert {"model.units": best["model"]["units"]} in [
        {"model.units": p["model.units"]} for p in tied
    ]
    assert any(
        best["train"]["optimizer"]["learning_rate"] == p["train.optimizer.learning_rate"]
        for p in tied
    )
    assert best.get("sweep") is None  # a plain training config
    code, out, err = cli("train", sweep_dir / "best.yaml", "-q")
    assert code == 0, err

    # the budget is used: running it again without --resume is refused, with it nothing runs
    code, out, err = cli("sweep", path)
    assert code == 2 and "--resume" in err
    code, out, err = cli("sweep", path, "--resume")
    assert code == 0 and "all 3 trials are done" in out
    assert len(trial_runs(runs_dir)) == 3


def test_pruning_stops_trials_that_are_worse_than_the_median(
    write_config, cli, runs_dir: Path, tmp_path: Path
) -> None:
    # A study that already holds a finished trial with val_loss 0.001 at every epoch: every
    # real trial is worse after its first epoch, so the median rule must prune it there.
    storage = f"sqlite:///{tmp_path / 'pruning.db'}"
    study = optuna.create_study(study_name="tiny", storage=storage, direction="minimize")
    study.add_trial(
        optuna.trial.create_trial(
            value=0.001, intermediate_values={epoch: 0.001 for epoch in range(1, 6)}
        )
    )
    path = sweep_config(
        write_config,
        {"model.dropout": {"float": [0.0, 0.3]}},
        train={"epochs": 5},
        metric="val_loss",
        pruner="median",
        startup_trials=1,
        warmup_epochs=1,
        trials=3,
    )
    code, out, err = cli("sweep", path, "--storage", storage)
    assert code == 0, err
    states = sorted(outcome(t) for t in study.get_trials())
    assert states == ["complete", "pruned", "pruned"]
    runs = trial_runs(runs_dir)
    assert sorted(runs) == [1, 2]
    for meta in runs.values():
        assert meta["sweep"]["state"] == "pruned" and meta["sweep"]["pruned_epoch"] == 1
        history = (runs_dir / meta["id"] / "stages" / "train" / "history.csv").read_text()
        assert len(history.splitlines()) == 2  # header + the one epoch it ran
    assert "pruned at step 1" in out


def test_invalid_combination_fails_that_trial_and_the_sweep_goes_on(
    write_config, cli, runs_dir: Path
) -> None:
    # sigmoid does not fit a multiclass task: that grid point fails, the other one runs
    path = sweep_config(
        write_config,
        {"model.output_activation": {"choice": ["auto", "sigmoid"]}},
        sampler="grid",
        trials=5,
    )
    code, out, err = cli("sweep", path)
    assert code == 0, err
    assert "the grid has 2 points" in out
    trials = load_study(runs_dir).get_trials()
    by_state = {outcome(t): t for t in trials}
    assert sorted(by_state) == ["complete", "failed"]
    reason = by_state["failed"].user_attrs["error"]
    assert reason.startswith("invalid combination") and "sigmoid" in reason
    assert "failed: invalid combination" in out


def test_two_jobs_run_distinct_trials_in_worker_processes(
    write_config, cli, runs_dir: Path
) -> None:
    path = sweep_config(
        write_config,
        {
            "model.dropout": {"float": [0.0, 0.5]},
            "train.optimizer.learning_rate": {"float": [0.001, 0.02], "log": True},
        },
        train={"epochs": 6},
        sampler="random",
        trials=4,
    )
    code, out, err = cli("sweep", path, "--jobs", "2")
    assert code == 0, err
    assert "2 worker processes, 1 thread(s) each" in out
    runs = trial_runs(runs_dir)
    assert sorted(runs) == [0, 1, 2, 3]
    params = {json.dumps(m["sweep"]["params"], sort_keys=True) for m in runs.values()}
    assert len(params) == 4
    # Trials run in the workers, never in the sweep's own process. Both workers take trials
    # from the study as they come free, so one of them may take all four: not asserted.
    pids = {m["pid"] for m in runs.values()}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert len([t for t in load_study(runs_dir).get_trials() if outcome(t) == "complete"]) == 4


# The sweep's second model blocks when it is built, until the test kills the sweep: trial 1
# is caught mid-run however fast or slow the machine is.
BLOCKING_BUILDER = """\
import time
from pathlib import Path

import keras

HERE = Path(__file__).parent


def build(config, input_spec, outputs, head, width=8):
    with (HERE / "builds").open("a") as log:
        log.write("x")
    if (HERE / "builds").stat().st_size == 2:
        (HERE / "blocked").touch()
        while True:
            time.sleep(1)
    inputs = keras.Input(shape=input_spec.shape)
    x = keras.layers.Dense(width, activation="relu")(keras.layers.Flatten()(inputs))
    return keras.Model(inputs, keras.layers.Dense(outputs, activation=head.activation)(x))
"""


def test_resume_after_the_sweep_is_killed_mid_trial(
    write_config, cli, runs_dir: Path, tmp_path: Path
) -> None:
    builder = tmp_path / "builder" / "blocking.py"
    builder.parent.mkdir()
    builder.write_text(BLOCKING_BUILDER)
    config = copy.deepcopy(TINY_CONFIG)
    config["model"] = {"kind": f"python:{builder}:build"}
    config["train"].update({"tensorboard": False, "checkpoint": False})
    config["sweep"] = {
        "metric": "val_accuracy",
        "pruner": "none",
        "sampler": "random",
        "trials": 3,
        "space": {"model.params.width": {"choice": [4, 6, 8]}},
    }
    path = write_config(config)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlrun", "sweep", str(path), "-q"],
        cwd=ROOT,
        env={**os.environ, "DLRUN_RUNS_DIR": str(runs_dir)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300  # a bound on a hung sweep, not a timing condition
        while not (builder.parent / "blocked").exists():
            assert proc.poll() is None, "the sweep ended before trial 1 started"
            assert time.monotonic() < deadline, "trial 1 never started"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker, mid-trial
        proc.wait()
    assert trial_runs(runs_dir)[0]["status"] == "completed"
    assert trial_runs(runs_dir)[1]["status"] == "running"

    code, out, err = cli("sweep", path, "--resume")
    assert code == 0, err
    said = " ".join(out.split())
    assert "trial 1 was cut off: queued to run again with the same parameters" in said
    trials = load_study(runs_dir).get_trials()
    states = [outcome(t) for t in trials]
    assert states.count("complete") == 3  # exact: nothing lost, nothing counted twice
    assert states.count("interrupted") == 1 and outcome(trials[1]) == "interrupted"
    rerun = next(t for t in trials if t.user_attrs.get("rerun_of") == 1)
    assert rerun.params == trials[1].params and rerun.state.name == "COMPLETE"
    assert trial_runs(runs_dir)[0]["status"] == "completed"  # the finished trial is kept
    metas = [json.loads(m.read_text()) for m in runs_dir.glob("*-t001-*/meta.json")]
    assert sorted(m["status"] for m in metas) == ["interrupted"]
    assert len(list(runs_dir.glob("*-t[0-9]*-*"))) == 4


def test_kfold_trial_scores_as_the_workflow_and_its_best_yaml_trains(
    write_config, cli, runs_dir: Path
) -> None:
    config = copy.deepcopy(TINY_CONFIG)
    config["data"]["validation"] = {"kfold": 3}
    config["train"].update({"tensorboard": False, "checkpoint": False, "epochs": 3})
    config["sweep"] = {
        "metric": "val_accuracy",
        "pruner": "none",
        "trials": 1,
        "space": {"model.dropout": {"choice": [0.1]}},
    }
    code, out, err = cli("sweep", write_config(config))
    assert code == 0, err
    (meta,) = trial_runs(runs_dir).values()
    trial_dir = runs_dir / meta["id"]
    summary = json.loads((trial_dir / "summary.json").read_text())
    stage = summary["stages"]["train"]
    assert [f["name"] for f in stage["folds"]] == ["fold-1", "fold-2", "fold-3"]
    # The book's K-fold score: every fold at one common best epoch of the averaged curve.
    histories = [
        read_history(trial_dir / "stages" / "train" / f"fold-{i}" / "history.csv")
        for i in (1, 2, 3)
    ]
    length = min(len(h) for h in histories)
    mean_curve = [sum(h[e]["val_accuracy"] for h in histories) / 3 for e in range(length)]
    best = mean_curve.index(max(mean_curve))
    assert stage["best_epoch"] == best + 1
    assert summary["sweep"]["value"] == pytest.approx(mean_curve[best])

    # The same config through the workflow scores the same, and best.yaml trains as scored.
    best_yaml = runs_dir / "sweeps" / "tiny" / "best.yaml"
    assert yaml.safe_load(best_yaml.read_text())["model"]["dropout"] == 0.1
    code, _, err = cli("train", best_yaml, "-q")
    assert code == 0, err
    (run,) = [p for p in runs_dir.iterdir() if p.is_dir() and p.name != "sweeps" and p != trial_dir]
    trained = json.loads((run / "summary.json").read_text())
    assert trained["stages"]["train"]["score"] == pytest.approx(stage["score"])
    assert trained["stages"]["train"]["best_epoch"] == stage["best_epoch"]
    assert trained["final"]["mode"] == "retrain" and trained["final"]["epochs"] == best + 1


def test_ctrl_c_stops_cleanly_and_marks_the_trial_interrupted(write_config, runs_dir: Path) -> None:
    path = sweep_config(
        write_config,
        {"model.dropout": {"float": [0.0, 0.3]}},
        train={"epochs": 400, "batch_size": 256},
        trials=2,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlrun", "sweep", str(path)],
        cwd=ROOT,
        env={**os.environ, "DLRUN_RUNS_DIR": str(runs_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list(runs_dir.glob("*-t000-*/stages/train/history.csv")):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in out + err
    assert trial_runs(runs_dir)[0]["status"] == "interrupted"
    trials = load_study(runs_dir).get_trials()
    assert outcome(trials[0]) == "interrupted"
    assert [t.user_attrs.get("rerun_of") for t in trials[1:]] == [0]  # queued once


# Trains only once the file GO exists, so a test decides when a trial can end.
GATED_BUILDER = """\
import time
from pathlib import Path

import keras


def build(config, input_spec, outputs, head, go=""):
    deadline = time.monotonic() + 120
    while not Path(go).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    inputs = keras.Input(shape=input_spec.shape)
    x = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(outputs, activation=head.activation)(x))
"""


def start_gated_sweep(
    write_config, tmp_path: Path, runs_dir: Path, stdout: int, **sweep
) -> tuple[subprocess.Popen, Path]:
    """`dlrun sweep` in its own process group, its trials built by GATED_BUILDER; returns
    the process, once trial 0 has started, and the file that lets trial 0 go on."""
    builder, go = tmp_path / "gated.py", tmp_path / "go"
    builder.write_text(GATED_BUILDER)
    space = {"train.optimizer.learning_rate": {"float": [0.001, 0.02], "log": True}}
    path = sweep_config(write_config, space, train={"epochs": 1}, **sweep)
    model = f"model={{kind: 'python:{builder}:build', params: {{go: '{go}'}}}}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dlrun", "sweep", str(path), model],
        cwd=ROOT,
        env={**os.environ, "DLRUN_RUNS_DIR": str(runs_dir), "NO_COLOR": "1"},
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list(runs_dir.glob("*-t000-*/meta.json")):  # trial 0 waits for GO
        if time.monotonic() > deadline or proc.poll() is not None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            pytest.fail("trial 0 never started")
        time.sleep(0.05)
    return proc, go


def test_sigint_to_the_parent_alone_starts_no_new_trial(
    write_config, tmp_path: Path, runs_dir: Path
) -> None:
    """`kill -INT <sweep pid>`: the workers get no signal of their own, yet start no trial."""
    proc, go = start_gated_sweep(
        write_config, tmp_path, runs_dir, subprocess.DEVNULL, sampler="random", trials=3
    )
    try:
        proc.send_signal(signal.SIGINT)  # the parent only, not its process group
        assert proc.stderr is not None
        for line in proc.stderr:  # ends at the latest when the sweep exits
            if line.startswith("warning: stopping"):
                break
        go.touch()  # trial 0 may end now; the worker would be free for another
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert sorted(trial_runs(runs_dir)) == [0]  # no run directory of a later trial
    trials = load_study(runs_dir).get_trials()
    assert outcome(trials[0]) in ("complete", "interrupted")
    assert all(outcome(t) == "waiting" for t in trials[1:])  # at most trial 0's re-run, queued


def test_a_trial_cut_off_before_it_had_parameters_is_not_said_to_run_again(
    write_config, cli, runs_dir: Path
) -> None:
    space = {"model.dropout": {"float": [0.0, 0.3]}}
    path = sweep_config(write_config, space, trials=1)
    (runs_dir / "sweeps" / "tiny").mkdir(parents=True)
    url = f"sqlite:///{runs_dir / 'sweeps' / 'tiny' / 'study.db'}"
    study = optuna.create_study(study_name="tiny", storage=url, direction="maximize")
    done = study.ask()
    done.suggest_float("model.dropout", 0.0, 0.3)
    study.tell(done, 0.9)
    study.ask()  # a worker killed between creating its trial and drawing its parameters

    code, out, err = cli("sweep", path, "--resume")
    assert code == 0, err
    said = " ".join(out.split())
    assert "trial 1 was cut off before having parameters: not counted against the budget" in said
    assert "run again" not in said and "running again" not in said
    trials = load_study(runs_dir).get_trials()
    assert [outcome(t) for t in trials] == ["complete", "interrupted"]  # nothing queued for it
    assert "running" not in (runs_dir / "sweeps" / "tiny" / "trials.csv").read_text()
    code, out, err = cli("sweep", path, "--resume")  # said once, not at every resume
    assert code == 0, err
    assert "cut off" not in out


def test_ctrl_c_leaves_no_trial_of_the_sweep_running(
    write_config, tmp_path: Path, runs_dir: Path
) -> None:
    proc, _ = start_gated_sweep(write_config, tmp_path, runs_dir, subprocess.PIPE, trials=2)
    try:
        # As a worker cut off between creating its trial and drawing its parameters leaves it:
        # running, with no parameters, no host and no pid.
        load_study(runs_dir).ask()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "the running trials are marked interrupted" in err
    trials = load_study(runs_dir).get_trials()
    assert [outcome(t) for t in trials[:2]] == ["interrupted", "interrupted"]
    assert "running" not in out  # the table says what the warning says
    assert "running" not in (runs_dir / "sweeps" / "tiny" / "trials.csv").read_text()
