"""`make bench`: every benchmark in bench/, then the slow acceptance tests on the real data.

The acceptance tests (`pytest -m slow`: the book's results through whole workflows on
../shared/datasets) take minutes, so the default `make test` leaves them out and this
runs them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "imdb_dense.py",
    "data_cache.py",
    "text_imdb.py",
    "sequence_imdb.py",
    "co2_series.py",
    "jena_series.py",
    "runs_listing.py",
    "sweep_imdb.py",
    "mnist_png.py",
    "mnist_transfer.py",
]


def main() -> int:
    failed = 0
    for name in BENCHMARKS:
        script = HERE / name
        if not script.is_file():
            continue
        print(f"== {name}", flush=True)
        failed += subprocess.run([sys.executable, str(script)]).returncode != 0
    print("== acceptance tests on the real data (pytest -m slow)", flush=True)
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "slow", "--durations=0"])
    failed += tests.returncode not in (0, 5)  # 5: no test collected
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
