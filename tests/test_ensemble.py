"""`workflow.final: {ensemble: K}`: the final model averages the K best stages' models.

A tiny digits workflow (small, overfit, dropout) trains once per mode; the checks are
the ranking of the members, the averaged model against the members' own predictions,
`predict` and `export` of the result, and `dlrun check`'s refusals.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from conftest import TINY_CONFIG, check_error

from dlrun.cli import run as dlrun
from dlrun.data.prepare import limited_test, prepare_test
from dlrun.data.sources import load_raw
from dlrun.objective import Objective
from dlrun.spec import validate
from dlrun.tfenv import import_keras
from dlrun.workflow.runner import ranked


def _config(final: Any) -> dict[str, Any]:
    config = copy.deepcopy(TINY_CONFIG)
    config["train"].update(epochs=3, tensorboard=False)
    config["workflow"] = {
        "overfit": {"model": {"units": [32]}},
        "regularize": [{"model": {"dropout": 0.3}}],  # no penalty in the loss, unlike l2
        "final": final,
    }
    return config


def _train(base: Path, config: dict[str, Any]) -> tuple[Path, str]:
    """Train `config` under `base`; the run directory and what the training printed."""
    path = base / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    runs = base / "runs"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert dlrun(["train", str(path), "--runs-dir", str(runs)]) == 0
    (run,) = runs.iterdir()
    return run, printed.getvalue()


@pytest.fixture(scope="module")
def keras() -> Any:
    return import_keras()


@pytest.fixture(scope="module")
def retrained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return _train(tmp_path_factory.mktemp("ensemble"), _config({"ensemble": 2}))


def _summary(run: Path) -> dict[str, Any]:
    return json.loads((run / "summary.json").read_text())


def _test_split(run: Path) -> tuple[Any, Any]:
    """The run's test split before and after its saved preprocessing."""
    config = validate(yaml.safe_load((run / "config.yaml").read_text())).config
    state = json.loads((run / "preprocessing.json").read_text())
    raw = load_raw(config.data)
    return limited_test(raw, config), prepare_test(raw, config, state)


def _members(summary: dict[str, Any]) -> list[str]:
    return [member["stage"] for member in summary["final"]["members"]]


def test_the_final_model_averages_exactly_the_two_best_stages(
    retrained: tuple[Path, str],
) -> None:
    run, printed = retrained
    summary = _summary(run)
    stages, final = summary["stages"], summary["final"]
    assert list(stages) == ["small", "overfit", "dropout"]
    assert all(stage["status"] == "completed" for stage in stages.values())
    names = _members(summary)
    scores = {name: stage["score"] for name, stage in stages.items()}
    # the two best by validation accuracy, best first: the first is the stage chosen alone
    assert len(names) == 2 and names[0] == summary["chosen"] == final["stage"]
    assert scores[names[0]] >= scores[names[1]]
    assert min(scores[n] for n in names) >= max(s for n, s in scores.items() if n not in names)
    assert names == ranked(stages, Objective.of("val_accuracy"))[:2]
    # each retrained on train+validation for its own best epoch count
    assert [m["epochs"] for m in final["members"]] == [stages[n]["best_epoch"] for n in names]
    assert final["mode"] == "retrain" and final["models"] == 2 and final["samples"] == 300
    for name in names:
        assert (run / "stages" / "final" / name / "history.csv").is_file()
    said = f"ensemble of 2: {names[0]}, {names[1]}"
    assert f"{said}; retrained on train+val for " in printed  # the table's final row
    report = (run / "report.md").read_text()
    assert f"final model: ensemble of 2: `{names[0]}`, `{names[1]}`" in report
    first, second = final["members"]
    assert (
        f"Final model: ensemble of 2: `{names[0]}` ({first['epochs']} epochs), "
        f"`{names[1]}` ({second['epochs']} epochs), each retrained on train+validation" in report
    )


def test_test_metrics_are_those_of_the_averaged_member_predictions(
    retrained: tuple[Path, str], keras: Any
) -> None:
    run, _ = retrained
    summary = _summary(run)
    _, test = _test_split(run)
    x, y = np.asarray(test.x), np.asarray(test.y)
    members = [
        keras.saving.load_model(run / "stages" / "final" / name / "model.keras")
        for name in _members(summary)
    ]
    averaged = np.mean([member.predict(x, verbose=0) for member in members], axis=0)
    ensemble = keras.saving.load_model(run / "final" / "model.keras")
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), averaged, atol=1e-6)

    tested = summary["final"]["test"]
    assert tested["samples"] == len(y)
    assert tested["accuracy"] == pytest.approx(np.mean(averaged.argmax(axis=1) == y), abs=1e-6)
    # Keras's crossentropy on probabilities clips them to [1e-7, 1 - 1e-7]
    picked = np.clip(averaged[np.arange(len(y)), y], 1e-7, 1 - 1e-7)
    assert tested["loss"] == pytest.approx(float(-np.mean(np.log(picked))), rel=1e-5)
    assert json.loads((run / "final" / "metrics.json").read_text()) == tested


def test_predict_and_export_take_the_ensemble_unchanged(
    retrained: tuple[Path, str], tmp_path: Path, keras: Any, cli
) -> None:
    import tensorflow as tf

    run, _ = retrained
    raw_test, test = _test_split(run)
    ensemble = keras.saving.load_model(run / "final" / "model.keras")
    expected = ensemble.predict(np.asarray(test.x)[:20], verbose=0)

    np.savez(tmp_path / "new.npz", x=np.asarray(raw_test.x)[:20])
    code, _, err = cli("predict", run, tmp_path / "new.npz", "-o", tmp_path / "predicted.npz")
    assert code == 0, err
    with np.load(tmp_path / "predicted.npz") as saved:
        np.testing.assert_allclose(saved["predictions"], expected, atol=1e-6)
        # labels are the classes as the data names them: the digits' names are "0".."9"
        np.testing.assert_array_equal(saved["labels"].astype(int), expected.argmax(axis=1))

    target = tmp_path / "export"
    code, _, err = cli("export", run, "--format", "saved_model", "--output", target)
    assert code == 0, err
    served = tf.saved_model.load(str(target / "saved_model"))
    inputs = tf.constant(np.asarray(test.x)[:20], dtype=tf.float32)
    np.testing.assert_allclose(np.asarray(served.serve(inputs)), expected, atol=1e-5)


def test_keep_best_ensemble_averages_the_kept_checkpoints(tmp_path: Path, keras: Any) -> None:
    run, printed = _train(tmp_path, _config({"mode": "keep_best", "ensemble": 2}))
    summary = _summary(run)
    names = _members(summary)
    assert names == ranked(summary["stages"], Objective.of("val_accuracy"))[:2]
    assert summary["final"]["mode"] == "keep_best" and summary["final"]["models"] == 2
    assert not (run / "stages" / "final").exists()  # nothing retrained
    _, test = _test_split(run)
    x = np.asarray(test.x)
    kept = [keras.saving.load_model(run / "stages" / n / "checkpoint.keras") for n in names]
    averaged = np.mean([model.predict(x, verbose=0) for model in kept], axis=0)
    ensemble = keras.saving.load_model(run / "final" / "model.keras")
    np.testing.assert_allclose(ensemble.predict(x, verbose=0), averaged, atol=1e-6)
    assert f"ensemble of 2: {names[0]}, {names[1]}; best checkpoints kept" in printed
    assert f"ensemble of 2: `{names[0]}` (epoch " in (run / "report.md").read_text()


def test_the_ranking_repeats_the_choice_of_one_stage_among_the_rest() -> None:
    stages = {
        "small": {"status": "completed", "score": 2.15, "score_std": 0.3, "params": 5000},
        "overfit": {"status": "completed", "score": 2.08, "score_std": 0.3, "params": 140000},
        "l2": {"status": "completed", "score": 2.40, "score_std": 0.3, "params": 5000},
        "broken": {"status": "failed"},
    }
    mae = Objective.of("val_mae")
    assert ranked(stages, mae) == ["overfit", "small", "l2"]  # holdout: by score
    # 4 folds: small is within one standard error of overfit with far fewer weights, so
    # chosen first, as `choose` picks it alone; failed stages are never members
    assert ranked(stages, mae, folds=4) == ["small", "overfit", "l2"]


@pytest.mark.parametrize(
    ("workflow", "message"),
    [
        (
            {
                "overfit": {"model": {"units": [32]}},
                "regularize": [{"model": {"dropout": 0.3}}],
                "final": {"ensemble": 4},
            },
            "workflow.final.ensemble 4 averages the 4 best stages, but this workflow plans 3 "
            "(small, overfit, dropout): add stages (workflow.overfit, workflow.regularize or "
            "workflow.stages) or set ensemble to at most 3.",
        ),
        (
            {"final": {"ensemble": 2}},
            "but this workflow plans 1 (small): add stages (workflow.overfit, "
            "workflow.regularize or workflow.stages), or, to average copies of this one "
            "stage, use workflow.final_models.",
        ),
        (
            {"final": "ensemble"},  # a word that is no mode: the choices, in both forms
            "input should be 'retrain', 'keep_best' or {mode: retrain | keep_best, "
            "ensemble: K}; got 'ensemble'.",
        ),
    ],
)
def test_check_refuses_an_ensemble_it_cannot_make(
    cli, write_config, workflow: dict[str, Any], message: str
) -> None:
    config = copy.deepcopy(TINY_CONFIG)
    config["workflow"] = workflow
    err = " ".join(check_error(cli, write_config(config)).split())
    assert message in err


def test_an_ensemble_needs_a_workflow_with_stages(cli, tiny_config: Path) -> None:
    # a config without a workflow section has one stage: asking for an ensemble makes a
    # workflow of that one stage, which has nothing to average
    err = " ".join(check_error(cli, tiny_config, "workflow.final.ensemble=2").split())
    assert "workflow.final.ensemble 2 averages the 2 best stages" in err
    assert "plans 1 (small)" in err and "workflow.final_models" in err
    # a keep_best ensemble with K-fold has no one checkpoint per stage to keep
    err = check_error(
        cli,
        tiny_config,
        "workflow.overfit.model.units=[32]",
        "workflow.final={mode: keep_best, ensemble: 2}",
        "data.validation={kfold: 2}",
    )
    assert "workflow.final 'keep_best' needs a holdout validation set" in err
