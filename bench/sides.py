"""Running one benchmark's two sides, plain Keras and dlrun, as separate processes.

Each side gets the machine to itself in turn: whole-process wall time and peak RSS come
from the kernel's rusage of the child; fit throughput from the side's own report (the
Keras script prints one JSON line, dlrun writes summary.json), over the training samples
that report counts, so a side that trains on other data than the other shows it in the
train_samples row.

Example:

```python
keras_side = keras_script(["bench/book_text_imdb.py", folders, "tf_idf"])
dlrun_side = dlrun_train("bench/configs/text_bigrams.yaml", [f"data.path={folders}"])
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


def keras_script(arguments: list[str]) -> dict[str, float | str]:
    """Run a plain-Keras script that prints {"fit_seconds", "samples", "epochs",
    "test_accuracy"} and optionally "fit_includes" (what its timed fit covers beyond
    training) as its last line. `samples` is what the script counted in the data it fitted
    on, never a figure typed in."""
    wall, rss, stdout = measure([sys.executable, *map(str, arguments)])
    result = json.loads(stdout.strip().splitlines()[-1])
    side: dict[str, float | str] = {
        "train_samples": result["samples"],
        "samples_per_s": result["samples"] * result["epochs"] / result["fit_seconds"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
        "test_accuracy": result["test_accuracy"],
    }
    if "fit_includes" in result:
        side["fit_includes"] = result["fit_includes"]
    return side


def dlrun_run(config: Path | str, overrides: list[str]) -> tuple[dict, float, float]:
    """`dlrun train CONFIG OVERRIDES` with an empty data cache (a cold load, as the Keras
    side has): (its summary.json, wall seconds, peak RSS GB)."""
    with tempfile.TemporaryDirectory() as runs, tempfile.TemporaryDirectory() as cache:
        command = [sys.executable, "-m", "dlrun", "train", str(config), *overrides]
        command += ["--runs-dir", runs, "-q"]
        wall, rss, _ = measure(command, env={**os.environ, "DLRUN_CACHE_DIR": cache})
        (run,) = list(Path(runs).iterdir())
        return json.loads((run / "summary.json").read_text()), wall, rss


def dlrun_train(config: Path | str, overrides: list[str]) -> dict[str, float]:
    """A single-stage `dlrun train` (see `dlrun_run`); its training samples per epoch are
    the ones the run reports in summary.json."""
    summary, wall, rss = dlrun_run(config, overrides)
    stage = summary["stages"]["train"]
    samples = summary["workflow"]["protocol"]["train"]
    return {
        "train_samples": samples,
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


def print_sides(
    title: str, keras_side: dict[str, float | str], dlrun_side: dict[str, float | str]
) -> None:
    """The sides' figures in a table with the dlrun / Keras ratios; text entries (such
    as fit_includes) follow it, one line per side."""
    print(title)
    print(f"{'':18}{'keras':>10}{'dlrun':>10}{'ratio':>8}")
    for key, value in keras_side.items():
        theirs = dlrun_side.get(key)
        if isinstance(value, (int, float)) and isinstance(theirs, (int, float)):
            print(f"{key:18}{value:10.3f}{theirs:10.3f}{theirs / value:8.2f}")
    for name, side in (("keras", keras_side), ("dlrun", dlrun_side)):
        for key, value in side.items():
            if isinstance(value, str):
                print(f"{name} {key}: {value}")
