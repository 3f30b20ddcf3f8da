"""Transfer learning between MNIST digits in plain Keras: the reference of mnist_transfer.py.

The book's small convnet (DLwP ch. 5) is trained on every training image of digits 0-4
(5 epochs, batch 64). Its convolutional base, frozen, then gets a new head, Dense 64
and softmax over digits 5-9, trained on the first 100 (PER_CLASS) training images of
each of those digits for 20 epochs (batch 32); the same model from scratch is trained
on the same images. Both are tested on every test image of digits 5-9. Prints one JSON
line.

Usage: python bench/book_mnist_transfer.py DATASETS_DIR [PER_CLASS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

with np.load(Path(sys.argv[1]) / "mnist" / "mnist.npz") as arrays:
    x_train, y_train = arrays["x_train"][..., None] / 255.0, arrays["y_train"]
    x_test, y_test = arrays["x_test"][..., None] / 255.0, arrays["y_test"]
keras.utils.set_random_seed(1337)
low, high = y_train < 5, y_test >= 5
per_class = int(sys.argv[2]) if len(sys.argv) > 2 else 100
few = np.concatenate([np.flatnonzero(y_train == d)[:per_class] for d in range(5, 10)])


def convnet_base() -> keras.Model:
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(32, 3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Flatten()(x))


def classifier(base: keras.Model, classes: int) -> keras.Model:
    x = keras.layers.Dense(64, activation="relu")(base.output)
    model = keras.Model(base.input, keras.layers.Dense(classes, activation="softmax")(x))
    model.compile("rmsprop", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


started = time.perf_counter()
pretrained = classifier(convnet_base(), 5)
pretrained.fit(x_train[low], y_train[low], epochs=5, batch_size=64, verbose=0)
pretrain_seconds = time.perf_counter() - started
results = {"pretrain_seconds": pretrain_seconds}
for name, base in (
    ("scratch", convnet_base()),
    ("transfer", keras.Model(pretrained.input, pretrained.layers[-3].output)),
):
    base.trainable = name == "scratch"
    model = classifier(base, 5)
    model.fit(x_train[few], y_train[few] - 5, epochs=20, batch_size=32, verbose=0)
    results[name] = model.evaluate(x_test[high], y_test[high] - 5, verbose=0)[1]
print(json.dumps(results))
