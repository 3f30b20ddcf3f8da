"""After a resume, early stopping and the best checkpoint carry on from the epochs already done.

The backup restores weights, random state and the epoch only; without this, a resumed run
would overwrite checkpoint.keras with a worse epoch and restart its patience from zero.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlrun.objective import Objective
from dlrun.tfenv import import_keras
from dlrun.training.callbacks.history import previous_rows

HISTORY = "epoch,loss,val_loss\n1,0.9,0.5\n2,0.6,0.3\n3,0.4,0.4\n4,0.3,0.45\n"


def _model():
    keras = import_keras()
    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer="rmsprop", loss="mse")
    return model


def test_resumed_callbacks_keep_their_best_and_patience(tmp_path: Path) -> None:
    from dlrun.training.callbacks import BestCheckpoint, ResumableEarlyStopping

    history = tmp_path / "history.csv"
    history.write_text(HISTORY)
    checkpoint_file = tmp_path / "checkpoint.keras"
    best_model = _model()
    best_model.save(checkpoint_file)
    model = _model()

    val_loss = Objective.of("val_loss")
    done = previous_rows(history, 4)
    checkpoint = BestCheckpoint(checkpoint_file, val_loss, done)
    stopper = ResumableEarlyStopping(
        checkpoint_file, val_loss, done, patience=3, restore_best_weights=True
    )
    for callback in (checkpoint, stopper):
        callback.set_model(model)
        callback.on_train_begin()

    assert checkpoint.best == 0.3  # epoch 2, not +inf
    assert stopper.best == 0.3 and stopper.best_epoch == 1  # Keras counts from 0
    assert stopper.wait == 2  # epochs 3 and 4 did not improve
    for restored, saved in zip(stopper.best_weights, best_model.get_weights(), strict=True):
        np.testing.assert_array_equal(restored, saved)

    before = checkpoint_file.stat().st_mtime_ns
    checkpoint.on_epoch_end(4, {"val_loss": 0.35})  # worse than epoch 2: keep the checkpoint
    assert checkpoint_file.stat().st_mtime_ns == before
    stopper.on_epoch_end(4, {"val_loss": 0.35})  # third epoch without improvement: stop
    assert model.stop_training


def test_a_fresh_fit_starts_with_no_record(tmp_path: Path) -> None:
    from dlrun.training.callbacks import BestCheckpoint

    history = tmp_path / "history.csv"
    history.write_text(HISTORY)  # left over, but this fit starts at epoch 0
    checkpoint = BestCheckpoint(
        tmp_path / "checkpoint.keras", Objective.of("val_accuracy"), previous_rows(history, 0)
    )
    checkpoint.set_model(_model())
    checkpoint.on_train_begin()
    assert checkpoint.best == -np.inf  # accuracy: higher is better
