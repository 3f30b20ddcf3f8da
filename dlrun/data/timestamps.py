"""Timestamps of a series: parsing a time column, and writing a forecast's time (numpy only).

A time column is parsed with `data.time_format` (strftime codes), or with a format found
from its first values (`auto`): ISO dates and times, day-first dotted dates
(`01.01.2009 00:10:00`, Jena's), slashed dates when their order is clear, months
(`2001-07`), quarters (`2001Q3`, the code `%q` as a format's last), bare years (`1850`)
and a plain integer index (`INDEX`, kept as that many seconds after 1970 so that its
steps count as a time's do). Formats of zero-padded numbers (%Y %m %d %H %M %S %q) are
parsed column-wise in numpy, about 0.1 s for Jena's 420,551 rows; others fall back to
`datetime.strptime` per row.

Steps between rows are counted in the column's own unit (`time_steps`): calendar months for
a column of months, quarters or years, whose lengths in seconds vary, else seconds.

Example:

```python
times, fmt = parse_times(np.array([b"29.03.1958", b"05.04.1958"]), None, where=str)
fmt                                  # "%d.%m.%Y"
format_time(times[-1], fmt)          # "05.04.1958"
```
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np

from dlrun.errors import DataError

# Tried in order by `auto`; a value must match one of them entirely.
AUTO_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%Y-%m",
    "%Y/%m",
    "%YQ%q",
    "%Y-Q%q",
    "%Y Q%q",
)
# The format of a plain integer index (0, 1, 2, ...): no strftime format reads it.
INDEX = "index"
# Codes of a format whose finest unit is a calendar month (or a quarter, or a year).
_CALENDAR_CODES = {"Y", "m", "q"}
# How many values, spread over the column, `auto` looks at to choose a format.
SAMPLE = 1000
# Width of each zero-padded code the column-wise parser reads.
_WIDTHS = {"Y": 4, "m": 2, "q": 1, "d": 2, "H": 2, "M": 2, "S": 2}
# Rows the column-wise parser takes at once: its temporaries stay a few MB.
_CHUNK = 1 << 16


def parse_times(
    values: np.ndarray, time_format: str | None, where: Callable[[int], str]
) -> tuple[np.ndarray, str]:
    """Parse byte strings into datetime64[s]; returns the times and the format used.

    Args:
        values: the time column as a numpy bytes array (`S` dtype), one value per row.
        time_format: strftime codes, or None to find the format from the first values.
        where: names a row for an error message, e.g. `lambda i: f"data row {i + 1}"`.

    Raises a `DataError` naming the first row that does not parse.
    """
    values = np.asarray(values, dtype=np.bytes_)
    lengths = np.char.str_len(values)
    if len(values) and lengths.min() != lengths.max():  # only then can there be blanks
        values = np.char.strip(values)
        lengths = np.char.str_len(values)
    missing = np.flatnonzero((lengths == 0) | (values == b"nan"))
    if len(missing):
        raise DataError(
            f"{where(int(missing[0]))} has no time.",
            hint="Fill in that row's time or remove the row: windows need every row's time.",
        )
    fmt = time_format or _auto_format(values, where)
    parts = re.findall(r"%.|[^%]", fmt)
    width = sum(_WIDTHS.get(p[1], 0) if p.startswith("%") else len(p.encode()) for p in parts)
    if fmt == INDEX:
        times, bad = _index(values)
    elif all(p[1] in _WIDTHS for p in parts if p.startswith("%")) and np.all(lengths == width):
        times, bad = _fixed_width(values, parts, width)
    else:
        times, bad = _row_by_row(values, fmt)
    if bad is not None:
        found = "" if time_format else " (the format auto found from the first rows)"
        raise DataError(
            f"{where(bad)} holds the time '{values[bad].decode(errors='replace')}', which does "
            f"not parse as '{fmt}'{found}.",
            hint="Fix that row, or set data.time_format to the format of every row "
            "(strftime codes, e.g. '%d.%m.%Y %H:%M:%S').",
        )
    return times, fmt


def format_time(time: np.datetime64, time_format: str | None) -> str:
    """A time as the file wrote its times (its strftime format), or ISO 8601 without one."""
    seconds = int(time.astype("datetime64[s]").astype(np.int64))
    if time_format == INDEX:
        return str(seconds)
    if time_format is None:
        return str(time.astype("datetime64[D]" if seconds % 86400 == 0 else "datetime64[s]"))
    moment = time.astype("datetime64[s]").astype(object)
    quarter = str((moment.month - 1) // 3 + 1)
    # %q is dlrun's own code, which strftime does not know
    pieces = re.split(r"(%q)", time_format)
    return "".join(quarter if p == "%q" else moment.strftime(p) for p in pieces if p)


def time_steps(times: np.ndarray, time_format: str | None) -> np.ndarray:
    """The steps between consecutive times, in the column's own unit (`step_unit`,
    `step_text`)."""
    unit = step_unit(time_format)
    return np.diff(times.astype(f"datetime64[{unit}]").astype(np.int64))


def step_unit(time_format: str | None) -> str:
    """The numpy unit a column's steps are counted in: "M", calendar months, for months,
    quarters and years, whose lengths in seconds vary (a yearly series is regular), else
    "s", seconds (the index's steps, for an index)."""
    return "M" if _calendar(time_format) else "s"


def steps_after(times: np.ndarray, amount: float, time_format: str | None) -> np.ndarray:
    """`times` moved on by `amount` of the column's steps' unit (`step_unit`): 4 quarters
    after 2001Q3 is 2002Q3, whatever the days in between."""
    unit = step_unit(time_format)
    later = times.astype(f"datetime64[{unit}]") + np.timedelta64(int(round(amount)), unit)
    return later.astype("datetime64[s]")


def step_text(amount: int, time_format: str | None) -> str:
    """A step `time_steps` measured, as a person says it: "1 year", "2 quarters", "10 min"."""
    if time_format == INDEX:
        return str(amount)
    if _calendar(time_format):
        assert time_format is not None
        units = [("year", 12), ("month", 1)]
        if "%q" in time_format:
            units.insert(1, ("quarter", 3))
    else:
        units = [("day", 86400), ("h", 3600), ("min", 60)]
    for unit, size in units:
        if amount >= size and amount % size == 0:
            count = amount // size
            plural = "s" if count > 1 and unit in ("year", "quarter", "month", "day") else ""
            return f"{count} {unit}{plural}"
    return f"{amount} s"


def _calendar(time_format: str | None) -> bool:
    """Whether the format's finest unit is a calendar month, quarter or year."""
    if time_format is None or time_format == INDEX:
        return False
    codes = set(re.findall(r"%(.)", time_format))
    return bool(codes) and codes <= _CALENDAR_CODES


def _auto_format(values: np.ndarray, where: Callable[[int], str]) -> str:
    """The known format that reads the most of a sample spread over the column (all of
    it, unless a value is wrong: the full parse then names it), refusing a tie of day
    first and month first. A format must read the first value."""
    step = max(1, len(values) // SAMPLE)
    sample = [v.decode(errors="replace") for v in values[::step]]
    if all(_INTEGER.fullmatch(s) for s in sample):
        # four digits each are years (1850, 1851, ...), other whole numbers count rows
        return "%Y" if all(len(s) == 4 and s.isdigit() for s in sample) else INDEX
    reads = {
        fmt: sum(_parses(s, fmt) for s in sample) for fmt in AUTO_FORMATS if _parses(sample[0], fmt)
    }
    most = max(reads.values(), default=0)
    fitting = [fmt for fmt, count in reads.items() if count == most]
    if not fitting:
        raise DataError(
            f"{where(0)} holds the time '{sample[0]}', which is in no format dlrun knows.",
            hint="Set data.time_format to its format in strftime codes, e.g. "
            "'%d.%m.%Y %H:%M:%S' for 01.01.2009 00:10:00.",
        )
    day_first, month_first = (
        any(f.startswith(p) for f in fitting) for p in ("%d/%m/%Y", "%m/%d/%Y")
    )
    if day_first and month_first:
        raise DataError(
            f"the times ('{sample[0]}', ...) read both day first and month first: no day in "
            f"{len(sample)} of them, spread over the column, is above 12.",
            hint="Set data.time_format: '%d/%m/%Y' (day first) or '%m/%d/%Y' (month first), "
            "with the time of day if the column has it.",
        )
    return fitting[0]


def _parses(text: str, fmt: str) -> bool:
    try:
        _strptime(text, fmt)
    except ValueError:
        return False
    return True


def _strptime(text: str, fmt: str) -> datetime:
    """`datetime.strptime`, and `%q` as a format's last code: a quarter, 1 to 4, which
    stands for its first month."""
    if not fmt.endswith("%q"):
        return datetime.strptime(text, fmt)
    if text[-1:] not in ("1", "2", "3", "4"):
        raise ValueError(f"no quarter (1 to 4) at the end of {text!r}")
    return datetime.strptime(text[:-1], fmt[:-2]).replace(month=3 * int(text[-1]) - 2)


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _index(values: np.ndarray) -> tuple[np.ndarray, int | None]:
    """A plain integer index as times: that many seconds after 1970; and the first row
    that is no whole number."""
    try:
        return values.astype(np.int64).astype("datetime64[s]"), None
    except (ValueError, OverflowError):
        pass
    bad = next(i for i, v in enumerate(values) if not _INTEGER.fullmatch(v.decode("latin-1")))
    return np.zeros(len(values), dtype="datetime64[s]"), bad


def _fixed_width(values: np.ndarray, parts: list[str], width: int) -> tuple[np.ndarray, int | None]:
    """Parse values of one width, zero-padded numbers (%Y %m %d %H %M %S) and literals,
    column-wise in chunks; returns the times and the first row that does not parse."""
    times = np.empty(len(values), dtype="datetime64[s]")
    for start in range(0, len(values), _CHUNK):
        chunk, bad = _fixed_chunk(values[start : start + _CHUNK], parts, width)
        times[start : start + len(chunk)] = chunk
        if bad is not None:
            return times, start + bad
    return times, None


def _fixed_chunk(values: np.ndarray, parts: list[str], width: int) -> tuple[np.ndarray, int | None]:
    # the bytes of each value, one row per value
    chars = values.astype(f"S{width}").view(np.uint8).reshape(len(values), width)
    digits = chars - np.uint8(ord("0"))  # wraps around below '0', so > 9 is not a digit
    expected = np.zeros(width, dtype=np.uint8)  # the literal bytes, 0 at the digits
    spans: dict[str, tuple[int, int]] = {}
    at = 0
    for part in parts:
        size = _WIDTHS[part[1]] if part.startswith("%") else len(part.encode())
        if part.startswith("%"):
            spans[part[1]] = (at, at + size)
        else:
            expected[at : at + size] = np.frombuffer(part.encode(), np.uint8)
        at += size
    is_digit = expected == 0
    bad = ~np.where(is_digit, digits <= 9, chars == expected).all(axis=1)
    fields: dict[str, np.ndarray] = {}
    for code, (start, end) in spans.items():
        number = np.zeros(len(values), dtype=np.int32)
        for column in range(start, end):
            number = number * 10 + digits[:, column]
        fields[code] = number
    year = fields.get("Y", np.full(len(values), 1900))
    month, day = fields.get("m", 1), fields.get("d", 1)
    if "q" in fields:  # a quarter stands for its first month
        bad |= (fields["q"] < 1) | (fields["q"] > 4)
        month = 3 * fields["q"] - 2
    hour, minute, second = fields.get("H", 0), fields.get("M", 0), fields.get("S", 0)
    bad |= (month < 1) | (month > 12) | (day < 1) | (hour > 23) | (minute > 59) | (second > 59)
    month = np.where(bad, 1, month)
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + (np.where(bad, 1, day) - 1)
    # A day past the month's end (31 April) lands in the next month.
    bad |= days.astype("datetime64[M]") != months
    seconds = np.asarray(hour * 3600 + minute * 60 + second, dtype=np.int64)
    times = days.astype("datetime64[s]") + seconds.astype("timedelta64[s]")
    first = np.flatnonzero(bad)
    return times, int(first[0]) if len(first) else None


def _row_by_row(values: np.ndarray, fmt: str) -> tuple[np.ndarray, int | None]:
    times = np.empty(len(values), dtype="datetime64[s]")
    for i, value in enumerate(values):
        try:
            moment = _strptime(value.decode(), fmt)
        except (ValueError, UnicodeDecodeError):
            return times, i
        if moment.tzinfo is not None:  # with %z: compare instants, in UTC
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        times[i] = np.datetime64(moment, "s")
    return times, None
