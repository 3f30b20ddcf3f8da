"""`make bench`: every benchmark in bench/, then the slow acceptance tests on the real data.

The acceptance tests (`pytest -m slow`: the book's results through whole workflows on
../shared/datasets) take minutes, so the default `make test` leaves them out and this
runs them. They skip when their data is missing, so a pass here means every one of them
ran: none collected, or any skipped, fails `make bench` with a line that says so.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATASETS = ROOT.parent / "shared" / "datasets"
BENCHMARKS = [
    "imdb_dense.py",
    "own_time.py",
    "data_cache.py",
    "held_arrays.py",
    "text_imdb.py",
    "sequence_imdb.py",
    "co2_series.py",
    "jena_series.py",
    "xla_flags.py",
    "runs_listing.py",
    "sweep_imdb.py",
    "mnist_png.py",
    "mnist_transfer.py",
    "backends.py",
    "generative.py",
]


def acceptance_tests(arguments: Sequence[str], cwd: Path = ROOT) -> bool:
    """Run `pytest ARGUMENTS` in `cwd`: True when at least one test ran, none was skipped
    and pytest passed; otherwise print a line that starts with FAILED and says why."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", *arguments, f"--junitxml={report}"]
        code = subprocess.run(command, cwd=cwd).returncode
        cases = list(ElementTree.parse(report).iter("testcase")) if report.is_file() else []
    skipped = [
        f"{case.get('name')}: {skip.get('message', '')}"
        for case in cases
        for skip in case.iter("skipped")
    ]
    problems = []
    if code == 5 or (code == 0 and not cases):
        problems.append(f"no acceptance test ran: `pytest {' '.join(arguments)}` collected none")
    if skipped:
        problems.append(
            f"{len(skipped)} of {len(cases)} acceptance tests skipped, so they did not run "
            f"(the real data belongs in {DATASETS}):\n" + "\n".join(f"  {s}" for s in skipped)
        )
    if code not in (0, 5):
        problems.append(f"the acceptance tests failed (pytest exit code {code})")
    for problem in problems:
        print(f"FAILED: {problem}")
    return not problems


def main() -> int:
    if not DATASETS.is_dir():
        print(f"FAILED: `make bench` measures on the real data, and {DATASETS} is missing")
        return 1
    failed = 0
    for name in BENCHMARKS:
        script = HERE / name
        if not script.is_file():
            continue
        print(f"== {name}", flush=True)
        failed += subprocess.run([sys.executable, str(script)]).returncode != 0
    print("== acceptance tests on the real data (pytest -m slow)", flush=True)
    failed += not acceptance_tests(["-q", "-m", "slow", "--durations=0"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
