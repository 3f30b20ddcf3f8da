"""Shared fixtures: a runs directory per test, the CLI in-process, the shared datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


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
