"""IMDB dense: `dlrun train` against the plain-Keras book script, same work, one run.

Both run as separate processes, one after the other, so each gets the machine to itself:
fit throughput (training samples per second of `fit`), whole-process wall time and peak
RSS (from the kernel's rusage of each child), test accuracy, and the dlrun / book ratios.
Also times `dlrun --help`.

Usage: python bench/imdb_dense.py [--datasets ../shared/datasets] [--repeats 1]
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


def measure(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, peak RSS in GB, stdout)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stdout = process.stdout.read() if process.stdout else ""
    stderr = process.stderr.read() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-2000:]}")
    return wall, usage.ru_maxrss / 1024 / 1024, stdout


def run_book(datasets: Path) -> dict[str, float]:
    wall, rss, stdout = measure(
        [sys.executable, str(ROOT / "bench" / "book_imdb.py"), str(datasets)]
    )
    result = json.loads(stdout.strip().splitlines()[-1])
    return {
        "train_samples": result["samples"],
        "fit_seconds": result["fit_seconds"],
        "samples_per_s": result["samples"] * result["epochs"] / result["fit_seconds"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
        "test_accuracy": result["test_accuracy"],
    }


def run_dlrun(datasets: Path) -> dict[str, float]:
    # an empty data cache: dlrun loads imdb.npz as the book script does (bench/data_cache.py
    # measures the warm cache)
    with tempfile.TemporaryDirectory() as runs, tempfile.TemporaryDirectory() as cache:
        wall, rss, _ = measure(
            [
                sys.executable,
                "-m",
                "dlrun",
                "train",
                str(ROOT / "bench" / "configs" / "imdb_dense.yaml"),
                f"data.path={datasets / 'imdb' / 'imdb.npz'}",
                "--runs-dir",
                runs,
                "-q",
            ],
            env={**os.environ, "DLRUN_CACHE_DIR": cache},
        )
        (run,) = list(Path(runs).iterdir())
        summary = json.loads((run / "summary.json").read_text())
    stage = summary["stages"]["train"]
    samples = summary["workflow"]["protocol"]["train"]
    return {
        "train_samples": samples,
        "fit_seconds": stage["seconds"],
        "samples_per_s": samples * stage["epochs_run"] / stage["seconds"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
        "test_accuracy": summary["final"]["test"]["accuracy"],
    }


def help_seconds(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dlrun", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if not (args.datasets / "imdb" / "imdb.npz").is_file():
        print(f"skipped: {args.datasets}/imdb/imdb.npz not found")
        return
    rows = []
    for _ in range(args.repeats):
        book = run_book(args.datasets)
        dlrun = run_dlrun(args.datasets)
        rows.append((book, dlrun))
    book = {k: statistics.median(r[0][k] for r in rows) for k in rows[0][0]}
    dlrun = {k: statistics.median(r[1][k] for r in rows) for k in rows[0][1]}
    print(
        "IMDB dense 16-16-1, 4 epochs on 15,000 reviews (10,000 validation), batch 512, "
        "best epoch by val_accuracy"
    )
    print(f"{'':18}{'book':>10}{'dlrun':>10}{'ratio':>8}  target")
    targets = {
        "train_samples": "= 1.0",
        "samples_per_s": ">= 1.0",
        "process_seconds": "<= 0.8",
        "peak_rss_gb": "<= 0.25",
        "test_accuracy": "",
        "fit_seconds": "",
    }
    for key, target in targets.items():
        ratio = dlrun[key] / book[key]
        print(f"{key:18}{book[key]:10.3f}{dlrun[key]:10.3f}{ratio:8.2f}  {target}")
    print(f"dlrun --help: {help_seconds():.3f} s (target < 0.3 s)")
    print(json.dumps({"book": book, "dlrun": dlrun}))


if __name__ == "__main__":
    main()
