"""A sweep worker process: run trials of one study until its budget is used up.

`dlrun sweep` starts one per `--jobs` as `python -m dlrun.sweep.worker SPEC.json INDEX`,
with TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS set so the workers share the
cores instead of fighting over them. Each worker imports TensorFlow once (quietly),
loads the data once, and clears Keras's state after every trial; TF state never passes
between workers. It tells its parent what happens as JSON lines on stdout, prefixed
with EVENT; anything else it prints is passed through. The parent closes a worker's
stdin to say "start no new trial" (on Ctrl-C); the running trial goes on until it ends
or is interrupted. If the parent dies, the worker dies with it (Linux:
PR_SET_PDEATHSIG), leaving its trial to be found and re-run.

Example:

```python
proc = subprocess.Popen([sys.executable, "-m", "dlrun.sweep.worker", "spec.json", "0"],
                        stdout=subprocess.PIPE, env=worker_env(jobs=2))
```
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from dlrun.console import NORMAL, QUIET, Output
from dlrun.errors import EXIT_FAILURE, EXIT_INTERRUPTED, DlrunError, FailedStageError
from dlrun.runs.rundir import write_text
from dlrun.runtime import BACKENDS
from dlrun.runtime.processes import die_with_parent
from dlrun.spec import validate
from dlrun.sweep.space import parse_space
from dlrun.sweep.study import create_or_load, has_work, make_pruner, make_sampler, open_storage
from dlrun.sweep.trial import Surplus, TrialRunner, WorkerSpec
from dlrun.tfenv import QUIET_TF_LOG_LEVEL

EVENT = "@dlrun-sweep "
PARENT_ENV = "DLRUN_SWEEP_PARENT"


def worker_env(jobs: int, verbose: bool = False) -> dict[str, str]:
    """The environment of a worker: threads per worker from the job count, quiet TF."""
    env = dict(os.environ)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = str(max(1, (cores or 1) // jobs))
    # A user's explicit setting wins; two 1-thread workers on 2 cores measured ~2x the
    # throughput of sequential runs, two default-threaded ones only ~1.5x. Every backend's
    # cap: a worker reads its backend from the config, and TensorFlow feeds them all.
    for backend in BACKENDS.values():
        env.update(backend.thread_env(int(threads), env))
    if not verbose:
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
    env["PYTHONUNBUFFERED"] = "1"
    env[PARENT_ENV] = str(os.getpid())
    return env


def emit(event: dict[str, Any]) -> None:
    sys.stdout.write(EVENT + json.dumps(event, default=str) + "\n")
    sys.stdout.flush()


def parent_says_stop() -> bool:
    """Whether the parent wants no new trial: it closed this worker's stdin (or it died).

    A signal would be no good: SIGINT to the parent alone (`kill -INT`) must stop new
    trials at once, while running ones get their grace period.
    """
    readable, _, _ = select.select([sys.stdin], [], [], 0)
    return bool(readable)  # the parent never writes: readable means end of file


def run_worker(spec: WorkerSpec, index: int) -> int:
    """Run trials until the study's budget is used; returns the process exit code."""
    out = Output(NORMAL if spec.verbosity > 0 else QUIET, stdout=sys.stdout)
    try:
        from dlrun.runtime import Runtime, use
        from dlrun.sweep.study import quiet_optuna

        optuna = quiet_optuna()
        config = validate(spec.base).config
        assert config.sweep is not None
        params = parse_space(config.sweep)
        # The worker's own backend, which need not be its parent's.
        use(Runtime.for_config(config)).start(spec.verbosity > 0)
        storage = open_storage(spec.storage)
        study = create_or_load(
            storage,
            spec.study_name,
            maximize=config.resolved_objective().maximize,
            must_exist=True,
            may_exist=True,
        )
        # A different seed per worker and per session: two workers (or a resumed sweep)
        # never replay the same random draws.
        seed = (config.seed * 1_000_003 + len(study.trials) * 101 + index) % 2**32
        study = optuna.load_study(
            study_name=spec.study_name,
            storage=storage,
            sampler=make_sampler(config, params, seed),
            pruner=make_pruner(config),
        )
        runner = TrialRunner(spec, config, params, emit, out)
        runner._raw(config)  # the base data: if it cannot load, no trial can run
        # The parent's stop is checked last, right before a trial would start.
        while not runner.surplus and has_work(study, spec.budget) and not parent_says_stop():
            study.optimize(runner, n_trials=1, catch=(FailedStageError, Surplus))
        return 0
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except DlrunError as exc:
        emit({"event": "fatal", "message": exc.message, "hint": exc.hint, "code": exc.exit_code})
        return exc.exit_code
    except Exception as exc:
        log = Path(spec.sweep_dir) / f"worker-{index}.log"
        write_text(log, traceback.format_exc())
        emit(
            {
                "event": "fatal",
                "message": f"sweep worker {index} failed: {type(exc).__name__}: {exc}",
                "hint": f"The traceback is in {log}.",
                "code": EXIT_FAILURE,
            }
        )
        return EXIT_FAILURE


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    die_with_parent(PARENT_ENV)
    # Ctrl-C and SIGTERM both stop the trial cleanly (marked interrupted), even when the
    # parent was started with SIGINT ignored (a background job) and passed that on.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    spec_path, index = sys.argv[1], int(sys.argv[2])
    spec = WorkerSpec.from_json(Path(spec_path).read_text(encoding="utf-8"))
    code = run_worker(spec, index)
    sys.stdout.flush()
    # Skip interpreter teardown: TensorFlow's can hang or print; everything is written.
    os._exit(code)


if __name__ == "__main__":
    main()
