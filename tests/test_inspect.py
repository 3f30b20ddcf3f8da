"""`dlrun runs / show / compare` and report.md on real trained runs, broken runs included."""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dlrun.cli import run as dlrun

ROOT = Path(__file__).resolve().parents[1]


def train(runs_dir: Path, *overrides: str) -> Path:
    before = set(runs_dir.iterdir()) if runs_dir.is_dir() else set()
    code = dlrun(
        ["train", str(ROOT / "configs" / "digits.yaml"), "workflow=null", *overrides]
        + ["--runs-dir", str(runs_dir), "-q"]
    )
    assert code == 0
    (new,) = set(runs_dir.iterdir()) - before
    return new


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """Two finished digits runs that differ in model.units and train.epochs."""
    runs_dir = tmp_path_factory.mktemp("inspect") / "runs"
    small = train(runs_dir, "train.epochs=2", "model.units=[8]")
    large = train(runs_dir, "train.epochs=3", "model.units=[64,64]")
    return runs_dir, small, large


@pytest.fixture
def runs_copy(trained, tmp_path: Path) -> Path:
    runs_dir, _, _ = trained
    target = tmp_path / "runs"
    shutil.copytree(runs_dir, target)
    return target


def as_json(cli, *args: str) -> list | dict:
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_runs_lists_every_run_with_status_task_and_test_metrics(cli, trained) -> None:
    runs_dir, small, large = trained
    listed = as_json(cli, "runs", "--runs-dir", runs_dir)
    assert [r["id"] for r in listed] == [large.name, small.name]  # newest first
    for record in listed:
        assert record["status"] == "completed"
        assert record["task"] == "multiclass"
        assert 0 < record["metrics"]["test_accuracy"] <= 1
        assert record["duration_seconds"] > 0
    code, out, err = cli("runs", "--runs-dir", runs_dir)
    assert code == 0, err
    assert small.name in out and large.name in out
    assert "test_accuracy" in out and "completed" in out


def test_runs_sorts_by_any_metric_best_first(cli, trained) -> None:
    runs_dir, _, _ = trained
    by_accuracy = as_json(cli, "runs", "--runs-dir", runs_dir, "--sort", "accuracy")
    values = [r["metrics"]["test_accuracy"] for r in by_accuracy]
    assert values == sorted(values, reverse=True)
    by_loss = as_json(cli, "runs", "--runs-dir", runs_dir, "--sort", "test_loss")
    losses = [r["metrics"]["test_loss"] for r in by_loss]
    assert losses == sorted(losses)
    code, _, err = cli("runs", "--runs-dir", runs_dir, "--sort", "f1_macro")
    assert code == 2
    assert "no run has the metric 'f1_macro'" in err and "test_accuracy" in err


def test_runs_copes_with_broken_runs(cli, trained, runs_copy: Path) -> None:
    _, small, large = trained
    truncated = runs_copy / large.name
    meta = (truncated / "meta.json").read_text()
    (truncated / "meta.json").write_text(meta[: len(meta) // 2])
    no_summary = runs_copy / "20261122-101500-digits-abcdef"
    shutil.copytree(runs_copy / small.name, no_summary)
    (no_summary / "summary.json").unlink()
    bare = runs_copy / "20261122-101501-digits-0a0b0c"  # crashed right after mkdir
    bare.mkdir()
    (runs_copy / "notes.txt").write_text("not a run")
    killed = runs_copy / "20261122-101502-digits-dddddd"  # its process was killed -9
    shutil.copytree(runs_copy / small.name, killed)
    meta = json.loads((killed / "meta.json").read_text())
    meta.update(status="running", finished=None, pid=2**22 + 1, host=socket.gethostname())
    (killed / "meta.json").write_text(json.dumps(meta))

    listed = {r["id"]: r for r in as_json(cli, "runs", "--runs-dir", runs_copy)}
    assert set(listed) == {small.name, large.name, no_summary.name, bare.name, killed.name}
    assert listed[killed.name]["status"] == "running"
    problem = listed[killed.name]["problem"]
    assert "is gone" in problem and "--resume" in problem
    assert listed[small.name]["status"] == "completed"
    assert listed[large.name]["status"] == "broken"
    assert "meta.json is unreadable" in listed[large.name]["problem"]
    assert listed[no_summary.name]["status"] == "broken"
    assert "summary.json is missing" in listed[no_summary.name]["problem"]
    assert listed[bare.name]["status"] == "broken"

    code, out, err = cli("runs", "--runs-dir", runs_copy)
    assert code == 0, err
    assert out.count("broken") >= 3 and "running (dead)" in out
    code, out, err = cli("show", truncated, "--runs-dir", runs_copy)
    assert code == 0, err
    assert "broken" in out and "meta.json is unreadable" in out
    broken_only = as_json(cli, "runs", "--runs-dir", runs_copy, "--status", "broken")
    assert {r["id"] for r in broken_only} == {large.name, no_summary.name, bare.name}


def test_runs_filters_and_sorts_sweep_trials(cli, trained, runs_copy: Path) -> None:
    _, small, _ = trained
    sweep_dir = runs_copy / "sweep-digits"  # a sweep's own folder, holding its trials
    values = {0: 0.71, 1: 0.93, 2: 0.85}
    for trial, value in values.items():
        trial_dir = sweep_dir / f"20261122-1100{trial:02d}-digits-{trial:06x}"
        shutil.copytree(runs_copy / small.name, trial_dir)
        meta = json.loads((trial_dir / "meta.json").read_text())
        meta["sweep"] = {
            "name": "digits-sweep",
            "trial": trial,
            "metric": "val_accuracy",
            "direction": "maximize",
            "value": value,
            "state": "complete",
            "params": {"model.units": [8 * (trial + 1)], "train.optimizer.learning_rate": 1e-4},
        }
        (trial_dir / "meta.json").write_text(json.dumps(meta))
    listed = as_json(cli, "runs", "--runs-dir", runs_copy, "--sweep", "digits-sweep")
    assert [r["sweep"]["trial"] for r in listed] == [1, 2, 0]  # best val_accuracy first
    assert [r["metrics"]["val_accuracy"] for r in listed] == [0.93, 0.85, 0.71]
    code, out, _ = cli("runs", "--runs-dir", runs_copy, "--sweep", "digits-sweep")
    assert code == 0 and "trial" in out and "val_accuracy" in out
    header, best = out.splitlines()[:2]
    assert "model.units" in header and "train.optimizer.learning_rate" in header
    assert "complete" in best and "[16]" in best and "0.0001" in best  # trial 1's parameters
    assert len(as_json(cli, "runs", "--runs-dir", runs_copy)) == 5  # 2 runs + 3 trials
    assert as_json(cli, "runs", "--runs-dir", runs_copy, "--sweep", "other") == []
    assert len(as_json(cli, "runs", "--runs-dir", runs_copy, "--name", "dig*")) == 5


def test_show_prints_provenance_stages_metrics_files_and_config(cli, trained) -> None:
    runs_dir, small, _ = trained
    code, out, err = cli("show", small.name[-6:], "--runs-dir", runs_dir)
    assert code == 0, err
    meta = json.loads((small / "meta.json").read_text())
    for expected in (
        "provenance",
        "seed",
        "1337",
        "tensorflow 2.",
        "stages",
        "final model",
        "test metric",
        "final/model.keras",
        "report.md",
        "units: [8]",
        meta["started"],
    ):
        assert expected in out, expected
    code, _, err = cli("show", "no-such-run", "--runs-dir", runs_dir)
    assert code == 2 and "run not found" in err


def test_show_and_compare_refuse_a_directory_that_is_not_a_run(cli, trained, tmp_path) -> None:
    runs_dir, small, _ = trained
    photos = tmp_path / "photos"
    (photos / "2019").mkdir(parents=True)
    (photos / "2019" / "beach.jpg").write_text("not a run")
    code, out, err = cli("show", photos, "--runs-dir", runs_dir)
    assert code == 2 and "beach.jpg" not in out
    assert f"{photos} is not a dlrun run directory" in " ".join(err.split())
    for pair in ((photos, tmp_path), (small, photos)):
        code, out, err = cli("compare", *pair, "--runs-dir", runs_dir)
        assert code == 2 and "identical" not in out
        assert "is not a dlrun run directory" in err
    code, _, err = cli("evaluate", photos, "--runs-dir", runs_dir)  # as evaluate refuses it
    assert code == 2 and f"{photos} is not a dlrun run directory" in " ".join(err.split())


def test_compare_shows_only_differing_keys_in_every_format(cli, trained) -> None:
    runs_dir, small, large = trained
    args = ("compare", small, large, "--runs-dir", runs_dir)

    diff = as_json(cli, *args)
    assert set(diff["config"]) == {"model.units", "train.epochs"}
    assert diff["config"]["train.epochs"] == ["2", "3"]
    assert diff["runs"] == [small.name, large.name]
    assert set(diff["metrics"]) >= {"test_accuracy", "test_loss", "val_accuracy"}

    code, out, err = cli(*args, "--format", "csv")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["section", "key", small.name, large.name]
    assert ["config", "model.units", "[8]", "[64, 64]"] in rows
    assert {r[1] for r in rows if r[0] == "config"} == {"model.units", "train.epochs"}
    assert any(r[:2] == ["metric", "test_accuracy"] for r in rows)

    code, out, err = cli(*args, "--format", "markdown")
    assert code == 0, err
    assert f"| key | {small.name} | {large.name} |" in out
    assert "| `model.units` | [8] | [64, 64] |" in out
    assert "**" in out  # the better value of each metric is in bold

    code, out, err = cli(*args)
    assert code == 0, err
    assert "config keys that differ" in out and "model.units" in out
    assert "data.source" not in out  # identical keys are left out

    code, _, err = cli(*args, "--format", "xml")
    assert code == 2 and "unknown format 'xml'" in err
    code, _, err = cli("compare", small, "--runs-dir", runs_dir)
    assert code == 2 and "at least two runs" in err


def test_report_reads_on_its_own(trained) -> None:
    _, small, _ = trained
    report = (small / "report.md").read_text()
    assert report.startswith("# digits: completed")
    assert "**Test accuracy:" in report
    assert "## Stages" in report and "| train |" in report
    assert "![Confusion matrix](confusion_matrix.png)" in report
    assert (small / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "```yaml" in report and "## Provenance" in report


def test_runs_show_compare_do_not_import_tensorflow(trained) -> None:
    runs_dir, small, large = trained
    script = f"""
import sys
from dlrun.cli import run
for args in (["runs"], ["runs", "--format", "json"], ["show", {str(small)!r}],
             ["compare", {str(small)!r}, {str(large)!r}]):
    assert run([*args, "--runs-dir", {str(runs_dir)!r}]) == 0, args
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
assert not loaded, loaded[:5]
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_run_that_ran_never_lasts_zero_seconds(cli, tmp_path: Path) -> None:
    from dlrun.runs.rundir import Run

    runs_dir = tmp_path / "runs"
    run = Run.create(runs_dir, "quick", "task: binary\n", argv=["dlrun"], seed=1)
    run.set_status("completed")  # a few milliseconds after it started: same second, usually
    (record,) = as_json(cli, "runs", "--runs-dir", runs_dir)
    assert record["duration_seconds"] > 0
    code, out, err = cli("show", run.path, "--runs-dir", runs_dir)
    assert code == 0, err
    (duration,) = [line.split()[-1] for line in out.splitlines() if line.startswith("duration")]
    assert duration.endswith("s") and float(duration[:-1]) > 0
