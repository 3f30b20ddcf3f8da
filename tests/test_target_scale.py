"""`data.target_scale` (issue #24): a regression model learns standardized targets, fitted
on each fit's training portion, and reports every metric and prediction in the target's
units; runs without it (old ones, `none`) predict as they did."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from dlrun.data.portions import make_portions
from dlrun.data.prepare import target_scale, transform
from dlrun.data.representations import load_state
from dlrun.data.sources import load_raw
from dlrun.errors import ConfigError, RunError
from dlrun.runs.rundir import Run
from dlrun.spec import validate

# sklearn's diabetes: targets 25 to 346 (std 77), 442 samples.
DIABETES: dict[str, Any] = {
    "name": "diabetes",
    "seed": 1,
    "task": "regression",
    "data": {"source": "sklearn.diabetes", "validation": {"fraction": 0.2}},
    "model": {"kind": "mlp", "units": [16]},
    "train": {
        "batch_size": 32,
        "epochs": 20,
        "tensorboard": False,
        "optimizer": {"name": "rmsprop", "learning_rate": 0.001},
    },
}


def _train(cli, tmp_path: Path, runs_dir: Path, scale: str) -> Path:
    config = tmp_path / f"{scale}.yaml"
    config.write_text(yaml.safe_dump(DIABETES))
    before = set(runs_dir.iterdir()) if runs_dir.exists() else set()
    code, _, err = cli("train", config, f"data.target_scale={scale}", "-q")
    assert code == 0, err
    (run,) = set(runs_dir.iterdir()) - before
    return run


def _csv_columns(path: Path) -> dict[str, np.ndarray]:
    with path.open() as fp:
        rows = list(csv.DictReader(fp))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def test_standardized_targets_train_much_better_and_report_in_the_targets_units(
    cli, runs_dir: Path, tmp_path: Path
) -> None:
    standard = _train(cli, tmp_path, runs_dir, "standard")
    raw = _train(cli, tmp_path, runs_dir, "none")
    mae = {run: _json(run / "final" / "metrics.json")["mae"] for run in (standard, raw)}
    # same data, model and 20 epochs: rmsprop on raw targets has barely left 0 (MAE ~160,
    # the targets' mean is 152), on standardized ones it is near the usual ~45-50
    assert mae[standard] < 0.45 * mae[raw]

    for run in (standard, raw):
        # the test MAE is the predictions' against the truth, in the target's units
        table = _csv_columns(run / "final" / "test_predictions.csv")
        assert np.abs(table["predicted"] - table["true"]).mean() == pytest.approx(
            mae[run], rel=1e-4
        )
        assert table["true"].min() >= 25 and table["true"].max() <= 346
    predicted = _csv_columns(standard / "final" / "test_predictions.csv")["predicted"]
    assert 100 < predicted.mean() < 200  # the model itself predicts in the target's units

    state = _json(standard / "preprocessing.json")
    scale = state["target_scale"]
    assert 140 < scale["mean"][0] < 165 and 70 < scale["std"][0] < 85  # of the training part
    assert scale["loss_scale"] == pytest.approx(scale["std"][0] ** 2)  # mse: std²
    assert "target_scale" not in _json(raw / "preprocessing.json")

    # history.csv's MAE columns are in the target's units too: the last epoch's validation
    # MAE is of the test MAE's size, not the ~0.6 of standardized targets
    history = _csv_columns(standard / "stages" / "train" / "history.csv")
    assert 0.5 * mae[standard] < history["val_mae"][-1] < 1.5 * mae[standard]
    assert 0.5 * mae[standard] < history["mae"][-1] < 1.5 * mae[standard]
    # the loss is the one on standardized targets: the mse / std² of the target
    assert history["val_loss"][-1] < 1.5

    # dlrun predict answers in the target's units, as predictions.csv does
    from sklearn.datasets import load_diabetes

    x = load_diabetes().data[:5].astype(np.float32)
    np.savez(tmp_path / "new.npz", x=x)
    code, out, err = cli("predict", standard, tmp_path / "new.npz")
    assert code == 0, err
    values = [float(v) for v in out.split()[1:]]
    assert len(values) == 5 and all(25 < v < 346 for v in values)

    # dlrun evaluate scores the saved model as the run did
    code, _, err = cli("evaluate", standard)
    assert code == 0, err
    evaluated = _json(standard / "final" / "evaluation.json")
    assert evaluated["mae"] == pytest.approx(mae[standard], rel=1e-5)
    assert evaluated["loss"] == pytest.approx(_json(standard / "final" / "metrics.json")["loss"])


def test_a_run_without_target_scale_in_its_state_predicts_as_before(
    cli, runs_dir: Path, tmp_path: Path
) -> None:
    # `none` writes the state runs wrote before the key existed
    run = _train(cli, tmp_path, runs_dir, "none")
    state = load_state(Run.open(run))
    assert "target_scale" not in state
    before = _json(run / "final" / "metrics.json")
    code, _, err = cli("evaluate", run)
    assert code == 0, err
    after = _json(run / "final" / "evaluation.json")
    assert after["mae"] == pytest.approx(before["mae"], rel=1e-5)
    assert after["loss"] == pytest.approx(before["loss"], rel=1e-5)


def test_a_damaged_target_scale_is_refused_naming_the_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    state = {"kind": "features", "task": "regression", "scale": 1.0, "mean": [0.0]}
    state.update(std=[1.0], outputs=1, class_names=None, target_scale={"mean": [1.0]})
    (run / "preprocessing.json").write_text(json.dumps(state))
    with pytest.raises(RunError, match="preprocessing.json is damaged: 'target_scale'"):
        load_state(Run(run))


def _regression_config(**data: Any) -> Any:
    return validate({**DIABETES, "data": {**DIABETES["data"], **data}}).config


def test_each_fold_standardizes_with_its_own_training_targets() -> None:
    config = _regression_config(validation={"kfold": 3})
    raw = load_raw(config.data)
    portions = make_portions(raw, config)
    means = [p.prepared.state["target_scale"]["mean"][0] for p in portions]
    for portion, mean in zip(portions, means, strict=True):
        assert mean == pytest.approx(float(np.mean(portion.train_y)))
        scale = portion.prepared.state["target_scale"]
        assert portion.prepared.train.loss_weight == pytest.approx(1 / scale["loss_scale"])
        assert portion.prepared.input_spec.target_scale == (
            tuple(scale["mean"]),
            tuple(scale["std"]),
        )
        # the targets themselves stay in their units: baselines and metrics read them
        assert np.array_equal(portion.prepared.validation.y, portion.val_y.astype(np.float32))
    assert len(set(means)) == 3  # three folds, three training parts


def test_the_loss_is_divided_by_its_scale_in_the_targets_units() -> None:
    y = np.array([100.0, 200.0, 300.0, 400.0])
    std = float(np.std(y))
    mse = target_scale(y, "features", _regression_config())
    assert mse == {"mean": [250.0], "std": [std], "loss_scale": pytest.approx(std**2)}
    config = validate({**DIABETES, "train": {**DIABETES["train"], "loss": "mae"}}).config
    assert target_scale(y, "features", config)["loss_scale"] == pytest.approx(std)
    # a constant target has nothing to divide by
    assert target_scale(np.full(4, 7.0), "features", config)["std"] == [1.0]


def test_a_series_keeps_its_targets_in_their_units_unless_asked() -> None:
    y = np.array([1.0, 2.0, 4.0])
    assert target_scale(y, "series", _regression_config()) is None
    assert target_scale(y, "series", _regression_config(target_scale="standard")) is not None
    assert target_scale(y, "features", _regression_config(target_scale="none")) is None


def test_without_target_scale_in_the_state_nothing_is_weighted() -> None:
    from dlrun.data.splits import Split

    state = {"kind": "features", "task": "regression", "scale": 1.0, "outputs": 1}
    state.update(mean=[0.0], std=[1.0])
    split = Split(np.zeros((2, 1), np.float32), np.array([3.0, 4.0]))
    assert transform(split, state, "regression").loss_weight is None


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("value", ["standard", "none"])
def test_target_scale_is_refused_for_a_classifier(task: str, value: str) -> None:
    config = {
        "name": "classes",
        "task": task,
        "data": {"source": "sklearn.breast_cancer", "target_scale": value},
        "model": {"kind": "mlp"},
    }
    with pytest.raises(ConfigError, match="data.target_scale applies to task regression only"):
        validate(config)
