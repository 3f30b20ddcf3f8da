"""End to end through the CLI: train the offline demo, then evaluate it."""

from __future__ import annotations

import json
from pathlib import Path


def test_train_then_evaluate_digits(cli, runs_dir: Path) -> None:
    code, out, err = cli("train", "configs/digits.yaml", "train.epochs=3", "-q")
    assert code == 0, err
    (run,) = list(runs_dir.iterdir())
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "completed"
    trained = json.loads((run / "final" / "metrics.json").read_text())
    assert trained["accuracy"] > 0.5  # 3 epochs on digits beat a 10-class guess by far

    code, out, err = cli("evaluate", "last")  # the newest run in $DLRUN_RUNS_DIR
    assert code == 0, err
    evaluated = json.loads((run / "final" / "evaluation.json").read_text())
    assert abs(evaluated["accuracy"] - trained["accuracy"]) < 1e-6
    assert "confusion matrix" in out
