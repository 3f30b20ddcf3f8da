"""The sweep's worker processes: start them, read them, replace a dead one, stop them all.

`run_workers` runs `--jobs` worker processes (`python -m dlrun.sweep.worker SPEC INDEX`)
until the study's budget is used, shows what they report through a `TrialPrinter`, and
replaces a worker that dies without saying why (up to `RESTARTS_PER_JOB` times per
job). On Ctrl-C it stops the workers from starting new trials at once, gives the
running ones a grace period, and marks what was cut off as interrupted. `WorkerPool`
holds the processes and the threads that read their output into one queue.

`sweep_lock` holds a local sweep directory's lock, so only one process runs a local
study and `--resume` knows that trials still marked running were cut off.

Example:

```python
with sweep_lock(sweep_dir):
    interrupted = run_workers(spec, study, 2, sweep_dir, out, "val_accuracy", local=True)
```
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from dlrun.console import Output
from dlrun.errors import EXIT_INTERRUPTED, DlrunError, UsageError
from dlrun.runs.rundir import write_text
from dlrun.sweep.printer import TrialPrinter, trials_phrase
from dlrun.sweep.study import has_work, outcome, recover_interrupted, used
from dlrun.sweep.trial import WorkerSpec
from dlrun.sweep.worker import worker_env

# A worker that dies without saying why (e.g. killed by the kernel) is replaced this
# many times per job before the sweep gives up.
RESTARTS_PER_JOB = 2


@contextlib.contextmanager
def sweep_lock(sweep_dir: Path) -> Iterator[None]:
    """Hold the sweep directory's lock: one local sweep process per study."""
    path = sweep_dir / "lock"
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid = handle.read().strip() or "?"
            raise UsageError(
                f"sweep {sweep_dir.name} is running already (pid {pid}).",
                hint="Wait for it to finish, or stop it (Ctrl-C) and continue with --resume.",
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class WorkerPool:
    """Worker processes and the threads that read their output into one queue.

    `events` receives `(index, "out" | "err", line)` for each line a worker writes, and
    `(index, kind, None)` when that stream ends; `open_streams[index]` counts the
    streams of worker `index` still open.
    """

    def __init__(self, spec_path: Path, env: dict[str, str]) -> None:
        self.spec_path = spec_path
        self.env = env
        self.procs: dict[int, subprocess.Popen[str]] = {}
        self.open_streams: dict[int, int] = {}
        self.events: queue.Queue[tuple[int, str, str | None]] = queue.Queue()
        self.started = 0

    def start(self) -> int:
        """Start one more worker; returns its index."""
        index = self.started
        self.started += 1
        proc = subprocess.Popen(
            [sys.executable, "-m", "dlrun.sweep.worker", str(self.spec_path), str(index)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.PIPE,  # closed to say "start no new trial" (dlrun.sweep.worker)
            env=self.env,
            text=True,
            bufsize=1,
        )
        self.procs[index] = proc
        self.open_streams[index] = 2
        for kind, stream in (("out", proc.stdout), ("err", proc.stderr)):
            threading.Thread(target=self._read, args=(index, kind, stream), daemon=True).start()
        return index

    def _read(self, index: int, kind: str, stream: TextIO | None) -> None:
        assert stream is not None
        for line in stream:
            self.events.put((index, kind, line.rstrip("\n")))
        self.events.put((index, kind, None))

    def signal_all(self, sig: int) -> None:
        """Send `sig` to every worker still running."""
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)

    def wait_all(self, seconds: float) -> bool:
        """Wait up to `seconds` in all for every worker to exit; True if they all did."""
        deadline = time.monotonic() + seconds
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return False
        return True

    def stop_starting(self) -> None:
        """Tell every worker to start no new trial: its stdin reaches end of file."""
        for proc in self.procs.values():
            if proc.stdin is not None and not proc.stdin.closed:
                with contextlib.suppress(OSError):
                    proc.stdin.close()

    def stop(self) -> None:
        """Start no new trial; give the running ones 5 s, then interrupt them, then insist."""
        self.stop_starting()
        for sig, seconds in ((None, 5.0), (signal.SIGINT, 15.0), (signal.SIGKILL, 5.0)):
            if sig is not None:
                self.signal_all(sig)
            if self.wait_all(seconds):
                return


def run_workers(
    spec: WorkerSpec,
    study: Any,
    jobs: int,
    sweep_dir: Path,
    out: Output,
    metric: str,
    *,
    local: bool,
) -> bool:
    """Run the workers to the end of the budget; True if interrupted by Ctrl-C.

    `local`: this process holds the study's lock, so once its workers are stopped no
    trial of the study can still be running.
    """
    spec_path = sweep_dir / f"worker-{os.getpid()}.json"
    write_text(spec_path, spec.to_json())
    trials = study.get_trials(deepcopy=False)
    slots = spec.budget - used(trials) + sum(1 for t in trials if outcome(t) == "waiting")
    count = max(1, min(jobs, slots))
    pool = WorkerPool(spec_path, worker_env(jobs=count, verbose=out.verbose))
    printer = TrialPrinter(out, metric)
    fatal: dict[str, Any] | None = None
    restarts = RESTARTS_PER_JOB * count
    if count > 1:
        threads = pool.env["TF_NUM_INTRAOP_THREADS"]
        out.info(f"{count} worker processes, {threads} thread(s) each")
    try:
        for _ in range(count):
            pool.start()
        running = count
        while running:
            try:
                index, kind, line = pool.events.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is not None:
                event = printer.line(kind, line)
                if event and event.get("event") == "fatal" and fatal is None:
                    fatal = event
                    pool.signal_all(signal.SIGINT)
                continue
            pool.open_streams[index] -= 1
            if pool.open_streams[index]:
                continue
            code = pool.procs[index].wait()
            running -= 1
            if code in (0, EXIT_INTERRUPTED) or fatal is not None:
                continue
            rerun = recover_interrupted(study, assume_all_dead=False).rerun
            out.warn(
                f"worker {index} stopped unexpectedly (exit {code})"
                + (f"; {trials_phrase(rerun)} will run again" if rerun else "")
            )
            if restarts and has_work(study, spec.budget):
                restarts -= 1
                pool.start()
                running += 1
            elif restarts == 0:
                raise DlrunError(
                    f"sweep workers keep dying (last exit code {code}).",
                    hint="Look for out-of-memory kills (dmesg); try fewer --jobs.",
                )
    except KeyboardInterrupt:
        # At once: a worker may finish its trial any moment and must not take another.
        pool.stop_starting()
        out.warn("stopping: the running trials are marked interrupted ...")
        pool.stop()
        # A local study's running trials were all our workers', so all are dead now, even
        # one cut off before it recorded its host and pid; a shared study's heartbeat finds it.
        recover_interrupted(study, assume_all_dead=local)
        return True
    finally:
        pool.stop()
        spec_path.unlink(missing_ok=True)
    if fatal is not None:
        error = DlrunError(fatal["message"], hint=fatal.get("hint"))
        error.exit_code = int(fatal.get("code") or 1)
        raise error
    return False
