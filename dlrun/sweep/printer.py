"""What `dlrun sweep` prints of its workers' output, through the command's one `Output`.

A worker (`dlrun.sweep.worker`) reports each trial event as a JSON line on stdout,
prefixed with `EVENT`; `TrialPrinter` turns each into one line ("trial 3 complete:
val_accuracy 0.8812 ..."). Anything else a worker prints on stdout is passed through,
and its stderr (TensorFlow's log lines, the same in every worker) is shown once per
distinct line, dimmed, unless --quiet.

Example:

```python
printer = TrialPrinter(out, "val_accuracy")
event = printer.line("out", line)   # the decoded event, or None for any other line
```
"""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape

from dlrun.console import Output
from dlrun.sweep.worker import EVENT


def trials_phrase(numbers: list[int]) -> str:
    """'trial 3' or 'trials 3, 5'."""
    return f"trial{'s' * (len(numbers) > 1)} {', '.join(map(str, numbers))}"


class TrialPrinter:
    """Turns worker output into one line per trial event; other noise is shown once."""

    def __init__(self, out: Output, metric: str) -> None:
        self.out = out
        self.metric = metric
        self.seen: set[str] = set()

    def line(self, kind: str, line: str) -> dict[str, Any] | None:
        """Show one line a worker wrote (`kind`: "out" or "err"); returns the event it
        carries, if it is one, so the caller can act on it (a fatal error)."""
        if kind == "out" and line.startswith(EVENT):
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
