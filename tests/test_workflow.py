"""`dlrun train` with a workflow section, end to end on tiny generated data (npz files and
a registered counting source): stages, verdicts, K-fold, test-once, failures, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from dlrun.data import sources
from dlrun.data.splits import RawData, Split


def _write_config(tmp_path: Path, config: dict[str, Any]) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _npz(tmp_path: Path, x: np.ndarray, y: np.ndarray, n_test: int) -> str:
    path = tmp_path / "data.npz"
    np.savez(path, x_train=x[n_test:], y_train=y[n_test:], x_test=x[:n_test], y_test=y[:n_test])
    return str(path)


def _separable(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    return x, (x @ rng.normal(size=6) > 0).astype(np.int64)


def _single_run(runs_dir: Path) -> Path:
    (run,) = list(runs_dir.iterdir())
    return run


def _read(run: Path, name: str) -> Any:
    return json.loads((run / name).read_text())


class CountingSplit(Split):
    """A test split that counts how often its inputs are read."""

    reads = 0

    def __getattribute__(self, name: str) -> Any:
        if name == "x":
            type(self).reads += 1
        return super().__getattribute__(name)


@pytest.fixture
def counting_source(monkeypatch: pytest.MonkeyPatch) -> type[CountingSplit]:
    x, y = _separable(400)
    CountingSplit.reads = 0

    def load(config: Any) -> RawData:
        return RawData(Split(x[100:], y[100:]), CountingSplit(x[:100], y[:100]), kind="features")

    # a registered source name, so the schema knows its keys; its data are these arrays
    entry = sources.SOURCES["sklearn.breast_cancer"]
    monkeypatch.setitem(sources.SOURCES, "sklearn.breast_cancer", entry._replace(load=load))
    return CountingSplit


@pytest.fixture
def test_evaluations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every evaluate_model call the workflow makes, by the size of the split it scores."""
    from dlrun.workflow import runner

    calls: list[int] = []
    original = runner.evaluate_model

    def counted(model: Any, split: Split, *args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(len(split))
        return original(model, split, *args, **kwargs)

    monkeypatch.setattr(runner, "evaluate_model", counted)
    return calls


COUNTING = {
    "name": "wf",
    "seed": 3,
    "task": "binary",
    "data": {"source": "sklearn.breast_cancer", "validation": {"fraction": 0.25}},
    "model": {"units": [8]},
    "train": {
        "epochs": 3,
        "batch_size": 32,
        "optimizer": {"name": "adam", "learning_rate": 0.01},
    },
    "workflow": {
        "overfit": {"model": {"units": [64, 64]}},
        "regularize": [{"model": {"dropout": 0.3}}, {"name": "l2", "model": {"l2": 0.001}}],
    },
}


def test_workflow_walks_every_stage_and_touches_the_test_split_once(
    cli, runs_dir: Path, tmp_path: Path, counting_source, test_evaluations
) -> None:
    code, out, err = cli("train", _write_config(tmp_path, COUNTING))
    assert code == 0, err
    run = _single_run(runs_dir)
    summary = _read(run, "summary.json")

    # the test split was prepared once and scored once, by the final step only
    assert counting_source.reads == 1
    assert test_evaluations == [100]

    stages = summary["stages"]
    assert list(stages) == ["small", "overfit", "dropout", "l2"]
    assert all(s["status"] == "completed" for s in stages.values())
    # the chosen stage is the best by validation accuracy, never by test
    scores = {name: s["score"] for name, s in stages.items()}
    assert summary["chosen"] == max(scores, key=scores.get)
    assert stages["overfit"]["model"] == "mlp 64-64"
    assert stages["dropout"]["model"] == "mlp 8 + dropout 0.3"
    for name, stage in stages.items():
        assert stage["val"]["accuracy"] == stage["score"]
        assert 1 <= stage["best_epoch"] <= stage["epochs_run"] <= 3
        assert "beats baseline by" in stage["verdict"]
        assert (run / "stages" / name / "history.csv").is_file()
        assert any((run / "stages" / name / "tensorboard").rglob("*tfevents*"))
        assert (run / stage["plot"]).stat().st_size > 1000
    assert (run / "validation_curves.png").stat().st_size > 1000

    baseline = summary["baseline"]
    assert set(baseline["values"]) == {"majority", "shuffled"}
    assert baseline["reference"]["metric"] == "accuracy"

    final = summary["final"]
    assert final["stage"] == summary["chosen"] and final["mode"] == "retrain"
    assert final["epochs"] == stages[summary["chosen"]]["best_epoch"]
    assert final["samples"] == 300  # retrained on train + validation
    assert _read(run, "final/metrics.json")["accuracy"] == final["test"]["accuracy"]
    assert _read(run, "meta.json")["status"] == "completed"
    assert "final model on the test split" in out
    assert "baseline" in out and "overfit" in out

    # what `dlrun evaluate` scores is the workflow's final model, with its preprocessing
    code, _, err = cli("evaluate", run)
    assert code == 0, err
    evaluated = _read(run, "final/evaluation.json")
    assert evaluated["accuracy"] == pytest.approx(final["test"]["accuracy"], abs=1e-6)


def test_no_final_never_reads_the_test_split(
    cli, runs_dir: Path, tmp_path: Path, counting_source, test_evaluations
) -> None:
    config = {**COUNTING, "workflow": {"regularize": [{"model": {"dropout": 0.3}}]}}
    code, out, err = cli("train", _write_config(tmp_path, config), "--no-final")
    assert code == 0, err
    run = _single_run(runs_dir)
    summary = _read(run, "summary.json")
    assert counting_source.reads == 0 and test_evaluations == []
    assert summary["final"] is None and summary["chosen"] in ("small", "dropout")
    assert not (run / "final").exists()
    assert "stopped before the test split" in out


def test_one_stage_with_keep_best_keeps_that_stages_checkpoint(
    cli, runs_dir: Path, tmp_path: Path, counting_source, test_evaluations
) -> None:
    config = {**COUNTING, "workflow": {**COUNTING["workflow"], "final": "keep_best"}}
    code, _, err = cli("train", _write_config(tmp_path, config), "--stage", "overfit", "-q")
    assert code == 0, err
    summary = _read(_single_run(runs_dir), "summary.json")
    assert list(summary["stages"]) == ["overfit"]
    assert summary["final"]["mode"] == "keep_best" and summary["final"]["stage"] == "overfit"
    assert counting_source.reads == 1 and test_evaluations == [100]


def test_stage_must_be_known_and_a_plain_config_is_one_stage(
    cli, runs_dir: Path, tmp_path: Path, counting_source
) -> None:
    code, _, err = cli("train", _write_config(tmp_path, COUNTING), "--stage", "huge")
    assert code == 2
    assert "--stage huge: no such stage; this config has small, overfit, dropout, l2" in err
    plain = {k: v for k, v in COUNTING.items() if k != "workflow"}
    code, _, err = cli("train", _write_config(tmp_path, plain), "--stage", "small")
    assert code == 2 and "has no workflow section, so no stages" in err
    assert not runs_dir.exists() or not list(runs_dir.iterdir())


def test_overfit_verdict_on_a_big_model_and_a_small_noisy_set(
    cli, runs_dir: Path, tmp_path: Path
) -> None:
    rng = np.random.RandomState(0)
    x = rng.normal(size=(140, 20)).astype(np.float32)
    y = rng.randint(0, 2, size=140)  # pure noise: whatever the model learns does not generalize
    config = {
        "name": "noisy",
        "task": "binary",
        "data": {"source": "npz", "path": _npz(tmp_path, x, y, 40), "validation": {"holdout": 40}},
        "model": {"units": [4]},
        "train": {"epochs": 30, "batch_size": 16, "optimizer": {"name": "adam"}},
        "workflow": {
            "baseline": "majority",
            "overfit": {
                "model": {"units": [256, 256]},
                "train": {"optimizer": {"name": "adam", "learning_rate": 0.003}},
            },
        },
    }
    code, _, err = cli("train", _write_config(tmp_path, config), "--stage", "overfit", "-q")
    assert code == 0, err
    stage = _read(_single_run(runs_dir), "summary.json")["stages"]["overfit"]
    assert stage["overfitting"]["overfits"] is True
    assert stage["overfitting"]["gap"] > 0.3  # memorized the training set, not validation
    assert f"overfits after epoch {stage['overfitting']['after_epoch']}" in stage["verdict"]


def test_overfit_verdict_on_a_run_that_does_not_overfit_yet(
    cli, runs_dir: Path, tmp_path: Path
) -> None:
    x, y = _separable(2500)
    config = {
        "name": "clean",
        "task": "binary",
        "data": {
            "source": "npz",
            "path": _npz(tmp_path, x, y, 500),
            "validation": {"fraction": 0.5},
        },
        "model": {"units": [4]},
        "train": {"epochs": 3, "batch_size": 64, "optimizer": {"learning_rate": 0.0005}},
        "workflow": {"overfit": {"model": {"units": [8]}}},
    }
    code, _, err = cli("train", _write_config(tmp_path, config), "--stage", "overfit", "-q")
    assert code == 0, err
    stage = _read(_single_run(runs_dir), "summary.json")["stages"]["overfit"]
    assert stage["overfitting"]["overfits"] is False
    assert "does not overfit yet: scale up (more units/layers/epochs)" in stage["verdict"]


def _regression_npz(tmp_path: Path, n: int = 90) -> str:
    rng = np.random.RandomState(1)
    x = rng.normal(size=(n, 3)).astype(np.float32) * 10 + 50  # needs normalizing
    y = (x @ np.array([0.5, -0.2, 0.1]) + rng.normal(scale=0.5, size=n)).astype(np.float32)
    return _npz(tmp_path, x, y, 20)


def test_kfold_averages_fold_curves_and_picks_the_best_epoch_from_the_mean(
    cli, runs_dir: Path, tmp_path: Path
) -> None:
    config = {
        "name": "folds",
        "task": "regression",
        "data": {
            "source": "npz",
            "path": _regression_npz(tmp_path),
            "normalize": True,
            "validation": {"kfold": 2, "repeats": 2},
        },
        "model": {"units": [8]},
        "train": {"epochs": 4, "batch_size": 8, "tensorboard": False},
        "workflow": {"baseline": "mean", "final_models": 2},
    }
    code, out, err = cli("train", _write_config(tmp_path, config))
    assert code == 0, err
    run = _single_run(runs_dir)
    summary = _read(run, "summary.json")
    assert summary["workflow"]["protocol"] == {"kind": "kfold", "k": 2, "repeats": 2, "samples": 70}
    stage = summary["stages"]["small"]
    folds = stage["folds"]
    assert [f["name"] for f in folds] == ["fold-1", "fold-2", "fold-3", "fold-4"]

    # recompute by hand from each fold's own history.csv
    curves = []
    for fold in folds:
        lines = (run / "stages" / "small" / fold["name"] / "history.csv").read_text().split()
        header = lines[0].split(",")
        column = header.index("val_mae")
        curves.append([float(line.split(",")[column]) for line in lines[1:]])
    mean_curve = np.mean(curves, axis=0)
    best = int(np.argmin(mean_curve)) + 1
    assert stage["best_epoch"] == best
    at_best = [c[best - 1] for c in curves]
    assert [f["at_best_epoch"] for f in folds] == pytest.approx(at_best)
    assert stage["score"] == pytest.approx(np.mean(at_best))
    assert stage["score_std"] == pytest.approx(np.std(at_best))
    assert " ± " in out

    # the mean-of-train baseline, averaged over the four folds, and the final retrain
    assert summary["baseline"]["reference"]["name"] == "mean"
    assert summary["baseline"]["values"]["mean"]["mae"] > 0
    final = summary["final"]
    assert final["epochs"] == best and final["samples"] == 70
    # two retrained copies, averaged into the one final model that `dlrun evaluate` scores
    assert final["models"] == 2
    for member in ("member-1", "member-2"):
        assert (run / "stages" / "final" / member / "history.csv").is_file()
    code, _, err = cli("evaluate", run)
    assert code == 0, err
    assert _read(run, "final/evaluation.json")["mae"] == pytest.approx(final["test"]["mae"])


def test_a_failing_stage_is_recorded_and_the_workflow_goes_on(
    cli, runs_dir: Path, tmp_path: Path
) -> None:
    # a missing builder file is a config error that `check` finds; this one fails at build time
    broken = tmp_path / "broken.py"
    broken.write_text("def build(**kwargs):\n    return 'not a model'\n")
    config = {
        "name": "failures",
        "task": "regression",
        "data": {"source": "npz", "path": _regression_npz(tmp_path), "normalize": True},
        "model": {"units": [8]},
        "train": {"epochs": 2, "batch_size": 8, "tensorboard": False},
        "workflow": {
            "stages": [
                {"name": "broken", "model": {"kind": f"python:{broken}:build"}},
                {"name": "ok", "role": "small"},
                {"name": "diverges", "train": {"optimizer": {"learning_rate": 1.0e12}}},
            ]
        },
    }
    code, _, err = cli("train", _write_config(tmp_path, config), "-q")
    assert code == 0, err
    run = _single_run(runs_dir)
    stages = _read(run, "summary.json")["stages"]
    assert stages["broken"]["status"] == "failed"
    assert "not a keras.Model" in stages["broken"]["error"]
    assert stages["diverges"]["status"] == "failed"
    assert "NaN" in stages["diverges"]["error"]
    assert stages["ok"]["status"] == "completed"
    assert _read(run, "summary.json")["final"]["stage"] == "ok"
    assert "stage broken failed" in err


def test_resume_after_an_interruption_between_stages_runs_only_the_unfinished(
    cli, runs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dlrun.training import fit
    from dlrun.workflow import runner

    trained: list[str] = []
    original = fit.fit_model

    def interrupt_overfit_once(config: Any, prepared: Any, stage_dir: Path, *a: Any, **k: Any):
        if stage_dir.name == "overfit" and "overfit" not in trained:
            trained.append("overfit")
            raise KeyboardInterrupt  # Ctrl-C after `small` finished
        trained.append(stage_dir.name)
        return original(config, prepared, stage_dir, *a, **k)

    monkeypatch.setattr(fit, "fit_model", interrupt_overfit_once)  # the stages' fits
    monkeypatch.setattr(runner, "fit_model", interrupt_overfit_once)  # the final retrain
    x, y = _separable(300)
    config = {
        **COUNTING,
        "data": {"source": "npz", "path": _npz(tmp_path, x, y, 60), "validation": {"holdout": 60}},
    }
    code, _, err = cli("train", _write_config(tmp_path, config), "-q")
    assert code == 130, err
    run = _single_run(runs_dir)
    assert _read(run, "meta.json")["status"] == "interrupted"
    kept = _read(run, "summary.json")["stages"]
    assert kept["small"]["status"] == "completed"
    assert kept.get("overfit", {}).get("status") != "completed"
    assert not (run / "final").exists()

    code, _, err = cli("train", "--resume", run, "-q")
    assert code == 0, err
    assert trained == ["small", "overfit", "overfit", "dropout", "l2", "final"]
    summary = _read(run, "summary.json")
    assert summary["stages"]["small"] == kept["small"]  # kept as it was, not retrained
    assert all(s["status"] == "completed" for s in summary["stages"].values())
    assert summary["final"]["test"]["samples"] == 60
    assert _read(run, "meta.json")["status"] == "completed"
