"""`text_file`: one text as a language model's data (book ch. 8, text generation).

The text is a plain UTF-8 file, a folder of .txt files (found recursively, in sorted
order, joined by a blank line) or a CSV column of texts (one text a row, joined the
same way). It becomes one stream of tokens (`level: char` or `word`,
`dlrun.data.representations.token_windows`), cut in order into a training, a
validation and a test portion (`data.split`: the validation and test shares come at
the end, as for a time series). Each portion's samples are windows of
`sequence_length` tokens, one every `step` tokens, whose target is the token that
follows; no window, target included, crosses a portion's boundary. The vocabulary is
fitted on the training portion only, by the representation.

Windows overlap, so a random holdout or K-fold would validate on text the model
trained on: the validation data is always the validation portion, and
`data.validation` is refused.

Example config:

```yaml
data:
  source: text_file
  path: nietzsche.txt
  level: char
  sequence_length: 60
  step: 3
  split: {validation: 0.1, test: 0.1}
```
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from dlrun.config.schema import DataSection, Section, ValidationConfig
from dlrun.data.held import aligned_empty
from dlrun.data.representations.token_windows import TokenWindows, token_stream
from dlrun.data.splits import RawData, Split
from dlrun.data.tabular import not_utf8
from dlrun.errors import DataError

# `dlrun check` reads at most this many characters of the text.
PEEK_CHARS = 1 << 20
# documents of a folder, or texts of a CSV column, are joined by a blank line
SEPARATOR = "\n\n"
# the CSV values looked at to tell a column of numbers from a column of text
_NUMBER_PEEK = 1000
_DEFAULT_VALIDATION = ValidationConfig(fraction=0.2)


class TextSplit(Section):
    """Shares of the token stream, in order: training first, then validation, then test."""

    validation: float = Field(
        0.1, gt=0, lt=1, description="Share of the tokens after the training ones."
    )
    test: float = Field(0.1, gt=0, lt=1, description="Share of the tokens at the end.")


class TextFileConfig(DataSection):
    """A text, cut into windows of tokens whose target is the next token (a language model)."""

    gives_words: ClassVar[bool] = True

    source: Literal["text_file"] = Field(
        description="A text (a file, a folder of .txt, a CSV column) for a language model."
    )
    path: str = Field(
        description="A UTF-8 text file, a folder of .txt files (recursive, sorted, joined by "
        "a blank line) or a .csv file (with data.column)."
    )
    column: str | None = Field(None, description="A CSV file's column of texts.")
    level: Literal["char", "word"] = Field(
        "char",
        description="Tokens: characters, or words (punctuation marks are tokens of their own).",
    )
    sequence_length: int = Field(60, ge=1, description="Tokens per window.")
    step: int = Field(3, ge=1, description="A window starts every `step` tokens.")
    lowercase: bool = Field(False, description="Lowercase the text first.")
    max_tokens: int | None = Field(
        20000,
        ge=3,
        description="Word level: the vocabulary's size, padding and [UNK] included (the most "
        "frequent training words); other words become [UNK]. null: every training word.",
    )
    split: TextSplit = Field(
        default_factory=TextSplit,
        description="Contiguous portions of the tokens: training first, then validation, "
        "then test.",
    )
    limit: int | None = Field(
        None,
        ge=1,
        description="Use only the first N characters of the text (quick runs; such loads "
        "are not cached).",
    )
    validation: ValidationConfig = Field(
        default_factory=lambda: ValidationConfig(fraction=0.2),
        description="Not for text_file: the validation data is data.split.validation.",
    )

    @property
    def is_csv(self) -> bool:
        return Path(self.path).suffix.lower() == ".csv"

    def describe(self) -> str:
        column = f"column '{self.column}' of " if self.column else ""
        return f"the text of {column}{self.path}"

    def problems(self) -> list[str]:
        problems = []
        if self.validation != _DEFAULT_VALIDATION:
            problems.append(
                "data.validation does not apply to source text_file: its validation data is "
                "data.split.validation, the stretch of text after the training one. Windows "
                "overlap, so a random holdout or K-fold would validate on text the model "
                "trained on. Remove data.validation, and set the share in data.split."
            )
        if self.split.validation + self.split.test >= 1:
            problems.append(
                f"data.split gives {self.split.validation:g} + {self.split.test:g} of the text "
                "to validation and test, leaving none to train on: keep their sum below 1."
            )
        if self.is_csv and self.column is None:
            problems.append(f"data.path {self.path} is a CSV: name its text column in data.column.")
        if not self.is_csv and self.column is not None:
            problems.append(
                f"data.column is for a CSV file; data.path {self.path} is not one (.csv). "
                "Remove data.column."
            )
        if self.labels == "one_hot":
            problems.append(
                "data.labels one_hot does not apply to a language model: its targets are "
                "token ids (sparse). Remove data.labels."
            )
        return problems

    def training_samples(self) -> int | None:
        return None  # data.limit counts characters here, not samples

    def input_files(self) -> list[Path]:
        # `limit` is not in the data cache's key, and a limited load reads only the
        # first characters anyway: it is not cached
        if self.limit is not None:
            return []
        path = Path(self.path)
        if path.is_dir():
            return _text_files(path)
        return [path] if path.is_file() else []

    def input_problems(self) -> list[str]:
        try:
            text, complete = read_text(self, PEEK_CHARS)
            text = _lowered(text, self)
            if complete:  # the whole text was read: check that every portion holds a window
                portion_bounds(len(token_stream(text, self.level)[0]), len(text), self)
        except DataError as exc:
            return [f"{exc.message} {exc.hint}" if exc.hint else exc.message]
        return []

    def peek_shape(self) -> tuple[int, ...] | None:
        return (self.sequence_length,)


def text_file_source(config: TextFileConfig) -> RawData:
    """The text's training, validation and test portions, each a `TokenWindows` whose ids
    index the text's own table of tokens (the representation fits the vocabulary).

    Example:

    ```python
    raw = text_file_source(TextFileConfig(source="text_file", path="nietzsche.txt"))
    raw.train.x.starts[:3]      # array([0, 3, 6]): a window every data.step tokens
    ```
    """
    text = _lowered(read_text(config)[0], config)
    ids, tokens = token_stream(text, config.level)
    bounds = portion_bounds(len(ids), len(text), config)
    del text
    splits = []
    for lo, hi in bounds:
        count = len(range(0, hi - lo - config.sequence_length, config.step))
        # aligned: TensorFlow reads the starts without a copy (8 bytes a window)
        starts = aligned_empty(count, np.int64)
        starts[:] = np.arange(count, dtype=np.int64) * config.step
        windows = TokenWindows(
            ids=ids[lo:hi],
            starts=starts,
            length=config.sequence_length,
            tokens=tokens,
            level=config.level,
        )
        # the next token's id in the text's own table: `prepare.transform` takes the
        # targets again from the windows once the vocabulary is applied
        splits.append(Split(windows, windows.targets()))
    train, validation, test = splits
    return RawData(train=train, validation=validation, test=test, kind="token_windows")


def read_text(config: TextFileConfig, max_chars: int | None = None) -> tuple[str, bool]:
    """The text the config names, cut to `data.limit` (and `max_chars`) characters, and
    whether it is all the config uses (False when `max_chars` cut it). DataError for a
    path that is missing or holds no text.

    Example:

    ```python
    text, complete = read_text(config, max_chars=1 << 20)    # what dlrun check reads
    ```
    """
    limits = [n for n in (config.limit, max_chars) if n is not None]
    most = min(limits) if limits else None
    path = Path(config.path)
    if not path.exists():
        raise DataError(
            f"data.path {path}: not found.",
            hint="Give a text file, a folder of .txt files or a CSV file (paths are relative "
            "to the current directory).",
        )
    if path.is_dir():
        text, complete = _read_folder(path, most)
    elif config.is_csv:
        text, complete = _read_column(path, config.column, most)
    else:
        text, complete = _read_file(path, most)
    if not text.strip():
        raise DataError(
            f"{config.describe()} is empty (or only whitespace): a language model needs text.",
            hint="Check data.path" + (" and data.column." if config.is_csv else "."),
        )
    if most is not None and len(text) > most:
        text = text[:most]
    # cut by data.limit alone, the text is all the config uses of it
    by_limit = config.limit is not None and (max_chars is None or config.limit <= max_chars)
    return text, complete or by_limit


def portion_bounds(tokens: int, characters: int, config: TextFileConfig) -> list[tuple[int, int]]:
    """[lo, hi) of the training, validation and test tokens of a text of `tokens` tokens
    (`characters` characters); DataError when a portion is too short for one window and
    its target, saying how long the text must be.

    Example:

    ```python
    portion_bounds(1000, 1000, config)     # [(0, 800), (800, 900), (900, 1000)]
    ```
    """
    if config.split.validation + config.split.test >= 1:
        raise DataError("data.split leaves no tokens to train on: keep validation + test below 1.")
    sizes = _sizes(tokens, config.split)
    need = config.sequence_length + 1
    if min(sizes) >= need:
        bounds = np.cumsum([0, *sizes]).tolist()
        return list(zip(bounds[:-1], bounds[1:], strict=True))
    name, size = min(
        zip(("training", "validation", "test"), sizes, strict=True), key=lambda p: p[1]
    )
    unit = "characters" if config.level == "char" else "words"
    least = _least(need, config.split)
    if config.level == "char":
        length = f"at least {least:,} characters"
    else:
        per_word = characters / max(tokens, 1)
        length = f"at least {least:,} words (about {math.ceil(least * per_word):,} characters)"
    cut = config.limit is not None and characters >= config.limit
    limited = f", cut to data.limit {config.limit:,} characters" if cut else ""
    raise DataError(
        f"{config.describe()} has {tokens:,} {unit}{limited}: its {name} portion holds {size}, "
        f"but a window and its next token need {need} (data.sequence_length "
        f"{config.sequence_length} + 1). With data.split {config.split.validation:g} "
        f"validation and {config.split.test:g} test, the text needs {length}.",
        hint="Give a longer text"
        + (" or raise data.limit" if cut else "")
        + ", lower data.sequence_length, or give that portion a larger share in data.split.",
    )


def _sizes(n: int, split: TextSplit) -> tuple[int, int, int]:
    n_val, n_test = int(n * split.validation), int(n * split.test)
    return n - n_val - n_test, n_val, n_test


def _least(need: int, split: TextSplit) -> int:
    """The fewest tokens whose every portion holds `need`."""
    shares = (1 - split.validation - split.test, split.validation, split.test)
    n = math.ceil(need / min(shares))
    while min(_sizes(n, split)) < need:  # int() rounds the shares down
        n += 1
    return n


def _lowered(text: str, config: TextFileConfig) -> str:
    if not config.lowercase:
        return text
    # lowercasing can lengthen a text ('İ' is two characters lowercased): cut it again,
    # so data.limit is still the most characters, and the windows fewer than it
    lowered = text.lower()
    return lowered[: config.limit] if config.limit else lowered


def _text_files(root: Path) -> list[Path]:
    files = [p for p in root.rglob("*") if p.suffix.lower() == ".txt" and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(root).parts)


def _read_folder(root: Path, most: int | None) -> tuple[str, bool]:
    files = _text_files(root)
    if not files:
        raise DataError(
            f"data.path {root} is a folder without .txt files.",
            hint="Give a folder of .txt files (searched recursively), a text file or a CSV.",
        )
    documents, total = [], 0
    for file in files:
        if most is not None and total >= most:
            return SEPARATOR.join(documents), False
        document = _read_file(file, None)[0].rstrip("\n")
        if document.strip():
            documents.append(document)
            total += len(document) + len(SEPARATOR)
    return SEPARATOR.join(documents), True


def _read_file(path: Path, most: int | None) -> tuple[str, bool]:
    try:
        # utf-8-sig: a byte-order mark is no character of the text
        with path.open(encoding="utf-8-sig") as fp:
            text = fp.read() if most is None else fp.read(most + 1)
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    return text, most is None or len(text) <= most


def _read_column(path: Path, column: str | None, most: int | None) -> tuple[str, bool]:
    if column is None:
        raise DataError(f"{path} is a CSV file: name its text column in data.column.")
    texts, total, complete = [], 0, True
    try:
        with path.open(newline="", encoding="utf-8-sig") as fp:
            reader = csv.reader(fp)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path} is empty; a CSV needs a header row.")
            if column not in header:
                raise DataError(
                    f"{path} has no column '{column}' (data.column). Columns: {', '.join(header)}."
                )
            index = header.index(column)
            for row in reader:
                if most is not None and total >= most:
                    complete = False
                    break
                value = row[index] if index < len(row) else ""
                if value.strip():
                    texts.append(value)
                    total += len(value) + len(SEPARATOR)
    except UnicodeDecodeError as exc:
        raise not_utf8(path, exc) from None
    except csv.Error as exc:
        raise DataError(f"{path} could not be read as a CSV: {exc}.") from None
    _refuse_numbers(path, column, texts)
    return SEPARATOR.join(texts), complete


def _refuse_numbers(path: Path, column: str, texts: list[str]) -> None:
    """A column of numbers is no text to model (a wrong data.column, most likely)."""
    looked = texts[:_NUMBER_PEEK]
    if not looked:
        return
    for value in looked:
        try:
            float(value)
        except ValueError:
            return
    raise DataError(
        f"{path}: a language model needs text; column '{column}' holds numbers "
        f"(the first: {looked[0].strip()!r}).",
        hint="Name the CSV's column of texts in data.column.",
    )
