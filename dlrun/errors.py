"""Every error dlrun shows a user, and the exit code that goes with it.

The split follows Keras Tuner's `errors.py`: a `FailedTrialError` is recorded
and the work goes on (one workflow stage, one sweep trial); every other
`DlrunError` is fatal and stops the command with its exit code.

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


class FailedTrialError(DlrunError):
    """One unit of work failed (NaN loss, bad combination); record it and go on."""
