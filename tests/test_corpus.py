"""`text_file`: a text as a language model's data. Windows of token ids whose target is
the next token, contiguous training/validation/test portions that no window crosses, a
vocabulary fitted on the training portion only, encode/decode for generation, the
unigram baseline, tf.data batches, and clean errors for unusable input.

Every text here is written by the test into tmp_path: a .txt file, a folder of .txt
files, a CSV with a column of texts.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dlrun.config.schema import ValidationConfig
from dlrun.data.cache import cache_key
from dlrun.data.corpus import TextFileConfig, text_file_source
from dlrun.data.portions import Portion, make_portions
from dlrun.data.prepare import Prepared, prepare_labels, prepare_test
from dlrun.data.representations import REPRESENTATIONS, representation_of
from dlrun.data.representations.token_windows import (
    TokenWindows,
    decode,
    encode,
    prompt_window,
    token_stream,
    tokenize,
    unigram_perplexity,
)
from dlrun.data.sources import SOURCES, load_raw
from dlrun.errors import DataError

LINE = "the cat sat on the mat, and the dog sat on the log.\n"
# 'Q' and '!' appear only at the very end: in the test portion
TEXT = LINE * 40 + "Q!\n"


def config(path: Path, **keys) -> TextFileConfig:
    return TextFileConfig(source="text_file", path=str(path), **keys)


def language_model(data: TextFileConfig) -> SimpleNamespace:
    """What `make_portions` reads of a full config (the task is the lead's to add)."""
    return SimpleNamespace(task="language_model", data=data, seed=3)


def prepared(data: TextFileConfig) -> tuple[Portion, Prepared]:
    raw = load_raw(data)
    (portion,) = make_portions(raw, language_model(data))
    return portion, portion.prepared


@pytest.fixture
def text_file(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


# -- portions and windows -----------------------------------------------------------------


def test_portions_are_contiguous_and_no_window_crosses_a_boundary(text_file: Path) -> None:
    data = config(text_file, sequence_length=20, step=3)
    raw = text_file_source(data)
    assert raw.kind == "token_windows" and SOURCES["text_file"].representation(data) == (
        "token_windows"
    )
    parts = [raw.train.x, raw.validation.x, raw.test.x]
    # the portions are the stream, in order: train, validation, test (10 % each at the end)
    stream, tokens = token_stream(TEXT, "char")
    n = len(TEXT)
    assert [len(p.ids) for p in parts] == [n - 2 * int(n * 0.1), int(n * 0.1), int(n * 0.1)]
    np.testing.assert_array_equal(np.concatenate([p.ids for p in parts]), stream)
    for part in parts:
        assert part.tokens == tokens
        # a window every 3 tokens, each with its target inside the portion
        np.testing.assert_array_equal(part.starts, np.arange(0, len(part.ids) - 20, 3))
        assert part.starts.max() + 20 < len(part.ids) <= part.starts.max() + 20 + 3


def test_each_window_is_the_text_at_its_start_and_its_target_the_next_token(
    text_file: Path,
) -> None:
    data = config(text_file, sequence_length=12, step=5)
    portion, split = prepared(data)
    x, y = split.train.x, split.train.y
    expected, unknown = encode(TEXT, split.state)
    # every training character is in the vocabulary
    assert unknown == ["Q", "!"]
    for i in (0, 1, 7, len(x) - 1):
        start = int(x.starts[i])
        assert start == 5 * i
        np.testing.assert_array_equal(x.windows(np.array([i]))[0], expected[start : start + 12])
        assert y[i] == expected[start + 12]
        assert decode(x.windows(np.array([i]))[0], split.state) == TEXT[start : start + 12]
        assert split.state["tokens"][y[i]] == TEXT[start + 12]
    assert y.dtype == np.int32 and len(y) == len(x)
    # the source's own targets are ids of the text's table, not of the vocabulary
    assert len(portion.train_y) == len(y)


def test_validation_windows_continue_the_text_after_the_training_ones(text_file: Path) -> None:
    _, split = prepared(config(text_file, sequence_length=10, step=1))
    assert split.validation is not None
    n = len(TEXT)
    offset = n - 2 * int(n * 0.1)
    expected, _ = encode(TEXT, split.state)
    np.testing.assert_array_equal(
        split.validation.x.windows(np.array([0]))[0], expected[offset : offset + 10]
    )
    assert split.validation.y[0] == expected[offset + 10]


def test_the_vocabulary_is_fitted_on_the_training_portion_only(text_file: Path) -> None:
    data = config(text_file, sequence_length=8, step=2)
    _, split = prepared(data)
    tokens = split.state["tokens"]
    assert tokens[:2] == ["", "[UNK]"]
    assert tokens[2:] == sorted(set(LINE))  # every training character, sorted
    assert "Q" not in tokens and "!" not in tokens
    test = prepare_test(load_raw(data), language_model(data), split.state)
    # 'Q' and '!' only occur in the test portion: there they are [UNK]
    ids = test.x.ids
    assert (ids == 1).sum() == 2
    assert decode(ids[-3:], split.state) == "[UNK][UNK]\n"
    assert split.outputs == len(tokens) == split.input_spec.vocabulary


def test_the_state_is_json_and_checked_when_read_back(text_file: Path) -> None:
    import json

    _, split = prepared(config(text_file, sequence_length=8, lowercase=True))
    state = json.loads(json.dumps(split.state))
    assert {"level", "lowercase", "sequence_length", "step", "tokens"} <= set(state)
    assert state["lowercase"] is True and state["step"] == 3
    rep = representation_of(state)
    assert rep.name == "token_windows" and rep.state_problem(state) is None
    assert "tokens" in rep.state_problem({**state, "tokens": "abc"})


def test_input_spec_names_every_token(text_file: Path) -> None:
    _, split = prepared(config(text_file, sequence_length=16))
    spec = split.input_spec
    assert spec.shape == (16,) and spec.dtype == "int32"
    assert spec.tokens == tuple(split.state["tokens"]) and spec.vocabulary == len(spec.tokens)


# -- encode, decode, the baseline ----------------------------------------------------------


def test_encode_and_decode_round_trip_and_unknown_prompt_characters_are_told(
    text_file: Path,
) -> None:
    _, split = prepared(config(text_file, sequence_length=8))
    state = split.state
    ids, unknown = encode("the dog sat", state)
    assert ids.dtype == np.int32 and unknown == []
    assert decode(ids, state) == "the dog sat"
    ids, unknown = encode("The Zed sat", state)  # 'T', 'Z' never seen in training
    assert unknown == ["T", "Z"]
    assert ids[0] == 1 and decode(ids, state) == "[UNK]he [UNK]ed sat"
    assert decode([0, 0, *ids[-3:]], state) == "sat"  # padding reads as nothing
    with pytest.raises(ValueError, match="vocabulary"):
        decode([len(state["tokens"])], state)
    np.testing.assert_array_equal(prompt_window(np.array([5, 6]), 4), [0, 0, 5, 6])
    np.testing.assert_array_equal(prompt_window(np.arange(2, 9), 3), [6, 7, 8])


def test_lowercase_applies_to_the_text_and_to_prompts(tmp_path: Path) -> None:
    path = tmp_path / "loud.txt"
    path.write_text("The Cat Sat. " * 30, encoding="utf-8")
    _, split = prepared(config(path, sequence_length=8, lowercase=True))
    assert not any(t.isupper() for t in split.state["tokens"][2:])
    ids, unknown = encode("THE CAT", split.state)
    assert unknown == [] and decode(ids, split.state) == "the cat"


def test_unigram_perplexity_is_the_add_one_smoothed_frequency_baseline() -> None:
    train = np.array([2, 2, 2, 3])
    evaluated = np.array([2, 3, 4])
    # vocabulary 5: counts + 1 = [1, 1, 4, 2, 1] over 9
    p = np.array([4, 2, 1]) / 9
    expected = math.exp(-np.log(p).mean())
    assert unigram_perplexity(train, evaluated, 5) == pytest.approx(expected)
    # a uniform unigram over V tokens has perplexity V
    assert unigram_perplexity(np.arange(7), np.arange(7), 7) == pytest.approx(7)


def test_the_unigram_baseline_runs_on_prepared_targets(text_file: Path) -> None:
    _, split = prepared(config(text_file, sequence_length=8))
    assert split.validation is not None
    value = unigram_perplexity(split.train.y, split.validation.y, split.outputs)
    assert 1 < value < split.outputs


# -- word level ----------------------------------------------------------------------------


def test_word_level_keeps_the_most_frequent_training_words(tmp_path: Path) -> None:
    path = tmp_path / "words.txt"
    # 'b' most frequent, then 'a', then 'c' and '.' tied (c first); 'rare' once; 'late'
    # only in the test portion
    path.write_text("rare " + "a b c b . " * 40 + "late " * 6, encoding="utf-8")
    assert tokenize("Don't stop.", "word") == ["Don't", "stop", "."]
    data = config(path, level="word", sequence_length=4, step=1, max_tokens=5, split={"test": 0.05})
    raw = load_raw(data)
    _, split = prepared(data)
    # max_tokens counts padding and [UNK]: three words kept, ties by first appearance
    assert split.state["tokens"] == ["", "[UNK]", "b", "a", "c"]
    assert split.outputs == 5
    x = split.train.x
    assert decode(x.windows(np.array([0]))[0], split.state) == "[UNK] a b c"
    assert split.state["tokens"][split.train.y[0]] == "b"
    assert decode(x.windows(np.array([1]))[0], split.state) == "a b c b"
    assert split.state["tokens"][split.train.y[1]] == "[UNK]"  # '.' is a token, not kept
    # the raw table lists the text's words in order of first appearance
    assert raw.train.x.tokens == ["rare", "a", "b", "c", ".", "late"]
    test = prepare_test(raw, language_model(data), split.state)
    assert decode(test.x.ids[-3:], split.state) == "[UNK] [UNK] [UNK]"
    # every training word under max_tokens: null
    _, every = prepared(config(path, level="word", sequence_length=4, max_tokens=None))
    assert every.state["tokens"][2:] == ["b", "a", "c", ".", "rare"]
    ids, unknown = encode("a zebra b", every.state)
    assert unknown == ["zebra"] and decode(ids, every.state) == "a [UNK] b"


# -- folders and CSV files -----------------------------------------------------------------


def test_a_folder_of_text_files_is_read_recursively_in_order(tmp_path: Path) -> None:
    root = tmp_path / "books"
    (root / "b").mkdir(parents=True)
    (root / "a.txt").write_text("first document\n", encoding="utf-8")
    (root / "b" / "c.txt").write_text("third one", encoding="utf-8")
    (root / "b" / "a.txt").write_text("second\n\n", encoding="utf-8")
    (root / "notes.md").write_text("not text for the model", encoding="utf-8")
    data = config(root, sequence_length=2, step=1)
    raw = text_file_source(data)
    parts = [raw.train.x, raw.validation.x, raw.test.x]
    ids = np.concatenate([p.ids for p in parts])
    text = "".join(raw.train.x.tokens[i] for i in ids)
    assert text == "first document\n\nsecond\n\nthird one"
    assert data.input_files() == [root / "a.txt", root / "b" / "a.txt", root / "b" / "c.txt"]


def write_csv(path: Path, rows: list[list[str]], header=("id", "review", "stars")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fp:
        writer = csv.writer(fp)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_a_csv_column_of_texts_is_one_text(tmp_path: Path) -> None:
    rows = [[str(i), f"review number {i}, with a comma", str(i % 5)] for i in range(20)]
    path = write_csv(tmp_path / "reviews.csv", rows)
    raw = text_file_source(config(path, column="review", sequence_length=10))
    parts = [raw.train.x, raw.validation.x, raw.test.x]
    text = "".join(raw.train.x.tokens[i] for i in np.concatenate([p.ids for p in parts]))
    assert text == "\n\n".join(f"review number {i}, with a comma" for i in range(20))


def test_a_csv_column_of_numbers_or_a_missing_column_is_refused(tmp_path: Path) -> None:
    rows = [[str(i), f"text {i}", f"{i * 0.5}"] for i in range(50)]
    path = write_csv(tmp_path / "reviews.csv", rows)
    with pytest.raises(DataError, match="a language model needs text; column 'stars' holds"):
        text_file_source(config(path, column="stars"))
    with pytest.raises(DataError, match=r"no column 'body' \(data.column\). Columns: id, review"):
        text_file_source(config(path, column="body"))
    problems = config(path, column="body").input_problems()
    assert len(problems) == 1 and "no column 'body'" in problems[0]


# -- errors and config rules ---------------------------------------------------------------


def test_a_missing_path_an_empty_text_or_a_folder_without_text_is_a_clean_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(DataError, match="nowhere.txt: not found"):
        text_file_source(config(tmp_path / "nowhere.txt"))
    empty = tmp_path / "empty.txt"
    empty.write_text(" \n\n  ", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty.txt is empty .*a language model needs text"):
        text_file_source(config(empty))
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="folder without .txt files"):
        text_file_source(config(tmp_path / "folder"))


def test_text_that_is_not_utf8_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\u00e9\n".encode() * 5 + "na\u00efve\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.txt is not UTF-8 text: line 6") as error:
        text_file_source(config(path))
    assert "iconv" in str(error.value)
    folder = tmp_path / "docs"
    folder.mkdir()
    path.rename(folder / "latin.txt")
    with pytest.raises(DataError, match=r"docs/latin.txt is not UTF-8"):
        text_file_source(config(folder))


def test_a_text_too_short_for_a_window_per_portion_says_how_long_it_must_be(
    tmp_path: Path,
) -> None:
    path = tmp_path / "short.txt"
    path.write_text("x" * 500, encoding="utf-8")
    # validation and test get 50 characters each, a window and its target need 61
    with pytest.raises(DataError) as error:
        text_file_source(config(path, sequence_length=60))
    message = str(error.value)
    assert "its validation portion holds 50" in message and "need 61" in message
    assert "needs at least 610 characters" in message
    # 610 is enough
    path.write_text("x" * 610, encoding="utf-8")
    assert len(text_file_source(config(path, sequence_length=60)).test) == 1
    # word level says words, and about how many characters
    path.write_text("ab " * 100, encoding="utf-8")
    with pytest.raises(DataError, match=r"at least 610 words \(about 1,830 characters\)"):
        text_file_source(config(path, sequence_length=60, level="word"))
    # dlrun check finds it in a small file without loading
    assert "needs at least" in config(path, sequence_length=60, level="word").input_problems()[0]
    assert config(path, sequence_length=5).input_problems() == []


def test_limit_keeps_the_first_characters_and_is_not_cached(text_file: Path) -> None:
    data = config(text_file, sequence_length=10, step=1, limit=400)
    raw = load_raw(data)
    ids = np.concatenate([raw.train.x.ids, raw.validation.x.ids, raw.test.x.ids])
    assert len(ids) == 400
    assert "".join(raw.train.x.tokens[i] for i in ids) == TEXT[:400]
    assert data.input_files() == [] and cache_key(data) is None
    assert data.training_samples() is None  # characters, not samples
    # the windows are fewer than the limit, so prepare's sample cut leaves them all
    _, split = prepared(data)
    assert len(split.train) == len(raw.train)


def test_validation_other_than_the_portion_is_refused_naming_data_split(text_file: Path) -> None:
    assert config(text_file).problems() == []
    for validation in ({"kfold": 5}, {"fraction": 0.3}, {"holdout": 10}):
        (problem,) = config(text_file, validation=ValidationConfig(**validation)).problems()
        assert "data.split" in problem and "K-fold" in problem
    (problem,) = config(text_file, split={"validation": 0.5, "test": 0.5}).problems()
    assert "leaving none to train on" in problem
    assert "data.column" in config(text_file.with_suffix(".csv")).problems()[0]
    assert "not one (.csv)" in config(text_file, column="review").problems()[0]
    assert "one_hot" in config(text_file, labels="one_hot").problems()[0]
    assert config(text_file, sequence_length=42).peek_shape() == (42,)


def test_labels_of_a_language_model_are_int32_ids() -> None:
    y = prepare_labels(np.array([3, 1, 2]), "language_model", outputs=4)
    assert y.dtype == np.int32
    with pytest.raises(DataError, match="outside the 4 classes"):
        prepare_labels(np.array([4]), "language_model", outputs=4)


# -- cache and batches ---------------------------------------------------------------------


def test_the_cache_gives_back_the_same_windows(text_file: Path) -> None:
    data = config(text_file, sequence_length=9, step=2)
    assert cache_key(data) is not None
    first = load_raw(data)
    again = load_raw(data)  # from the cache entry the first load wrote
    for name in ("train", "validation", "test"):
        a, b = getattr(first, name), getattr(again, name)
        assert isinstance(b.x, TokenWindows) and b.x.tokens == a.x.tokens
        np.testing.assert_array_equal(a.x.ids, b.x.ids)
        np.testing.assert_array_equal(a.x.starts, b.x.starts)
        np.testing.assert_array_equal(a.y, b.y)
    assert again.kind == "token_windows"


def test_tf_data_batches_gather_windows_and_next_tokens(text_file: Path) -> None:
    import tensorflow as tf

    from dlrun.data.pipeline import make_dataset, training_dataset

    _, split = prepared(config(text_file, sequence_length=15, step=4))
    x = split.train.x
    batches = list(make_dataset(split.train, batch_size=32))
    assert batches[0][0].shape == (32, 15) and batches[0][0].dtype == tf.int32
    assert batches[0][1].shape == (32,) and batches[0][1].dtype == tf.int32
    features = np.concatenate([b[0].numpy() for b in batches])
    labels = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_array_equal(features, x.windows())
    np.testing.assert_array_equal(labels, x.ids[x.starts + 15])
    # shuffled training batches pair each window with its own next token
    dataset, steps = training_dataset(split.train, 16, seed=1, epochs=(0, 1))
    assert steps == math.ceil(len(x) / 16)
    for window, target in zip(*next(iter(dataset)), strict=True):
        (i,) = np.flatnonzero((x.windows() == window.numpy()).all(axis=1))[:1]
        assert target.numpy() == x.ids[x.starts[i] + 15]
    gather = REPRESENTATIONS["token_windows"].batches(x)
    np.testing.assert_array_equal(
        gather(tf.constant([3, 0], tf.int64)).numpy(), x.windows(np.array([3, 0]))
    )


def test_predict_reads_the_last_window_of_a_text_file(text_file: Path, tmp_path: Path) -> None:
    data = config(text_file, sequence_length=6)
    _, split = prepared(data)
    rep = REPRESENTATIONS["token_windows"]
    new = tmp_path / "prompt.txt"
    new.write_text("the Zed sat on", encoding="utf-8")
    x = rep.apply(rep.read(new, split.state, data), split.state)
    assert len(x) == 1
    assert decode(x.windows()[0], split.state) == "sat on"
    new.write_text("the", encoding="utf-8")
    with pytest.raises(DataError, match="holds 3 characters; a prediction needs the last 6"):
        rep.read(new, split.state, data)
    with pytest.raises(DataError, match="give a text file"):
        rep.read(tmp_path / "x.npz", split.state, data)
