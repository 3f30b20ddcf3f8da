"""End to end through the CLI: train the offline demo, then evaluate it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_train_then_evaluate_digits(cli, runs_dir: Path) -> None:
    code, out, err = cli("train", "configs/digits.yaml", "train.epochs=3", "-q")
    assert code == 0, err
    (run,) = list(runs_dir.iterdir())
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "completed"
    trained = json.loads((run / "final" / "metrics.json").read_text())
    assert trained["accuracy"] > 0.5  # 3 epochs on digits beat a 10-class guess by far

    code, out, err = cli("evaluate", "last")  # the newest run in $DLRUN_RUNS_DIR
    assert code == 0, err
    evaluated = json.loads((run / "final" / "evaluation.json").read_text())
    assert abs(evaluated["accuracy"] - trained["accuracy"]) < 1e-6
    assert "confusion matrix" in out


def test_steps_per_execution_trains_the_same_epochs(cli, runs_dir: Path, tiny_config) -> None:
    """Several batches per compiled call are the same updates as one per call: an epoch
    of 4 batches at steps_per_execution 3 runs 2 per call, never into the next epoch."""
    import csv

    histories = []
    for steps in (1, 3):
        code, _, err = cli(
            "train", tiny_config, f"train.steps_per_execution={steps}", "train.epochs=3", "-q"
        )
        assert code == 0, err
        (run,) = sorted(runs_dir.iterdir(), key=lambda p: p.stat().st_mtime)[-1:]
        with (run / "stages" / "train" / "history.csv").open() as fp:
            histories.append([{k: float(v) for k, v in row.items()} for row in csv.DictReader(fp)])
    assert len(histories[0]) == len(histories[1]) == 3
    for one, several in zip(*histories, strict=True):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert several[key] == pytest.approx(one[key], rel=1e-4, abs=1e-5), key


def test_predictions_run_a_batch_per_call_and_keep_the_training_setting() -> None:
    """Keras unrolls steps_per_execution predict steps into one graph (266 MB of peak for a GRU on
    Jena's windows): predictions run a batch per call, and the same values come out."""
    import numpy as np

    from dlrun.evaluation import predict_batches
    from dlrun.tfenv import import_keras

    keras = import_keras()
    import tensorflow as tf

    model = keras.Sequential([keras.layers.Input((3,)), keras.layers.Dense(2)])
    model.compile(loss="mse", steps_per_execution=4)
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(3)
    built_with = []
    make = model.make_predict_function

    def spy(force: bool = False):  # the setting Keras builds the predict function for
        built_with.append(model.steps_per_execution)
        return make(force)

    model.make_predict_function = spy
    got = predict_batches(model, dataset)
    assert built_with == [1]
    assert model.steps_per_execution == 4
    np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(got, model.predict(dataset, verbose=0), rtol=1e-6)


@pytest.mark.parametrize(
    ("task", "labels", "loss", "metrics"),
    [
        ("multiclass", "one_hot", "categorical_crossentropy", ["accuracy"]),
        ("multiclass", "sparse", "sparse_categorical_crossentropy", ["accuracy"]),
        ("binary", "sparse", "binary_crossentropy", ["accuracy"]),
        ("regression", "sparse", "mse", ["mae"]),
    ],
)
def test_test_scores_are_what_keras_evaluate_reports(
    write_config, task: str, labels: str, loss: str, metrics: list[str]
) -> None:
    """The test split is predicted once and scored from the predictions: the loss with the
    L2 penalty and the metrics are what `model.evaluate` gives on the same batches."""
    import numpy as np

    from dlrun.config.loader import load_config
    from dlrun.data.pipeline import make_dataset
    from dlrun.data.splits import Split
    from dlrun.evaluation import evaluate_model, one_hot_width
    from dlrun.spec import DlrunConfig
    from dlrun.tfenv import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(3)
    outputs = {"multiclass": 3, "binary": 1, "regression": 1}[task]
    rng = np.random.default_rng(3)
    x = rng.normal(size=(101, 4)).astype(np.float32)  # 101: the last batch is short
    y = rng.normal(size=101) if task == "regression" else rng.integers(0, max(outputs, 2), 101)
    config = load_config(
        DlrunConfig,
        write_config(
            {
                "name": "scores",
                "task": task,
                "data": {"source": "sklearn.digits", "labels": labels},
                "model": {"kind": "mlp", "units": [8]},
                "train": {"batch_size": 16},
            }
        ),
    ).config
    model = keras.Sequential(
        [
            keras.layers.Input((4,)),
            keras.layers.Dense(8, activation="relu", kernel_regularizer=keras.regularizers.L2(0.1)),
            keras.layers.Dense(outputs, activation="softmax" if outputs > 1 else None),
        ]
    )
    model.compile(loss=loss, metrics=metrics)
    split = Split(x, y)
    expected = model.evaluate(
        make_dataset(split, 16, one_hot=one_hot_width(config, outputs)),
        verbose=0,
        return_dict=True,
    )
    passes = []  # the split is read once, by predict: evaluate would read it again
    model.evaluate = lambda *args, **kwargs: passes.append("evaluate")
    got = evaluate_model(model, split, config, outputs)
    assert passes == []
    assert set(expected) <= set(got)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-5), key
    assert got["samples"] == 101
    assert ("confusion_matrix" in got) == (task != "regression")
    if task != "regression":  # dlrun counts it in numpy; sklearn is the reference
        from sklearn.metrics import confusion_matrix

        predicted = model.predict(x, verbose=0)
        classes = predicted.argmax(axis=1) if outputs > 1 else predicted.reshape(-1) > 0.5
        reference = confusion_matrix(y, classes.astype(int), labels=range(max(outputs, 2)))
        assert got["confusion_matrix"] == reference.tolist()
