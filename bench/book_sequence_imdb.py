"""The book's ordered-IMDB models (DLwP 1st ed., ch. 6) in plain Keras, for comparison.

keras.imdb with 10,000 words, pad_sequences to 500, then either Embedding 32 + LSTM 32
(listing 6.27) or Embedding 128 + Conv1D 32-7 / MaxPooling 5 / Conv1D 32-7 / global max
pooling (listing 6.45), rmsprop, batch 128, the last 20 % of train for validation (fit's
validation_split), then one test evaluation of the last epoch's model. Same work as
bench/configs/seq_<model>.yaml. Prints one JSON line with the fit time, the training
samples and the test accuracy.

Backend-neutral: it runs on whichever backend KERAS_BACKEND names. With
BENCH_HISTORY_CSV=<file> set, a CSVLogger also writes each epoch's row there
(bench/backends.py times the first epoch's end by it).

Usage: python bench/book_sequence_imdb.py DATASETS lstm|conv1d EPOCHS
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

sys.path.insert(0, sys.argv[1])
import loaders  # noqa: E402  (the shared datasets' own Keras patch)

loaders.patch_keras()

import keras  # noqa: E402
from keras import layers  # noqa: E402
from keras.datasets import imdb  # noqa: E402

kind, epochs = sys.argv[2], int(sys.argv[3])
validation_split = 0.2
(x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)
x_train = keras.utils.pad_sequences(x_train, maxlen=500)
x_test = keras.utils.pad_sequences(x_test, maxlen=500)
keras.utils.set_random_seed(1337)
if kind == "lstm":
    model = keras.Sequential(
        [
            layers.Input((500,)),
            layers.Embedding(10000, 32),
            layers.LSTM(32),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    optimizer = keras.optimizers.RMSprop(1e-3)
else:
    model = keras.Sequential(
        [
            layers.Input((500,)),
            layers.Embedding(10000, 128),
            layers.Conv1D(32, 7, activation="relu"),
            layers.MaxPooling1D(5),
            layers.Conv1D(32, 7, activation="relu"),
            layers.GlobalMaxPooling1D(),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    optimizer = keras.optimizers.RMSprop(1e-4)
model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"])
history_csv = os.environ.get("BENCH_HISTORY_CSV")
started = time.perf_counter()
model.fit(
    x_train,
    y_train,
    epochs=epochs,
    batch_size=128,
    validation_split=validation_split,
    callbacks=[keras.callbacks.CSVLogger(history_csv)] if history_csv else None,
    verbose=0,
)
fit_seconds = time.perf_counter() - started
# fit trains on the first floor(n * (1 - validation_split)) samples (Keras 3's
# array_slicing.train_validation_split)
samples = math.floor(len(x_train) * (1 - validation_split))
loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(
    json.dumps(
        {
            "fit_seconds": fit_seconds,
            "test_accuracy": accuracy,
            "samples": samples,
            "epochs": epochs,
        }
    )
)
