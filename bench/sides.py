"""Running one benchmark's two sides, plain Keras and dlrun, as separate processes.

Each side gets the machine to itself in turn: whole-process wall time and peak RSS come
from the kernel's rusage of the child; fit throughput from the side's own report (the
Keras script prints one JSON line, dlrun writes summary.json).

Example:

```python
keras_side = keras_script(["bench/book_text_imdb.py", folders, "tf_idf"])
dlrun_side = dlrun_train("bench/configs/text_bigrams.yaml", [f"data.path={folders}"], 20000)
print_sides("aclImdb bigrams", keras_side, dlrun_side)
```
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from imdb_dense import measure


def keras_script(arguments: list[str]) -> dict[str, float]:
    """Run a plain-Keras script that prints {"fit_seconds", "samples", "epochs",
    "test_accuracy"} as its last line."""
    wall, rss, stdout = measure([sys.executable, *map(str, arguments)])
    result = json.loads(stdout.strip().splitlines()[-1])
    return {
        "samples_per_s": result["samples"] * result["epochs"] / result["fit_seconds"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
        "test_accuracy": result["test_accuracy"],
    }


def dlrun_run(config: Path | str, overrides: list[str]) -> tuple[dict, float, float]:
    """`dlrun train CONFIG OVERRIDES` with an empty data cache (a cold load, as the Keras
    side has): (its summary.json, wall seconds, peak RSS GB)."""
    with tempfile.TemporaryDirectory() as runs, tempfile.TemporaryDirectory() as cache:
        command = [sys.executable, "-m", "dlrun", "train", str(config), *overrides]
        command += ["--runs-dir", runs, "-q"]
        wall, rss, _ = measure(command, env={**os.environ, "DLRUN_CACHE_DIR": cache})
        (run,) = list(Path(runs).iterdir())
        return json.loads((run / "summary.json").read_text()), wall, rss


def dlrun_train(config: Path | str, overrides: list[str], samples: int) -> dict[str, float]:
    """A single-stage `dlrun train` (see `dlrun_run`); `samples` is the training samples
    per epoch."""
    summary, wall, rss = dlrun_run(config, overrides)
    stage = summary["stages"]["train"]
    return {
        "samples_per_s": samples * stage["epochs_run"] / stage["seconds"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
        "test_accuracy": summary["final"]["test"]["accuracy"],
    }


def dlrun_workflow(config: Path | str, overrides: list[str]) -> dict[str, float]:
    """`dlrun train` of a config with a workflow (see `dlrun_run`): the final model's test
    accuracy, and the small stage's best epoch, epochs run and validation accuracy."""
    summary, wall, rss = dlrun_run(config, overrides)
    small = summary["stages"]["small"]
    return {
        "test_accuracy": summary["final"]["test"]["accuracy"],
        "best_epoch": small["best_epoch"],
        "epochs_run": small["epochs_run"],
        "val_accuracy": small["val"]["accuracy"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
    }


def add_workflow_flag(parser: argparse.ArgumentParser, config: str) -> None:
    """`--no-workflow`: skip the run of `config` through dlrun's workflow."""
    parser.add_argument(
        "--no-workflow",
        dest="workflow",
        action="store_false",
        help=f"skip the run through dlrun's workflow ({config})",
    )


def print_sides(title: str, keras_side: dict[str, float], dlrun_side: dict[str, float]) -> None:
    print(title)
    print(f"{'':18}{'keras':>10}{'dlrun':>10}{'ratio':>8}")
    for key, value in keras_side.items():
        print(f"{key:18}{value:10.3f}{dlrun_side[key]:10.3f}{dlrun_side[key] / value:8.2f}")
