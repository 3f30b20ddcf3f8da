"""Run status bookkeeping around a command that trains: running -> completed/failed/interrupted.

Example:

```python
with run_lifecycle(run, out):
    ...  # train; Ctrl-C marks the run interrupted and exits 130
```
"""

from __future__ import annotations

import contextlib
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from dlrun.console import Output
from dlrun.errors import EXIT_INTERRUPTED, DlrunError, RunFailed
from dlrun.runs.rundir import Run, write_text


class Interrupted(DlrunError):
    """Ctrl-C: the run is kept and marked interrupted."""

    exit_code = EXIT_INTERRUPTED


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """`kill` (SIGTERM) stops the command like Ctrl-C: the work is marked and kept."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def run_lifecycle(run: Run, out: Output) -> Iterator[None]:
    try:
        with sigterm_as_interrupt():
            yield
    except KeyboardInterrupt:
        run.set_status("interrupted", error="interrupted (Ctrl-C or SIGTERM)")
        raise Interrupted(
            f"interrupted; the run is kept in {run.path}",
            hint=f"Continue it with: dlrun train --resume {run.path}",
        ) from None
    except RunFailed as exc:
        run.set_status("failed", error=exc.reason)
        raise
    except DlrunError as exc:
        run.set_status("failed", error=str(exc))
        raise
    except BaseException as exc:
        # Also SystemExit from user code (a python: builder's sys.exit(3)): it must neither
        # leave the run "running" nor choose dlrun's exit code.
        reason = f"{type(exc).__name__}: {exc}"
        # The disk that failed the run (full, gone read-only) may refuse these writes too:
        # the reason still reaches the user, and a dead pid shows the run is not running.
        log: str | None = str(run.path / "error.log")
        try:
            write_text(run.path / "error.log", traceback.format_exc())
        except OSError:
            log = None
        with contextlib.suppress(OSError):
            run.set_status("failed", error=reason)
        raise RunFailed(reason, log) from exc
