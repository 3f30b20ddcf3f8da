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
import sys
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


_STOP = threading.Event()


def stop_requested() -> bool:
    """True once Ctrl-C or SIGTERM arrived inside `signals_interrupt`.

    The KeyboardInterrupt a signal raises can be lost: raised inside a `__del__` (a zip
    file numpy closes during garbage collection), Python prints "Exception ignored" and
    goes on, and the fit would then run to its end. A check at each epoch's end stops it.
    """
    return _STOP.is_set()


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Ctrl-C and `kill` (SIGTERM) stop the command resumably, and are remembered."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        _STOP.set()
        raise KeyboardInterrupt

    unraisable = sys.unraisablehook

    def remembered(info: Any) -> None:
        # Python reports a KeyboardInterrupt it cannot raise (in a __del__, or in JAX's
        # garbage-collection callback, which a TensorFlow run has too) with a traceback
        # on stderr; `stop_requested` stops the fit at the epoch's end instead.
        if not (info.exc_type is KeyboardInterrupt and _STOP.is_set()):
            unraisable(info)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    sys.unraisablehook = remembered
    _STOP.clear()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = unraisable
        _STOP.clear()


@contextmanager
def run_lifecycle(run: Run, out: Output) -> Iterator[None]:
    try:
        with signals_interrupt():
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
