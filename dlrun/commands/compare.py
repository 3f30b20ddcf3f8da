"""`dlrun compare A B [...]`: what differs between runs, without importing TensorFlow.

Only the config keys whose values differ are shown (plus provenance that
differs: git commit, versions), then every metric side by side with the best
marked. Formats: table (terminal), csv, json, markdown (for a pull request).

Example:

```python
diff = compare(["runs/a", "runs/b"], runs_dir=Path("runs"), out=Output(), fmt="markdown")
diff["config"]["model.units"]   # ['[16, 16]', '[64, 64]']
```
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dlrun.commands.runs import format_value, print_table
from dlrun.console import Output, literal, printable
from dlrun.errors import UsageError
from dlrun.objective import Objective
from dlrun.report.markdown import markdown_table
from dlrun.runs.catalog import RunInfo, flatten, load_run, resolve_run

FORMATS = ("table", "csv", "json", "markdown")
MISSING = "-"
_PROVENANCE = ("runtime", "git_commit", "versions", "seed", "host")


def compare(
    run_args: list[str], *, runs_dir: Path, out: Output, fmt: str = "table"
) -> dict[str, Any]:
    """Print the differences between runs; returns them as the JSON format's dict."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}'; use one of: {', '.join(FORMATS)}.")
    if len(run_args) < 2:
        raise UsageError("give at least two runs to compare, e.g. dlrun compare RUN_A RUN_B")
    infos = [load_run(resolve_run(arg, runs_dir, need="any")) for arg in run_args]
    for info in infos:
        if info.broken:
            out.warn(f"{info.id} is broken ({info.problem}); comparing what could be read")
    diff = differences(infos)
    render = {"table": _table, "csv": _csv, "json": _json, "markdown": _markdown}[fmt]
    render(out, diff)
    return diff


def differences(infos: list[RunInfo]) -> dict[str, Any]:
    runs = [info.id for info in infos]
    configs = [flatten(info.config) for info in infos]
    provenance = [
        flatten({k: info.meta.get(k) for k in _PROVENANCE if k in info.meta}) for info in infos
    ]
    metrics = [info.metrics for info in infos]
    metric_keys = sorted(
        {k for m in metrics for k in m},
        key=lambda k: (not k.startswith("test_"), not k.startswith("val_"), k),
    )
    best = {}
    for key in metric_keys:
        present = {i: m[key] for i, m in enumerate(metrics) if key in m}
        if len(present) > 1 and len(set(present.values())) > 1:
            best[key] = runs[Objective.of(key).pick(present)]
    return {
        "runs": runs,
        "config": _differing(configs),
        "provenance": _differing(provenance),
        "metrics": {k: [m.get(k) for m in metrics] for k in metric_keys},
        "best": best,
    }


def _differing(flat: list[dict[str, Any]]) -> dict[str, list[str]]:
    keys: dict[str, None] = {}
    for values in flat:
        keys.update(dict.fromkeys(values))
    found = {}
    for key in keys:
        # A key set to null and a key that is absent (an older schema) mean the same.
        cells = [_text(v[key]) if v.get(key) is not None else MISSING for v in flat]
        if len(set(cells)) > 1:
            found[key] = cells
    return found


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)  # YAML's dates and times are no JSON


def _rows(diff: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(section, key, one cell per run) for every line of every format but JSON."""
    rows = [("config", k, v) for k, v in diff["config"].items()]
    rows += [("provenance", k, v) for k, v in diff["provenance"].items()]
    rows += [
        ("metric", k, [format_value(x) if x is not None else MISSING for x in values])
        for k, values in diff["metrics"].items()
    ]
    return rows


SECTIONS = (
    ("config", "config keys that differ"),
    ("provenance", "provenance that differs"),
    ("metric", "metrics (best in bold)"),
)


def _sections(diff: dict[str, Any]) -> Iterator[tuple[str, str, list[tuple[str, list[Any]]]]]:
    """(section, title, rows) for table and markdown; a row's cells are (text, is_best)."""
    rows = _rows(diff)
    for section, title in SECTIONS:
        picked = []
        for _, key, cells in (r for r in rows if r[0] == section):
            winner = diff["best"].get(key) if section == "metric" else None
            marked = [(c, r == winner) for r, c in zip(diff["runs"], cells, strict=True)]
            picked.append((key, marked))
        yield section, title, picked


def _table(out: Output, diff: dict[str, Any]) -> None:
    for section, title, rows in _sections(diff):
        if not rows:
            if section == "config":
                out.result("[bold]configs are identical[/]")
            continue
        out.result(f"[bold]{title}[/]")
        table = out.table("key", *(literal(run) for run in diff["runs"]))
        for key, cells in rows:
            marked = (f"[bold]{literal(c)}[/]" if best else literal(c) for c, best in cells)
            table.add_row(literal(key), *marked)
        print_table(out, table)


def _csv(out: Output, diff: dict[str, Any]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["section", "key", *diff["runs"]])
    for section, key, cells in _rows(diff):
        writer.writerow([section, key, *cells])
    out.result(printable(buffer.getvalue()), markup=False, soft_wrap=True, end="")


def _json(out: Output, diff: dict[str, Any]) -> None:
    out.result(json.dumps(diff, indent=2), markup=False, soft_wrap=True)


def _markdown(out: Output, diff: dict[str, Any]) -> None:
    lines: list[str] = []
    for section, title, rows in _sections(diff):
        if not rows:
            if section == "config":
                lines += ["The configs are identical.", ""]
            continue
        body = [
            [f"`{key}`", *(f"**{c}**" if best else c for c, best in cells)] for key, cells in rows
        ]
        lines += [
            f"### {title[0].upper()}{title[1:]}",
            "",
            markdown_table(["key", *diff["runs"]], body),
            "",
        ]
    out.result(printable("\n".join(lines)), markup=False, soft_wrap=True)
