"""The data cache: loading IMDB cold (from imdb.npz) and warm (memory-mapped entry).

Each measurement is a fresh process with its own empty cache directory first (cold),
then the same directory again (warm): the load time of `load_raw` plus the portions
that training uses, and the whole `dlrun train` process of bench/configs/imdb_dense.yaml.

Usage: python bench/data_cache.py [--datasets ../shared/datasets] [--repeats 3]
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
LOAD = """
import json, sys, time
from dlrun.spec import load_config
from dlrun.data.portions import make_portions
from dlrun.data.sources import load_raw
config = load_config(sys.argv[1], [f"data.path={sys.argv[2]}"]).config
started = time.perf_counter()
raw = load_raw(config.data)
loaded = time.perf_counter()
make_portions(raw, config)
print(json.dumps({"load": loaded - started, "portions": time.perf_counter() - loaded}))
"""


def load_once(config: Path, data: Path, cache: str) -> dict[str, float]:
    env = {**os.environ, "DLRUN_CACHE_DIR": cache}
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(config), str(data)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def train_once(config: Path, data: Path, cache: str) -> float:
    env = {**os.environ, "DLRUN_CACHE_DIR": cache}
    with tempfile.TemporaryDirectory() as runs:
        started = time.perf_counter()
        command = ["train", str(config), f"data.path={data}", "--runs-dir", runs, "-q"]
        subprocess.run([sys.executable, "-m", "dlrun", *command], env=env, check=True)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = args.datasets / "imdb" / "imdb.npz"
    if not data.is_file():
        print(f"skipped: {data} not found")
        return
    config = ROOT / "bench" / "configs" / "imdb_dense.yaml"
    results: dict[str, list[float]] = {k: [] for k in ("cold", "warm", "train_cold", "train_warm")}
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache:
            cold, warm = load_once(config, data, cache), load_once(config, data, cache)
            results["cold"].append(cold["load"] + cold["portions"])
            results["warm"].append(warm["load"] + warm["portions"])
        with tempfile.TemporaryDirectory() as cache:
            results["train_cold"].append(train_once(config, data, cache))
            results["train_warm"].append(train_once(config, data, cache))
    median = {k: statistics.median(v) for k, v in results.items()}
    print("IMDB multi-hot (num_words 10,000): load + portions, and a whole dlrun train")
    print(f"{'':22}{'cold':>9}{'warm':>9}{'ratio':>8}")
    print(
        f"{'load + portions (s)':22}{median['cold']:9.2f}{median['warm']:9.2f}"
        f"{median['warm'] / median['cold']:8.2f}"
    )
    print(
        f"{'dlrun train (s)':22}{median['train_cold']:9.2f}{median['train_warm']:9.2f}"
        f"{median['train_warm'] / median['train_cold']:8.2f}"
    )
    print(json.dumps(median))


if __name__ == "__main__":
    main()
