"""Write MNIST (../shared/datasets/mnist/mnist.npz) as PNG files in class folders.

`<out>/train/<digit>/<index>.png` and `<out>/test/<digit>/<index>.png`: lossless 28x28
grayscale PNGs of the same uint8 arrays Keras loads, the layout `image_dir` and
`keras.utils.image_dataset_from_directory` read. The benchmarks write all 70,000; a
selection of digits and a number per class make the transfer benchmark's small sets.

Usage: python bench/mnist_folders.py OUT_DIR [--datasets ../shared/datasets]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def load(datasets: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"train": (x, y), "test": (x, y)} from mnist.npz."""
    with np.load(datasets / "mnist" / "mnist.npz") as arrays:
        return {
            split: (arrays[f"x_{split}"], arrays[f"y_{split}"].astype(np.int64))
            for split in ("train", "test")
        }


def write(
    out: Path,
    arrays: dict[str, tuple[np.ndarray, np.ndarray]],
    digits: Iterable[int] = range(10),
    per_class: dict[str, int | None] | None = None,
) -> Path:
    """Write the images of `digits` under `out/<split>/<digit>/`: all of them, or the
    first `per_class[split]` of each digit in the original order. Returns `out`."""
    from PIL import Image

    digits = list(digits)
    for split, (x, y) in arrays.items():
        limit = (per_class or {}).get(split)
        for digit in digits:
            folder = out / split / str(digit)
            folder.mkdir(parents=True, exist_ok=True)
            for index in np.flatnonzero(y == digit)[:limit]:
                # compress_level 1: the files are as lossless, and written 3x faster
                Image.fromarray(x[index]).save(folder / f"{index:05d}.png", compress_level=1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = parser.parse_args()
    print(write(args.out, load(args.datasets)))


if __name__ == "__main__":
    main()
