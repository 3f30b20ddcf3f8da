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
from pathlib import Path

from sides import dlrun_train, keras_script, print_sides

ROOT = Path(__file__).resolve().parents[1]


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
        script = ROOT / "bench" / "book_sequence_imdb.py"
        keras_side = keras_script([script, args.datasets, model, args.epochs])
        overrides = [f"data.path={args.datasets / 'imdb' / 'imdb.npz'}"]
        overrides.append(f"train.epochs={args.epochs}")
        config = ROOT / "bench" / "configs" / f"seq_{model}.yaml"
        dlrun_side = dlrun_train(config, overrides, 20000)
        results[model] = {"keras": keras_side, "dlrun": dlrun_side}
        title = f"ordered IMDB, {model}, {args.epochs} epochs, 20k train / 5k validation"
        print_sides(title, keras_side, dlrun_side)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
