"""Expand ../shared/datasets/imdb/raw/aclImdb_{train,test}.jsonl.xz into the aclImdb folders.

Each JSON line names its original file (`train/pos/576_10.txt`); the text is written
there, byte for byte as the original, so `text_dataset_from_directory` and dlrun's
`text_dir` read exactly the dataset users download.

Usage: python bench/aclimdb.py OUT_DIR [--datasets ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import lzma
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def expand(datasets: Path, out: Path) -> Path:
    """Write <out>/aclImdb/{train,test}/{pos,neg}/*.txt; returns <out>/aclImdb."""
    root = out / "aclImdb"
    for split in ("train", "test"):
        source = datasets / "imdb" / "raw" / f"aclImdb_{split}.jsonl.xz"
        with lzma.open(source, "rt", encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                path = root / record["file"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(record["text"], encoding="utf-8")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = parser.parse_args()
    print(expand(args.datasets, args.out))


if __name__ == "__main__":
    main()
