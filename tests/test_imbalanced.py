"""Imbalanced classification: train.class_weight and metrics with parameters.

A skewed customer table (about 16 % churn) trains with and without class weights: the
weighted model flags more customers. Metrics such as {name: auc, curve: PR} are logged
under a stable name (auc_pr) in history.csv and the test metrics, and `dlrun check`
refuses what Keras would refuse 15 s into the run.
"""

from __future__ import annotations

import csv
import inspect
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import check_error, one_paragraph

from dlrun.tasks import METRICS, metric_name, metric_spec

PARAMETRIZED = [
    "accuracy",
    {"name": "auc", "curve": "PR"},
    {"name": "recall", "threshold": 0.3},
    {"name": "precision", "thresholds": 0.3},
]


def skewed_csv(path: Path, rows: int = 400, labels: tuple[str, str] = ("no", "yes")) -> Path:
    """A table whose 'churn' column is 'yes' (`labels[1]`) for about 16 % of the rows,
    more likely as the columns a and b grow."""
    rng = np.random.RandomState(0)
    x = rng.normal(size=(rows, 4))
    churn = rng.rand(rows) < 1 / (1 + np.exp(-(1.2 * x[:, 0] + 0.8 * x[:, 1] - 2.2)))
    with path.open("w", newline="") as fp:
        writer = csv.writer(fp)
        writer.writerow(["a", "b", "c", "d", "churn"])
        for values, label in zip(x, churn, strict=True):
            writer.writerow([*(f"{v:.4f}" for v in values), labels[int(label)]])
    return path


def churn_config(path: Path, **train: object) -> dict:
    return {
        "name": "churn",
        "seed": 3,
        "task": "binary",
        "data": {
            "source": "csv",
            "path": str(path),
            "target": "churn",
            "validation": {"fraction": 0.2},
        },
        "model": {"kind": "mlp", "units": [8]},
        "train": {
            "epochs": 10,
            "batch_size": 32,
            "optimizer": {"name": "adam", "learning_rate": 0.01},
            "tensorboard": False,
            **train,
        },
    }


def trained(cli, write_config, runs_dir: Path, config: dict, name: str) -> Path:
    before = set(runs_dir.glob("*")) if runs_dir.exists() else set()
    code, out, err = cli("train", write_config(config, name), "-q")
    assert code == 0, err
    (run,) = set(runs_dir.glob("*")) - before
    return run


def flagged(run: Path) -> int:
    """How many test customers the final model predicts to churn."""
    matrix = json.loads((run / "final" / "metrics.json").read_text())["confusion_matrix"]
    return sum(row[1] for row in matrix)


def test_class_weight_makes_the_model_flag_the_minority_class(
    cli, write_config, runs_dir: Path, tmp_path: Path
) -> None:
    data = skewed_csv(tmp_path / "churn.csv")
    plain = trained(cli, write_config, runs_dir, churn_config(data), "plain.yaml")
    balanced = trained(
        cli, write_config, runs_dir, churn_config(data, class_weight="balanced"), "bal.yaml"
    )
    # the classes as the CSV names them
    named = trained(
        cli,
        write_config,
        runs_dir,
        churn_config(data, class_weight={"no": 1.0, "yes": 5.0}),
        "named.yaml",
    )
    assert flagged(plain) < 5  # the unweighted model calls almost everyone loyal
    assert flagged(balanced) >= flagged(plain) + 10
    assert flagged(named) >= flagged(plain) + 10


def test_metrics_with_parameters_are_logged_under_their_names(
    cli, write_config, runs_dir: Path, tmp_path: Path
) -> None:
    config = churn_config(skewed_csv(tmp_path / "churn.csv"), epochs=2, metrics=PARAMETRIZED)
    config["objective"] = "val_auc_pr"
    run = trained(cli, write_config, runs_dir, config, "metrics.yaml")
    (history,) = run.glob("stages/*/history.csv")
    columns = history.read_text().splitlines()[0].split(",")
    for name in ("auc_pr", "recall_at_0.3", "precision_at_0.3"):
        assert name in columns and f"val_{name}" in columns
    test = json.loads((run / "final" / "metrics.json").read_text())
    assert 0.0 <= test["auc_pr"] <= 1.0
    assert {"accuracy", "recall_at_0.3", "precision_at_0.3"} <= set(test)
    code, out, err = cli("evaluate", run.name)  # the saved model compiles them again
    assert code == 0, err
    assert "auc_pr" in out


def test_the_metric_table_is_keras_own() -> None:
    keras = pytest.importorskip("keras")
    for name, kind in METRICS.items():
        if name in ("accuracy", "acc"):
            continue  # compile chooses the accuracy that fits the labels
        cls = getattr(keras.metrics, kind.keras)
        if not any(p.required for p in kind.params.values()):  # else check asks for it
            assert type(keras.metrics.get(name)) is cls, name
        arguments = inspect.signature(cls.__init__).parameters
        assert set(kind.params) <= set(arguments), name
    built = metric_spec({"name": "auc", "curve": "pr", "num_thresholds": 200})
    assert built.keras == "AUC" and built.kwargs == {"curve": "PR"} and built.name == "auc_pr"
    assert metric_spec({"name": "auc", "curve": "ROC"}) == "auc"  # Keras's default: its name
    assert metric_name({"name": "precision_at_recall", "recall": 0.9}) == (
        "precision_at_recall_0.9"
    )


def check_config(write_config, tmp_path: Path, **train: object) -> Path:
    return write_config(churn_config(skewed_csv(tmp_path / "churn.csv"), **train))


def test_check_refuses_a_logged_name_as_a_metric_and_says_how_to_write_it(
    cli, write_config, tmp_path: Path
) -> None:
    err = one_paragraph(check_error(cli, check_config(write_config, tmp_path, metrics=["auc_pr"])))
    assert "train.metrics[0]" in err and "'auc_pr' is not a Keras metric name" in err
    assert "{name: auc, curve: PR}" in err
    err = one_paragraph(check_error(cli, check_config(write_config, tmp_path, metrics=["recal"])))
    assert "Did you mean 'recall'?" in err


@pytest.mark.parametrize(
    ("metric", "words"),
    [
        ({"name": "auc", "curv": "PR"}, ["no parameter 'curv'", "Did you mean 'curve'?"]),
        ({"name": "auc", "curve": "XY"}, ["curve is 'XY'", "ROC, PR"]),
        ({"name": "recall", "thresholds": 1.5}, ["thresholds is 1.5", "from 0 to 1"]),
        ({"name": "precision_at_recall"}, ["needs recall"]),
        ({"name": "accuracy", "threshold": 0.3}, ["takes no parameters"]),
        ({"curve": "PR"}, ["needs a name"]),
    ],
)
def test_check_refuses_a_wrong_metric_parameter(
    cli, write_config, tmp_path: Path, metric: dict, words: list[str]
) -> None:
    err = one_paragraph(check_error(cli, check_config(write_config, tmp_path, metrics=[metric])))
    assert "train.metrics[0]" in err
    for word in words:
        assert word in err


def test_check_refuses_a_metric_the_labels_do_not_fit_and_a_name_logged_twice(
    cli, write_config, tmp_path: Path
) -> None:
    config = check_config(write_config, tmp_path, metrics=["f1_score"])
    err = one_paragraph(check_error(cli, config))
    assert "f1_score" in err and "task 'binary'" in err and "multilabel" in err
    config = check_config(write_config, tmp_path, metrics=["auc", {"name": "auc", "curve": "ROC"}])
    assert "logs as 'auc'" in one_paragraph(check_error(cli, config))


def test_check_refuses_class_weight_on_regression(cli, tiny_config: Path) -> None:
    err = check_error(cli, tiny_config, "task=regression", "train.class_weight=balanced")
    assert "train.class_weight applies to binary and multiclass" in one_paragraph(err)


def test_check_refuses_a_class_the_labels_do_not_have(cli, write_config, tmp_path: Path) -> None:
    numbered = churn_config(skewed_csv(tmp_path / "numbered.csv", labels=("0", "1")))
    numbered["train"]["class_weight"] = {0: 1, 2: 5}
    err = one_paragraph(check_error(cli, write_config(numbered, "numbered.yaml")))
    assert "names the class '2'" in err and "classes: 0, 1" in err
    # an unquoted yes is YAML's true, which names no class
    config = check_config(write_config, tmp_path)
    text = config.read_text() + "  class_weight: {yes: 5}\n"
    err = one_paragraph(check_error(cli, write_config(text, "unquoted.yaml")))
    assert "train.class_weight" in err and "quote it" in err


def test_check_accepts_parametrized_metrics_and_their_objective(
    cli, write_config, tmp_path: Path
) -> None:
    config = churn_config(skewed_csv(tmp_path / "churn.csv"), metrics=PARAMETRIZED)
    config["objective"] = "val_auc_pr"
    config["train"]["class_weight"] = {"no": 1, "yes": 4}
    code, out, err = cli("check", write_config(config))
    assert code == 0, err


def test_a_parametrized_metric_first_leads_the_report(
    cli, write_config, runs_dir: Path, tmp_path: Path
) -> None:
    # the report picks its headline metric from train.metrics, where this is a mapping
    config = churn_config(
        skewed_csv(tmp_path / "churn.csv"), epochs=1, metrics=[{"name": "auc", "curve": "PR"}]
    )
    run = trained(cli, write_config, runs_dir, config, "first.yaml")
    assert "**Test auc_pr:" in (run / "report.md").read_text()


def test_check_refuses_a_class_name_the_csv_does_not_have(cli, write_config, tmp_path) -> None:
    config = churn_config(skewed_csv(tmp_path / "churn.csv"))
    config["train"]["class_weight"] = {"no": 1, "maybe": 3}
    err = one_paragraph(check_error(cli, write_config(config, "maybe.yaml")))
    assert "names the class 'maybe'" in err and "no, yes" in err
