"""`dlrun tensorboard [RUN...]`: the real TensorBoard over runs, on 127.0.0.1 only.

TensorBoard runs as a child process (`python -m tensorboard.main`) on a free
port (or `--port`); dlrun prints the URL once the server answers and stops it on
Ctrl-C. Before starting, it writes the HParams experiment definition for the runs
it serves into a temporary directory served beside them, so the HParams dashboard
lists every run, stage and trial with its hyperparameters and metrics.

Example:

```python
tensorboard(["runs/20261122-101500-imdb-a1b2c3"], runs_dir=Path("runs"), port=0, out=Output())
```
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from dlrun.console import Output, literal
from dlrun.errors import DlrunError, UsageError
from dlrun.report.hparams import write_experiment
from dlrun.runs.catalog import list_runs, resolve_run

HOST = "127.0.0.1"
STARTUP_SECONDS = 120  # TensorBoard imports TensorFlow at start; slow on a busy machine
STOP_SECONDS = 10


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def served(run_args: list[str], runs_dir: Path) -> list[tuple[str, Path]]:
    """(name, directory) pairs for TensorBoard: the given runs, or the whole runs directory."""
    if run_args:
        paths = [resolve_run(arg, runs_dir, need="any") for arg in run_args]
        entries = [(path.name, path.resolve()) for path in paths]
    elif list_runs(runs_dir):
        entries = [(Path(runs_dir).resolve().name or "runs", Path(runs_dir).resolve())]
    else:
        raise UsageError(
            f"no runs in {runs_dir}; train one first (dlrun train CONFIG) or give --runs-dir."
        )
    for _, path in entries:
        if any(c in str(path) for c in ":,"):
            raise UsageError(f"TensorBoard cannot serve a path with ':' or ',' in it: {path}")
    return entries


def tensorboard(run_args: list[str], *, runs_dir: Path, port: int, out: Output) -> int:
    """Serve until Ctrl-C; returns the port it served on."""
    experiment_dir = Path(tempfile.mkdtemp(prefix="dlrun-tensorboard-"))
    # `kill` (SIGTERM) stops TensorBoard as cleanly as Ctrl-C does: no orphaned server.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        entries = served(run_args, runs_dir)
        roots = [path for _, path in entries]
        sessions = write_experiment(
            experiment_dir, roots, description=f"dlrun runs: {', '.join(map(str, roots))}"
        )
        entries.append(("hparams-experiment", experiment_dir))
        spec = ",".join(f"{name}:{path}" for name, path in entries)
        port = port or free_port()
        log = experiment_dir / "tensorboard.log"
        command = [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir_spec",
            spec,
            "--host",
            HOST,
            "--port",
            str(port),
            "--load_fast",
            "false",  # the fast loader does not read --logdir_spec
            "--reload_interval",
            "5",
        ]
        out.detail(literal(" ".join(command)))
        with log.open("wb") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
            try:
                _serve(process, port, sessions, log, out)
            except KeyboardInterrupt:
                _stop(process)
                out.info("TensorBoard stopped.")
            finally:
                if process.poll() is None:
                    _stop(process)
        return port
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(experiment_dir, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve(
    process: subprocess.Popen[bytes], port: int, sessions: int, log: Path, out: Output
) -> None:
    url = f"http://{HOST}:{port}/"
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _answers(url + "data/runs"):
        if process.poll() is not None:
            raise DlrunError(
                f"TensorBoard exited at start (exit code {process.returncode}).",
                hint=_tail(log) or "Run with --verbose to see the command.",
            )
        if time.monotonic() > deadline:
            raise DlrunError(f"TensorBoard did not answer on {url} within {STARTUP_SECONDS}s.")
        time.sleep(0.25)
    out.result(f"TensorBoard at [bold]{url}[/]", soft_wrap=True)
    out.info(
        f"HParams dashboard: {url}#hparams ({sessions} training sessions). Press Ctrl-C to stop.",
    )
    process.wait()
    if process.returncode not in (0, -signal.SIGINT, -signal.SIGTERM):
        raise DlrunError(
            f"TensorBoard stopped with exit code {process.returncode}.", hint=_tail(log) or None
        )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (TensorBoard keeps no state to save), then SIGKILL if it does not go.

    Not SIGINT: a dlrun started in the background by a shell ignores SIGINT, and
    so would its child.
    """
    if process.poll() is not None:
        return
    for stop in (process.terminate, process.kill):
        stop()
        try:
            process.wait(timeout=STOP_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
