"""All terminal output goes through one `Output` object (the hatch pattern).

Results and info lines go to stdout (so `| tee log` keeps the epoch lines); warnings,
errors, --verbose details and the progress of long steps go to stderr. Colour and live
formatting only when the stream is a terminal, so a log file gets plain text.

Example:

```python
out = Output(verbosity=0)
out.info("training [bold]imdb[/]")
out.error("unknown key 'train.epoch'")
out.result(f"command: {literal(command)}")  # a user's string inside markup
with out.progress("adapting the vectorizer", total=len(texts), unit="texts") as step:
    for chunk in chunks:
        ...
        step(len(chunk))
```

A long step's progress goes to stderr because stdout may be the command's result (`dlrun
predict` writes its CSV there): a transient Rich bar on a terminal; in a log, a line
at most every `PROGRESS_SECONDS` and one with the total time at the end, and nothing
for a step shorter than that. The data layer and evaluation have no `Output` of their
own: they call the module's `progress`, which reaches the Output a command bound with
`out.reporting()`, as their warnings reach the CLI through the `warnings` module.

A user's string (a command, a run name, a config value, a file name) printed inside
markup goes through `literal`: `train.metrics=[auc_pr]` would otherwise lose its
brackets to Rich, and an escape code in a run's name would reach the terminal.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from rich import progress as bars
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

QUIET = -1
NORMAL = 0
VERBOSE = 1

# C0 and C1 control characters: ESC starts a terminal escape sequence, \r overwrites the
# line, \x9b is a one-byte CSI on some terminals. Newline and tab may stay in running text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Seconds between two progress lines in a log; $DLRUN_PROGRESS_SECONDS overrides it.
# A step shorter than this prints nothing there.
PROGRESS_SECONDS = 5.0
_now = time.monotonic  # the progress clock, a name so that tests can move it


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
        # the terminal's one live bar, shared by nested steps (Rich allows one at a time)
        self._bar: bars.Progress | None = None

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

    def progress(self, description: str, total: int | None = None, unit: str = "") -> Step:
        """A long step's progress, on stderr: call the step with how much more is done.

        A transient Rich bar on a terminal; elsewhere a line at most every
        `progress_seconds()` and one at the end, none for a shorter step; nothing with
        --quiet. `total` None: the count alone, without a bar's end or a time left.
        """
        if self.quiet:
            return Step(description, total, unit)
        if self.err.is_terminal and not self.err.is_dumb_terminal:
            return _BarStep(self, description, total, unit)
        return _LogStep(self.err, description, total, unit, progress_seconds())

    @contextmanager
    def reporting(self) -> Iterator[Output]:
        """For the block, the module's `progress` (the data layer's, evaluation's) shows
        on this Output."""
        global _reporting
        previous, _reporting = _reporting, self
        try:
            yield self
        finally:
            _reporting = previous

    def _bar_task(
        self, description: str, total: int | None, unit: str
    ) -> tuple[bars.Progress, bars.TaskID]:
        """A new task on the live bar, started with the first task."""
        if self._bar is None:
            self._bar = bars.Progress(
                bars.TextColumn("{task.description}", markup=False),
                bars.BarColumn(),
                bars.MofNCompleteColumn(),
                bars.TextColumn("{task.fields[unit]}", markup=False),
                _Rate(),
                bars.TimeElapsedColumn(),
                bars.TimeRemainingColumn(),
                console=self.err,
                transient=True,
                refresh_per_second=5,
            )
            self._bar.start()
        description = printable(description, one_line=True)
        return self._bar, self._bar.add_task(description, total=total, unit=unit)

    def _end_task(self, bar: bars.Progress, task: bars.TaskID) -> None:
        """Remove `task`; the bar goes with its last task."""
        bar.remove_task(task)
        if not bar.tasks:
            bar.stop()
            self._bar = None

    def table(self, *columns: str) -> Table:
        """A table styled like every other dlrun table; print it with `result`."""
        table = Table(header_style="bold", box=None, pad_edge=False)
        for column in columns:
            table.add_column(column)
        return table


# The Output a command bound with `Output.reporting()`, for `progress`.
_reporting: Output | None = None


def progress(description: str, total: int | None = None, unit: str = "") -> Step:
    """`Output.progress` for the layers that have no Output (data loading, evaluation):
    shown on the Output bound by `Output.reporting()`, silent when none is.

    Example:

    ```python
    with progress("vectorizing", total=len(texts), unit="texts") as step:
        for start in range(0, len(texts), 2048):
            ...
            step(len(texts[start : start + 2048]))
    ```
    """
    if _reporting is None:
        return Step(description, total, unit)
    return _reporting.progress(description, total, unit)


def progress_seconds() -> float:
    """Seconds between progress lines in a log: $DLRUN_PROGRESS_SECONDS, else
    `PROGRESS_SECONDS` (also when the variable is no number: progress is no reason to
    stop a run)."""
    try:
        return float(os.environ.get("DLRUN_PROGRESS_SECONDS") or PROGRESS_SECONDS)
    except ValueError:
        return PROGRESS_SECONDS


class Step:
    """One long step's progress: `step(k)` says k more units are done; a context manager
    that ends the step. This base shows nothing (--quiet, or no Output bound)."""

    def __init__(self, description: str, total: int | None, unit: str) -> None:
        self.description = description
        self.total = total
        self.unit = unit
        self.done = 0
        self.closed = False

    def __call__(self, advance: int = 1) -> None:
        self.done += advance

    def close(self) -> None:
        """End the step (the context manager does); a second call does nothing."""
        if not self.closed:
            self.closed = True
            self._end()

    def _end(self) -> None:
        """What ending shows."""

    def __enter__(self) -> Step:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _LogStep(Step):
    """Plain lines for a log: one when an update comes `interval` seconds after the last
    line (no thread: the loop's own updates carry it), one at the end; none at all for
    a step shorter than `interval`. An update costs an addition and a clock read."""

    def __init__(
        self, console: Console, description: str, total: int | None, unit: str, interval: float
    ) -> None:
        super().__init__(description, total, unit)
        self.console = console
        self.interval = interval
        self.started = _now()
        self.next_line = self.started + interval

    def __call__(self, advance: int = 1) -> None:
        self.done += advance
        now = _now()
        if now >= self.next_line:
            self.next_line = now + self.interval
            self._line(f"{self._count()}, {_duration(now - self.started)}{self._left(now)}")

    def _end(self) -> None:
        elapsed = _now() - self.started
        if elapsed >= self.interval:
            self._line(f"{self._count(final=True)} in {_duration(elapsed)}")

    def _count(self, final: bool = False) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.total is None or (final and self.done == self.total):
            return f"{self.done:,}{unit}"
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        return f"{self.done:,}/{self.total:,}{unit}{share}"

    def _left(self, now: float) -> str:
        if not self.total or not self.done or self.done >= self.total:
            return ""
        left = (now - self.started) * (self.total - self.done) / self.done
        return f", about {_duration(left)} left"

    def _line(self, text: str) -> None:
        line = f"{printable(self.description, one_line=True)}: {text}"
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)


class _BarStep(Step):
    """A task of the Output's live bar."""

    def __init__(self, out: Output, description: str, total: int | None, unit: str) -> None:
        super().__init__(description, total, unit)
        self.out = out
        self.bar, self.task = out._bar_task(description, total, unit)

    def __call__(self, advance: int = 1) -> None:
        self.done += advance
        self.bar.advance(self.task, advance)

    def _end(self) -> None:
        self.out._end_task(self.bar, self.task)


class _Rate(bars.ProgressColumn):
    """Units a second, by Rich's estimate over the last 30 s."""

    def render(self, task: bars.Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None:
            return Text("")
        return Text(f"{speed:,.0f}/s" if speed >= 10 else f"{speed:.2f}/s", style="dim")


def _duration(seconds: float) -> str:
    """8.3s, 1m05s, 2h03m."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
