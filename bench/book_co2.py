"""configs/co2.yaml in plain Keras: the same split, windows, targets, model and stopping.

Weekly CO2 (2,284 rows, 59 missing, interpolated in time within each portion), 50/25/25
in time order, standardized with the first half's statistics; windows of 52 weeks whose
target is the change 4 weeks after the window's last week (`predict: change`: the window
is taken relative to that last week). GRU(32), rmsprop, mse, batch 32, up to 60 epochs,
early stopping on val_mae (patience 6, best weights kept). Prints one JSON line: the test
MAE in ppm, and persistence and seasonal naive (a year before) on the same test windows.

Usage: python bench/book_co2.py CO2_CSV
"""

from __future__ import annotations

import csv
import json
import sys
import time

import numpy as np

LOOKBACK, HORIZON, SEASON, BATCH = 52, 4, 52, 32


def load(path: str) -> tuple[np.ndarray, np.ndarray]:
    with open(path, newline="") as fp:
        rows = list(csv.reader(fp))[1:]
    days = np.array([np.datetime64(r[0], "D") for r in rows]).astype(np.int64).astype(float)
    co2 = np.array([float(r[1]) if r[1] else np.nan for r in rows])
    return days, co2


def fill(days: np.ndarray, co2: np.ndarray, portions: list[tuple[int, int]]) -> np.ndarray:
    """Linear interpolation in time, each portion on its own values."""
    out = co2.copy()
    for lo, hi in portions:
        part, when = out[lo:hi], days[lo:hi]
        gone = np.isnan(part)
        part[gone] = np.interp(when[gone], when[~gone], part[~gone])
    return out


def dataset(series: np.ndarray, co2: np.ndarray, lo: int, hi: int, shuffle: bool):
    """Windows starting in [lo, hi - 55]: inputs relative to the last week, change targets."""
    import keras

    starts = np.arange(lo, hi - (LOOKBACK + HORIZON) + 1)
    last = starts + LOOKBACK - 1
    targets = (co2[last + HORIZON] - co2[last]).astype("float32")
    data = keras.utils.timeseries_dataset_from_array(
        series[lo : starts[-1] + LOOKBACK],
        targets=targets,
        sequence_length=LOOKBACK,
        batch_size=BATCH,
        shuffle=shuffle,
        seed=1337,
    )
    return data.map(lambda x, y: (x - x[:, -1:, :], y)), targets, last


def main() -> None:
    import keras
    from keras import layers

    days, raw = load(sys.argv[1])
    n = len(raw)
    n_train, n_val = int(0.5 * n), int(0.25 * n)
    portions = [(0, n_train), (n_train, n_train + n_val), (n_train + n_val, n)]
    co2 = fill(days, raw, portions)
    mean, std = co2[:n_train].mean(), co2[:n_train].std()
    series = ((co2 - mean) / std).astype("float32")[:, None]
    keras.utils.set_random_seed(1337)
    train, _, _ = dataset(series, co2, *portions[0], shuffle=True)
    val, _, _ = dataset(series, co2, *portions[1], shuffle=False)
    test, test_targets, test_last = dataset(series, co2, *portions[2], shuffle=False)
    inputs = keras.Input(shape=(LOOKBACK, 1))
    model = keras.Model(inputs, layers.Dense(1)(layers.GRU(32)(inputs)))
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="mse", metrics=["mae"])
    stop = keras.callbacks.EarlyStopping(monitor="val_mae", patience=6, restore_best_weights=True)
    started = time.perf_counter()
    history = model.fit(train, epochs=60, validation_data=val, callbacks=[stop], verbose=0)
    fit_seconds = time.perf_counter() - started
    _, test_mae = model.evaluate(test, verbose=0)
    earlier = test_last + HORIZON - SEASON
    seasonal = np.abs(co2[test_last + HORIZON] - co2[earlier])
    print(
        json.dumps(
            {
                "test_mae": test_mae,
                "persistence": float(np.abs(test_targets).mean()),
                "seasonal_naive": float(seasonal.mean()),
                "epochs": len(history.history["loss"]),
                "fit_seconds": fit_seconds,
                "test_windows": len(test_targets),
            }
        )
    )


if __name__ == "__main__":
    main()
