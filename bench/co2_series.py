"""CO2 at Mauna Loa: `dlrun train configs/co2.yaml` against the same run in plain Keras.

Both sides: weekly CO2, 4 weeks ahead from 52 weeks, `predict: change`, GRU(32) (dlrun's
`rnn` kind), early stopping on val_mae. Printed side by side, in ppm: each side's test
MAE, and persistence and seasonal naive on the same test windows (and dlrun's baselines
on the validation weeks, as its workflow reports them). The target: the GRU beats both.

Usage: python bench/co2_series.py [--datasets ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

from imdb_dense import measure

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "co2.yaml"


def run_dlrun(csv: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as runs:
        command = [sys.executable, "-m", "dlrun", "train", str(CONFIG), f"data.path={csv}"]
        wall, _, _ = measure([*command, "--runs-dir", runs, "-q"])
        (run,) = list(Path(runs).iterdir())
        summary = json.loads((run / "summary.json").read_text())
    return {"summary": summary, "process_seconds": wall}


def test_baselines(csv: Path) -> dict[str, float]:
    """Persistence and seasonal naive on dlrun's own test windows, in ppm."""
    from dlrun.data.sources import load_raw
    from dlrun.spec import load_config
    from dlrun.workflow.baselines import persistence, seasonal_naive

    data = load_config(CONFIG, [f"data.path={csv}"]).config.data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the run reported the missing weeks already
        test = load_raw(data).test.x
    return {
        "persistence": persistence(test, 1.0)["mae"],
        "seasonal_naive": seasonal_naive(test, data.season, 1.0)["mae"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    args = parser.parse_args()
    csv = args.datasets / "co2" / "co2_weekly_mlo.csv"
    if not csv.is_file():
        print(f"skipped: {csv} not found")
        return
    _, _, out = measure([sys.executable, str(ROOT / "bench" / "book_co2.py"), str(csv)])
    book = json.loads(out.strip().splitlines()[-1])
    found = run_dlrun(csv)
    baselines = test_baselines(csv)
    summary = found["summary"]
    stage = summary["stages"]["small"]
    values = summary["baseline"]["values"]
    dlrun = {
        "test_mae": summary["final"]["test"]["mae"],
        **baselines,
        "epochs": stage["epochs_run"],
        "fit_seconds": stage["seconds"],
        "test_windows": summary["final"]["test"]["samples"],
    }
    print("CO2 weekly, 4 weeks ahead from 52, predict: change, GRU(32) (dlrun: kind rnn)")
    print(f"{'test windows, ppm':26}{'plain':>10}{'dlrun':>10}")
    for key in ("test_mae", "persistence", "seasonal_naive", "epochs", "fit_seconds"):
        print(f"{key:26}{book[key]:10.3f}{dlrun[key]:10.3f}")
    print(
        f"dlrun on the validation weeks: val mae {stage['score']:.3f}, persistence "
        f"{values['persistence']['mae']:.3f} ({values['persistence']['mae_normalized']:.4f} "
        f"normalized), seasonal naive {values['seasonal_naive']['mae']:.3f}; "
        f"verdict: {stage['verdict']}"
    )
    beats = dlrun["test_mae"] < min(dlrun["persistence"], dlrun["seasonal_naive"])
    print(f"target: the GRU beats both baselines on test: {'yes' if beats else 'NO'}")
    print(json.dumps({"book": book, "dlrun": dlrun}))


if __name__ == "__main__":
    main()
