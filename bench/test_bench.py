"""bench/'s own checks: what the benchmarks report rests on the run, and `make bench` fails
when its acceptance tests did not run. Fast, on tiny data the tests write.

Run: .venv/bin/python -m pytest -q bench/test_bench.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import acceptance_tests  # noqa: E402
from sides import dlrun_train  # noqa: E402


def _tests(folder: Path, source: str) -> Path:
    """A folder with its own pytest.ini (so it is pytest's root) and one test file."""
    folder.mkdir()
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "test_acceptance.py").write_text(source)
    return folder


def test_acceptance_fails_when_no_test_is_collected(tmp_path, capfd) -> None:
    folder = _tests(tmp_path / "none", "")
    assert acceptance_tests(["-q"], cwd=folder) is False
    assert "FAILED: no acceptance test ran" in capfd.readouterr().out


def test_acceptance_fails_when_every_test_skips_for_want_of_data(tmp_path, capfd) -> None:
    source = (
        "import pytest\n"
        "def test_imdb():\n"
        "    pytest.skip('shared/datasets/imdb/imdb.npz is not present')\n"
    )
    folder = _tests(tmp_path / "skipped", source)
    assert acceptance_tests(["-q"], cwd=folder) is False
    out = capfd.readouterr().out
    assert "FAILED: 1 of 1 acceptance tests skipped" in out
    assert "test_imdb: shared/datasets/imdb/imdb.npz is not present" in out


def test_acceptance_fails_when_some_tests_skip(tmp_path, capfd) -> None:
    source = (
        "import pytest\n"
        "def test_ran():\n"
        "    assert True\n"
        "def test_reuters():\n"
        "    pytest.skip('reuters.npz is not present')\n"
    )
    folder = _tests(tmp_path / "partial", source)
    assert acceptance_tests(["-q"], cwd=folder) is False
    assert "FAILED: 1 of 2 acceptance tests skipped" in capfd.readouterr().out


def test_acceptance_passes_when_every_test_ran_and_passed(tmp_path, capfd) -> None:
    folder = _tests(tmp_path / "ran", "def test_ran():\n    assert 1 + 1 == 2\n")
    assert acceptance_tests(["-q"], cwd=folder) is True
    assert "FAILED" not in capfd.readouterr().out


def test_acceptance_fails_when_a_test_fails(tmp_path, capfd) -> None:
    folder = _tests(tmp_path / "failing", "def test_wrong():\n    assert 1 + 1 == 3\n")
    assert acceptance_tests(["-q"], cwd=folder) is False
    assert "FAILED: the acceptance tests failed (pytest exit code 1)" in capfd.readouterr().out


def test_dlrun_side_counts_the_samples_its_run_trained_on(tmp_path) -> None:
    # 300 digits, 20 % held out: the run trains on 240, a figure nobody typed in
    config = {
        "name": "tiny",
        "seed": 7,
        "task": "multiclass",
        "data": {"source": "sklearn.digits", "limit": 300, "validation": {"fraction": 0.2}},
        "model": {"kind": "mlp", "units": [8]},
        "train": {"batch_size": 64, "epochs": 2},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    side = dlrun_train(path, [])
    assert side["train_samples"] == 240
    assert side["samples_per_s"] > 0 and 0 <= side["test_accuracy"] <= 1


@pytest.fixture
def aclimdb(tmp_path: Path) -> Path:
    """A tiny aclImdb layout, 40 reviews a class in train/ and 10 in test/, of random words
    enough for the book's full 20,000-token vocabulary (its model's input width)."""
    rng = np.random.RandomState(0)
    root = tmp_path / "aclImdb"
    for split, count in (("train", 40), ("test", 10)):
        for label in ("neg", "pos"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(count):
                words = [f"w{n}" for n in rng.randint(0, 50_000, size=300)]
                (folder / f"{i}_7.txt").write_text(" ".join([label, *words]))
    return root


def test_book_text_script_counts_its_samples_and_says_what_its_fit_timed(aclimdb) -> None:
    done = subprocess.run(
        [sys.executable, str(HERE / "book_text_imdb.py"), str(aclimdb)],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # text_dataset_from_directory trains on 80 % of the 80 files: 64, not the 20,000
    # of the full dataset
    assert result["samples"] == 64
    assert result["epochs"] == 10
    assert "vectorizing the training and validation texts once" in result["fit_includes"]
    assert ".cache()" in result["fit_includes"]
