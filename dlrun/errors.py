"""Every error dlrun shows a user, and the exit code that goes with it.

The split follows Keras Tuner's `errors.py`, and the raiser chooses: a
`FailedStageError` fails one unit of work (a workflow stage, a sweep trial), which is
recorded while the rest goes on; a `FatalError`, like every other `DlrunError`, stops
the command with its exit code. `dlrun.training.train_stage` is the one guard that
applies this to stages and trials alike (a ConfigError there is the stage's own config,
and an exception that is no DlrunError, such as Keras rejecting a mix of values, fails
that stage too, with its traceback in error.log).

Example:

```python
raise ConfigError("unknown key 'train.epoch' in imdb.yaml, line 14. Did you mean 'train.epochs'?")
```
"""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class DlrunError(Exception):
    """An error with a message written for the user; no traceback is shown."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class ConfigError(DlrunError):
    """The config (file, include or command-line override) is invalid."""

    exit_code = EXIT_USAGE


class UsageError(DlrunError):
    """The command line asks for something that cannot be done (missing run, bad flag)."""

    exit_code = EXIT_USAGE


class DataError(DlrunError):
    """The data could not be loaded or does not fit the config."""


class DataWarning(UserWarning):
    """The data loads but is likely not what the user meant; the CLI prints it as a warning."""


class RunError(DlrunError):
    """A run directory is missing, broken, or in a state that forbids the command."""

    exit_code = EXIT_USAGE


class RunFailed(DlrunError):
    """Training raised: the run is kept and marked failed with `reason` (the traceback in
    `log`)."""

    def __init__(self, reason: str, log: str | None = None) -> None:
        hint = f"The traceback is in {log}; the run is marked failed." if log else None
        super().__init__(f"the run failed: {reason}", hint=hint)
        self.reason = reason


class FailedStageError(DlrunError):
    """One stage or trial failed (NaN loss, an invalid mix of values); record it, go on."""


class FatalError(DlrunError):
    """Every stage or trial would fail the same way (a metric never logged, storage gone):
    stop now."""
