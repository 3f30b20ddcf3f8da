"""`token_windows`: windows of token ids over a text, each with the next token as its
target (a language model, book ch. 8: character-level text generation with an LSTM).

A text is one stream of tokens: its characters (`level: char`) or its words and
punctuation marks (`level: word`). The source (`dlrun.data.corpus`) cuts the stream into
contiguous portions and gives each one as a `TokenWindows`: the portion's token ids and
where each window starts. Before fitting, the ids index the text's own table of distinct
tokens (a raw, vocabulary-free encoding); `fit` chooses the vocabulary from the tokens of
the training windows only, and `apply` maps every portion onto it, so a token seen only
after the training portion becomes [UNK] there.

The vocabulary, as `TextVectorization.get_vocabulary()` gives one: id 0 is padding (""),
id 1 is "[UNK]", then the tokens; for characters, every character of the training
portion in sorted order; for words, the `max_tokens - 2` most frequent training words
(ties by first appearance), all of them under `max_tokens: null`.

Batches are gathered in TensorFlow from each portion's ids held once: window i is
`ids[starts[i] : starts[i] + length]`, its target `ids[starts[i] + length]`. No
(windows, length) matrix exists outside a batch (IMDB's 33 M characters, a window every
3, would be 11 M windows of 60 ids: 2.6 GB).

Example:

```python
rep = NextTokenWindows()
state = rep.fit(raw.train, raw, config.data)   # {"tokens": ["", "[UNK]", "\\n", " ", ...]}
x = rep.apply(raw.train.x, state)
x.targets()[:3]                                 # the next token of the first 3 windows
ids, unknown = encode("the sea", state)        # unknown: tokens the vocabulary lacks
decode(ids, state)                              # 'the sea' (unknown ones as '[UNK]')
```
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.held import aligned_empty, held
from dlrun.data.inputs import InputSpec
from dlrun.data.representations.base import (
    FLAG,
    INTEGER,
    TEXT,
    Representation,
    list_of,
    one_of,
)
from dlrun.data.splits import RawData, Split
from dlrun.errors import DataError

PAD, UNK = 0, 1
SPECIAL_TOKENS = ("", "[UNK]")
# A word: letters and digits, with inner apostrophes (don't, l'homme); any other
# character that is not whitespace is a token of its own. Whitespace only separates.
WORD = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")
_SPACE = re.compile(r"\s")
# characters tokenized at a time: the temporaries of a 33 M character text stay small
_CHUNK = 1 << 20


def tokenize(text: str, level: str) -> list[str]:
    """The tokens of `text`: its characters, or its words and punctuation marks.

    Example:

    ```python
    tokenize("Don't stop.", "word")    # ["Don't", 'stop', '.']
    ```
    """
    return list(text) if level == "char" else WORD.findall(text)


def token_stream(text: str, level: str) -> tuple[np.ndarray, list[str]]:
    """The text as ids into its own table of distinct tokens, and that table: for
    characters, sorted; for words, in order of first appearance (which `fit` uses to
    break ties between equally frequent words). The ids are of the narrowest unsigned
    type that holds them (a text of fewer than 256 distinct characters takes a byte a
    character, not four), else int32.

    Example:

    ```python
    token_stream("abca", "char")       # (array([0, 1, 2, 0], dtype=uint8), ['a', 'b', 'c'])
    ```
    """
    return _char_stream(text) if level == "char" else _word_stream(text)


def _narrowest(tokens: int) -> type[np.integer]:
    for dtype in (np.uint8, np.uint16):
        if tokens <= np.iinfo(dtype).max + 1:
            return dtype
    return np.int32


def _char_stream(text: str) -> tuple[np.ndarray, list[str]]:
    tokens = sorted(set(text))
    if not tokens:
        return np.zeros(0, dtype=np.uint8), []
    dtype = _narrowest(len(tokens))
    # a table over code points maps a chunk's UTF-32 code units in one numpy gather
    table = np.zeros(ord(tokens[-1]) + 1, dtype=dtype)
    table[[ord(c) for c in tokens]] = np.arange(len(tokens), dtype=dtype)
    ids = np.empty(len(text), dtype=dtype)
    for lo in range(0, len(text), _CHUNK):
        codes = np.frombuffer(text[lo : lo + _CHUNK].encode("utf-32-le"), dtype="<u4")
        ids[lo : lo + len(codes)] = table[codes]
    return ids, tokens


def _word_stream(text: str) -> tuple[np.ndarray, list[str]]:
    index: dict[str, int] = {}
    parts = []
    # chunk by chunk, so the text never exists as one list of millions of word strings
    for chunk in _chunks(text):
        words = WORD.findall(chunk)
        parts.append(
            np.fromiter((index.setdefault(w, len(index)) for w in words), np.int32, len(words))
        )
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
    return ids.astype(_narrowest(len(index)), copy=False), list(index)


def _chunks(text: str) -> Iterator[str]:
    """About `_CHUNK` characters at a time, each cut at whitespace so no word is split."""
    lo = 0
    while lo < len(text):
        space = _SPACE.search(text, lo + _CHUNK)
        hi = space.start() if space else len(text)
        yield text[lo:hi]
        lo = hi


@dataclass
class TokenWindows:
    """Windows over one contiguous portion of a token stream: window i is the `length`
    ids from `starts[i]`, and its target the id right after them.

    `tokens[j]` is the token of id j: the text's own table before the representation is
    applied, the fitted vocabulary after. `take` picks windows by index; no window is
    materialized outside a batch.

    Example:

    ```python
    ids, tokens = token_stream("abcabc", "char")
    w = TokenWindows(ids, np.array([0, 2]), length=3, tokens=tokens, level="char")
    w.windows()     # array([[0, 1, 2], [2, 0, 1]], dtype=uint8)
    w.targets()     # array([0, 2], dtype=uint8): 'a' after 'abc', 'c' after 'cab'
    ```
    """

    # (tokens,) the portion's token ids: unsigned or int32 before the vocabulary is
    # applied (`token_stream`), int32 after
    ids: np.ndarray
    starts: np.ndarray  # (windows,) int64, offsets into ids
    length: int  # ids per window (data.sequence_length)
    tokens: list[str]
    level: str  # "char" or "word"

    representation: ClassVar[str] = "token_windows"

    def __len__(self) -> int:
        return len(self.starts)

    def take(self, index: np.ndarray) -> TokenWindows:
        return replace(self, starts=self.starts[np.asarray(index, dtype=np.int64)])

    def span(self) -> tuple[int, int]:
        """[lo, hi): the ids the windows and their targets cover."""
        if not len(self):
            return 0, 0
        return int(self.starts.min()), int(self.starts.max()) + self.length + 1

    def targets(self) -> np.ndarray:
        """Each window's next token id: what a language model learns to predict.

        `dlrun.data.prepare.transform` takes a split's targets from here once the
        vocabulary is applied, since the source's raw ids are not vocabulary ids.
        """
        return self.ids[self.starts + self.length]

    def windows(self, index: np.ndarray | None = None) -> np.ndarray:
        """The (windows, length) id matrix of some windows (all by default): a batch's
        (`NextTokenWindows.arrays`), or a small look; never a whole split's."""
        starts = self.starts if index is None else self.starts[np.asarray(index)]
        return self.ids[starts[:, None] + np.arange(self.length)]


class NextTokenWindows(Representation):
    name = "token_windows"
    what = "windows of token ids over a text"
    state_keys = {
        "level": one_of("char", "word"),
        "lowercase": FLAG,
        "sequence_length": INTEGER,
        "step": INTEGER,
        "tokens": list_of(TEXT, "strings"),
        "outputs": INTEGER,
    }

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        x = _windows(train.x)
        lo, hi = x.span()
        counts = np.bincount(x.ids[lo:hi], minlength=len(x.tokens))
        seen = np.flatnonzero(counts)
        if x.level == "char":
            chosen = [x.tokens[i] for i in seen]
            chosen.sort()
        else:
            # the text's table lists words in order of first appearance, and the training
            # portion opens the text: a stable sort breaks ties by first appearance in it
            order = seen[np.argsort(-counts[seen], kind="stable")]
            max_tokens = getattr(data, "max_tokens", None)
            if max_tokens is not None:
                order = order[: max_tokens - len(SPECIAL_TOKENS)]
            chosen = [x.tokens[i] for i in order]
        tokens = [*SPECIAL_TOKENS, *chosen]
        return {
            "level": x.level,
            "lowercase": bool(getattr(data, "lowercase", False)),
            "sequence_length": x.length,
            "step": int(getattr(data, "step", 1)),
            "tokens": tokens,
            # the target of a window is a token id: one class per id of the vocabulary
            "outputs": len(tokens),
        }

    def apply(self, x: Any, state: dict[str, Any]) -> TokenWindows:
        x = _windows(x)
        if x.level != state["level"] or x.length != state["sequence_length"]:
            raise DataError(
                f"this run was trained on windows of {state['sequence_length']} "
                f"{_unit(state['level'])}; the new data has windows of {x.length} "
                f"{_unit(x.level)}."
            )
        index = {token: i for i, token in enumerate(state["tokens"])}
        lookup = np.fromiter((index.get(t, UNK) for t in x.tokens), np.int32, len(x.tokens))
        ids = aligned_empty(len(x.ids), np.int32)
        if len(ids):
            np.take(lookup, x.ids, out=ids)
        return replace(x, ids=ids, tokens=list(state["tokens"]))

    def input_spec(self, x: Any, state: dict[str, Any]) -> InputSpec:
        tokens = tuple(state["tokens"])
        return InputSpec(
            shape=(state["sequence_length"],), dtype="int32", vocabulary=len(tokens), tokens=tokens
        )

    def batches(self, x: Any) -> Callable[[Any], Any]:
        import tensorflow as tf

        x = _windows(x)
        ids = held(x.ids, "token_ids")
        starts = held(x.starts.astype(np.int64, copy=False), "window_starts")
        offsets = tf.range(x.length, dtype=tf.int64)

        def features(index: Any) -> Any:
            positions = tf.gather(starts.read_value(), index)[:, None] + offsets
            return tf.gather(ids.read_value(), positions)

        return features

    def arrays(self, x: Any) -> Callable[[np.ndarray], np.ndarray]:
        return _windows(x).windows

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> TokenWindows:
        """The last window of a text file (plain text, a folder of .txt or a CSV, as the
        run's data section reads them), to predict the token after it; raw, as the source
        gives its portions (`apply` maps it onto the vocabulary)."""
        from dlrun.data.corpus import read_text  # the source module imports this one

        self.refuse_arrays(path, "a text file")
        config = data.model_copy(update={"path": str(path), "limit": None})
        text = read_text(config)[0]
        ids, tokens = token_stream(text.lower() if state["lowercase"] else text, state["level"])
        length = state["sequence_length"]
        if len(ids) < length:
            raise DataError(
                f"{path} holds {len(ids)} {_unit(state['level'])}; a prediction needs the "
                f"last {length} (data.sequence_length).",
                hint=f"Give at least {length} {_unit(state['level'])} of text.",
            )
        return TokenWindows(
            ids=ids,
            starts=np.array([len(ids) - length], dtype=np.int64),
            length=length,
            tokens=tokens,
            level=state["level"],
        )


def encode(text: str, state: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
    """`text` as int32 vocabulary ids (a prompt for generation), and the distinct tokens
    of it the vocabulary lacks, in order of appearance: they became [UNK] (id 1).

    Example:

    ```python
    ids, unknown = encode("Zebra", state)   # unknown == ['Z'] if no 'Z' was in training
    ```
    """
    if state["lowercase"]:
        text = text.lower()
    pieces = tokenize(text, state["level"])
    index = {token: i for i, token in enumerate(state["tokens"])}
    ids = np.fromiter((index.get(p, UNK) for p in pieces), np.int32, len(pieces))
    unknown = list(dict.fromkeys(p for p, i in zip(pieces, ids.tolist(), strict=True) if i == UNK))
    return ids, unknown


def decode(ids: Sequence[int] | np.ndarray, state: dict[str, Any]) -> str:
    """Vocabulary ids back to text: characters joined as they are, words with spaces;
    padding (id 0) is left out, an unknown token reads "[UNK]".

    Example:

    ```python
    decode(encode("the sea", state)[0], state)     # 'the sea'
    ```
    """
    tokens = state["tokens"]
    values = np.asarray(ids, dtype=np.int64).ravel()
    if len(values) and (values.min() < 0 or values.max() >= len(tokens)):
        raise ValueError(f"token ids must lie in [0, {len(tokens)}), the vocabulary's size")
    pieces = [tokens[i] for i in values.tolist() if i != PAD]
    return ("" if state["level"] == "char" else " ").join(pieces)


def prompt_window(ids: np.ndarray, sequence_length: int) -> np.ndarray:
    """The (sequence_length,) int32 window a model reads for the next token: the last
    `sequence_length` ids, padded in front with id 0 when there are fewer.

    Example:

    ```python
    prompt_window(np.array([5, 6]), 4)     # array([0, 0, 5, 6], dtype=int32)
    ```
    """
    ids = np.asarray(ids, dtype=np.int32)[-sequence_length:]
    return np.concatenate([np.zeros(sequence_length - len(ids), dtype=np.int32), ids])


def unigram_perplexity(
    train_targets: np.ndarray, eval_targets: np.ndarray, vocabulary: int
) -> float:
    """The unigram baseline's perplexity on `eval_targets`: every next token predicted
    with its frequency among `train_targets`, add-one smoothed over all `vocabulary` ids
    (so a token never seen as a training target is not impossible).

    A language model that does not beat it has learned nothing of the context. Both are
    vocabulary ids (a prepared split's `y`).

    Example:

    ```python
    unigram_perplexity(prepared.train.y, prepared.validation.y, prepared.outputs)
    ```
    """
    train = np.asarray(train_targets, dtype=np.int64).ravel()
    evaluated = np.asarray(eval_targets, dtype=np.int64).ravel()
    if not len(evaluated):
        raise ValueError("no targets to evaluate the unigram baseline on")
    counts = np.bincount(train, minlength=vocabulary)[:vocabulary] + 1.0
    log_p = np.log(counts) - math.log(counts.sum())
    return float(np.exp(-log_p[evaluated].mean()))


def _windows(x: Any) -> TokenWindows:
    if not isinstance(x, TokenWindows):
        raise DataError("this run was trained on windows of token ids; the new data is not.")
    return x


def _unit(level: str) -> str:
    return "characters" if level == "char" else "words"
