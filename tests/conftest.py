"""Shared fixtures: a runs directory per test, the CLI in-process, the shared datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dlrun.tfenv import QUIET_TF_LOG_LEVEL

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
# Progress lines in a log come every 5 s of a long step; on a loaded machine a step of a
# tiny test can take that long, and tests that read stderr would see a line only sometimes.
# tests/test_progress.py sets its own interval.
os.environ.setdefault("DLRUN_PROGRESS_SECONDS", "3600")


@pytest.fixture(autouse=True, scope="session")
def data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data cache of every test (and the processes they start) is the session's own."""
    path = tmp_path_factory.mktemp("data-cache")
    os.environ["DLRUN_CACHE_DIR"] = str(path)
    return path


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "runs"
    monkeypatch.setenv("DLRUN_RUNS_DIR", str(path))
    return path


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run `dlrun ARGS...` in this process; returns (exit code, stdout, stderr)."""
    from dlrun.cli import run

    def invoke(*args: str) -> tuple[int, str, str]:
        code = run([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return invoke


def shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.is_file():
        pytest.skip(f"{path} is not present (../shared/datasets is optional)")
    return path


# A config that trains in about a second: 300 digits, one hidden layer of 8 units.
TINY_CONFIG: dict = {
    "name": "tiny",
    "seed": 7,
    "task": "multiclass",
    "data": {"source": "sklearn.digits", "limit": 300, "validation": {"fraction": 0.2}},
    "model": {"kind": "mlp", "units": [8]},
    "train": {"batch_size": 64, "epochs": 2},
}


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a config mapping (or YAML text) into tmp_path; returns the file's path."""
    import yaml

    def write(data: dict | str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def tiny_config(write_config) -> Path:
    """Path of a copy of TINY_CONFIG (digits, 2 epochs); change it with overrides."""
    import copy

    return write_config(copy.deepcopy(TINY_CONFIG), "tiny.yaml")


def check_error(cli, *args: object) -> str:
    """Run `dlrun check ARGS`, assert the config-error contract, return stderr."""
    code, out, err = cli("check", *args)
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("error: ")
    assert "Traceback" not in err
    return err


def train_data(cli, write_config, data: dict, task: str, *args: str) -> tuple[int, str, str]:
    """`dlrun train -q` of a one-epoch mlp on `data` for `task`: (exit code, stdout, stderr)."""
    config = write_config(
        {
            "name": "faults",
            "task": task,
            "data": data,
            "model": {"units": [4]},
            "train": {"epochs": 1, "batch_size": 32, "tensorboard": False},
        }
    )
    return cli("train", config, "-q", *args)


def one_paragraph(err: str) -> str:
    """The one error a command printed, its lines joined (no traceback, no second error)."""
    assert "Traceback" not in err
    assert err.count("error:") == 1, err
    return " ".join(err.split())


def write_reviews_npz(base: Path) -> Path:
    """A tiny file in Keras's imdb.npz format (lists of word ids; positive reviews use ids
    50 and up): 200 training and 60 test reviews."""
    import numpy as np

    rng = np.random.RandomState(2)

    def reviews(n: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.empty(n, dtype=object)
        labels = rng.randint(0, 2, n)
        for i, label in enumerate(labels):
            words = rng.randint(1, 50, size=rng.randint(3, 15)) + (50 if label else 0)
            rows[i] = [int(w) for w in words]
        return rows, labels.astype(np.int64)

    (x_train, y_train), (x_test, y_test) = reviews(200), reviews(60)
    path = base / "imdb.npz"
    np.savez(
        path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, allow_pickle=True
    )
    return path
