"""The book's bigram multi-hot IMDB model (DLwP 2nd ed., ch. 11) in plain Keras.

Same work as bench/configs/text_bigrams.yaml: aclImdb folders read with
`text_dataset_from_directory` (20,000 train / 5,000 validation, seed 1337), a
TextVectorization layer (20,000 tokens, bigrams, multi_hot or tf_idf) adapted on the
training texts and mapped over the datasets, Dense 16 + dropout 0.5, rmsprop, batch 32,
10 epochs, the best epoch's weights by val_loss, one test evaluation. Prints one JSON
line with the fit time and the test accuracy.

Usage: python bench/book_text_imdb.py ACLIMDB_DIR [multi_hot|tf_idf]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import keras
import tensorflow as tf

root, mode = Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "multi_hot"
batch_size = 32
train_ds = keras.utils.text_dataset_from_directory(
    root / "train",
    batch_size=batch_size,
    validation_split=0.2,
    subset="training",
    seed=1337,
    class_names=["neg", "pos"],
    verbose=False,
)
val_ds = keras.utils.text_dataset_from_directory(
    root / "train",
    batch_size=batch_size,
    validation_split=0.2,
    subset="validation",
    seed=1337,
    class_names=["neg", "pos"],
    verbose=False,
)
test_ds = keras.utils.text_dataset_from_directory(
    root / "test", batch_size=batch_size, class_names=["neg", "pos"], verbose=False
)
text_vectorization = keras.layers.TextVectorization(ngrams=2, max_tokens=20000, output_mode=mode)
text_vectorization.adapt(train_ds.map(lambda x, y: x))


def vectorized(ds):
    return ds.map(lambda x, y: (text_vectorization(x), y), num_parallel_calls=4)


inputs = keras.Input(shape=(20000,))
x = keras.layers.Dense(16, activation="relu")(inputs)
x = keras.layers.Dropout(0.5)(x)
outputs = keras.layers.Dense(1, activation="sigmoid")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
with tempfile.TemporaryDirectory() as tmp:
    best = str(Path(tmp) / "best.keras")
    callbacks = [keras.callbacks.ModelCheckpoint(best, save_best_only=True)]
    started = time.perf_counter()
    model.fit(
        vectorized(train_ds),
        validation_data=vectorized(val_ds),
        epochs=10,
        callbacks=callbacks,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - started
    model = keras.models.load_model(best)
loss, accuracy = model.evaluate(vectorized(test_ds), verbose=0)
print(
    json.dumps(
        {
            "fit_seconds": fit_seconds,
            "test_accuracy": accuracy,
            "samples": 20000,
            "epochs": 10,
            "tf": tf.__version__,
        }
    )
)
