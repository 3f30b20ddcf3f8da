"""`dlrun show RUN`: one run in full, without importing TensorFlow.

Prints the status (and why, for a broken or failed run), provenance (command,
seed, git commit, versions, host, times), the stages with their verdicts, the
final test metrics, the files, and the resolved config that reproduces the run.

Example:

```python
info = show(Path("runs/20261122-101500-imdb-a1b2c3"), runs_dir=Path("runs"), out=Output())
```
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from rich.markup import escape

from dlrun.commands.runs import STATUS_STYLE, format_value, print_table
from dlrun.console import Output
from dlrun.errors import UsageError
from dlrun.report.markdown import class_names
from dlrun.runs.catalog import (
    RunInfo,
    artifacts,
    format_duration,
    load_run,
    resolve_run,
    stage_table,
)

FORMATS = ("text", "json")


def show(run_arg: str | Path, *, runs_dir: Path, out: Output, fmt: str = "text") -> RunInfo:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}'; use one of: {', '.join(FORMATS)}.")
    info = load_run(resolve_run(run_arg, runs_dir))
    if fmt == "json":
        record = {
            **info.as_dict(),
            "meta": info.meta,
            "config": info.config,
            "summary": info.summary,
            "files": [{"path": p, "bytes": n} for p, n in artifacts(info.path)],
        }
        out.result(json.dumps(record, indent=2, default=str), markup=False, soft_wrap=True)
        return info
    _header(out, info)
    _provenance(out, info)
    _stages(out, info)
    _final(out, info)
    _files(out, info)
    _config(out, info)
    return info


def _header(out: Output, info: RunInfo) -> None:
    style = STATUS_STYLE.get(info.status, "")
    out.result(f"[bold]{info.id}[/]  [{style}]{info.status}[/]" if style else info.id)
    table = out.table("", "")
    table.show_header = False
    table.add_row("name", info.name)
    table.add_row("path", str(info.path))
    if info.task:
        table.add_row("task", info.task)
    if info.sweep:
        table.add_row("sweep", ", ".join(f"{k} {v}" for k, v in info.sweep.items()))
    if info.problem:
        table.add_row("problem", f"[red]{escape(info.problem)}[/]")
    print_table(out, table)


def _provenance(out: Output, info: RunInfo) -> None:
    meta = info.meta
    if not meta:
        return
    out.result("\n[bold]provenance[/]")
    table = out.table("", "")
    table.show_header = False
    command = meta.get("command")
    if isinstance(command, list):
        table.add_row("command", shlex.join(str(c) for c in command))
    for key in ("cwd", "seed", "git_commit", "host", "started", "finished"):
        if meta.get(key) is not None:
            table.add_row(key.replace("_", " "), str(meta[key]))
    if info.duration is not None:
        table.add_row("duration", format_duration(info.duration))
    versions = meta.get("versions")
    if isinstance(versions, dict):
        table.add_row("versions", ", ".join(f"{k} {v}" for k, v in versions.items()))
    print_table(out, table)


def _stages(out: Output, info: RunInfo) -> None:
    columns, rows = stage_table(info.summary)
    if not rows:
        return
    out.result("\n[bold]stages[/]")
    table = out.table(*columns)
    for row in rows:
        table.add_row(*row)
    print_table(out, table)


def _final(out: Output, info: RunInfo) -> None:
    final = info.summary.get("final")
    if not isinstance(final, dict):
        return
    test = final.get("test") if isinstance(final.get("test"), dict) else {}
    source = final.get("stage") or final.get("from")
    out.result(f"\n[bold]final model[/]{f' (from stage {source})' if source else ''}")
    table = out.table("test metric", "value")
    for key, value in test.items():
        if isinstance(value, (int, float)):
            table.add_row(key, format_value(value))
    print_table(out, table)
    matrix = test.get("confusion_matrix")
    if isinstance(matrix, list) and matrix:
        names = class_names(info.path, len(matrix))
        out.result("confusion matrix (rows: true class, columns: predicted)")
        grid = out.table("", *names)
        for name, row in zip(names, matrix, strict=False):
            grid.add_row(name, *(str(v) for v in row))
        print_table(out, grid)


def _files(out: Output, info: RunInfo) -> None:
    out.result("\n[bold]files[/]")
    table = out.table("file", "size")
    table.show_header = False
    for path, size in artifacts(info.path):
        table.add_row(path, _size(size))
    print_table(out, table)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _config(out: Output, info: RunInfo) -> None:
    path = info.path / "config.yaml"
    if not path.is_file():
        return
    out.result(f"\n[bold]config[/] ({path}, resolved: re-run it with dlrun train {path})")
    out.result(_read_text(path), markup=False, soft_wrap=True, end="")


def _read_text(path: Path) -> Any:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        return f"(cannot read: {exc.strerror})\n"
