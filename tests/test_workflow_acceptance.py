"""Acceptance of the workflow configs on the real datasets in ../shared/datasets (slow:
minutes each on 2 cores; run with `pytest -m slow tests/test_workflow_acceptance.py`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import shared_file

pytestmark = pytest.mark.slow


def _summary(cli, runs_dir: Path, config: str, data: str, *overrides: str) -> dict:
    code, _, err = cli("train", config, f"data.path={shared_file(data)}", *overrides, "-q")
    assert code == 0, err
    (run,) = list(runs_dir.iterdir())
    return json.loads((run / "summary.json").read_text())


def test_imdb_workflow(cli, runs_dir: Path) -> None:
    summary = _summary(cli, runs_dir, "configs/imdb.yaml", "imdb/imdb.npz")
    assert summary["baseline"]["reference"]["value"] == pytest.approx(0.50, abs=0.01)
    assert summary["stages"]["overfit"]["overfitting"]["overfits"] is True
    assert summary["final"]["test"]["accuracy"] >= 0.885


def test_reuters_workflow(cli, runs_dir: Path) -> None:
    summary = _summary(cli, runs_dir, "configs/reuters.yaml", "reuters/reuters.npz")
    assert 0.17 <= summary["baseline"]["values"]["shuffled"]["accuracy"] <= 0.20
    assert summary["final"]["test"]["accuracy"] >= 0.78


def test_boston_workflow(cli, runs_dir: Path) -> None:
    summary = _summary(cli, runs_dir, "configs/boston.yaml", "boston_housing/boston_housing.npz")
    assert summary["workflow"]["protocol"]["k"] == 4
    assert summary["stages"][summary["chosen"]]["score"] <= 2.6
    assert summary["final"]["test"]["mae"] <= 2.7
    assert 5.5 < summary["baseline"]["values"]["mean"]["mae"] < 7.5


def test_mnist_convnet(cli, runs_dir: Path) -> None:
    """The book's small convnet (ch. 5): 0.99 on MNIST's test set, trained on all 60,000
    training images for 5 epochs, as the book does.

    The workflow's final retrain is that model: the small stage (50,000 / 10,000) picks
    the epoch count, then all 60,000 train. A model that only ever saw the 50,000 lands
    on either side of 0.99 by seed (0.9884 to 0.9922 for five seeds)."""
    summary = _summary(
        cli,
        runs_dir,
        "configs/mnist_convnet.yaml",
        "mnist/mnist.npz",
        "workflow.overfit=null",
        "workflow.regularize=[]",
        "train.epochs=5",
    )
    assert summary["workflow"]["protocol"]["train"] == 50000
    assert summary["final"]["test"]["accuracy"] >= 0.99
