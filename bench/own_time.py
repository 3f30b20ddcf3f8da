"""dlrun's own work on IMDB dense against its fit: how much of `dlrun train` is not Keras.

One `dlrun train bench/configs/imdb_dense.yaml` warms the data cache, then REPEATS runs
are timed in a child process that wraps three calls with a clock:

- engine start: `dlrun.runtime.Runtime.start` (importing TensorFlow and Keras; plain
  Keras pays it too);
- build: `dlrun.training.fit.compiled_model` (building and compiling the model);
- fit: `keras.Model.fit` (every fit the run makes).

dlrun's own work is the rest of the command: loading the data from the cache, preparing
it, evaluating the test split, saving the models, the report and the summary. The issue's
target is own work <= 0.3x the fit.

The plain-Keras side is bench/book_imdb.py (the book's listing, the same work), timed the
same way in its own child, alternating with dlrun's: importing Keras, its fit, and the
rest (loading and vectorizing the reviews, building the model, loading the best epoch,
evaluating the test split). Prints medians and one JSON line.

Usage: python bench/own_time.py [--datasets ../shared/datasets] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "bench" / "configs" / "imdb_dense.yaml"
BOOK = ROOT / "bench" / "book_imdb.py"


def child(arguments: list[str]) -> None:
    """Run `dlrun train ARGUMENTS` in this process with the clocks; print their seconds."""
    import dlrun.training.fit as fit_module
    from dlrun import cli
    from dlrun.runtime import Runtime

    seconds = {"engine_start": 0.0, "build": 0.0, "fit": 0.0}

    def clocked(name: str, function):  # noqa: ANN001, ANN202
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - started

        return wrapper

    start = Runtime.start

    def start_and_clock_fit(self, verbose: bool = False):  # noqa: ANN001, ANN202
        fresh = self._keras is None
        keras = start(self, verbose)
        if fresh:
            keras.Model.fit = clocked("fit", keras.Model.fit)
        return keras

    Runtime.start = clocked("engine_start", start_and_clock_fit)
    fit_module.compiled_model = clocked("build", fit_module.compiled_model)
    sys.argv = ["dlrun", "train", *arguments]
    started = time.perf_counter()
    try:
        cli.main()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    total = time.perf_counter() - started
    own = total - sum(seconds.values())
    print(json.dumps({**seconds, "command": total, "own": own}))


def book_child(datasets: str) -> None:
    """Run bench/book_imdb.py in this process with the same clocks; print their seconds."""
    import runpy

    seconds = {"engine_start": 0.0, "fit": 0.0}
    started = time.perf_counter()
    import keras

    seconds["engine_start"] = time.perf_counter() - started
    fit = keras.Model.fit

    def clocked_fit(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        begun = time.perf_counter()
        try:
            return fit(*args, **kwargs)
        finally:
            seconds["fit"] += time.perf_counter() - begun

    keras.Model.fit = clocked_fit
    sys.argv = [str(BOOK), datasets]
    runpy.run_path(str(BOOK), run_name="__main__")
    total = time.perf_counter() - started
    print(json.dumps({**seconds, "command": total, "own": total - sum(seconds.values())}))


def timed_book(datasets: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--book-child", str(datasets)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def timed_run(imdb: Path, cache: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as runs:
        arguments = [str(CONFIG), f"data.path={imdb}", "--runs-dir", runs, "-q"]
        done = subprocess.run(
            [sys.executable, __file__, "--child", *arguments],
            capture_output=True,
            text=True,
            env={**os.environ, "DLRUN_CACHE_DIR": str(cache)},
            check=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
        return
    if sys.argv[1:2] == ["--book-child"]:
        book_child(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    imdb = args.datasets / "imdb" / "imdb.npz"
    if not imdb.is_file():
        print(f"skipped: {imdb} not found")
        return
    with tempfile.TemporaryDirectory() as cache:
        timed_run(imdb, Path(cache))  # fills the data cache
        rows, book = [], []
        for _ in range(args.repeats):  # alternating, so that drift on the machine is shared
            rows.append(timed_run(imdb, Path(cache)))
            book.append(timed_book(args.datasets))
    median = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    plain = {key: statistics.median(row[key] for row in book) for key in book[0]}
    print(f"IMDB dense (bench/configs/imdb_dense.yaml), warm data cache, median of {len(rows)}")
    print(f"  {'':14}{'dlrun':>7}  {'plain Keras (bench/book_imdb.py)':>34}")
    for key in ("command", "engine_start", "build", "fit", "own"):
        theirs = f"{plain[key]:7.2f} s" if key in plain else "   (in own)"
        print(f"  {key:14}{median[key]:7.2f} s  {theirs:>34}")
    ratio = median["own"] / median["fit"]
    print(f"  own / fit     {ratio:7.2f}   (target <= 0.3)")
    print(f"  own, dlrun / plain Keras {median['own'] / plain['own']:.2f}")
    print(
        json.dumps(
            {
                "median": median,
                "own_over_fit": ratio,
                "runs": rows,
                "plain_keras": {"median": plain, "runs": book},
            }
        )
    )


if __name__ == "__main__":
    main()
