"""Raw aclImdb text, bigram multi-hot and tf-idf: `dlrun train` against plain Keras.

The book's recipe (DLwP 2nd ed. ch. 11; bench/book_text_imdb.py) and
bench/configs/text_bigrams.yaml do the same work on the same folders, expanded once from
../shared/datasets/imdb/raw by bench/aclimdb.py. Each side runs as its own process, one
after the other: fit throughput (training samples per second of fit), whole-process
time, peak RSS and test accuracy, with the dlrun / Keras ratios.

Usage: python bench/text_imdb.py [--datasets ../shared/datasets] [--modes multi_hot tf_idf]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from aclimdb import expand
from imdb_dense import measure

ROOT = Path(__file__).resolve().parents[1]


def run_keras(folders: Path, mode: str) -> dict[str, float]:
    wall, rss, stdout = measure(
        [sys.executable, str(ROOT / "bench" / "book_text_imdb.py"), str(folders), mode]
    )
    result = json.loads(stdout.strip().splitlines()[-1])
    return {
        "samples_per_s": result["samples"] * result["epochs"] / result["fit_seconds"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
        "test_accuracy": result["test_accuracy"],
    }


def run_dlrun(folders: Path, mode: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as runs, tempfile.TemporaryDirectory() as cache:
        command = [sys.executable, "-m", "dlrun", "train"]
        command += [str(ROOT / "bench" / "configs" / "text_bigrams.yaml")]
        command += [f"data.path={folders}", f"data.text.output={mode}", "--runs-dir", runs, "-q"]
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
    parser.add_argument("--modes", nargs="+", default=["multi_hot", "tf_idf"])
    args = parser.parse_args()
    if not (args.datasets / "imdb" / "raw" / "aclImdb_train.jsonl.xz").is_file():
        print(f"skipped: {args.datasets}/imdb/raw/aclImdb_train.jsonl.xz not found")
        return
    with tempfile.TemporaryDirectory() as tmp:
        folders = expand(args.datasets, Path(tmp))
        results = {}
        for mode in args.modes:
            keras_side, dlrun_side = run_keras(folders, mode), run_dlrun(folders, mode)
            results[mode] = {"keras": keras_side, "dlrun": dlrun_side}
            print(f"aclImdb bigrams, {mode}: Dense 16 + dropout 0.5, 10 epochs, 20k/5k, batch 32")
            print(f"{'':18}{'keras':>10}{'dlrun':>10}{'ratio':>8}")
            for key in keras_side:
                ratio = dlrun_side[key] / keras_side[key]
                print(f"{key:18}{keras_side[key]:10.3f}{dlrun_side[key]:10.3f}{ratio:8.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
