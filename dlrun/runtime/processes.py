"""Processes of a multi-process run: the supervisor that each `dlrun train --processes N`
is, and the training process it starts.

JAX's coordination service ends every process of a run when one of them dies: it
aborts from C++ (after `distribute.heartbeat_seconds`), which no Python code can catch,
leaving a stack trace of its internals. So `dlrun train` with several processes runs the
training in a child process and stays behind as its supervisor: it passes the child's
output on, and when the child is killed it says in one sentence what happened instead
of the engine's stack trace. The child dies with its supervisor (PR_SET_PDEATHSIG), so
killing `dlrun train` never leaves a training process behind.

Example:

```python
if runtime.processes > 1 and not in_child():
    return supervise(sys.argv[1:], out)   # the child runs the same command
```
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from typing import Any

CHILD_ENV = "DLRUN_TRAINING_CHILD"
SCRATCH_ENV = "DLRUN_SCRATCH"  # a non-chief's scratch run directory, owned by its supervisor
# The engine's own log lines (absl: "F1207 02:31:41.137785 22649 client.h:80] ...") and
# the frames of its stack traces: passed on only with --verbose.
ENGINE_LINE = re.compile(
    r"^([EWIF]\d{4} \d|\s+@\s+0x|\*\*\* Check failure|\[Gloo\]|RPC: )|CoordinationServiceError"
)
PEER_DIED = re.compile(r"heartbeat timeout|another task died|tasks are unhealthy", re.I)


def in_child() -> bool:
    return os.environ.get(CHILD_ENV) == str(os.getppid())


def die_with_parent(parent_env: str) -> None:
    """Have the kernel kill this process when its parent dies (Linux); exit at once if
    the parent (pid in `parent_env`) is gone already."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    parent = os.environ.get(parent_env)
    if parent and os.getppid() != int(parent):
        os._exit(1)


def supervise(args: list[str], process_id: int, processes: int, verbose: bool) -> tuple[int, str]:
    """Run `dlrun <args>` as this process's training child; returns its exit code and,
    when it did not end by itself, why (empty otherwise)."""
    env = dict(os.environ, **{CHILD_ENV: str(os.getpid()), "PYTHONUNBUFFERED": "1"})
    if sys.stdout.isatty():  # the child writes to a pipe: keep a terminal's colours and width
        env.setdefault("FORCE_COLOR", "1")
        env.setdefault("COLUMNS", str(shutil.get_terminal_size().columns))
    # The supervisor makes and removes a non-chief's scratch directory: a child killed
    # with SIGKILL cannot clean up after itself.
    scratch = tempfile.mkdtemp(prefix=f"dlrun-process-{process_id}-") if process_id else None
    if scratch is not None:
        env[SCRATCH_ENV] = scratch
    try:
        return _watch(args, env, process_id, processes, verbose)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _pass_on(stream: Any, to: Any, verbose: bool) -> bool:
    """Copy `stream` to `to` but the engine's own lines (unless `verbose`); True when one
    of them said that another process died."""
    peer_died = False
    for line in stream:
        dead = bool(PEER_DIED.search(line))
        peer_died = peer_died or dead
        # dlrun's own lines ("error: ...") always pass; the engine's only with --verbose
        engine = not line.startswith("error:") and (dead or bool(ENGINE_LINE.search(line)))
        if verbose or not engine:
            to.write(line)
            to.flush()
    return peer_died


def _watch(
    args: list[str], env: dict[str, str], process_id: int, processes: int, verbose: bool
) -> tuple[int, str]:
    child = subprocess.Popen(
        [sys.executable, "-m", "dlrun", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None and child.stderr is not None
    # The engine writes to both streams (Gloo's "[Gloo] Rank 1 is connected ..." to stdout).
    out = threading.Thread(target=_pass_on, args=(child.stdout, sys.stdout, verbose), daemon=True)
    out.start()
    try:
        peer_died = _pass_on(child.stderr, sys.stderr, verbose)
        code = child.wait()
    except KeyboardInterrupt:
        child.send_signal(signal.SIGINT)
        peer_died, code = False, child.wait()
    out.join()
    if code >= 0 and code != 134:  # 134: abort(), as a shell reports it
        return code, ""
    if peer_died:
        return code, (
            f"another process of this {processes}-process run stopped, so the engine "
            f"stopped this one (process {process_id})"
        )
    cause = signal.Signals(-code).name if code < 0 else "SIGABRT"
    return code, f"the training process of process {process_id} was stopped ({cause})"
