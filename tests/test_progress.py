"""Progress of long steps (`Output.progress`, `dlrun.console.progress`): a line every
`PROGRESS_SECONDS` in a log and one at the end, nothing for a short step or with --quiet,
a transient Rich bar on a terminal; and the steps that report it, through `dlrun train`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
import yaml
from rich.console import Console

from dlrun import console
from dlrun.console import QUIET, Output, Step, progress, progress_seconds
from dlrun.training.callbacks.printer import FoldProgress
from tests.test_text import text_config, write_folders

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    """A clock the test moves: `console._now` without sleeping."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    monkeypatch.delenv("DLRUN_PROGRESS_SECONDS", raising=False)
    moved = Clock()
    monkeypatch.setattr(console, "_now", moved)
    return moved


def log_output(verbosity: int = 0) -> tuple[Output, io.StringIO, io.StringIO]:
    """An Output writing to two StringIOs, which are no terminal: a log."""
    stdout, stderr = io.StringIO(), io.StringIO()
    return Output(verbosity, stdout=stdout, stderr=stderr), stdout, stderr


def terminal_output(monkeypatch: pytest.MonkeyPatch) -> tuple[Output, io.StringIO]:
    """An Output whose stderr is a terminal that can draw a bar (TERM=dumb cannot)."""
    monkeypatch.setenv("TERM", "xterm-256color")
    stderr = io.StringIO()
    out = Output(stdout=io.StringIO(), stderr=stderr)
    out.err = Console(force_terminal=True, file=stderr, width=120)
    return out, stderr


def run_updates(out: Output, clock: Clock, seconds: float, updates: int, total: int | None) -> None:
    """A step of `updates` equal updates spread over `seconds`."""
    with out.progress("adapting the vectorizer", total=total, unit="texts") as step:
        for _ in range(updates):
            clock.now += seconds / updates
            step(10)


def test_a_long_step_writes_a_line_every_interval_and_one_at_the_end(clock) -> None:
    out, stdout, stderr = log_output()
    run_updates(out, clock, seconds=15, updates=10, total=100)
    assert stderr.getvalue().splitlines() == [
        "adapting the vectorizer: 40/100 texts (40%), 6.0s, about 9.0s left",
        "adapting the vectorizer: 80/100 texts (80%), 12.0s, about 3.0s left",
        "adapting the vectorizer: 100 texts in 15.0s",
    ]
    assert stdout.getvalue() == ""  # stdout may be the command's result (predict's CSV)


def test_without_a_total_the_lines_count_alone(clock) -> None:
    out, _, stderr = log_output()
    run_updates(out, clock, seconds=70, updates=2, total=None)
    assert stderr.getvalue().splitlines() == [
        "adapting the vectorizer: 10 texts, 35.0s",
        "adapting the vectorizer: 20 texts, 1m10s",
        "adapting the vectorizer: 20 texts in 1m10s",
    ]


def test_a_step_shorter_than_the_interval_writes_nothing(clock) -> None:
    out, stdout, stderr = log_output()
    run_updates(out, clock, seconds=4.9, updates=7, total=70)
    assert (stdout.getvalue(), stderr.getvalue()) == ("", "")


def test_quiet_writes_nothing(clock) -> None:
    out, stdout, stderr = log_output(QUIET)
    run_updates(out, clock, seconds=60, updates=10, total=100)
    assert (stdout.getvalue(), stderr.getvalue()) == ("", "")


def test_the_interval_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("DLRUN_PROGRESS_SECONDS", "0.5")
    assert progress_seconds() == 0.5
    monkeypatch.setenv("DLRUN_PROGRESS_SECONDS", "soon")
    assert progress_seconds() == console.PROGRESS_SECONDS
    monkeypatch.delenv("DLRUN_PROGRESS_SECONDS")
    assert progress_seconds() == console.PROGRESS_SECONDS


def test_a_terminal_gets_a_transient_bar_shared_by_nested_steps(monkeypatch) -> None:
    out, stderr = terminal_output(monkeypatch)
    with out.progress("reading text files", total=100, unit="files") as outer:
        outer(40)
        with out.progress("vectorizing", total=8, unit="texts") as inner:
            inner(3)
            assert inner.bar is outer.bar  # Rich shows one live display at a time
            outer.bar.refresh()
        assert out._bar is outer.bar
    shown = stderr.getvalue()
    for part in ("reading text files", "40/100", "files", "vectorizing", "3/8", "━"):
        assert part in shown, shown
    assert "\x1b[" in shown  # drawn with cursor movements, then erased: transient
    assert out._bar is None


def test_the_layers_without_an_output_report_to_the_bound_one(clock) -> None:
    out, _, stderr = log_output()
    assert type(progress("scanning image files", 10, "files")) is Step  # none bound: silent
    with out.reporting(), progress("scanning image files", total=10, unit="files") as step:
        clock.now += 6
        step(10)
    with progress("scanning image files", total=10, unit="files") as step:
        clock.now += 6
        step(10)
    assert stderr.getvalue().splitlines() == [
        "scanning image files: 10/10 files (100%), 6.0s",
        "scanning image files: 10 files in 6.0s",
    ]


def test_fold_progress_counts_epochs_and_says_which_fold(monkeypatch) -> None:
    from dlrun.tfenv import import_keras

    keras = import_keras()
    monkeypatch.setenv("DLRUN_PROGRESS_SECONDS", "0")  # a line at every epoch
    model = keras.Sequential([keras.layers.Input((2,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    x = np.zeros((8, 2), dtype=np.float32)
    printed = {}
    for folds in (4, 1):
        out, stdout, stderr = log_output()
        with closing(FoldProgress(out, fold=min(2, folds), folds=folds)) as fold:
            model.fit(x, x[:, :1], epochs=3, verbose=0, callbacks=[fold])
        printed[folds] = stderr.getvalue().splitlines()
        assert stdout.getvalue() == ""
    assert [line.split(",")[0] for line in printed[4][:-1]] == [
        "fold 2/4: 1/3 epochs (33%)",
        "fold 2/4: 2/3 epochs (67%)",
        "fold 2/4: 3/3 epochs (100%)",
    ]
    assert printed[4][-1].startswith("fold 2/4: 3 epochs in "), printed[4]
    assert printed[1] == []  # holdout: the EpochPrinter prints each epoch


def test_fold_progress_ends_its_bar_when_the_fit_raises(monkeypatch) -> None:
    """Keras calls no on_train_end after an error; the with-block ends the step."""
    out, _ = terminal_output(monkeypatch)
    with pytest.raises(KeyboardInterrupt), closing(FoldProgress(out, fold=1, folds=3)) as fold:
        fold.set_params({"epochs": 5})
        fold.on_train_begin()
        fold.on_epoch_end(0)
        assert out._bar is not None
        raise KeyboardInterrupt
    assert out._bar is None


def test_predictions_count_their_batches(monkeypatch) -> None:
    import tensorflow as tf

    from dlrun.evaluation import predict_batches
    from dlrun.tfenv import import_keras

    keras = import_keras()
    monkeypatch.setenv("DLRUN_PROGRESS_SECONDS", "0")
    model = keras.Sequential([keras.layers.Input((3,)), keras.layers.Dense(2)])
    x = np.ones((10, 3), dtype=np.float32)
    out, _, stderr = log_output()
    with out.reporting():
        got = predict_batches(model, tf.data.Dataset.from_tensor_slices(x).batch(3), "evaluating")
    assert got.shape == (10, 2)
    lines = stderr.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines[:-1]] == [
        f"evaluating: {i}/4 batches" for i in (1, 2, 3, 4)
    ]
    assert lines[-1].startswith("evaluating: 4 batches in "), lines


def test_train_logs_the_progress_of_each_long_step(tmp_path) -> None:
    """`dlrun train` on text folders with K-fold, its stderr a log: with a zero interval
    every step's progress is written, from reading the files to evaluating the test split."""
    config = text_config(write_folders(tmp_path / "reviews"), max_tokens=200)
    config["data"]["validation"] = {"kfold": 2}
    config["train"].update(epochs=2, tensorboard=False)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [sys.executable, "-m", "dlrun", "train", str(path), "--runs-dir", str(tmp_path / "runs")],
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1", "DLRUN_PROGRESS_SECONDS": "0"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    for prefix in (
        "reading text files: 120/120 files",  # 40 + 40 in train, 20 + 20 in test
        "adapting the vectorizer: ",
        "vectorizing: ",
        "fold 1/2: 1/2 epochs",
        "fold 2/2: 2 epochs in ",
        "evaluating: ",
    ):
        assert any(line.startswith(prefix) for line in lines), (prefix, done.stderr)
    assert "adapting" not in done.stdout  # progress stays off the results' stream
