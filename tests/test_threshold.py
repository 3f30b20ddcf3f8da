"""A binary run's decision threshold: `workflow.threshold` chosen on validation, used for the
final confusion matrix, `evaluate` and `predict`, and `predict --threshold T` to override it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import check_error

from dlrun.workflow.threshold import candidates, choose_threshold

# Ten validation samples, four positive (0.2, 0.6, 0.7 and 0.9); scores ascending. The
# candidates lie halfway: 0.025, 0.075, 0.15, 0.25, 0.35, 0.425, 0.525, 0.65, 0.75, 0.85,
# 0.95. Flagged (tp) above each: 10 (4), 9 (4), 8 (4), 7 (3), 6 (3), 5 (3), 4 (3), 3 (2),
# 2 (1), 1 (1), 0 (0).
SCORES = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.45, 0.6, 0.7, 0.8, 0.9])
TRUTH = np.array([0, 0, 1, 0, 0, 0, 1, 1, 0, 1])


def flags(value: float) -> list[int]:
    return (value < SCORES).astype(int).tolist()


def test_candidates_lie_between_consecutive_scores() -> None:
    assert candidates(np.array([0.2, 0.8, 0.2])) == pytest.approx([0.1, 0.5, 0.9])


def test_f1_picks_the_threshold_with_the_best_f1() -> None:
    # Above 0.525: 4 flagged, 3 of them positive: F1 = 6 / 8, the best of the cuts.
    chosen = choose_threshold("f1", SCORES, TRUTH)
    assert chosen.value == pytest.approx(0.525)
    assert flags(chosen.value) == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert chosen.f1 == pytest.approx(0.75)
    assert (chosen.precision, chosen.recall) == (pytest.approx(0.75), pytest.approx(0.75))
    assert chosen.reached and (chosen.samples, chosen.positives) == (10, 4)


def test_precision_at_p_is_the_lowest_threshold_that_reaches_p() -> None:
    # Precision is 3/7 above 0.25 but 3/5 = 0.6 above 0.425: the lowest that reaches 0.6.
    chosen = choose_threshold("precision@0.6", SCORES, TRUTH)
    assert chosen.value == pytest.approx(0.425)
    assert chosen.precision == pytest.approx(0.6) and chosen.reached
    assert choose_threshold("precision@0.7", SCORES, TRUTH).value == pytest.approx(0.525)
    assert choose_threshold("precision@1", SCORES, TRUTH).value == pytest.approx(0.85)


def test_precision_out_of_reach_falls_back_to_the_best_precision() -> None:
    truth = np.array([0, 0, 1, 0, 0, 1, 0, 1, 1, 0])  # the top score is a negative
    chosen = choose_threshold("precision@0.9", SCORES, truth)
    assert not chosen.reached
    assert chosen.value == pytest.approx(0.65)
    assert chosen.precision == pytest.approx(2 / 3)


def test_recall_at_r_is_the_highest_threshold_that_keeps_r() -> None:
    # Recall 3/4 holds up to 0.525 (0.6 still flagged), 2/4 above it.
    chosen = choose_threshold("recall@0.75", SCORES, TRUTH)
    assert chosen.value == pytest.approx(0.525)
    assert chosen.recall == pytest.approx(0.75)
    assert choose_threshold("recall@1", SCORES, TRUTH).value == pytest.approx(0.15)
    assert choose_threshold("recall@0.5", SCORES, TRUTH).value == pytest.approx(0.65)


def test_youden_maximizes_recall_minus_false_positive_rate() -> None:
    # Above 0.525: recall 3/4, false positives 1 of 6: J = 0.583, the best.
    assert choose_threshold("youden", SCORES, TRUTH).value == pytest.approx(0.525)
    # With every score shifted down, the same cut moves: the rule follows the data.
    shifted = choose_threshold("youden", SCORES - 0.04, TRUTH)
    assert shifted.value == pytest.approx(0.485)


def test_a_number_is_taken_as_the_threshold() -> None:
    chosen = choose_threshold(0.35, SCORES, TRUTH)
    assert chosen.value == 0.35 and chosen.reached
    assert (chosen.precision, chosen.recall) == (pytest.approx(0.5), pytest.approx(0.75))


def test_one_class_only_keeps_one_half() -> None:
    chosen = choose_threshold("f1", SCORES, np.zeros(10))
    assert chosen.value == 0.5 and not chosen.reached


def skewed_csv(path: Path, rows: int = 500) -> Path:
    """A table whose 'churn' column is 'yes' for about 15 % of the rows."""
    rng = np.random.RandomState(1)
    x = rng.normal(size=(rows, 3))
    churn = rng.rand(rows) < 1 / (1 + np.exp(-(1.5 * x[:, 0] + x[:, 1] - 2.5)))
    with path.open("w", newline="") as fp:
        writer = csv.writer(fp)
        writer.writerow(["a", "b", "c", "churn"])
        for values, label in zip(x, churn, strict=True):
            writer.writerow([*(f"{v:.4f}" for v in values), ["no", "yes"][int(label)]])
    return path


def churn_config(path: Path, task: str = "binary", **workflow: object) -> dict:
    return {
        "name": "churn",
        "seed": 5,
        "task": task,
        "data": {
            "source": "csv",
            "path": str(path),
            "target": "churn",
            "validation": {"fraction": 0.3},
        },
        "model": {"kind": "mlp", "units": [8]},
        "train": {
            "epochs": 8,
            "batch_size": 32,
            "optimizer": {"name": "adam", "learning_rate": 0.01},
            "tensorboard": False,
        },
        "workflow": {"baseline": "none", **workflow},
    }


@pytest.fixture(scope="module")
def threshold_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One workflow run with threshold f1 (trained once for the tests below): (run, csv)."""
    import yaml

    from dlrun.cli import run as dlrun

    folder = tmp_path_factory.mktemp("threshold")
    data = skewed_csv(folder / "churn.csv")
    config = folder / "churn.yaml"
    config.write_text(yaml.safe_dump(churn_config(data, threshold="f1", final="keep_best")))
    runs = folder / "runs"
    assert dlrun(["train", str(config), "-q", "--runs-dir", str(runs)]) == 0
    (run,) = runs.iterdir()
    return run, data


def test_final_metrics_hold_the_chosen_threshold_and_its_confusion_matrix(
    threshold_run: tuple[Path, Path],
) -> None:
    import keras

    from dlrun.data.prepare import prepare_test
    from dlrun.data.sources import load_raw
    from dlrun.spec import load_config

    run, _ = threshold_run
    metrics = json.loads((run / "final" / "metrics.json").read_text())
    final = json.loads((run / "summary.json").read_text())["final"]
    chosen = final["threshold"]
    assert chosen["rule"] == "f1" and chosen["reached"]
    assert metrics["threshold"] == chosen["value"] != 0.5
    assert 0 < chosen["value"] < 1

    # The test split, predicted again by the final model, decided at that threshold.
    config = load_config(run / "config.yaml").config
    state = json.loads((run / "preprocessing.json").read_text())
    test = prepare_test(load_raw(config.data), config, state)
    model = keras.saving.load_model(run / "final" / "model.keras")
    scores = np.asarray(model.predict(test.x, verbose=0), dtype=np.float64).reshape(-1)
    truth = np.asarray(test.y).reshape(-1).astype(int)
    predicted = (scores > chosen["value"]).astype(int)
    matrix = [[int(((truth == t) & (predicted == p)).sum()) for p in (0, 1)] for t in (0, 1)]
    assert metrics["confusion_matrix"] == matrix
    at_half = (scores > 0.5).astype(int)
    assert predicted.tolist() != at_half.tolist()  # the threshold changed decisions
    assert metrics["accuracy_at_threshold"] == pytest.approx((predicted == truth).mean())
    assert metrics["accuracy"] == pytest.approx((at_half == truth).mean(), abs=1e-6)


def test_evaluate_decides_at_the_saved_threshold(
    cli, threshold_run: tuple[Path, Path], runs_dir: Path
) -> None:
    run, _ = threshold_run
    code, _, err = cli("evaluate", run)
    assert code == 0, err
    evaluation = json.loads((run / "final" / "evaluation.json").read_text())
    metrics = json.loads((run / "final" / "metrics.json").read_text())
    assert evaluation["threshold"] == metrics["threshold"]
    assert evaluation["confusion_matrix"] == metrics["confusion_matrix"]


def predicted_column(path: Path) -> list[str]:
    with path.open(newline="") as fp:
        return [row["predicted"] for row in csv.DictReader(fp)]


def test_predict_uses_the_saved_threshold_and_threshold_overrides_it(
    cli, threshold_run: tuple[Path, Path], tmp_path: Path, runs_dir: Path
) -> None:
    run, data = threshold_run
    saved = json.loads((run / "final" / "metrics.json").read_text())["threshold"]
    outputs = {}
    for name, extra in [("saved", []), ("high", ["--threshold", "0.9"])]:
        outputs[name] = tmp_path / f"{name}.csv"
        code, _, err = cli("predict", run, data, "--output", outputs[name], "-q", *extra)
        assert code == 0, err
    with outputs["saved"].open(newline="") as fp:
        rows = list(csv.DictReader(fp))
    probabilities = np.array([float(r["probability"]) for r in rows])
    assert [r["predicted"] for r in rows] == [
        "yes" if p > saved else "no" for p in probabilities.astype(np.float64)
    ]
    high = predicted_column(outputs["high"])
    assert high == ["yes" if p > 0.9 else "no" for p in probabilities]
    assert high != [r["predicted"] for r in rows]
    assert high.count("yes") < [r["predicted"] for r in rows].count("yes")


def test_predict_threshold_is_refused_for_a_multiclass_run(cli, tiny_config, runs_dir) -> None:
    code, _, err = cli("train", tiny_config, "-q")
    assert code == 0, err
    code, _, err = cli("predict", "last", tiny_config, "--threshold", "0.3")
    assert code != 0
    assert "--threshold" in err and "binary" in err


def test_check_refuses_a_threshold_on_a_multiclass_task(cli, write_config, tmp_path) -> None:
    config = churn_config(skewed_csv(tmp_path / "churn.csv"), task="multiclass", threshold="f1")
    err = check_error(cli, write_config(config))
    assert "workflow.threshold is for binary tasks, not 'multiclass'" in err
    assert "Remove it" in err


@pytest.mark.parametrize(
    "rule", ["f2", "precision@", "precision@1.5", "recall@0", "auc@0.5", 1.5, 0]
)
def test_check_refuses_a_threshold_rule_it_does_not_know(
    cli, write_config, tmp_path, rule: str | float
) -> None:
    config = churn_config(skewed_csv(tmp_path / "churn.csv"), threshold=rule)
    err = check_error(cli, write_config(config))
    assert f"workflow.threshold '{rule if isinstance(rule, str) else float(rule)}' is not" in err
    assert "precision@0.9" in err and "e.g. 0.3" in err


def test_check_accepts_each_rule(cli, write_config, tmp_path) -> None:
    data = skewed_csv(tmp_path / "churn.csv")
    for rule in ["f1", "youden", "precision@0.9", "recall@0.8", "recall@1", 0.3]:
        code, _, err = cli("check", write_config(churn_config(data, threshold=rule)))
        assert code == 0, (rule, err)
