"""The XLA:CPU flags dlrun sets for TensorFlow (`dlrun.runtime.tf_engine.XLA_CPU_FLAGS`)
against XLA's defaults, on the models XLA compiles for dlrun.

Each round trains, in a process of its own that starts Keras through dlrun's TensorFlow
runtime, a Jena-shaped GRU 32 (120 steps x 14 features, batch 256, 10,240 random windows)
and the book's MNIST convnet (4,096 random 28x28 images, batch 64), both compiled with
XLA (`jit_compile=True`), one epoch each after a warm-up fit. One side gets dlrun's flags;
the other gives XLA's defaults in XLA_FLAGS itself, which dlrun keeps (a user's value
wins). The sides alternate; prints each round's samples/s and the ratios.

Usage: python bench/xla_flags.py [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def child() -> None:
    import numpy as np

    from dlrun.runtime import BACKENDS, Runtime, use

    keras = use(Runtime(BACKENDS["tensorflow"])).start()
    layers = keras.layers
    rng = np.random.RandomState(0)
    windows = rng.randn(10_240, 120, 14).astype("float32")
    images = rng.rand(4096, 28, 28, 1).astype("float32")
    digits = rng.randint(0, 10, len(images))
    models = {
        "gru": (
            [keras.Input((120, 14)), layers.GRU(32), layers.Dense(1)],
            "mse",
            windows,
            windows[:, -1, :1],
            256,
        ),
        "convnet": (
            [
                keras.Input((28, 28, 1)),
                layers.Conv2D(32, 3, activation="relu"),
                layers.MaxPooling2D(),
                layers.Conv2D(64, 3, activation="relu"),
                layers.MaxPooling2D(),
                layers.Conv2D(128, 3, activation="relu"),
                layers.Flatten(),
                layers.Dense(10, activation="softmax"),
            ],
            "sparse_categorical_crossentropy",
            images,
            digits,
            64,
        ),
    }
    result = {}
    for name, (stack, loss, x, y, batch) in models.items():
        keras.utils.set_random_seed(1)
        model = keras.Sequential(stack)
        model.compile(optimizer="rmsprop", loss=loss, jit_compile=True)
        model.fit(x[: 2 * batch], y[: 2 * batch], batch_size=batch, verbose=0)  # compiles
        started = time.perf_counter()
        model.fit(x, y, batch_size=batch, verbose=0)
        result[name] = len(x) / (time.perf_counter() - started)
    print(json.dumps(result))


def run(defaults: bool) -> dict[str, float]:
    from dlrun.runtime.tf_engine import XLA_CPU_FLAGS

    env = dict(os.environ)
    env.pop("XLA_FLAGS", None)
    if defaults:
        env["XLA_FLAGS"] = " ".join(f"{flag}=true" for flag in XLA_CPU_FLAGS)
    done = subprocess.run(
        [sys.executable, __file__, "--child"], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child()
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"dlrun's flags": [], "XLA's defaults": []}
    for r in range(args.rounds):
        for defaults in (False, True) if r % 2 == 0 else (True, False):
            rows["XLA's defaults" if defaults else "dlrun's flags"].append(run(defaults))
    print(f"XLA-compiled steps on TensorFlow, samples/s, {args.rounds} rounds (order alternating)")
    for model in ("gru", "convnet"):
        ours = [row[model] for row in rows["dlrun's flags"]]
        theirs = [row[model] for row in rows["XLA's defaults"]]
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(
            f"  {model:8} dlrun's flags {', '.join(f'{v:,.0f}' for v in ours)}; "
            f"XLA's defaults {', '.join(f'{v:,.0f}' for v in theirs)}; median ratio {ratio:.2f}"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
