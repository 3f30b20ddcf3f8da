"""Keras Tuner's RandomSearch on IMDB as a plain script, for bench/sweep_imdb.py.

The same space and budget as dlrun's side: units in {16, 32, 64} x depth in {2, 3}, dropout
in [0, 0.6], learning rate log-uniform in [1e-4, 1e-2], rmsprop, batch 512, 15,000 training
reviews validated on 10,000, scored by val_accuracy. Two ways to feed it:

- `numpy`: the book's dense multi-hot matrices, as a Keras Tuner user writes it;
- `pipeline`: dlrun's own tf.data pipeline (sparse multi-hot batches), so that only the
  search differs from dlrun's.

Prints one JSON line: best val_accuracy, trials, and the search's own seconds.

Usage: python bench/kt_imdb.py DATASETS_DIR numpy|pipeline TRIALS EPOCHS WORKDIR
"""

from __future__ import annotations

import json
import sys
import time

datasets, mode, trials, epochs, work = (
    sys.argv[1],
    sys.argv[2],
    *map(int, sys.argv[3:5]),
    sys.argv[5],
)

from dlrun.tfenv import import_keras  # noqa: E402  (quiet TensorFlow import, as dlrun's)

keras = import_keras()
import keras_tuner  # noqa: E402
import numpy as np  # noqa: E402

if mode == "numpy":
    sys.path.insert(0, datasets)
    import loaders  # the shared datasets' Keras patch, so imdb.load_data reads the local copy

    loaders.patch_keras()
    (train_data, train_labels), _ = keras.datasets.imdb.load_data(num_words=10000)
    x = np.zeros((len(train_data), 10000))
    for i, sequence in enumerate(train_data):
        x[i, sequence] = 1.0
    y = np.asarray(train_labels).astype("float32")
    fit_data = {
        "x": x[10000:],
        "y": y[10000:],
        "batch_size": 512,
        "validation_data": (x[:10000], y[:10000]),
    }
    sparse = False
else:
    from dlrun.data.pipeline import make_dataset
    from dlrun.data.prepare import prepare
    from dlrun.data.sources import load_raw
    from dlrun.spec import validate

    config = validate(
        {
            "name": "kt",
            "task": "binary",
            "data": {
                "source": "keras.imdb",
                "path": f"{datasets}/imdb/imdb.npz",
                "num_words": 10000,
                "validation": {"holdout": 10000},
            },
        }
    ).config
    prepared = prepare(load_raw(config.data), config)
    fit_data = {
        "x": make_dataset(prepared.train, 512, shuffle=True, seed=1337),
        "validation_data": make_dataset(prepared.validation, 512),
    }
    sparse = True


def build(hp: keras_tuner.HyperParameters) -> keras.Model:
    units = hp.Choice("units", [16, 32, 64])
    depth = hp.Choice("depth", [2, 3])
    dropout = hp.Float("dropout", 0.0, 0.6)
    rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
    inputs = keras.Input(shape=(10000,), sparse=sparse)
    h = inputs
    for _ in range(depth):
        h = keras.layers.Dense(units, activation="relu")(h)
        if dropout > 0:
            h = keras.layers.Dropout(dropout)(h)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(h))
    model.compile(
        optimizer=keras.optimizers.RMSprop(rate), loss="binary_crossentropy", metrics=["accuracy"]
    )
    return model


tuner = keras_tuner.RandomSearch(
    build,
    objective="val_accuracy",
    max_trials=trials,
    seed=1337,
    directory=work,
    project_name=f"imdb-{mode}",
    overwrite=True,
)
started = time.perf_counter()
tuner.search(epochs=epochs, verbose=0, **fit_data)
search = time.perf_counter() - started
best = tuner.oracle.get_best_trials(1)[0]
print(json.dumps({"best": float(best.score), "trials": len(tuner.oracle.trials), "search": search}))
