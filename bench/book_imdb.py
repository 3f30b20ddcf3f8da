"""The book's IMDB listing (Deep Learning with Python, ch. 3) in plain Keras, for comparison.

Same work as bench/configs/imdb_dense.yaml: dense multi-hot float matrices as in the book,
Dense 16-16-1, rmsprop, batch 512, 4 epochs on 15,000 reviews validated on the first 10,000,
then one evaluation on the test set. One addition to the book's listing: a ModelCheckpoint
keeps the best epoch by val_accuracy (max) and that epoch is tested, because dlrun's side
(checkpoint: true) tests its best epoch by that rule; the book tests the last epoch. Prints
one JSON line with the fit time, the training samples and epochs, and the test accuracy.

Backend-neutral: it runs on whichever backend KERAS_BACKEND names (the dense float input
is what every backend takes). With BENCH_HISTORY_CSV=<file> set, a CSVLogger also writes
each epoch's row there (bench/backends.py times the first epoch's end by it).

Usage: python bench/book_imdb.py /path/to/shared/datasets
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, sys.argv[1])
import loaders  # noqa: E402  (the shared datasets' own Keras patch)

loaders.patch_keras()

from keras import callbacks, layers, models  # noqa: E402
from keras.datasets import imdb  # noqa: E402

(train_data, train_labels), (test_data, test_labels) = imdb.load_data(num_words=10000)


def vectorize_sequences(sequences, dimension=10000):
    results = np.zeros((len(sequences), dimension))
    for i, sequence in enumerate(sequences):
        results[i, sequence] = 1.0
    return results


x_train = vectorize_sequences(train_data)
x_test = vectorize_sequences(test_data)
y_train = np.asarray(train_labels).astype("float32")
y_test = np.asarray(test_labels).astype("float32")

model = models.Sequential(
    [
        layers.Input(shape=(10000,)),
        layers.Dense(16, activation="relu"),
        layers.Dense(16, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ]
)
model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
x_val, partial_x_train = x_train[:10000], x_train[10000:]
y_val, partial_y_train = y_train[:10000], y_train[10000:]
epochs = 4
with tempfile.TemporaryDirectory() as tmp:
    best = str(Path(tmp) / "best.keras")
    checkpoint = callbacks.ModelCheckpoint(
        best, monitor="val_accuracy", mode="max", save_best_only=True
    )
    history_csv = os.environ.get("BENCH_HISTORY_CSV")
    csv_logger = [callbacks.CSVLogger(history_csv)] if history_csv else []
    started = time.perf_counter()
    model.fit(
        partial_x_train,
        partial_y_train,
        epochs=epochs,
        batch_size=512,
        validation_data=(x_val, y_val),
        callbacks=[checkpoint, *csv_logger],
        verbose=0,
    )
    fit_seconds = time.perf_counter() - started
    model = models.load_model(best)
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(
    json.dumps(
        {
            "fit_seconds": fit_seconds,
            "test_accuracy": accuracy,
            "samples": len(partial_x_train),
            "epochs": epochs,
        }
    )
)
