"""`dlrun runs`: a table of the runs in a runs directory, without importing TensorFlow.

Broken runs (truncated meta.json, missing config) are listed with the reason;
sweep trials can be filtered by sweep and sorted by any metric.

Example:

```python
infos = runs(Path("runs"), out=Output(), sweep="imdb", sort="val_accuracy")
```
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text

from dlrun.console import Output, literal, printable
from dlrun.errors import UsageError
from dlrun.runs.catalog import (
    RunInfo,
    filter_runs,
    format_duration,
    list_runs,
    resolve_metric,
    sort_runs,
    sweep_direction,
)

FORMATS = ("table", "json")
MAX_METRIC_COLUMNS = 4
STATUS_STYLE = {
    "completed": "green",
    "running": "cyan",
    "failed": "red",
    "interrupted": "yellow",
    "broken": "bold red",
}


def runs(
    runs_dir: Path,
    *,
    out: Output,
    name: str | None = None,
    status: str | None = None,
    sweep: str | None = None,
    sort: str | None = None,
    fmt: str = "table",
) -> list[RunInfo]:
    """List, filter, sort and print runs; returns what was printed."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}'; use one of: {', '.join(FORMATS)}.")
    everything = list_runs(runs_dir)
    selected = filter_runs(everything, name=name, status=status, sweep=sweep)
    if sweep and not sort:  # a sweep's trials come best first by its own metric
        sort = _sweep_metric(selected)
    metric = None
    if sort:
        direction = None
        if sort not in ("started", "duration", "name", "status"):
            metric = resolve_metric(selected, sort) if selected else sort
            direction = sweep_direction(selected, metric)
        selected = sort_runs(selected, sort, direction) if selected else selected
    if fmt == "json":
        out.result(
            json.dumps([r.as_dict() for r in selected], indent=2), markup=False, soft_wrap=True
        )
        return selected
    if not everything:
        out.info(f"no runs in {literal(runs_dir)} yet; start one with: dlrun train CONFIG")
        return selected
    if not selected:
        out.info(f"no run in {literal(runs_dir)} matches; {len(everything)} runs in all.")
        return selected
    out.result(runs_table(out, selected, metric, sweep_columns=bool(sweep)), soft_wrap=True)
    broken = sum(r.broken for r in selected)
    note = f", {broken} broken (see `dlrun show RUN`)" if broken else ""
    shown = literal(runs_dir)
    out.info(f"[dim]{len(selected)} of {len(everything)} runs in {shown}{note}[/]")
    return selected


def print_table(out: Output, table: Any) -> None:
    """Print a table; redirected to a file or pipe it keeps full lines instead of folding at 80."""
    if out.out.is_terminal:
        out.result(table)
        return
    width = out.out.width
    out.out.width = 10_000
    try:
        out.result(table)
    finally:
        out.out.width = width


def _sweep_metric(runs: list[RunInfo]) -> str | None:
    metrics = [r.sweep.get("metric") for r in runs if r.sweep and r.sweep.get("metric")]
    if metrics and any(metrics[0] in r.metrics for r in runs):
        return str(metrics[0])
    return None


def metric_columns(runs: list[RunInfo], first: str | None = None) -> list[str]:
    """The few metrics worth a column: the sorted one, else the runs' objective on test
    and on validation; then test metrics, then validation ones."""
    counts: dict[str, int] = {}
    for run in runs:
        for key in run.metrics:
            counts[key] = counts.get(key, 0) + 1
    # A binary run logs five metrics on each split (issue #24): without this lead, the
    # alphabet alone would pick the columns and could leave out what the runs were
    # judged by.
    objective = _objective(runs)
    if first:
        lead = [first]
    else:
        lead = [f"test_{objective.removeprefix('val_')}", objective] if objective else []

    def rank(key: str) -> tuple[int, int, str]:
        if key in lead:
            return (lead.index(key), 0, key)
        group = 2 if key.startswith("test_") else 3 if key.startswith("val_") else 4
        return (group, -counts[key], key)

    keys = sorted(counts, key=rank)
    return keys[:MAX_METRIC_COLUMNS]


def _objective(runs: list[RunInfo]) -> str:
    """The objective most of the runs were judged by (summary.json's workflow.metric), or
    "" when none says."""
    counts: dict[str, int] = {}
    for run in runs:
        workflow = run.summary.get("workflow")
        metric = workflow.get("metric") if isinstance(workflow, dict) else None
        if isinstance(metric, str):
            counts[metric] = counts.get(metric, 0) + 1
    return max(counts, key=lambda m: counts[m], default="")


def runs_table(out: Output, runs: list[RunInfo], metric: str | None, sweep_columns: bool) -> Any:
    """The runs as aligned text: rich's Table takes ~1 ms a row, far too slow for 200 runs."""
    metrics = metric_columns(runs, metric)
    params = _sweep_params(runs) if sweep_columns else []
    extra = ["trial", "state"] if sweep_columns else []
    header = ["run", "name", *extra, "status", "task", "backend", *metrics, *params]
    header += ["duration", "started"]
    numeric = {*metrics, *params}
    rows: list[list[tuple[str, str]]] = []
    for run in runs:
        status = run.status + (" (dead)" if run.status == "running" and run.problem else "")
        status += " (incomplete)" if run.status == "completed" and run.problem else ""
        sweep = run.sweep or {}
        trial = [str(sweep.get("trial", "")), str(sweep.get("state", ""))] if extra else []
        values = sweep.get("params") if isinstance(sweep.get("params"), dict) else {}
        cells = [run.id, run.name, *trial, status, run.task or "", run.backend or ""]
        cells += [format_value(run.metrics.get(m)) for m in metrics]
        cells += [format_value(values.get(p)) for p in params]
        cells += [format_duration(run.duration), format_when(run.started)]
        styles = [""] * len(cells)
        styles[len(extra) + 2] = STATUS_STYLE.get(run.status, "")
        cells = [printable(cell, one_line=True) for cell in cells]
        rows.append(list(zip(cells, styles, strict=True)))
    header = [printable(name, one_line=True) for name in header]
    widths = [max([len(name), *(len(row[i][0]) for row in rows)]) for i, name in enumerate(header)]
    text = Text(no_wrap=True)
    line = [(name, "bold") for name in header]
    for cells in [line, *rows]:
        for i, (cell, style) in enumerate(cells):
            pad = widths[i] - len(cell)
            justified = " " * pad + cell if header[i] in numeric else cell + " " * pad
            text.append(justified if i < len(cells) - 1 else justified.rstrip(), style=style)
            if i < len(cells) - 1:
                text.append("  ")
        text.append("\n")
    text.rstrip()
    return text


def _sweep_params(runs: list[RunInfo]) -> list[str]:
    """The searched parameters (a sweep's `space` paths), in the order the trials list them."""
    keys: dict[str, None] = {}
    for run in runs:
        params = (run.sweep or {}).get("params")
        if isinstance(params, dict):
            keys.update(dict.fromkeys(params))
    return list(keys)


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4):
            return f"{value:.4g}"
        return f"{value:.4f}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def format_when(stamp: str | None) -> str:
    """Local date and time, minute precision; the date is left out for today."""
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    local = when.astimezone() if when.tzinfo else when
    if local.date() == datetime.now().date():
        return local.strftime("today %H:%M")
    return local.strftime("%Y-%m-%d %H:%M")
