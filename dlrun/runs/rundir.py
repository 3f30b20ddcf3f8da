"""Run directories: creation, atomic writes, status, provenance. No TensorFlow.

Layout (DESIGN.md):

    runs/<YYYYmmdd-HHMMSS>-<name>-<id>/
      config.yaml  meta.json  summary.json  preprocessing.json
      stages/<stage>/  history.csv, model.keras, checkpoint.keras, tensorboard/, backup/
      final/           model.keras, metrics.json

Every file is written to a temporary name and moved into place with
`os.replace`, so a crash or Ctrl-C never leaves a half-written artifact.

Example:

```python
run = Run.create(Path("runs"), "imdb", config_yaml, argv=sys.argv, seed=1337)
run.write_json("summary.json", {"final": {"accuracy": 0.88}})
run.set_status("completed")
```
"""

from __future__ import annotations

import csv
import fcntl
import json
import math
import os
import platform
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from dlrun import __version__
from dlrun.errors import RunError

STATUSES = ("running", "completed", "failed", "interrupted")
PREDICTIONS = "final/test_predictions.csv"  # regression: true and predicted test targets
REPORT = "report.md"
# Held (flock) by the process that trains the run; hidden, so no listing shows it.
LOCK = ".lock"
# What a completed run has: report.md is written after its plots, so it stands for them;
# the final model is saved after its metrics and preprocessing.
PROMISED = ("summary.json", REPORT)
PROMISED_FINAL = ("final/metrics.json", "preprocessing.json", "final/model.keras")


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def default_runs_dir() -> Path:
    return Path(os.environ.get("DLRUN_RUNS_DIR", "runs"))


def now() -> str:
    """Local time, ISO 8601 to the microsecond: a run that lasts under a second does not last 0."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="microseconds")


# Temporary files and directories are named .<name>.dlrun-tmp-<pid>-<random>[suffix]: the
# pid tells `remove_leftovers` whether the writer was killed mid-write or is still writing.
_TEMPORARY = re.compile(r"^\..*\.dlrun-tmp-(\d+)-")


def temporary_prefix(name: str) -> str:
    """The prefix for a temporary file or directory standing in for `name` (mkstemp, mkdtemp)."""
    return f".{name}.dlrun-tmp-{os.getpid()}-"


def remove_leftovers(directory: Path) -> list[Path]:
    """Delete the temporary files (and directories) under `directory` whose writer is gone.

    A kill during an atomic write leaves its temporary file behind; nothing else ever
    removes it. Those of a live process (this one included) are kept: it may still write.
    """
    removed = []
    for root, dirs, files in os.walk(directory):
        for name in [*dirs, *files]:
            found = _TEMPORARY.match(name)
            if not found or pid_alive(int(found.group(1))):
                continue
            path = Path(root, name)
            if name in dirs:
                dirs.remove(name)
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it into place only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=temporary_prefix(path.stem), suffix=path.suffix, dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates 0600 files; give the artifact the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, data: Any) -> None:
    write_text(path, json.dumps(data, indent=2, default=_jsonable) + "\n")


def save_with(path: Path, save: Callable[[Path], None]) -> None:
    """Atomically write a file produced by a library call, e.g. `model.save`."""
    with atomic_path(path) as tmp:
        save(tmp)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def versions() -> dict[str, str]:
    """Package versions from metadata, so TensorFlow is not imported to learn its version."""
    found = {"dlrun": __version__, "python": platform.python_version()}
    for name, dist in (("tensorflow", "tensorflow-cpu"), ("keras", "keras"), ("numpy", "numpy")):
        try:
            found[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            try:
                found[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                found[name] = "not installed"
    for name in ("jax", "torch"):  # the other backends, where installed
        with suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def git_commit(cwd: Path | None = None) -> str | None:
    """The commit of the working directory's git repository, with '+dirty' if it has changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def process_alive(meta: dict[str, Any], *, elsewhere: bool) -> bool:
    """Whether the process recorded in `meta` (host, pid) still runs.

    A process on another host, or with no pid, cannot be checked: the answer is then
    `elsewhere`. This process itself does not count (a resume reopens its own run).
    """
    pid = meta.get("pid")
    if meta.get("host") != socket.gethostname() or not pid:
        return elsewhere
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid == os.getpid():
        return False
    return pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host runs (a zombie, killed but not reaped, does not).

    0 and negative numbers are no process: kill() would take them for a process group,
    or every process, and a damaged meta.json's pid -1 would look alive forever."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True  # someone else's live process
    except OSError:
        return False
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A killed process not yet reaped still answers kill(pid, 0); /proc says it is dead."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


class Run:
    """One run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(
        cls,
        runs_dir: Path,
        name: str,
        config_yaml: str,
        argv: list[str],
        seed: int,
        *,
        meta: dict[str, Any] | None = None,
    ) -> Run:
        """A new run directory, status running; `meta` adds to (or overrides) meta.json's keys.

        Give the extra keys here rather than by `update_meta` afterwards: meta.json is
        readable from its first write, so a reader would see the run without them.
        """
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        path = Path(runs_dir) / f"{stamp}-{name}-{secrets.token_hex(3)}"
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            raise RunError(
                f"cannot create the run directory {path}: {exc.strerror or exc}",
                hint="Choose another place with --runs-dir or $DLRUN_RUNS_DIR.",
            ) from None
        run = cls(path)
        write_text(path / "config.yaml", config_yaml)
        write_json(
            path / "meta.json",
            {
                "id": path.name,
                "name": name,
                "status": "running",
                "command": argv,
                "cwd": os.getcwd(),
                "seed": seed,
                "versions": versions(),
                "git_commit": git_commit(),
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started": now(),
                "finished": None,
                "error": None,
                **(meta or {}),
            },
        )
        return run

    @classmethod
    def open(cls, path: str | Path) -> Run:
        run = cls(Path(path))
        if not run.path.is_dir():
            raise RunError(
                f"run not found: {path}", hint="List runs with: ls runs/ (or dlrun runs)."
            )
        if not (run.path / "meta.json").is_file() or not (run.path / "config.yaml").is_file():
            raise RunError(f"{path} is not a dlrun run directory (no meta.json or config.yaml).")
        remove_leftovers(run.path)
        return run

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def meta(self) -> dict[str, Any]:
        return self.read_json("meta.json")

    def update_meta(self, **changes: Any) -> None:
        meta = self.meta
        meta.update(changes)
        write_json(self.path / "meta.json", meta)

    def set_status(self, status: str, error: str | None = None) -> None:
        assert status in STATUSES
        changes: dict[str, Any] = {"status": status, "error": error}
        if status != "running":
            changes["finished"] = now()
        else:
            changes.update(finished=None, pid=os.getpid(), resumed=now())
        self.update_meta(**changes)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the run's lock while training it; a second process asking gets a RunError.

        An flock, taken atomically: two resumes started at the same instant cannot both
        get it, and the kernel drops it with its process, so a kill -9 leaves no stale lock.
        """
        self.check_writable()
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunError(
                    f"{self.path} is being trained by another process right now.",
                    hint="Wait for it to finish, or stop it (Ctrl-C) and resume it then.",
                ) from None
            yield
        finally:
            os.close(fd)

    def check_writable(self) -> None:
        """A RunError, before any work, when the run directory cannot take a file (read-only,
        full, not ours): otherwise the work is done and then lost at its first write."""
        try:
            with atomic_path(self.path / ".write-check") as tmp:
                tmp.write_bytes(b"dlrun")
            (self.path / ".write-check").unlink()
        except OSError as exc:
            raise RunError(
                f"cannot write to the run directory {self.path}: {exc.strerror or exc}.",
                hint="Free some space or make it writable, then run the command again.",
            ) from None

    def missing(self, *, final: bool) -> list[str]:
        """The files a completed run promises that are not there (`final`: with a test step)."""
        promised = [*PROMISED, *(PROMISED_FINAL if final else ())]
        return [name for name in promised if not (self.path / name).is_file()]

    @property
    def final_model_path(self) -> Path:
        return self.path / "final" / "model.keras"

    def final_model(self) -> Path:
        """The final model's file; a clear error when the run has none."""
        if not self.final_model_path.is_file():
            status = self.meta.get("status")
            hint = (
                f"Continue it with: dlrun train --resume {self.path}"
                if status in ("interrupted", "failed")
                else "Only a run that finished with its test step has one (not --no-final)."
            )
            raise RunError(f"{self.path} has no final model (status: {status}).", hint=hint)
        return self.final_model_path

    def stage_dir(self, stage: str) -> Path:
        path = self.path / "stages" / stage
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_json(self, relative: str, data: Any) -> None:
        write_json(self.path / relative, data)

    def read_json(self, relative: str) -> Any:
        """A JSON file of the run; a missing or damaged one is a RunError that names it."""
        path = self.path / relative
        try:
            return read_json(path)
        except FileNotFoundError:
            raise RunError(f"{path} is missing; the run is incomplete.") from None
        except (OSError, ValueError) as exc:
            raise RunError(
                f"{path} is damaged ({type(exc).__name__}: {exc}).",
                hint="dlrun runs lists such runs as broken; train again to replace it.",
            ) from None

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def read_history(path: Path) -> list[dict[str, float]]:
    """Rows of a history.csv; a metric missing from some epochs reads as NaN there."""
    if not path.is_file():
        return []
    with path.open(newline="") as fp:
        return [
            {k: (int(v) if k == "epoch" else float(v) if v else math.nan) for k, v in row.items()}
            for row in csv.DictReader(fp)
        ]


def argv() -> list[str]:
    return [Path(sys.argv[0]).name, *sys.argv[1:]]
