"""dlrun sweep against Keras Tuner on IMDB: wall time and best validation accuracy of each.

The same search on the same data and budget (issue 4's benchmark): IMDB from
../shared/datasets, the 10,000 most frequent words as multi-hot vectors, 10,000 training
reviews held out for validation; units in {16, 32, 64} x depth in {2, 3}, dropout in
[0, 0.6], learning rate log-uniform in [1e-4, 1e-2], rmsprop, batch 512; 12 trials x 6
epochs, scored by the best epoch's val_accuracy.

- dlrun: `dlrun sweep` with TPE and median pruning, `--jobs 2` (two single-threaded workers).
- Keras Tuner: `RandomSearch` in bench/kt_imdb.py (TensorFlow's default threads), fed the
  book's dense numpy matrices (as its users write it), and again fed dlrun's own tf.data
  pipeline (sparse multi-hot batches), so that only the search differs.

Every side runs as its own process and is timed whole (start-up, TensorFlow import,
data loading, search), one after the other.

Target: dlrun reaches at least Keras Tuner's best score in <= 0.5x its wall time.

Usage:

    python bench/sweep_imdb.py                         # the full benchmark (both engines)
    python bench/sweep_imdb.py --trials 2 --epochs 1   # a quick check that it runs
    python bench/sweep_imdb.py --only dlrun --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
IMDB = ROOT.parent / "shared" / "datasets" / "imdb" / "imdb.npz"
UNITS = (16, 32, 64)
DEPTHS = (2, 3)


def base_config(epochs: int) -> dict:
    return {
        "name": "imdb-bench",
        "seed": 1337,
        "task": "binary",
        "data": {
            "source": "keras.imdb",
            "path": str(IMDB),
            "num_words": 10000,
            "vectorize": "multi_hot",
            "validation": {"holdout": 10000},
        },
        "model": {"kind": "mlp", "units": [16, 16], "activation": "relu"},
        "train": {
            "optimizer": {"name": "rmsprop", "learning_rate": 0.001},
            "batch_size": 512,
            "epochs": epochs,
            "tensorboard": False,
            "checkpoint": False,
        },
    }


def run_dlrun(work: Path, trials: int, epochs: int, jobs: int) -> dict:
    config = base_config(epochs)
    config["sweep"] = {
        "metric": "val_accuracy",
        "sampler": "tpe",
        "pruner": "median",
        "trials": trials,
        "space": {
            # units x depth as one choice: the same 6 networks Keras Tuner picks from
            "model.units": {"choice": [[u] * d for d in DEPTHS for u in UNITS]},
            "model.dropout": {"float": [0.0, 0.6]},
            "train.optimizer.learning_rate": {"float": [1e-4, 1e-2], "log": True},
        },
    }
    path = work / "imdb_sweep.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    runs = work / "runs"
    command = [sys.executable, "-m", "dlrun", "sweep", str(path), "--jobs", str(jobs)]
    command += ["--runs-dir", str(runs), "-q"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"dlrun sweep failed ({done.returncode}):\n{done.stderr}")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    url = f"sqlite:///{runs / 'sweeps' / 'imdb-bench' / 'study.db'}"
    study = optuna.load_study(study_name="imdb-bench", storage=url)
    states = [t.state.name.lower() for t in study.get_trials()]
    return {
        "engine": f"dlrun sweep (TPE + median pruning, --jobs {jobs})",
        "seconds": round(seconds, 1),
        "best_val_accuracy": round(study.best_value, 4),
        "trials": {s: states.count(s) for s in sorted(set(states))},
        "table": done.stdout,
    }


def run_keras_tuner(work: Path, trials: int, epochs: int, mode: str) -> dict:
    """bench/kt_imdb.py in its own process, timed whole like dlrun's side."""
    command = [sys.executable, str(ROOT / "bench" / "kt_imdb.py"), str(IMDB.parents[1]), mode]
    command += [str(trials), str(epochs), str(work / f"keras_tuner_{mode}")]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"Keras Tuner ({mode}) failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    feed = "the book's dense numpy arrays" if mode == "numpy" else "dlrun's tf.data pipeline"
    return {
        "engine": f"Keras Tuner RandomSearch ({feed})",
        "seconds": round(seconds, 1),
        "search_seconds": round(result["search"], 1),
        "best_val_accuracy": round(result["best"], 4),
        "trials": {"complete": result["trials"]},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", choices=("dlrun", "keras-tuner"))
    parser.add_argument(
        "--feed",
        choices=("numpy", "pipeline", "both"),
        default="both",
        help="How Keras Tuner gets the data (default: both, one search each).",
    )
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()
    if not IMDB.is_file():
        print(f"skipped: {IMDB} is not present (../shared/datasets)")
        return 0
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    results = []
    with tempfile.TemporaryDirectory(prefix="dlrun-bench-sweep-") as tmp:
        work = Path(tmp)
        print(f"IMDB sweep: {args.trials} trials x {args.epochs} epochs", flush=True)
        if args.only != "keras-tuner":
            results.append(run_dlrun(work, args.trials, args.epochs, args.jobs))
            print(results[-1].pop("table"), flush=True)
        if args.only != "dlrun":
            for feed in ("numpy", "pipeline") if args.feed == "both" else (args.feed,):
                results.append(run_keras_tuner(work, args.trials, args.epochs, feed))
    for r in results:
        print(
            f"{r['engine']:<58} {r['seconds']:>7.1f} s   best val_accuracy "
            f"{r['best_val_accuracy']:.4f}   trials {r['trials']}"
        )
    summary: dict = {"trials": args.trials, "epochs": args.epochs, "results": results}
    ours = results[0] if args.only != "keras-tuner" else None
    for theirs in results[1:] if ours else []:
        ratio = ours["seconds"] / theirs["seconds"]
        met = ratio <= 0.5 and ours["best_val_accuracy"] >= theirs["best_val_accuracy"]
        theirs.update(time_ratio=round(ratio, 3), target_met=met)
        print(
            f"dlrun / {theirs['engine']}: wall-time ratio {ratio:.2f} (target <= 0.5), best "
            f"score {'>=' if ours['best_val_accuracy'] >= theirs['best_val_accuracy'] else '<'} "
            f"theirs: target {'met' if met else 'NOT met'}"
        )
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
