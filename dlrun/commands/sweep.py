"""`dlrun sweep`: hyperparameter search over a config's `sweep.space`, with Optuna.

The sweep lives in `runs/sweeps/<name>/` (name: `--name`, else `sweep.name`, else the
config's `name`): `study.db` (the Optuna study, SQLite, unless `--storage URL`),
`best.yaml`, `trials.csv`, `history.png`, `importance.png`. Every trial is an ordinary
run directory, `runs/<stamp>-<name>-t<trial>-<id>/`, with `sweep` in its meta.json.

This process never imports TensorFlow: it checks the config, opens the study, starts
`--jobs` worker processes (`dlrun.sweep.worker`), prints what they report, and writes
the results. A local study is locked while a sweep runs on it, so `--resume` knows
that trials still marked running were cut off.

Example:

```python
outcome = sweep(Path("configs/imdb.yaml"), [], jobs=2, runs_dir=Path("runs"), out=Output())
outcome.best_yaml   # runs/sweeps/imdb/best.yaml
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from rich.markup import escape

from dlrun.config import dump_yaml
from dlrun.config.loader import set_path
from dlrun.console import Output
from dlrun.errors import EXIT_INTERRUPTED, ConfigError, DlrunError, UsageError
from dlrun.runs.lifecycle import sigterm_as_interrupt
from dlrun.runs.rundir import argv, remove_leftovers, write_text
from dlrun.spec import load_config, validate
from dlrun.sweep.results import (
    TrialRow,
    best_trial,
    print_table,
    trial_rows,
    write_best,
    write_plots,
    write_trials_csv,
)
from dlrun.sweep.space import check_values, grid_size, parse_space
from dlrun.sweep.study import (
    create_or_load,
    default_storage_url,
    has_work,
    open_storage,
    outcome,
    recover_interrupted,
    redact,
    used,
)
from dlrun.sweep.trial import WorkerSpec
from dlrun.sweep.worker import EVENT, worker_env

EXAMPLE = (
    "Add a sweep section, e.g.\n"
    "sweep:\n"
    "  metric: val_accuracy\n"
    "  trials: 20\n"
    "  space:\n"
    "    model.units: {choice: [[16, 16], [64, 64]]}\n"
    "    train.optimizer.learning_rate: {float: [0.0001, 0.01], log: true}"
)
# A worker that dies without saying why (e.g. killed by the kernel) is replaced this
# many times per job before the sweep gives up.
RESTARTS_PER_JOB = 2


class SweepInterrupted(DlrunError):
    exit_code = EXIT_INTERRUPTED


@dataclass
class SweepOutcome:
    sweep_dir: Path
    study_ref: str
    rows: list[TrialRow] = field(default_factory=list)
    best_yaml: Path | None = None
    plots: list[Path] = field(default_factory=list)


def sweep(
    config_path: Path,
    overrides: list[str],
    *,
    runs_dir: Path,
    out: Output,
    extra_files: list[Path] | None = None,
    trials: int | None = None,
    jobs: int = 1,
    resume: bool = False,
    storage: str | None = None,
    name: str | None = None,
) -> SweepOutcome:
    """Run (or resume, or join) a sweep; returns where its results are."""
    loaded = load_config(config_path, overrides, extra_files or [])
    if loaded.config.sweep is None:
        raise ConfigError(f"{config_path} has no sweep section: nothing to search.", hint=EXAMPLE)
    if trials is not None:
        set_path(loaded.raw, ("sweep", "trials"), trials)
        loaded = validate(loaded.raw, loaded.origins, loaded.sources)
    config = loaded.config
    assert config.sweep is not None
    params = parse_space(config.sweep)
    check_values(params, loaded.raw)
    budget = config.sweep.trials
    if config.sweep.sampler == "grid" and grid_size(params) < budget:
        budget = grid_size(params)
        out.info(f"the grid has {budget} points: the sweep runs {budget} trials")

    sweep_name = name or config.sweep.name or config.name
    sweep_dir = Path(runs_dir) / "sweeps" / sweep_name
    sweep_dir.mkdir(parents=True, exist_ok=True)
    local = storage is None
    url = storage or default_storage_url(sweep_dir)
    study_ref = str(sweep_dir / "study.db") if local else redact(url)

    with _lock(sweep_dir) if local else contextlib.nullcontext():
        remove_leftovers(sweep_dir)  # of an earlier sweep killed while writing its results
        if local and resume and not (sweep_dir / "study.db").is_file():
            raise UsageError(
                f"there is no sweep to resume in {sweep_dir}.", hint="Start it without --resume."
            )
        study = create_or_load(
            open_storage(url, heartbeat=False),
            sweep_name,
            maximize=config.sweep.objective().maximize,
            must_exist=resume,
            may_exist=resume or not local,
        )
        _remember_config(study, loaded.resolved(), out)
        recovered = recover_interrupted(study, assume_all_dead=local)
        for numbers, how in (
            (recovered.rerun, ": queued to run again with the same parameters"),
            (recovered.dropped, " before having parameters: not counted against the budget"),
        ):
            if numbers:
                out.info(
                    f"{_trials(numbers)} {'was' if len(numbers) == 1 else 'were'} cut off{how}"
                )
        done = used(study.get_trials(deepcopy=False))
        out.info(
            f"sweep [bold]{sweep_name}[/]: {done} of {budget} trials so far; "
            f"{config.sweep.sampler} sampler, {config.sweep.pruner} pruner, "
            f"{config.sweep.metric} ({'max' if config.sweep.objective().maximize else 'min'}); "
            f"study {study_ref}"
        )
        spec = WorkerSpec(
            base=loaded.raw,
            sweep_name=sweep_name,
            study_name=sweep_name,
            storage=url,
            study_ref=study_ref,
            runs_dir=str(Path(runs_dir).resolve()),
            sweep_dir=str(sweep_dir.resolve()),
            budget=budget,
            verbosity=out.verbosity,
            argv=[redact(arg) for arg in argv()],  # no database password in meta.json
        )
        interrupted = False
        if has_work(study, budget):
            with sigterm_as_interrupt():
                interrupted = _run_workers(
                    spec, study, jobs, sweep_dir, out, config.sweep.metric, local=local
                )
        else:
            out.info(f"all {budget} trials are done; raise the budget with --trials N")
        result = _results(study, params, config, sweep_dir, study_ref, out)
    if interrupted:
        raise SweepInterrupted(
            "interrupted; finished trials are kept in the study.",
            hint=f"Continue with: dlrun sweep {config_path} --resume"
            + (f" --storage {redact(url)}" if not local else "")
            + (f" --name {sweep_name}" if name else ""),
        )
    if result.rows and not any(r.state in ("complete", "pruned") for r in result.rows):
        raise DlrunError(
            "no trial of the sweep finished; every one failed (reasons above).",
            hint=f"The tracebacks are in each trial's error.log under {runs_dir}.",
        )
    return result


def _results(
    study: Any, params: list[Any], config: Any, sweep_dir: Path, study_ref: str, out: Output
) -> SweepOutcome:
    metric = config.sweep.metric
    rows = trial_rows(study, params, config.sweep.objective().maximize)
    result = SweepOutcome(sweep_dir=sweep_dir, study_ref=study_ref, rows=rows)
    if not rows:
        return result
    out.result(f"[bold]trials of sweep {study.study_name}[/], best first")
    print_table(out, rows, params, metric)
    write_trials_csv(sweep_dir / "trials.csv", rows, params, metric)
    result.best_yaml = write_best(study, sweep_dir, metric)
    result.plots = write_plots(study, sweep_dir, out)
    best = best_trial(study)
    counts = {state: sum(1 for r in rows if r.state == state) for state in ("complete", "pruned")}
    failed = sum(1 for r in rows if r.state == "failed")
    out.info(
        f"{counts['complete']} complete, {counts['pruned']} pruned, {failed} failed; "
        f"results in {sweep_dir}"
    )
    if best is not None and result.best_yaml is not None:
        out.result(
            f"best: trial {best.number}, {metric} [bold]{best.value:.4f}[/]; "
            f"train it with: dlrun train {result.best_yaml}",
            soft_wrap=True,
        )
    return result


def _remember_config(study: Any, resolved: dict[str, Any], out: Output) -> None:
    """Keep the config a sweep started with; warn when a resume brings a different one."""
    # The budget may change from run to run (--trials): that is not a different search.
    resolved["sweep"].pop("trials", None)
    config_yaml = dump_yaml(resolved)
    previous = study.user_attrs.get("config")
    if previous is None:
        study.set_user_attr("config", config_yaml)
    elif previous != config_yaml:
        out.warn(
            "the config differs from the one this sweep started with; new trials use the new one."
        )


@contextlib.contextmanager
def _lock(sweep_dir: Path) -> Iterator[None]:
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


class _Pool:
    """Worker processes and the threads that read their output into one queue."""

    def __init__(self, spec_path: Path, env: dict[str, str]) -> None:
        self.spec_path = spec_path
        self.env = env
        self.procs: dict[int, subprocess.Popen[str]] = {}
        self.open_streams: dict[int, int] = {}
        self.events: queue.Queue[tuple[int, str, str | None]] = queue.Queue()
        self.started = 0

    def start(self) -> int:
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
        for proc in self.procs.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)

    def wait_all(self, seconds: float) -> bool:
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


def _trials(numbers: list[int]) -> str:
    """'trial 3' or 'trials 3, 5'."""
    return f"trial{'s' * (len(numbers) > 1)} {', '.join(map(str, numbers))}"


def _run_workers(
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
    pool = _Pool(spec_path, worker_env(jobs=count, verbose=out.verbose))
    printer = _Printer(out, metric)
    fatal: dict[str, Any] | None = None
    restarts = RESTARTS_PER_JOB * count
    if count > 1:
        threads = pool.env["TF_NUM_INTRAOP_THREADS"]
        out.info(f"{count} worker processes, {threads} TensorFlow thread(s) each")
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
                + (f"; {_trials(rerun)} will run again" if rerun else "")
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


class _Printer:
    """Turns worker output into one line per trial event; other noise is shown once."""

    def __init__(self, out: Output, metric: str) -> None:
        self.out = out
        self.metric = metric
        self.seen: set[str] = set()

    def line(self, kind: str, line: str) -> dict[str, Any] | None:
        if kind == "out" and line.startswith(EVENT):
            import json

            event = json.loads(line[len(EVENT) :])
            self._show(event)
            return event
        if kind == "out":
            self.out.info(line, markup=False)
        elif line.strip() and line not in self.seen and not self.out.quiet:
            # TensorFlow's log lines repeat in every worker: show each once.
            self.seen.add(line)
            self.out.err.print(line, markup=False, style="dim", soft_wrap=True)
        return None

    def _show(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        n = event.get("trial")
        if kind == "start":
            params = "  ".join(f"{k}={v}" for k, v in event["params"].items())
            self.out.info(f"trial {n} [dim]started[/]  {params}", markup=True)
        elif kind == "end" and event["state"] == "failed":
            self.out.info(f"trial {n} [red]failed[/]: {escape(str(event.get('reason')))}")
        elif kind == "end":
            where = f" at step {event['pruned_epoch']}" if event["state"] == "pruned" else ""
            self.out.info(
                f"trial {n} {event['state']}{where}: {self.metric} "
                f"[bold]{event['value']:.4f}[/]  {event['epochs']} epochs  "
                f"{event['seconds']:.1f}s  [dim]{event['run']}[/]"
            )
