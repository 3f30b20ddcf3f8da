"""All terminal output goes through one `Output` object (the hatch pattern).

Results and progress go to stdout (so `| tee log` keeps the epoch lines); warnings,
errors and --verbose details go to stderr. Colour and live
formatting only when the stream is a terminal, so a log file gets plain text.

Example:

```python
out = Output(verbosity=0)
out.info("training [bold]imdb[/]")
out.error("unknown key 'train.epoch'")
out.result(f"command: {literal(command)}")  # a user's string inside markup
```

A user's string (a command, a run name, a config value, a file name) printed inside
markup goes through `literal`: `train.metrics=[auc_pr]` would otherwise lose its
brackets to Rich, and an escape code in a run's name would reach the terminal.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

QUIET = -1
NORMAL = 0
VERBOSE = 1

# C0 and C1 control characters: ESC starts a terminal escape sequence, \r overwrites the
# line, \x9b is a one-byte CSI on some terminals. Newline and tab may stay in running text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(value: object, *, one_line: bool = False) -> str:
    """`value` as text, its control characters shown as escapes (`\\x1b`, `\\r`) that
    a terminal prints instead of obeying; `one_line` shows newlines and tabs so too."""
    pattern = _CONTROL_OR_BREAK if one_line else _CONTROL
    return pattern.sub(lambda found: repr(found.group())[1:-1], str(value))


def literal(value: object, *, one_line: bool = False) -> str:
    """`value` printed as it is inside Rich markup: brackets escaped, control characters
    made visible (see `printable`)."""
    return escape(printable(value, one_line=one_line))


class Output:
    """Verbosity-aware printer; `verbosity` is -1 (quiet), 0 (normal) or 1 (verbose)."""

    def __init__(self, verbosity: int = NORMAL, *, stdout: Any = None, stderr: Any = None) -> None:
        self.verbosity = verbosity
        no_color = bool(os.environ.get("NO_COLOR"))
        self.out = Console(file=stdout or sys.stdout, no_color=no_color, highlight=False)
        self.err = Console(file=stderr or sys.stderr, no_color=no_color, highlight=False)

    @property
    def quiet(self) -> bool:
        return self.verbosity <= QUIET

    @property
    def verbose(self) -> bool:
        return self.verbosity >= VERBOSE

    def result(self, message: Any = "", **kwargs: Any) -> None:
        """What the command was asked for (tables, metrics): printed even with --quiet."""
        self.out.print(message, **kwargs)

    def info(self, message: Any = "", **kwargs: Any) -> None:
        """Progress and context, one unwrapped line per message; hidden by --quiet."""
        if not self.quiet:
            kwargs.setdefault("soft_wrap", True)
            self.out.print(message, **kwargs)

    def detail(self, message: Any = "", **kwargs: Any) -> None:
        """Only with --verbose."""
        if self.verbose:
            self.err.print(message, **kwargs)

    def warn(self, message: str) -> None:
        """Plain text: brackets in the message (lists, paths) are printed as they are."""
        self.err.print(f"[yellow]warning:[/] {literal(message)}", soft_wrap=True)

    def error(self, message: str) -> None:
        """Plain text: brackets in the message (lists, paths) are printed as they are."""
        self.err.print(f"[bold red]error:[/] {literal(message)}", soft_wrap=True)

    def metrics(self, title: str, metrics: dict[str, Any], header: str = "metric") -> None:
        """A titled two-column table of the numeric metrics and the sample count."""
        self.result(f"[bold]{title}[/]")
        table = self.table(header, "value")
        for key, value in metrics.items():
            if isinstance(value, float):
                table.add_row(literal(key), f"{value:.4f}")
            elif key == "samples":
                table.add_row(key, str(value))
        self.result(table)

    def table(self, *columns: str) -> Table:
        """A table styled like every other dlrun table; print it with `result`."""
        table = Table(header_style="bold", box=None, pad_edge=False)
        for column in columns:
            table.add_column(column)
        return table
