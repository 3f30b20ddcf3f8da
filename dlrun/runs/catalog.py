"""Reading run directories for `dlrun runs / show / compare`, without TensorFlow.

Every run directory is read defensively: a truncated meta.json, a missing
config.yaml, an unreadable summary.json or a field of the wrong type (`"started":
12345`) makes the run *broken* (with the reason), never an exception, so one bad
directory cannot hide the others. Sweep trials are ordinary run directories whose
meta.json has a `sweep` field; they may sit in a sub-directory of the runs
directory (a sweep's own folder), so the scan descends into directories that are
not runs themselves.

`last` names the newest run fit for the command (`Need`): any run for `show`,
one with a final model for `evaluate`, `predict` and `export`, and one that can be
resumed for `train --resume`.

Metrics of a run are one flat dict: `test_<m>` from the final model's test
metrics, `val_<m>`/`<m>` from the chosen stage at its best epoch (or its last
epoch), and a sweep trial's objective under its own name.

Example:

```python
runs = list_runs(Path("runs"))
best = sort_runs(filter_runs(runs, sweep="imdb"), "val_accuracy")
best[0].id, best[0].metrics["val_accuracy"]
```
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from dlrun.errors import RunError, UsageError
from dlrun.objective import Objective
from dlrun.runs.rundir import STATUSES, Run, process_alive
from dlrun.runs.summary import run_metrics, stage_values, stages

# <YYYYmmdd-HHMMSS>-<name>-<6 hex>, as `Run.create` names them.
RUN_ID = re.compile(r"^\d{8}-\d{6}-.+-[0-9a-f]{6}$")
MAX_DEPTH = 3
BROKEN = "broken"
MAX_PID = 2**31  # pid_t is a 32-bit signed integer
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# meta.json's fields that the catalog reads, and the types each may hold when present
# and not null; a sweep trial's `sweep` record likewise.
_META_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "started": (str,),
    "finished": (str,),
    "error": (str,),
    "pid": (int,),
    "host": (str,),
    "command": (list,),
    "versions": (dict,),
    "sweep": (dict,),
    "runtime": (dict,),
}
# how a message names each of those types: in JSON's words, as the file shows them
_JSON_TYPES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    list: "a list",
    dict: "an object",
}
_SWEEP_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "trial": (int,),
    "metric": (str,),
    "direction": (str,),
    "state": (str,),
    "value": (int, float),
    "params": (dict,),
}


@dataclass
class RunInfo:
    """What `dlrun runs` knows about one run directory."""

    path: Path
    id: str
    name: str
    status: str
    problem: str | None = None
    task: str | None = None
    started: str | None = None
    finished: str | None = None
    duration: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    sweep: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def broken(self) -> bool:
        return self.status == BROKEN

    @property
    def backend(self) -> str | None:
        """The Keras backend that trained it (runs from before backends: TensorFlow)."""
        if self.broken or not self.meta:
            return None
        backend = (self.meta.get("runtime") or {}).get("backend", "tensorflow")
        return backend if isinstance(backend, str) else None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form printed by `dlrun runs --format json`."""
        return {
            "id": self.id,
            "path": str(self.path),
            "name": self.name,
            "status": self.status,
            "problem": self.problem,
            "task": self.task,
            "backend": self.backend,
            "started": self.started,
            "finished": self.finished,
            "duration_seconds": None if self.duration is None else round(self.duration, 6),
            "metrics": self.metrics,
            "sweep": self.sweep,
        }


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Every run under `runs_dir` (sweep folders included), newest first.

    For speed the configs are not parsed (only their `task:` line is read); use
    `load_run` for a run's full config.
    """
    runs_dir = Path(runs_dir)
    if not runs_dir.exists():
        return []
    if not runs_dir.is_dir():
        raise UsageError(
            f"the runs directory {runs_dir} is not a directory.",
            hint="Give --runs-dir (or $DLRUN_RUNS_DIR) the directory that holds the runs.",
        )
    try:
        entries = list(os.scandir(runs_dir))
    except OSError as exc:
        raise UsageError(f"cannot read the runs directory {runs_dir}: {exc.strerror}") from None
    found: list[RunInfo] = []
    _scan_entries(entries, 0, found)
    found.sort(key=lambda r: (r.started or "", r.id), reverse=True)
    return found


def _scan(directory: Path, depth: int, found: list[RunInfo]) -> None:
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    _scan_entries(entries, depth, found)


def _scan_entries(entries: list[os.DirEntry[str]], depth: int, found: list[RunInfo]) -> None:
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        if _looks_like_run(path, entry.name):
            found.append(load_run(path, parse_config=False))
        elif depth + 1 < MAX_DEPTH:
            _scan(path, depth + 1, found)


def _looks_like_run(path: Path, name: str) -> bool:
    if RUN_ID.match(name):
        return True
    return any((path / f).exists() for f in ("meta.json", "stages", "final"))


def load_run(path: Path, parse_config: bool = True) -> RunInfo:
    """Read one run directory; anything unreadable makes it broken, never raises.

    `parse_config=False` reads config.yaml's `task:` line only (YAML parsing is
    most of the time `dlrun runs` would spend on a run).
    """
    path = Path(path)
    info = RunInfo(path=path, id=path.name, name=_name_from_id(path.name), status=BROKEN)
    meta, problem = _read(path / "meta.json", json.loads)
    if problem:
        info.problem = problem
        return info
    if not isinstance(meta, dict):
        info.problem = "meta.json does not hold a JSON object"
        return info
    info.meta = meta  # even when a field is wrong, `show` prints the rest of it
    problem = _meta_problem(meta)
    if problem:
        info.problem = problem
        return info
    info.name = meta.get("name") or info.name
    info.status = meta["status"]
    info.started, info.finished = meta.get("started"), meta.get("finished")
    info.sweep = meta.get("sweep")
    parse = _parse_yaml if parse_config else _task_line
    config, problem = _read(path / "config.yaml", parse)
    if problem or not isinstance(config, dict):
        info.status, info.problem = BROKEN, problem or "config.yaml does not hold a mapping"
        return info
    info.config = config if parse_config else {}
    task = config.get("task")
    info.task = task if isinstance(task, str) else None
    if (path / "summary.json").exists() or info.status == "completed":
        summary, problem = _read(path / "summary.json", json.loads)
        if problem is None and not isinstance(summary, dict):
            problem = "summary.json does not hold a JSON object"
        if problem:
            info.status, info.problem = BROKEN, f"{info.status} but {problem}"
        else:
            info.summary = summary
    if info.status == "running" and not process_alive(meta, elsewhere=True):
        info.problem = (
            f"process {meta.get('pid')} is gone (killed or crashed); "
            f"resume with: dlrun train --resume {path}"
        )
    elif info.status in ("failed", "interrupted") and meta.get("error"):
        info.problem = str(meta["error"])
    elif info.status == "completed":
        # "completed" promises its files; a run an older dlrun marked before its report
        # was written, or one whose files were deleted since, must not pass for complete
        missing = Run(path).missing(final=_promises_final(meta))
        if missing:
            info.problem = (
                f"completed, but misses {', '.join(missing)}; finish it with: "
                f"dlrun train --resume {path}"
            )
    info.metrics = run_metrics(info.summary, info.sweep)
    info.duration = _duration(info)
    return info


def _promises_final(meta: dict[str, Any]) -> bool:
    """Whether the run was to end with a test step: not a sweep trial, nor --no-final."""
    options = meta.get("options")
    if isinstance(options, dict):
        return options.get("final", True) is not False
    return meta.get("sweep") is None


def _meta_problem(meta: dict[str, Any]) -> str | None:
    """Why meta.json cannot be trusted (a status dlrun never writes, a field of the wrong
    type), or None."""
    status = meta.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        return f"meta.json: status is {_shown(status)}, not one of {', '.join(STATUSES)}"
    problem = _wrong_type(meta, _META_TYPES, "")
    sweep, pid = meta.get("sweep"), meta.get("pid")
    if problem is None and isinstance(sweep, dict):
        problem = _wrong_type(sweep, _SWEEP_TYPES, "sweep.")
    if problem is None and pid is not None and not 0 < pid < MAX_PID:
        # kill(-1, 0) reaches every process: such a run would always look alive
        problem = f"pid is {_shown(pid)}, not a process id"
    return f"meta.json: {problem}" if problem else None


def _wrong_type(
    record: dict[str, Any], types: dict[str, tuple[type, ...]], prefix: str
) -> str | None:
    for key, allowed in types.items():
        value = record.get(key)
        if value is None:
            continue
        # JSON's true/false are Python ints, but no count or pid
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            names = " or ".join(_JSON_TYPES[t] for t in allowed)
            return f"{prefix}{key} is {_shown(value)}, not {names}"
    return None


def _shown(value: Any) -> str:
    """A value of a JSON file as a message quotes it: short, in JSON's own spelling."""
    if value is None:
        return "missing"
    text = json.dumps(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _read(path: Path, parse: Any) -> tuple[Any, str | None]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, f"{path.name} is missing"
    except OSError as exc:
        return None, f"{path.name} cannot be read: {exc.strerror}"
    if not data.strip():
        return None, f"{path.name} is empty"
    try:
        return parse(data.decode("utf-8")), None
    except UnicodeDecodeError:
        return None, f"{path.name} is not UTF-8 text (damaged?)"
    except (ValueError, RecursionError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"{path.name} is unreadable (truncated?): {reason}"


def _parse_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_LOADER)


_TASK_LINE = re.compile(r"^task:\s*['\"]?([A-Za-z_]+)", re.MULTILINE)


def _task_line(text: str) -> dict[str, Any]:
    found = _TASK_LINE.search(text)
    return {"task": found.group(1) if found else None}


def _name_from_id(run_id: str) -> str:
    if RUN_ID.match(run_id):
        return run_id.split("-", 2)[2].rsplit("-", 1)[0]
    return run_id


def _duration(info: RunInfo) -> float | None:
    start = _parse_time(info.started)
    if start is None:
        return None
    end = _parse_time(info.finished)
    if end is None and info.status == "running" and info.problem is None:
        end = datetime.now(start.tzinfo)
    if end is None or (end.tzinfo is None) != (start.tzinfo is None):
        return None  # a time zone on one side only: no difference can be taken
    return (end - start).total_seconds()


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.2g}s"  # 0.42s, 3.1s: a fast run does not show as 0s
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def filter_runs(
    runs: list[RunInfo],
    *,
    name: str | None = None,
    status: str | None = None,
    sweep: str | None = None,
) -> list[RunInfo]:
    """Keep runs matching every given filter; `name`/`sweep` take globs or substrings."""
    statuses = {s.strip() for s in status.split(",")} if status else None
    kept = []
    for run in runs:
        if name and not _matches(run.name, name) and not _matches(run.id, name):
            continue
        if statuses and run.status not in statuses:
            continue
        sweep_name = str(run.sweep.get("name", "")) if run.sweep else None
        if sweep and (sweep_name is None or not _matches(sweep_name, sweep, exact=True)):
            continue
        kept.append(run)
    return kept


def _matches(value: str, pattern: str, exact: bool = False) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(value, pattern)
    return value == pattern if exact else pattern in value


def resolve_metric(runs: list[RunInfo], metric: str) -> str:
    """A bare name finds `test_<name>`, then `val_<name>`, then the training metric itself;
    a prefixed name (`val_accuracy`) only itself."""
    available = {k for r in runs for k in r.metrics}
    prefixed = metric.startswith(("test_", "val_"))
    candidates = (metric,) if prefixed else (f"test_{metric}", f"val_{metric}", metric)
    for candidate in candidates:
        if candidate in available:
            return candidate
    known = ", ".join(sorted(available)) or "none (no run has finished a training)"
    raise UsageError(f"no run has the metric '{metric}'. Metrics here: {known}.")


SORT_FIELDS = ("started", "duration", "name", "status")


def sort_runs(runs: list[RunInfo], key: str, direction: str | None = None) -> list[RunInfo]:
    """Best first by a metric (runs without it last), or by started/duration/name/status."""
    if key in SORT_FIELDS:
        reverse = key in ("started", "duration")
        present = [r for r in runs if getattr(r, key) is not None]
        missing = [r for r in runs if getattr(r, key) is None]
        return sorted(present, key=lambda r: getattr(r, key), reverse=reverse) + missing
    metric = resolve_metric(runs, key)
    objective = Objective.of(metric, direction or "auto")
    return sorted(runs, key=lambda r: objective.sort_key(r.metrics.get(metric)))


def sweep_direction(runs: list[RunInfo], metric: str) -> str | None:
    """The direction a sweep declared for its metric, if the runs are trials of one."""
    for run in runs:
        if run.sweep and run.sweep.get("metric") == metric and run.sweep.get("direction"):
            return str(run.sweep["direction"])
    return None


Need = Literal["any", "final", "resumable"]
SKIPPED_SHOWN = 3


def resolve_run(arg: str | Path, runs_dir: Path, *, need: Need = "final") -> Path:
    """A run given as a path, an id, a unique part of an id, or `last`.

    `last` is the newest run that has what the command `need`s (see `last_run`); by
    default a final model, which `evaluate`, `predict`, `export` and a `run:` base read.
    A directory is taken only if `dlrun runs` would list it, broken or not: `show /usr`
    must not walk /usr, nor `compare` call two empty directories identical.
    """
    path = Path(arg)
    if path.is_dir():
        if not _looks_like_run(path, path.resolve().name):
            raise RunError(
                f"{path} is not a dlrun run directory (no meta.json, stages/ or final/).",
                hint=f"List runs with: dlrun runs --runs-dir {runs_dir}",
            )
        return path
    text = str(arg)
    if text == "last":
        return last_run(runs_dir, need)[0].path
    runs = list_runs(runs_dir)
    exact = [r for r in runs if r.id == text or r.path.name == path.name]
    matches = exact or [r for r in runs if text in r.id]
    if len(matches) == 1:
        return matches[0].path
    if not matches:
        raise RunError(
            f"run not found: {arg}",
            hint=f"List runs with: dlrun runs --runs-dir {runs_dir}",
        )
    listed = ", ".join(r.id for r in matches[:5]) + (", ..." if len(matches) > 5 else "")
    raise UsageError(f"'{arg}' matches {len(matches)} runs ({listed}); give more of the id.")


def last_run(runs_dir: Path, need: Need) -> tuple[RunInfo, list[RunInfo]]:
    """The newest run that has what a command needs, and the newer runs passed over.

    `need` asks for `any` run (`show`), a `final` model (a completed run
    that reached its test step: `evaluate`, `predict`, `export`), or a `resumable` run
    (interrupted, failed, or its process gone: `train --resume`). Raises a RunError that
    names the runs passed over when none fits.
    """
    runs = list_runs(runs_dir)
    for index, run in enumerate(runs):
        if unfit_for(run, need) is None:
            return run, runs[:index]
    if not runs:
        raise RunError(f"'last': no runs in {runs_dir} yet; start one with: dlrun train CONFIG")
    wanted = {"final": "run with a final model", "resumable": "run to resume"}
    raise RunError(
        f"'last': there is no {wanted[need]} in {runs_dir}; "
        f"passed over {skipped_text(runs, need)}.",
        hint=f"List runs with: dlrun runs --runs-dir {runs_dir}",
    )


def unfit_for(run: RunInfo, need: Need) -> str | None:
    """Why `run` cannot be `last` for a command that needs `need`, or None if it can."""
    if need == "any":
        return None
    if run.broken:
        return f"broken: {run.problem}"
    if need == "final":
        if run.status == "completed" and not Run(run.path).final_model_path.is_file():
            return "completed without a final model"
        if run.status != "completed" or run.problem:
            return f"{run.status}: {run.problem}" if run.problem else run.status
        return None
    if run.status == "completed":
        return "completed"
    if run.status == "running" and run.problem is None:
        return "still running"
    return None


def skipped_text(runs: list[RunInfo], need: Need) -> str:
    """The runs `last` passed over, each with why: the first few, then a count."""
    shown = [f"{run.id} ({unfit_for(run, need)})" for run in runs[:SKIPPED_SHOWN]]
    more = len(runs) - SKIPPED_SHOWN
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config -> {"model.units": [16, 16], ...}; lists stay values."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def artifacts(path: Path) -> list[tuple[str, int]]:
    """Files of a run (relative path, bytes); TensorBoard events and backups summarized."""
    files: list[tuple[str, int]] = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        rel_root = Path(root).relative_to(path)
        if rel_root.name in ("tensorboard", "backup"):
            size = sum(_size(Path(r) / n) for r, _, ns in os.walk(root) for n in ns)
            count = sum(len(ns) for _, _, ns in os.walk(root))
            files.append((f"{rel_root}/ ({count} files)", size))
            dirs.clear()
            continue
        for name in sorted(names):
            if not name.startswith("."):
                files.append((str(rel_root / name), _size(Path(root) / name)))
    return files


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def stage_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The per-stage table of a summary.json as text cells (for `show` and report.md).

    Columns adapt to what the stages recorded: model, epochs, best epoch, up to
    four metrics (validation first), time, and the verdict or failure reason.
    """
    rows_in = list(stages(summary).items())
    keys: dict[str, None] = {}
    for _, stage in rows_in:
        for key, value in stage_values(stage).items():
            if isinstance(value, (int, float)) and key not in ("learning_rate", "epoch"):
                keys.setdefault(key)
    rows_in = _baseline_rows(summary) + rows_in
    if not rows_in:
        return [], []
    metric_keys = sorted(keys, key=lambda k: (not k.startswith("val_"), "loss" not in k, k))[:4]
    has_model = any(_model_text(s) for _, s in rows_in)
    columns = ["stage", *(["model"] if has_model else []), "epochs", "best epoch"]
    columns += [*metric_keys, "time", "verdict"]
    rows = []
    for name, stage in rows_in:
        values = stage_values(stage)
        verdict = stage.get("verdict") or stage.get("error") or ""
        status = stage.get("status")
        if status and status != "completed" and str(status) not in str(verdict):
            verdict = f"{status}: {verdict}" if verdict else str(status)
        seconds = stage.get("seconds")
        row = [name, *([_model_text(stage)] if has_model else [])]
        row += [_cell(stage.get("epochs_run")), _cell(stage.get("best_epoch"))]
        row += [_cell(values.get(k)) for k in metric_keys]
        row += [f"{seconds:.1f}s" if isinstance(seconds, (int, float)) else "", str(verdict)]
        rows.append(row)
    return columns, rows


def _baseline_rows(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Baselines as table rows; their scores are on validation data, so they go in val_ columns."""
    baseline = summary.get("baseline")
    if not isinstance(baseline, dict):
        return []
    values = baseline.get("values")
    if not isinstance(values, dict):
        return []
    reference = baseline.get("reference") if isinstance(baseline.get("reference"), dict) else {}
    rows = []
    for name, metrics in values.items():
        if not isinstance(metrics, dict):
            continue
        label = reference.get("label") if reference.get("name") == name else None
        note = "reference baseline" if label else ""
        row = {"model": label or name, "val": metrics, "verdict": note}
        rows.append((f"baseline: {name}", row))
    return rows


def _model_text(stage: dict[str, Any]) -> str:
    value = stage.get("model")
    return value if isinstance(value, str) else ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
