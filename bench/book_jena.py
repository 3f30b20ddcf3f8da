"""The book's Jena listing (Deep Learning with Python, 2nd ed., ch. 10) in plain Keras.

The CSV is parsed line by line as the book does, the columns standardized with the first
half's statistics, and `keras.utils.timeseries_dataset_from_array` cuts 120-step windows
(every 6th of 720 rows) whose target is the temperature 24 h (144 rows) after the
window's last row, in a 50/25/25 split. A GRU(32) fits `--epochs` epochs, validated on
the second portion; with `--generator` on the 1st edition's Python generator instead (the
same windows, drawn at random). With `--pipeline` it times one epoch of batches of both
pipelines (no model). Prints one JSON line.

Usage: python bench/book_jena.py JENA_CSV [--epochs 1] [--generator | --pipeline]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

SAMPLING, STEPS, AHEAD, BATCH = 6, 120, 24, 256


def load(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The book's parse: every line split by hand (a generated file ends with a newline,
    which the book's copy of Jena did not, hence the filter)."""
    with open(path) as f:
        data = f.read()
    lines = [line for line in data.split("\n")[1:] if line]
    temperature = np.zeros((len(lines),))
    raw_data = np.zeros((len(lines), len(data.split("\n", 1)[0].split(",")) - 1))
    for i, line in enumerate(lines):
        values = [float(x) for x in line.split(",")[1:]]
        temperature[i] = values[1]
        raw_data[i, :] = values[:]
    return raw_data, temperature


def datasets(raw_data: np.ndarray, temperature: np.ndarray) -> tuple[object, object, int]:
    import keras

    num_train = int(0.5 * len(raw_data))
    num_val = int(0.25 * len(raw_data))
    mean = raw_data[:num_train].mean(axis=0)
    raw_data -= mean
    std = raw_data[:num_train].std(axis=0)
    raw_data /= std
    delay = SAMPLING * (STEPS + AHEAD - 1)
    common = {"sampling_rate": SAMPLING, "sequence_length": STEPS, "batch_size": BATCH}
    train = keras.utils.timeseries_dataset_from_array(
        raw_data[:-delay],
        targets=temperature[delay:],
        shuffle=True,
        start_index=0,
        end_index=num_train,
        **common,
    )
    val = keras.utils.timeseries_dataset_from_array(
        raw_data[:-delay],
        targets=temperature[delay:],
        shuffle=True,
        start_index=num_train,
        end_index=num_train + num_val,
        **common,
    )
    windows = num_train - (STEPS - 1) * SAMPLING
    return train, val, windows


def generator(data: np.ndarray, targets: np.ndarray, min_index: int, max_index: int, shuffle: bool):
    """The 1st edition's generator: windows of 720 rows (every 6th) ending before row i,
    the target 144 rows after the window's last; shuffled, or in order."""
    lookback, delay = STEPS * SAMPLING, AHEAD * SAMPLING - SAMPLING
    i = min_index + lookback
    while True:
        if shuffle:
            rows = np.random.randint(min_index + lookback, max_index - delay, size=BATCH)
        else:
            if i + BATCH >= max_index - delay:
                i = min_index + lookback
            rows = np.arange(i, min(i + BATCH, max_index - delay))
            i += len(rows)
        samples = np.zeros((len(rows), STEPS, data.shape[-1]))
        found = np.zeros((len(rows),))
        for j in range(len(rows)):
            indices = range(rows[j] - lookback, rows[j], SAMPLING)
            samples[j] = data[indices]
            found[j] = targets[rows[j] + delay]
        yield samples, found


def pipelines(raw_data: np.ndarray, temperature: np.ndarray) -> dict[str, float]:
    """Batches per second of one training epoch of each pipeline, without a model."""
    train, _, windows = datasets(raw_data, temperature)
    steps = -(-windows // BATCH)
    started = time.perf_counter()
    for _ in train:
        pass
    dataset_rate = steps / (time.perf_counter() - started)
    produce = generator(raw_data, temperature, 0, len(raw_data) // 2, shuffle=True)
    started = time.perf_counter()
    for _ in range(200):  # enough for a rate; a whole epoch takes minutes
        next(produce)
    return {
        "dataset_batches_per_s": dataset_rate,
        "generator_batches_per_s": 200 / (time.perf_counter() - started),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--pipeline", action="store_true")
    parser.add_argument("--generator", action="store_true", help="fit on the 1st ed. generator")
    args = parser.parse_args()
    started = time.perf_counter()
    raw_data, temperature = load(args.csv)
    load_seconds = time.perf_counter() - started
    if args.pipeline:
        print(json.dumps({"load_seconds": load_seconds, **pipelines(raw_data, temperature)}))
        return
    import keras
    from keras import layers

    keras.utils.set_random_seed(1337)
    train, val, windows = datasets(raw_data, temperature)
    fit: dict = {"x": train, "validation_data": val}
    if args.generator:
        num_train, num_val = int(0.5 * len(raw_data)), int(0.25 * len(raw_data))
        fit = {
            "x": generator(raw_data, temperature, 0, num_train, shuffle=True),
            "steps_per_epoch": -(-windows // BATCH),
            "validation_data": generator(
                raw_data, temperature, num_train, num_train + num_val, shuffle=False
            ),
            "validation_steps": -(-(num_val - STEPS * SAMPLING) // BATCH),
        }
    inputs = keras.Input(shape=(STEPS, raw_data.shape[-1]))
    x = layers.GRU(32)(inputs)
    model = keras.Model(inputs, layers.Dense(1)(x))
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    started = time.perf_counter()
    history = model.fit(**fit, epochs=args.epochs, verbose=0)
    fit_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "load_seconds": load_seconds,
                "fit_seconds": fit_seconds,
                "windows": windows,
                "epochs": args.epochs,
                "val_mae": history.history["val_mae"][-1],
            }
        )
    )


if __name__ == "__main__":
    main()
