"""Bad data files get one paragraph that names the file, the column or the array, and the fix.

Each test trains (or tries to) on a tiny file written in tmp_path through the CLI, as a user
would, and checks the exit code and what the user reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def _train(cli, write_config, data: dict, task: str, *args: str) -> tuple[int, str, str]:
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


def _one_paragraph(err: str) -> str:
    assert "Traceback" not in err
    assert err.count("error:") == 1, err
    return " ".join(err.split())


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _csv(path: Path, header: str, rows: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    return path


# --- npz arrays that do not pair up ------------------------------------------------------


@pytest.mark.parametrize(
    ("split", "sizes"),
    [("train", {"x_train": 200, "y_train": 150}), ("test", {"x_test": 40, "y_test": 30})],
)
def test_npz_arrays_of_different_lengths_are_refused(
    cli, runs_dir, write_config, tmp_path, split, sizes
) -> None:
    rng = np.random.RandomState(0)
    n = {"x_train": 200, "y_train": 200, "x_test": 40, "y_test": 40, **sizes}
    path = _npz(
        tmp_path / "data.npz",
        x_train=rng.rand(n["x_train"], 3),
        y_train=rng.rand(n["y_train"]),
        x_test=rng.rand(n["x_test"], 3),
        y_test=rng.rand(n["y_test"]),
    )
    code, _, err = _train(cli, write_config, {"source": "npz", "path": str(path)}, "regression")
    assert code == 1
    x, y = sizes
    assert _one_paragraph(err) == (
        f"error: {path}: x_{split} has {sizes[x]} samples but y_{split} has {sizes[y]}; "
        f"each sample needs its label. Rebuild the file so that x_{split} and y_{split} have "
        "the same length."
    )


def test_npz_test_split_with_other_features_than_training(
    cli, runs_dir, write_config, tmp_path
) -> None:
    rng = np.random.RandomState(0)
    path = _npz(
        tmp_path / "data.npz",
        x_train=rng.rand(50, 5),
        y_train=rng.rand(50),
        x_test=rng.rand(10, 4),
        y_test=rng.rand(10),
    )
    code, _, err = _train(cli, write_config, {"source": "npz", "path": str(path)}, "regression")
    assert code == 1
    assert _one_paragraph(err) == (
        f"error: {path}: the samples of x_train have shape (5,) but those of x_test (4,); "
        "the model is trained on one and tested on the other, so both need the same features. "
        "Rebuild the file with the same features (in the same order) in both splits."
    )
