"""The book's small MNIST convnet (DLwP ch. 5) on PNG class folders, in plain Keras.

Same work as bench/configs/mnist_png.yaml: `image_dataset_from_directory` over
<root>/train (grayscale 28x28, 80 % training / 20 % validation, seed 1337) and
<root>/test, pixels scaled by a Rescaling(1/255) layer, Conv 32-64-64 with max-pooling,
Dense 64, softmax; rmsprop, batch 64, 5 epochs, the best epoch's weights by val_accuracy
(max: the rule dlrun's checkpoint follows for a multiclass task; the book's
ModelCheckpoint default would be val_loss), one test evaluation. Prints one JSON line
with the fit time, the training images counted and the test accuracy.

Usage: python bench/book_mnist_png.py MNIST_PNG_DIR
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf

root = Path(sys.argv[1])
epochs, batch_size = 5, 64
options = {"color_mode": "grayscale", "image_size": (28, 28), "batch_size": batch_size}
train_ds, val_ds = keras.utils.image_dataset_from_directory(
    root / "train", validation_split=0.2, subset="both", seed=1337, verbose=False, **options
)
test_ds = keras.utils.image_dataset_from_directory(root / "test", verbose=False, **options)

inputs = keras.Input(shape=(28, 28, 1))
x = keras.layers.Rescaling(1 / 255)(inputs)
x = keras.layers.Conv2D(32, 3, activation="relu")(x)
x = keras.layers.MaxPooling2D(2)(x)
x = keras.layers.Conv2D(64, 3, activation="relu")(x)
x = keras.layers.MaxPooling2D(2)(x)
x = keras.layers.Conv2D(64, 3, activation="relu")(x)
x = keras.layers.Flatten()(x)
x = keras.layers.Dense(64, activation="relu")(x)
outputs = keras.layers.Dense(10, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
with tempfile.TemporaryDirectory() as tmp:
    best = str(Path(tmp) / "best.keras")
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            best, monitor="val_accuracy", mode="max", save_best_only=True
        )
    ]
    started = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=0)
    fit_seconds = time.perf_counter() - started
    model = keras.models.load_model(best)
loss, accuracy = model.evaluate(test_ds, verbose=0)
samples = len(train_ds.file_paths)
print(
    json.dumps(
        {
            "fit_seconds": fit_seconds,
            "test_accuracy": accuracy,
            "samples": samples,
            "epochs": epochs,
            "tf": tf.__version__,
        }
    )
)
