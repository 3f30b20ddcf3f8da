"""Reading token ids from a text file, one sample per line (`dlrun predict` on token runs)."""

from __future__ import annotations

import re
from pathlib import Path

from dlrun.errors import DataError

_SEPARATORS = re.compile(r"[\s,]+")
# what `dlrun predict` asks for on a token run
TOKEN_FILE = "a text file with one sample per line, token ids separated by spaces or commas"


def read_token_lines(path: Path) -> list[list[int]]:
    """Token ids per line, separated by spaces or commas; trailing blank lines ignored."""
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        tokens = [t for t in _SEPARATORS.split(line.strip()) if t]
        try:
            rows.append([int(t) for t in tokens])
        except ValueError:
            raise DataError(
                f"{path}, line {number}: expected token ids (integers), got '{line[:40]}'."
            ) from None
        if any(t < 0 for t in rows[-1]):
            raise DataError(f"{path}, line {number}: token ids cannot be negative.")
    return rows
