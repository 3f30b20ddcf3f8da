"""The run catalog a user can trust (issue 23): `last` names a run fit for the command,
one damaged run directory never hides the others, and what a run recorded is printed as
it is (brackets kept, control characters made visible).

One tiny CSV run is trained for the module; the other run directories are copies of it,
changed by hand as a crash, a kill or a hand edit would leave them.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from dlrun.commands.tensorboard import served

ROWS = 60


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A completed run on a small table (two numeric columns, a binary target)."""
    from dlrun.cli import run as dlrun

    root = tmp_path_factory.mktemp("trust-runs")
    rows = [f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{int(i % 7 / 7 > i % 5 / 5)}" for i in range(ROWS)]
    table = root / "table.csv"
    table.write_text("a,b,y\n" + "\n".join(rows) + "\n", encoding="utf-8")
    config = {
        "name": "table",
        "seed": 3,
        "task": "binary",
        "data": {"source": "csv", "path": str(table), "target": "y"},
        "model": {"kind": "mlp", "units": [4]},
        "train": {"batch_size": 16, "epochs": 1},
    }
    config_file = root / "table.yaml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    runs_dir = root / "runs"
    assert dlrun(["train", str(config_file), "--runs-dir", str(runs_dir), "-q"]) == 0
    (run,) = runs_dir.iterdir()
    return run


def clone(run: Path, runs_dir: Path, stamp: str, tag: str, **meta: object) -> Path:
    """A copy of `run` named and started at `stamp` (YYYYmmdd-HHMMSS), meta.json changed."""
    target = runs_dir / f"{stamp}-table-{tag}"
    shutil.copytree(run, target)
    record = json.loads((target / "meta.json").read_text())
    day, time = stamp.split("-")
    started = f"{day[:4]}-{day[4:6]}-{day[6:]}T{time[:2]}:{time[2:4]}:{time[4:]}+00:00"
    record.update(id=target.name, started=started, finished=started, **meta)
    (target / "meta.json").write_text(json.dumps(record))
    return target


def as_failed_early(run: Path, error: str) -> None:
    """As a run that failed while preparing its data: no preprocessing.json, no final model."""
    for name in ("preprocessing.json", "summary.json", "report.md"):
        (run / name).unlink(missing_ok=True)
    shutil.rmtree(run / "final")
    shutil.rmtree(run / "stages")
    record = json.loads((run / "meta.json").read_text())
    record.update(status="failed", error=error)
    (run / "meta.json").write_text(json.dumps(record))


# --- `last` means a run fit for the command -------------------------------------------


def test_evaluate_last_passes_over_a_newer_failed_run_and_says_so(
    cli, trained: Path, runs_dir: Path
) -> None:
    good = clone(trained, runs_dir, "20261201-100000", "aaaaaa")
    failed = clone(trained, runs_dir, "20261201-110000", "bbbbbb")
    as_failed_early(failed, "DataError: the csv has no column 'y'")

    code, out, err = cli("evaluate", "last")
    assert code == 0, err
    assert "accuracy" in out
    assert f"'last' is {good.name}" in err
    assert failed.name in err and "failed: DataError: the csv has no column 'y'" in err

    code, out, err = cli("show", "last")  # show takes the newest run, whatever its status
    assert code == 0, err
    assert failed.name in out and "failed" in out


def test_evaluate_last_without_a_final_model_names_every_run_it_passed_over(
    cli, trained: Path, runs_dir: Path
) -> None:
    failed = clone(trained, runs_dir, "20261201-100000", "aaaaaa")
    as_failed_early(failed, "killed by the OOM killer")
    no_final = clone(trained, runs_dir, "20261201-110000", "bbbbbb")
    shutil.rmtree(no_final / "final")  # trained with --no-final

    code, _, err = cli("evaluate", "last")
    assert code == 2 and "Traceback" not in err
    assert "there is no run with a final model" in err
    assert f"{no_final.name} (completed without a final model)" in err
    assert f"{failed.name} (failed: killed by the OOM killer)" in err


def test_resume_last_takes_the_newest_run_that_can_be_resumed(
    cli, trained: Path, runs_dir: Path
) -> None:
    stopped = clone(trained, runs_dir, "20261201-100000", "aaaaaa", status="interrupted")
    for child in stopped.iterdir():  # stopped before the workflow wrote anything
        if child.name not in ("config.yaml", "meta.json"):
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    newer = clone(trained, runs_dir, "20261201-110000", "bbbbbb")

    code, _, err = cli("train", "--resume", "last", "-q")
    assert code == 0, err
    assert f"{newer.name} (completed)" in err
    assert json.loads((stopped / "meta.json").read_text())["status"] == "completed"
    assert (stopped / "final" / "model.keras").is_file()


# --- one damaged run never hides the others -------------------------------------------

DAMAGED_META = {
    "random bytes": bytes(range(256)) * 4,
    "started is a number": {"started": 12345},
    "finished is an object": {"finished": {"at": 1}},
    "status is a list": {"status": ["completed"]},
    "status is unknown": {"status": "done"},
    "status is missing": {"status": None},
    "name is a number": {"name": 7},
    "pid is true": {"status": "running", "pid": True},
    "pid is every process": {"status": "running", "pid": -1},
    "pid is too large": {"status": "running", "pid": 10**400},
    "error is a list": {"status": "failed", "error": ["x"]},
    "command is a string": {"command": "dlrun train x.yaml"},
    "versions is a list": {"versions": ["tf"]},
    "sweep is a string": {"sweep": "digits"},
    "sweep metric is a list": {"sweep": {"name": "s", "metric": ["val_loss"], "value": 1}},
    "sweep trial is a string": {"sweep": {"name": "s", "trial": "3"}},
    "sweep params is a list": {"sweep": {"name": "s", "params": [1, 2]}},
    "a JSON list": [1, 2],
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
}


def damage(run: Path, name: str, how: bytes | dict | list) -> None:
    path = run / name
    if isinstance(how, bytes):
        path.write_bytes(how)
    elif isinstance(how, list):
        path.write_text(json.dumps(how))
    else:
        record = json.loads(path.read_text())
        record.update(how)
        path.write_text(json.dumps({k: v for k, v in record.items() if v is not None}))


@pytest.mark.parametrize("how", DAMAGED_META.values(), ids=DAMAGED_META.keys())
def test_a_damaged_meta_json_is_one_broken_run_listed_with_its_reason(
    cli, trained: Path, runs_dir: Path, how: bytes | dict | list
) -> None:
    good = clone(trained, runs_dir, "20261201-100000", "aaaaaa")
    bad = clone(trained, runs_dir, "20261201-110000", "bbbbbb")
    damage(bad, "meta.json", how)

    code, out, err = cli("runs", "--format", "json")
    assert code == 0, err
    listed = {record["id"]: record for record in json.loads(out)}
    assert set(listed) == {good.name, bad.name}
    assert listed[good.name]["status"] == "completed"
    assert listed[bad.name]["status"] == "broken"
    assert "meta.json" in listed[bad.name]["problem"]
    if isinstance(how, dict):
        (field,) = how.keys() - {"status"} or how.keys()
        assert field in listed[bad.name]["problem"]
    for args in (["runs"], ["show", "last"], ["show", bad.name], ["compare", good, bad]):
        code, out, err = cli(*args)
        assert code == 0 and "Traceback" not in err, (args, err)
    code, out, err = cli("show", bad.name)
    assert "broken" in out and "meta.json" in out
    assert [name for name, _ in served([good.name, bad.name], runs_dir)] == [good.name, bad.name]
    assert served([], runs_dir)  # the whole runs directory, the damaged run in it


DAMAGED_SUMMARY = {
    "random bytes": bytes(range(256)) * 4,
    "a JSON string": b'"completed"',
    "stages is a number": {"stages": 5},
    "a metric is text": {"stages": {"train": {"train": {"loss": "low"}, "val": [1]}}},
    "final is a list": {"final": [1, 2]},
    "stage status is a list": {"stages": {"train": {"status": ["failed"], "verdict": "x"}}},
    "confusion matrix of numbers": {"final": {"test": {"confusion_matrix": [1, 2]}}},
    "baseline values is a number": {"baseline": {"values": 3, "reference": []}},
    "verdict with markup": {"stages": {"train": {"verdict": "[red]fine[/red]", "seconds": "1"}}},
}


@pytest.mark.parametrize("how", DAMAGED_SUMMARY.values(), ids=DAMAGED_SUMMARY.keys())
def test_a_damaged_summary_json_never_hides_a_run(
    cli, trained: Path, runs_dir: Path, how: bytes | dict
) -> None:
    good = clone(trained, runs_dir, "20261201-100000", "aaaaaa")
    bad = clone(trained, runs_dir, "20261201-110000", "bbbbbb")
    damage(bad, "summary.json", how)

    code, out, err = cli("runs", "--format", "json")
    assert code == 0, err
    listed = {record["id"]: record for record in json.loads(out)}
    assert set(listed) == {good.name, bad.name}
    if isinstance(how, bytes):
        assert listed[bad.name]["status"] == "broken"
        assert "summary.json" in listed[bad.name]["problem"]
    for args in (["runs"], ["show", "last"], ["compare", good, bad], ["runs", "--sort", "loss"]):
        code, out, err = cli(*args)
        assert code == 0 and "Traceback" not in err, (args, err)
    if "[red]fine[/red]" in str(how):
        code, out, _ = cli("show", bad.name)
        assert "[red]fine[/red]" in out


def test_times_with_and_without_a_time_zone_give_no_duration_and_no_crash(
    cli, trained: Path, runs_dir: Path
) -> None:
    run = clone(trained, runs_dir, "20261201-100000", "aaaaaa")
    damage(run, "meta.json", {"started": "2026-12-01T10:00:00", "finished": "2026-12-01T10:01:00Z"})
    code, out, err = cli("runs", "--format", "json")
    assert code == 0, err
    (record,) = json.loads(out)
    assert record["status"] == "completed" and record["duration_seconds"] is None


# --- what a run recorded is printed as it is ------------------------------------------


def test_show_prints_brackets_of_the_recorded_command_and_config(
    cli, trained: Path, runs_dir: Path
) -> None:
    command = ["dlrun", "train", "c.yaml", "train.metrics=[auc_pr]", "model.units=[bold]"]
    run = clone(trained, runs_dir, "20261201-100000", "aaaaaa", command=command)
    code, out, err = cli("show", run.name)
    assert code == 0, err
    assert "c.yaml 'train.metrics=[auc_pr]' 'model.units=[bold]'" in out

    other = clone(trained, runs_dir, "20261201-110000", "bbbbbb")
    config = yaml.safe_load((other / "config.yaml").read_text())
    config["train"]["metrics"] = ["[auc_pr]"]
    (other / "config.yaml").write_text(yaml.safe_dump(config))
    code, out, err = cli("compare", run.name, other.name)
    assert code == 0, err
    assert '["[auc_pr]"]' in out
    code, out, err = cli("compare", run.name, other.name, "--format", "markdown")
    assert code == 0 and '["[auc_pr]"]' in out


def test_control_characters_in_a_run_never_reach_the_terminal(
    cli, trained: Path, runs_dir: Path
) -> None:
    name = "evil\x1b[2J\x1b]0;pwned\x07\rname\x9b31m"
    run = clone(trained, runs_dir, "20261201-100000", "aaaaaa", name=name, error=None)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["train"]["note"] = "a\x1b[31mred"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    other = clone(trained, runs_dir, "20261201-110000", "bbbbbb")
    outputs = []
    for args in (
        ["runs"],
        ["show", run.name],
        ["compare", run.name, other.name],
        ["compare", run.name, other.name, "--format", "csv"],
        ["compare", run.name, other.name, "--format", "markdown"],
    ):
        code, out, err = cli(*args)
        assert code == 0, (args, err)
        outputs.append(out + err)
    for text in outputs:
        assert not {"\x1b", "\x07", "\r", "\x9b"} & set(text)
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07\\rname\\x9b31m" in outputs[0]
    assert "a\\x1b[31mred" in outputs[2]


def test_an_error_message_keeps_its_brackets_and_loses_its_escapes(cli, runs_dir: Path) -> None:
    runs_dir.mkdir()
    code, _, err = cli("show", "[bold]\x1b[31mnope")
    assert code == 2
    assert "run not found: [bold]\\x1b[31mnope" in err and "\x1b" not in err


# --- the runs directory, and drawings of a run that is no image model ------------------


def test_a_runs_dir_that_is_a_file_is_a_usage_error(cli, tmp_path: Path) -> None:
    not_a_dir = tmp_path / "runs.txt"
    not_a_dir.write_text("x")
    for args in (["runs"], ["runs", "--format", "json"], ["show", "last"], ["tensorboard"]):
        code, out, err = cli(*args, "--runs-dir", not_a_dir)
        assert code == 2, (args, out, err)
        assert str(not_a_dir) in err and "not a directory" in err
    code, out, err = cli("runs", "--runs-dir", tmp_path / "missing")
    assert code == 0 and "no runs in" in out


def test_show_activations_of_a_table_run_is_a_clear_error(
    cli, trained: Path, tmp_path: Path
) -> None:
    image = tmp_path / "img.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))  # never read: refused before
    for option in ("--activations", "--heatmap"):
        code, _, err = cli("show", trained, option, image)
        assert code == 2 and "Traceback" not in err
        assert f"{option}: this run's model takes inputs of shape (2,)" in err
        assert "data.source: csv" in err and "not images" in err


def test_export_follows_the_umask(cli, trained: Path, tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        code, _, err = cli("export", trained, "--output", tmp_path / "served", "-q")
    finally:
        os.umask(previous)
    assert code == 0, err
    assert stat.S_IMODE((tmp_path / "served").stat().st_mode) == 0o755
