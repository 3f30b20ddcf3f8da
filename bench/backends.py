"""dlrun against plain Keras on each installed backend (tensorflow, jax, torch), one run.

Three model families, each trained by both sides on every backend, one process per side:

- imdb_dense: the book's IMDB multi-hot model (Dense 16-16-1 on 10,000 words, 15,000
  reviews, 10,000 validation, batch 512, 4 epochs): bench/book_imdb.py against
  bench/configs/imdb_dense.yaml (TensorBoard off, as the book script has none). The
  book's input is dense on every backend; dlrun feeds sparse batches to TensorFlow and
  makes each batch dense for JAX and torch (dlrun.runtime.jax_engine says why).
- mnist: the book's small convnet (DLwP 2nd ed. ch. 8, Conv2D 32-64-128 + softmax,
  rmsprop, batch 64) on a subset of mnist.npz that this script writes once and both sides
  read: `--keras-mnist` below is the plain-Keras script, bench/configs/backends_mnist.yaml
  dlrun's side.
- lstm: Embedding 32 + LSTM 32 on ordered IMDB (maxlen 500, batch 128, 20 % validation):
  bench/book_sequence_imdb.py against bench/configs/seq_lstm.yaml (TensorBoard off there,
  as the book script has none), on a seeded subset of imdb.npz written once (both sides
  load it through Keras's IMDB recipe).

Per side: fit throughput (training samples x epochs / fit seconds: the Keras script's
own timer around `fit`, dlrun's summary.json stage seconds, each over the samples and
epochs that side reports; the epochs are checked against the rows of its history.csv),
time to the first epoch's end (from the process's start: imports, data, build, compile,
first epoch and its validation; when the side's history.csv gets its first row, which
this script polls: dlrun writes it, the Keras scripts through keras.callbacks.CSVLogger)
and peak RSS (the kernel's rusage of the child). The Keras side runs with KERAS_BACKEND
set; dlrun with `--backend` (KERAS_BACKEND unset). The sides of a row run one after the
other, in alternating order from row to row, so load from other work on the machine falls
on both alike. With `--repeats N` each row runs N times (the order alternating between
repeats too) and the table shows the pair whose throughput ratio is the median, with
every ratio beside it: on this 2-core machine one pair's ratio moves by up to 15 %.

Usage: python bench/backends.py [--datasets ../shared/datasets] [--families imdb_dense mnist
       lstm] [--backends tensorflow jax torch] [--mnist-images 6000] [--lstm-reviews 1280]
       [--epochs 2] [--repeats 1] [--smoke]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sides
from sides import dlrun_train, keras_script

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "bench"
CONFIGS = HERE / "configs"
BACKENDS = ("tensorflow", "jax", "torch")
HISTORY_ENV = "BENCH_HISTORY_CSV"  # where bench/book_*.py's CSVLogger writes
POLL_SECONDS = 0.05


# ---------------------------------------------------------------------------------------
# Timing the first epoch: sides.py's helpers with a measure that also polls history.csv


@dataclass
class Clocked:
    """What `measure_clocked` saw of its last child besides imdb_dense.measure's figures."""

    first_epoch_seconds: float | None = None
    history_rows: int | None = None


LAST = Clocked()


def _history(command: list[str]) -> Callable[[], Path | None]:
    """Where the child's history.csv will be: a dlrun run's stage folder under the
    --runs-dir it was given, else the file $BENCH_HISTORY_CSV names."""
    if "--runs-dir" in command:
        runs = Path(command[command.index("--runs-dir") + 1])
        return lambda: next(iter(runs.glob("*/stages/*/history.csv")), None)
    path = Path(os.environ[HISTORY_ENV])
    return lambda: path


def _written(path: Path | None) -> bool:
    try:
        return path is not None and path.stat().st_size > 0
    except FileNotFoundError:
        return False


def measure_clocked(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """imdb_dense.measure (wall seconds, peak RSS GB, stdout), also noting in LAST the
    seconds from the start until the child's history.csv had its first epoch's row, and
    that file's rows at the end."""
    history = _history(command)
    started = time.perf_counter()
    first = None
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, text=True, env=env)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if first is None and _written(history()):
                first = time.perf_counter() - started
            time.sleep(POLL_SECONDS)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-3000:]}")
    path = history()
    rows = None
    if _written(path):
        with open(path, newline="") as file:
            rows = sum(1 for _ in csv.DictReader(file))
    LAST.first_epoch_seconds = first if first is not None or rows is None else wall
    LAST.history_rows = rows
    return wall, usage.ru_maxrss / 1024 / 1024, stdout


@contextlib.contextmanager
def clocked() -> Iterator[None]:
    """sides.keras_script and sides.dlrun_train, run through `measure_clocked`."""
    plain = sides.measure
    sides.measure = measure_clocked
    try:
        yield
    finally:
        sides.measure = plain


@contextlib.contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """os.environ with `values` set (None: removed), restored afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _with_clock(side: dict) -> dict:
    side["first_epoch_s"] = LAST.first_epoch_seconds
    side["history_epochs"] = LAST.history_rows
    return side


def keras_side(backend: str, arguments: list) -> dict:
    """The plain-Keras script on `backend` (KERAS_BACKEND), through sides.keras_script."""
    with tempfile.TemporaryDirectory() as tmp:
        history = str(Path(tmp) / "history.csv")
        with environment(KERAS_BACKEND=backend, **{HISTORY_ENV: history}), clocked():
            return _with_clock(keras_script(arguments))


def dlrun_side(backend: str, config: Path, overrides: list[str]) -> dict:
    """`dlrun train CONFIG OVERRIDES --backend BACKEND`, through sides.dlrun_train."""
    with environment(KERAS_BACKEND=None, **{HISTORY_ENV: None}), clocked():
        return _with_clock(dlrun_train(config, [*overrides, "--backend", backend]))


# ---------------------------------------------------------------------------------------
# The data the subsets are cut from, and the families


def mnist_subset(datasets: Path, folder: Path, images: int, test: int) -> Path:
    """The first `images` training and `test` test images of mnist.npz, as an npz of
    Keras's layout (dlrun's keras.mnist reads it as it reads the original)."""
    import numpy as np

    with np.load(datasets / "mnist" / "mnist.npz") as arrays:
        subset = {
            "x_train": arrays["x_train"][:images],
            "y_train": arrays["y_train"][:images],
            "x_test": arrays["x_test"][:test],
            "y_test": arrays["y_test"][:test],
        }
    path = folder / "mnist.npz"
    np.savez(path, **subset)
    return path


def imdb_subset(datasets: Path, folder: Path, reviews: int, test: int) -> Path:
    """A datasets folder holding `reviews` training and `test` test reviews of imdb.npz
    (a seeded sample: the file stores all positive reviews first) and a link to the
    shared loaders.py, which finds imdb/imdb.npz next to itself. Returns the folder."""
    import numpy as np

    with np.load(datasets / "imdb" / "imdb.npz", allow_pickle=True) as arrays:
        rng = np.random.RandomState(0)
        train = np.sort(rng.permutation(len(arrays["y_train"]))[:reviews])
        tested = np.sort(rng.permutation(len(arrays["y_test"]))[:test])
        subset = {
            "x_train": arrays["x_train"][train],
            "y_train": arrays["y_train"][train],
            "x_test": arrays["x_test"][tested],
            "y_test": arrays["y_test"][tested],
        }
    (folder / "imdb").mkdir(parents=True)
    np.savez(folder / "imdb" / "imdb.npz", **subset)
    (folder / "loaders.py").symlink_to(datasets / "loaders.py")
    return folder


@dataclass
class Family:
    name: str
    title: str
    keras: list  # the plain-Keras script's command line after the interpreter
    config: Path
    overrides: list[str]


def families(args: argparse.Namespace, scratch: Path) -> list[Family]:
    found = []
    imdb = args.datasets / "imdb" / "imdb.npz"
    if "imdb_dense" in args.families:
        found.append(
            Family(
                "imdb_dense",
                "IMDB dense 16-16-1, multi-hot 10,000 words: 15,000 train / 10,000 val, "
                "batch 512, 4 epochs",
                [HERE / "book_imdb.py", args.datasets],
                CONFIGS / "imdb_dense.yaml",
                [f"data.path={imdb}", "train.tensorboard=false"],
            )
        )
    if "mnist" in args.families:
        path = mnist_subset(args.datasets, scratch, args.mnist_images, args.mnist_test)
        holdout = args.mnist_images // 6
        found.append(
            Family(
                "mnist",
                f"MNIST convnet 32-64-128 (ch. 8): {args.mnist_images - holdout} train / "
                f"{holdout} val of mnist.npz's first {args.mnist_images}, batch 64, "
                f"{args.epochs} epochs",
                [Path(__file__), "--keras-mnist", path, args.epochs, holdout],
                CONFIGS / "backends_mnist.yaml",
                [
                    f"data.path={path}",
                    f"data.validation.holdout={holdout}",
                    f"train.epochs={args.epochs}",
                ],
            )
        )
    if "lstm" in args.families:
        folder = imdb_subset(args.datasets, scratch / "datasets", args.lstm_reviews, args.lstm_test)
        train = int(args.lstm_reviews * 0.8)
        found.append(
            Family(
                "lstm",
                f"IMDB Embedding 32 + LSTM 32, maxlen 500: {train} train / "
                f"{args.lstm_reviews - train} val of {args.lstm_reviews} sampled reviews, "
                f"batch 128, {args.epochs} epochs",
                [HERE / "book_sequence_imdb.py", folder, "lstm", args.epochs],
                CONFIGS / "seq_lstm.yaml",
                [f"data.path={folder / 'imdb' / 'imdb.npz'}", f"train.epochs={args.epochs}"],
            )
        )
    return found


# ---------------------------------------------------------------------------------------
# The plain-Keras MNIST script (the book's ch. 8 listing, with a validation holdout)


def keras_mnist(path: str, epochs: int, holdout: int) -> None:
    """The book's small convnet in plain Keras on `path` (an mnist.npz): its first
    `holdout` training images validate, the rest train; one test evaluation. Prints the
    JSON line sides.keras_script reads."""
    import keras
    import numpy as np

    with np.load(path) as arrays:
        images = arrays["x_train"].reshape((-1, 28, 28, 1)).astype("float32") / 255
        labels = arrays["y_train"]
        test_images = arrays["x_test"].reshape((-1, 28, 28, 1)).astype("float32") / 255
        test_labels = arrays["y_test"]
    x_val, x_train = images[:holdout], images[holdout:]
    y_val, y_train = labels[:holdout], labels[holdout:]
    keras.utils.set_random_seed(1337)
    inputs = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(filters=32, kernel_size=3, activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(pool_size=2)(x)
    x = keras.layers.Conv2D(filters=64, kernel_size=3, activation="relu")(x)
    x = keras.layers.MaxPooling2D(pool_size=2)(x)
    x = keras.layers.Conv2D(filters=128, kernel_size=3, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history_csv = os.environ.get(HISTORY_ENV)
    started = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=64,
        validation_data=(x_val, y_val),
        callbacks=[keras.callbacks.CSVLogger(history_csv)] if history_csv else None,
        verbose=0,
    )
    fit_seconds = time.perf_counter() - started
    _, accuracy = model.evaluate(test_images, test_labels, verbose=0)
    result = {"fit_seconds": fit_seconds, "test_accuracy": accuracy}
    print(json.dumps({**result, "samples": len(x_train), "epochs": epochs}))


# ---------------------------------------------------------------------------------------


def row(family: Family, backend: str, keras_first: bool) -> dict[str, dict]:
    def keras_run() -> dict:
        return keras_side(backend, family.keras)

    def dlrun_run() -> dict:
        return dlrun_side(backend, family.config, family.overrides)

    if keras_first:
        keras = keras_run()
        dlrun = dlrun_run()
    else:
        dlrun = dlrun_run()
        keras = keras_run()
    return {"keras": keras, "dlrun": dlrun}


def median_row(family: Family, backend: str, keras_first: bool, repeats: int) -> dict:
    """`row` `repeats` times, the sides' order alternating: the pair whose throughput ratio
    is the median (the lower of the middle two for an even count), and every ratio."""
    pairs = [row(family, backend, keras_first != (r % 2 == 1)) for r in range(repeats)]
    ratios = [p["dlrun"]["samples_per_s"] / p["keras"]["samples_per_s"] for p in pairs]
    middle = sorted(range(repeats), key=ratios.__getitem__)[(repeats - 1) // 2]
    return {**pairs[middle], "ratios": ratios, "pairs": pairs}


def print_table(results: dict[str, dict[str, dict]], titles: dict[str, str]) -> None:
    header = (
        f"{'family':11}{'backend':11}{'dlrun/s':>9}{'keras/s':>9}{'ratio':>7}"
        f"{'1st ep dlrun':>13}{'keras':>7}{'RSS GB dlrun':>13}{'keras':>7}"
        f"{'test acc dlrun':>15}{'keras':>7}"
    )
    for name in results:
        print(titles[name])
    print(header)
    for name, rows in results.items():
        for backend, sides_ in rows.items():
            d, k = sides_["dlrun"], sides_["keras"]
            samples = ""
            work = ("train_samples", "history_epochs")
            if [d[key] for key in work] != [k[key] for key in work]:
                samples = (
                    f"  NOT THE SAME WORK: dlrun {d['train_samples']} x "
                    f"{d['history_epochs']} epochs, keras {k['train_samples']} x "
                    f"{k['history_epochs']}"
                )
            print(
                f"{name:11}{backend:11}{d['samples_per_s']:9.0f}{k['samples_per_s']:9.0f}"
                f"{d['samples_per_s'] / k['samples_per_s']:7.2f}"
                f"{d['first_epoch_s']:13.1f}{k['first_epoch_s']:7.1f}"
                f"{d['peak_rss_gb']:13.2f}{k['peak_rss_gb']:7.2f}"
                f"{d['test_accuracy']:15.3f}{k['test_accuracy']:7.3f}{samples}"
            )
            if len(sides_["ratios"]) > 1:
                ratios = ", ".join(f"{r:.2f}" for r in sides_["ratios"])
                print(f"{'':22}ratios of the {len(sides_['ratios'])} repeats: {ratios}")
    for name, rows in results.items():
        if not rows:
            continue
        fastest = {
            side: max(rows, key=lambda b: rows[b][side]["samples_per_s"])
            for side in ("dlrun", "keras")
        }
        first = min(rows, key=lambda b: rows[b]["dlrun"]["first_epoch_s"])
        print(
            f"fastest backend for {name}: dlrun {fastest['dlrun']}, keras {fastest['keras']}"
            f" (throughput); first epoch soonest through dlrun: {first}"
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--keras-mnist":
        keras_mnist(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--families", nargs="*", default=["imdb_dense", "mnist", "lstm"])
    parser.add_argument("--backends", nargs="*", default=list(BACKENDS))
    parser.add_argument("--epochs", type=int, default=2, help="mnist and lstm (imdb_dense: 4)")
    parser.add_argument("--mnist-images", type=int, default=6000)
    parser.add_argument("--mnist-test", type=int, default=1000)
    parser.add_argument("--lstm-reviews", type=int, default=1280)
    parser.add_argument("--lstm-test", type=int, default=256)
    parser.add_argument(
        "--repeats", type=int, default=1, help="pairs per row; the median ratio is shown"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="tiny subsets, mnist and lstm, one epoch"
    )
    args = parser.parse_args()
    if args.smoke:
        args.families = [f for f in args.families if f != "imdb_dense"]
        args.epochs, args.mnist_images, args.mnist_test = 1, 600, 200
        args.lstm_reviews, args.lstm_test = 200, 100
    needed = [args.datasets / "imdb" / "imdb.npz", args.datasets / "mnist" / "mnist.npz"]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        print(f"skipped: {', '.join(missing)} not found")
        return
    installed = [b for b in args.backends if importlib.util.find_spec(_package(b))]
    skipped = sorted(set(args.backends) - set(installed))
    if skipped:
        print(f"not installed, left out: {', '.join(skipped)}")
    results: dict[str, dict[str, dict]] = {}
    titles = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        for i, family in enumerate(families(args, Path(scratch))):
            titles[family.name] = family.title
            results[family.name] = {}
            for j, backend in enumerate(installed):
                print(f"== {family.name} on {backend}", flush=True)
                results[family.name][backend] = median_row(
                    family, backend, (i + j) % 2 == 0, args.repeats
                )
    print_table(results, titles)
    print(f"({time.perf_counter() - started:.0f} s in all)")
    print(json.dumps(results))


def _package(backend: str) -> str:
    return "tensorflow" if backend == "tensorflow" else backend


if __name__ == "__main__":
    main()
