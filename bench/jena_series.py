"""A Jena-shaped series (420,551 rows x 14 columns, 10-minute steps, day-first times):
`dlrun train` against the book's plain-Keras recipe, and dlrun's CSV load against pandas.

Jena itself is not on this machine (shared/datasets/README.md, section 5), so the file is
generated in its exact layout: a yearly and a daily cycle plus noise, "%.2f" values. One
epoch of a GRU(32) on windows of 120 steps (every 6th of 720 rows), 144 rows ahead, 50/25/25:

- fit throughput: training windows per second of `fit` (validation included, both sides),
  against the faster of the book's two recipes (2nd edition's
  `timeseries_dataset_from_array`, 1st edition's Python generator);
- peak RSS of each whole process, and how far it lies above the same run on a 1 % slice
  of the series (the runtime and the model): dlrun's excess should stay within 2x the
  series' own float32 size;
- CSV loading: dlrun's source (parse, times, windows) against `pandas.read_csv` of the
  same file, and against `read_csv` plus `to_datetime` of its time column; and dlrun's
  later loads of the same file, from its data cache.

Each measurement is a separate process, one after the other, the sides alternating and
the best of each kept (`--repeats` loads, `--fits` epochs), so a busy moment of a shared
machine does not decide the ratio. A child's peak RSS starts at its parent's (Linux
keeps the high-water mark across fork and exec), so this process stays small: it even
writes the CSV in a child. Both sides' pipelines are also timed without a model.

Usage: python bench/jena_series.py [--rows 420551] [--workdir DIR] [--repeats 5] [--fits 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from imdb_dense import measure  # noqa: E402

JENA_ROWS = 420_551
COLUMNS = (
    "p (mbar)",
    "T (degC)",
    "Tpot (K)",
    "Tdew (degC)",
    "rh (%)",
    "VPmax (mbar)",
    "VPact (mbar)",
    "VPdef (mbar)",
    "sh (g/kg)",
    "H2OC (mmol/mol)",
    "rho (g/m**3)",
    "wv (m/s)",
    "max. wv (m/s)",
    "wd (deg)",
)

LOAD_DLRUN = """
import json, sys, time
from dlrun.data.sources import load_raw
from dlrun.spec import load_config
def resident():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) for l in status if l.startswith("VmRSS")) / 1024
cache = [] if sys.argv[3] == "cached" else ["data.cache=false"]
config = load_config(sys.argv[1], [f"data.path={sys.argv[2]}", *cache]).config
before, started = resident(), time.perf_counter()
raw = load_raw(config.data)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "resident_mb": resident() - before}))
"""
PIPELINE_DLRUN = """
import json, sys, time
from dlrun.data.pipeline import training_dataset
from dlrun.data.portions import make_portions
from dlrun.data.sources import load_raw
from dlrun.spec import load_config
config = load_config(sys.argv[1], [f"data.path={sys.argv[2]}"]).config
prepared = make_portions(load_raw(config.data), config)[0].prepared
batches, steps = training_dataset(prepared.train, 256, seed=1, epochs=(0, 1))
started = time.perf_counter()
count = sum(1 for _ in batches)
print(json.dumps({"batches_per_s": count / (time.perf_counter() - started)}))
"""
LOAD_PANDAS = """
import json, sys, time
import pandas as pd
started = time.perf_counter()
frame = pd.read_csv(sys.argv[1])
if sys.argv[2] == "dates":
    pd.to_datetime(frame["Date Time"], format="%d.%m.%Y %H:%M:%S")
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def write_jena(path: Path, rows: int, seed: int = 0) -> None:
    """A CSV in Jena's layout: quoted header, 'dd.mm.yyyy HH:MM:SS', 14 '%.2f' columns."""
    rng = np.random.RandomState(seed)
    t = np.arange(rows)
    day, year = 2 * np.pi * t / 144, 2 * np.pi * t / (144 * 365.25)
    temp = 9 - 10 * np.cos(year) - 4 * np.cos(day) + rng.normal(0, 0.5, rows)
    columns = [
        989 + 8 * np.sin(year / 3) + rng.normal(0, 1, rows),
        temp,
        temp + 273.15 + rng.normal(0, 0.2, rows),
        temp - 4 + rng.normal(0, 1, rows),
        76 + 15 * np.cos(day) + rng.normal(0, 5, rows),
        *(rng.gamma(2, 2 + k, rows) for k in range(9)),
    ]
    stamps = np.datetime64("2009-01-01T00:10:00") + t.astype("timedelta64[m]") * 10
    iso = np.datetime_as_string(stamps, unit="s")
    body = np.char.mod("%.2f", np.stack(columns, axis=1))
    with path.open("w") as fp:
        fp.write(",".join(f'"{c}"' for c in ("Date Time", *COLUMNS)) + "\n")
        for stamp, values in zip(iso, body.tolist(), strict=True):
            day_first = f"{stamp[8:10]}.{stamp[5:7]}.{stamp[0:4]} {stamp[11:19]}"
            fp.write(day_first + "," + ",".join(values) + "\n")


def config_file(workdir: Path, csv: Path) -> Path:
    config = {
        "name": "jena",
        "seed": 1337,
        "task": "regression",
        "data": {
            "source": "timeseries",
            "path": str(csv),
            "time_column": "Date Time",
            "target": "T (degC)",
            "sampling": 6,
            "lookback": 720,
            "horizon": 144,
            "split": {"train": 0.5, "validation": 0.25},
        },
        "model": {"kind": "rnn", "cell": "gru", "units": [32]},
        "train": {"batch_size": 256, "epochs": 1},
    }
    path = workdir / "jena.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_dlrun(config: Path, csv: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as runs:
        command = [
            sys.executable,
            "-m",
            "dlrun",
            "train",
            str(config),
            f"data.path={csv}",
            "--runs-dir",
            runs,
            "-q",
        ]
        wall, rss, _ = measure(command)
        (run,) = list(Path(runs).iterdir())
        summary = json.loads((run / "summary.json").read_text())
    stage = summary["stages"]["train"]
    windows = summary["workflow"]["protocol"]["train"]
    return {
        "fit_seconds": stage["seconds"],
        "windows_per_s": windows * stage["epochs_run"] / stage["seconds"],
        "peak_rss_mb": rss * 1024,
        "process_seconds": wall,
        "val_mae": stage["val"]["mae"],
    }


def run_book(csv: Path, *options: str) -> dict[str, float]:
    wall, rss, stdout = measure(
        [sys.executable, str(ROOT / "bench" / "book_jena.py"), str(csv), *options]
    )
    result = json.loads(stdout.strip().splitlines()[-1])
    return {
        "fit_seconds": result["fit_seconds"],
        "windows_per_s": result["windows"] * result["epochs"] / result["fit_seconds"],
        "peak_rss_mb": rss * 1024,
        "process_seconds": wall,
        "val_mae": result["val_mae"],
    }


def loads(config: Path, csv: Path, repeats: int) -> dict[str, dict[str, float]]:
    """Best-of-`repeats` seconds and peak RSS of loading the CSV, each way."""
    ways = {
        "dlrun": [sys.executable, "-c", LOAD_DLRUN, str(config), str(csv), "parse"],
        "dlrun, from its data cache": [
            sys.executable,
            "-c",
            LOAD_DLRUN,
            str(config),
            str(csv),
            "cached",
        ],
    }
    if importlib.util.find_spec("pandas") is None:
        print("pandas is not installed (pip install -e '.[bench]'): no pandas load times")
    else:
        ways["pandas.read_csv"] = [sys.executable, "-c", LOAD_PANDAS, str(csv), "plain"]
        ways["read_csv + to_datetime"] = [sys.executable, "-c", LOAD_PANDAS, str(csv), "dates"]
    runs: dict[str, list[tuple[float, float, str]]] = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "DLRUN_CACHE_DIR": cache}
        measure(ways["dlrun, from its data cache"], env=env)  # fills the cache
        for _ in range(repeats):  # interleaved, so a busier moment does not favour one way
            for name, command in ways.items():
                runs[name].append(measure(command, env=env))
    found = {}
    for name, done in runs.items():
        reports = [json.loads(out.strip().splitlines()[-1]) for *_, out in done]
        found[name] = {
            "seconds": min(r["seconds"] for r in reports),
            "peak_rss_mb": min(rss for _, rss, _ in done) * 1024,
        }
        if name == "dlrun":  # what the loaded series keeps in memory
            found[name]["resident_mb"] = min(r["resident_mb"] for r in reports)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=JENA_ROWS)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "dlrun-bench")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fits", type=int, default=2)
    parser.add_argument("--write", nargs=2, metavar=("CSV", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write_jena(Path(args.write[0]), int(args.write[1]))
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    csv = args.workdir / f"jena-{args.rows}.csv"
    small = args.workdir / f"jena-{args.rows // 100}.csv"
    for path, rows in ((csv, args.rows), (small, args.rows // 100)):
        if not path.is_file():
            print(f"writing {path} ({rows} rows)", flush=True)
            measure([sys.executable, __file__, "--write", str(path), str(rows)])
    config = config_file(args.workdir, csv)
    print("CSV load ...", flush=True)
    load = loads(config, csv, args.repeats)
    print("the book's pipelines without a model ...", flush=True)
    _, _, out = measure(
        [sys.executable, str(ROOT / "bench" / "book_jena.py"), str(csv), "--pipeline"]
    )
    pipelines = json.loads(out.strip().splitlines()[-1])
    _, _, out = measure([sys.executable, "-c", PIPELINE_DLRUN, str(config), str(csv)])
    pipelines["dlrun_batches_per_s"] = json.loads(out.strip().splitlines()[-1])["batches_per_s"]
    print(f"{args.fits} x one epoch each: dlrun, the book's two recipes; a 1 % slice", flush=True)
    rounds = [
        (run_dlrun(config, csv), run_book(csv), run_book(csv, "--generator"))
        for _ in range(args.fits)
    ]

    def best(side: int) -> dict[str, float]:
        return max((r[side] for r in rounds), key=lambda found: found["windows_per_s"])

    dlrun = best(0)
    books = {"dataset": best(1), "generator": best(2)}
    # the faster of the book's two recipes is the one to compare with
    faster = max(books, key=lambda name: books[name]["windows_per_s"])
    book = books[faster]
    dlrun_small = run_dlrun(config, small)
    book_small = run_book(small, *(["--generator"] if faster == "generator" else []))
    series_mb = args.rows * len(COLUMNS) * 4 / 2**20

    print(f"\nJena-shaped series, {args.rows} rows x 14, GRU(32), 1 epoch, batch 256")
    print(
        f"book: the {faster} recipe ({books['dataset']['windows_per_s']:.0f} windows/s with "
        f"timeseries_dataset_from_array, {books['generator']['windows_per_s']:.0f} with the "
        "1st edition's generator)"
    )
    print(f"{'':26}{'book':>10}{'dlrun':>10}{'ratio':>8}  target")
    for key, target in (
        ("windows_per_s", ">= 1.0"),
        ("fit_seconds", ""),
        ("process_seconds", ""),
        ("peak_rss_mb", ""),
        ("val_mae", ""),
    ):
        ratio = dlrun[key] / book[key]
        print(f"{key:26}{book[key]:10.3f}{dlrun[key]:10.3f}{ratio:8.2f}  {target}")
    excess = {
        "book": book["peak_rss_mb"] - book_small["peak_rss_mb"],
        "dlrun": dlrun["peak_rss_mb"] - dlrun_small["peak_rss_mb"],
    }
    print(
        f"{'RSS above the 1 % run':26}{excess['book']:10.1f}{excess['dlrun']:10.1f}"
        f"{'':8}  dlrun <= {2 * series_mb:.1f} MB (2x the series' {series_mb:.1f} MB float32)"
    )
    print(
        f"{'  of which the data':26}{'':10}{load['dlrun']['resident_mb']:10.1f}"
        f"{'':8}  what the loaded series keeps resident (the rest: tf.data, the fit)"
    )
    print(
        f"\nCSV load (best of {args.repeats}){'':4}{'seconds':>10}{'peak MB':>10}{'vs dlrun':>10}"
    )
    for name, values in load.items():
        ratio = values["seconds"] / load["dlrun"]["seconds"]
        print(f"{name:26}{values['seconds']:10.3f}{values['peak_rss_mb']:10.1f}{ratio:10.2f}")
    print(
        f"training batches/s without a model: dlrun {pipelines['dlrun_batches_per_s']:.1f}, "
        f"timeseries_dataset_from_array {pipelines['dataset_batches_per_s']:.1f}, 1st edition "
        f"generator {pipelines['generator_batches_per_s']:.1f}; the book parses the CSV in "
        f"{pipelines['load_seconds']:.1f} s"
    )
    print(
        json.dumps(
            {
                "book": books,
                "dlrun": dlrun,
                "book_small": book_small,
                "dlrun_small": dlrun_small,
                "load": load,
                "pipelines": pipelines,
            }
        )
    )


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
