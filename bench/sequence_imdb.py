"""Ordered IMDB (10,000 words, maxlen 500): LSTM and Conv1D, `dlrun train` against the book.

bench/book_sequence_imdb.py is the book's listing in plain Keras; bench/configs/seq_*.yaml
the same work in dlrun. Each side is its own process, one after the other: fit throughput,
whole-process time, peak RSS and test accuracy, with the dlrun / Keras ratios. An LSTM
epoch takes minutes on two cores: --epochs trims both sides alike.

Usage: python bench/sequence_imdb.py [--datasets ../shared/datasets] [--models lstm conv1d]
       [--epochs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from imdb_dense import measure

ROOT = Path(__file__).resolve().parents[1]


def run_keras(datasets: Path, model: str, epochs: int) -> dict[str, float]:
    script = str(ROOT / "bench" / "book_sequence_imdb.py")
    wall, rss, stdout = measure([sys.executable, script, str(datasets), model, str(epochs)])
    result = json.loads(stdout.strip().splitlines()[-1])
    return {
        "samples_per_s": result["samples"] * result["epochs"] / result["fit_seconds"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
        "test_accuracy": result["test_accuracy"],
    }


def run_dlrun(datasets: Path, model: str, epochs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as runs, tempfile.TemporaryDirectory() as cache:
        command = [sys.executable, "-m", "dlrun", "train"]
        command += [str(ROOT / "bench" / "configs" / f"seq_{model}.yaml")]
        command += [f"data.path={datasets / 'imdb' / 'imdb.npz'}", f"train.epochs={epochs}"]
        command += ["--runs-dir", runs, "-q"]
        wall, rss, _ = measure(command, env={**os.environ, "DLRUN_CACHE_DIR": cache})
        (run,) = list(Path(runs).iterdir())
        summary = json.loads((run / "summary.json").read_text())
    stage = summary["stages"]["train"]
    return {
        "samples_per_s": 20000 * stage["epochs_run"] / stage["seconds"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
        "test_accuracy": summary["final"]["test"]["accuracy"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--models", nargs="+", default=["conv1d", "lstm"])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    if not (args.datasets / "imdb" / "imdb.npz").is_file():
        print(f"skipped: {args.datasets}/imdb/imdb.npz not found")
        return
    results = {}
    for model in args.models:
        keras_side = run_keras(args.datasets, model, args.epochs)
        dlrun_side = run_dlrun(args.datasets, model, args.epochs)
        results[model] = {"keras": keras_side, "dlrun": dlrun_side}
        print(f"ordered IMDB, {model}, {args.epochs} epochs, 20k train / 5k validation")
        print(f"{'':18}{'keras':>10}{'dlrun':>10}{'ratio':>8}")
        for key in keras_side:
            ratio = dlrun_side[key] / keras_side[key]
            print(f"{key:18}{keras_side[key]:10.3f}{dlrun_side[key]:10.3f}{ratio:8.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
