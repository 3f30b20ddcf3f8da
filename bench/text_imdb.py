"""Raw aclImdb text, bigram multi-hot and tf-idf: `dlrun train` against plain Keras.

The book's recipe (DLwP 2nd ed. ch. 11; bench/book_text_imdb.py) and
bench/configs/text_bigrams.yaml do the same work on the same folders, expanded once from
../shared/datasets/imdb/raw by bench/aclimdb.py. Each side runs as its own process, one
after the other: fit throughput (training samples per second of fit), whole-process
time, peak RSS and test accuracy, with the dlrun / Keras ratios. Both keep the best epoch
by val_accuracy.

The fits do not time the same steps, and the output says so: the book's fit reads and
vectorizes the texts in its first epoch (then trains on its `.cache()`), while dlrun
reads and vectorizes them before its fit starts, so only its process time holds that.

Usage: python bench/text_imdb.py [--datasets ../shared/datasets] [--modes multi_hot tf_idf]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from aclimdb import expand
from sides import dlrun_train, keras_script, print_sides

ROOT = Path(__file__).resolve().parents[1]
DLRUN_FIT = "the fit alone: the texts were read and vectorized before it (in process_seconds only)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--modes", nargs="+", default=["multi_hot", "tf_idf"])
    args = parser.parse_args()
    if not (args.datasets / "imdb" / "raw" / "aclImdb_train.jsonl.xz").is_file():
        print(f"skipped: {args.datasets}/imdb/raw/aclImdb_train.jsonl.xz not found")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folders = expand(args.datasets, Path(tmp))
        results = {}
        for mode in args.modes:
            keras_side = keras_script([ROOT / "bench" / "book_text_imdb.py", folders, mode])
            config = ROOT / "bench" / "configs" / "text_bigrams.yaml"
            overrides = [f"data.path={folders}", f"data.text.output={mode}"]
            dlrun_side = {**dlrun_train(config, overrides), "fit_includes": DLRUN_FIT}
            results[mode] = {"keras": keras_side, "dlrun": dlrun_side}
            title = (
                f"aclImdb bigrams, {mode}: Dense 16 + dropout 0.5, 10 epochs, 20k/5k, batch 32, "
                "best epoch by val_accuracy"
            )
            print_sides(title, keras_side, dlrun_side)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
