"""The representation protocol: ordered token sequences as the book pads them, and the
batches every representation gives the model."""

from __future__ import annotations

import numpy as np
import pytest

from dlrun.data.keras_files import load_local
from dlrun.data.pipeline import make_dataset, training_dataset
from dlrun.data.portions import make_portions
from dlrun.data.prepare import prepare_test
from dlrun.data.representations import REPRESENTATIONS, representation_of
from dlrun.data.sources import load_raw
from dlrun.data.splits import Sequences, Split, TokenLists
from dlrun.spec import validate
from tests.test_data import keras, tiny_imdb  # noqa: F401 - fixtures

ROWS = [[5, 6, 7, 8, 9, 10], [3], [], [4, 12, 4]]


@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
@pytest.mark.parametrize("rows_at_a_time", [1, 3, 100])
def test_padded_sequences_equal_keras_pad_sequences(
    keras,  # noqa: F811
    monkeypatch,
    padding,
    truncating,
    rows_at_a_time,
) -> None:
    # padded places rows a few at a time; the rows of every chunk land in their own places
    monkeypatch.setattr("dlrun.data.splits._PADDED_IDS", 4 * rows_at_a_time)
    rows = TokenLists.from_lists(ROWS, num_words=20)
    expected = keras.utils.pad_sequences(ROWS, maxlen=4, padding=padding, truncating=truncating)
    got = rows.padded(4, padding, truncating)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, expected)
    # picking rows by index keeps their order, as K-fold and validation carving do
    np.testing.assert_array_equal(
        rows.take(np.array([3, 0])).padded(4, padding, truncating), expected[[3, 0]]
    )


def test_ids_outside_the_vocabulary_become_oov_in_order() -> None:
    rows = TokenLists.from_lists([[1, 15, 3, 15]], num_words=10)
    np.testing.assert_array_equal(rows.padded(4), [[1, 2, 3, 2]])
    # a fitted vocabulary smaller than the data's (a sequence run's state) does the same
    wider = TokenLists.from_lists([[1, 15, 3, 15, 9]], num_words=20)
    np.testing.assert_array_equal(wider.padded(5, num_words=9), [[1, 2, 3, 2, 2]])
    # multi-hot sets drop them instead, and lose the order and the repeats
    np.testing.assert_array_equal(Sequences.from_lists([[1, 15, 3, 15]], 10).values, [1, 3])


def sequence_config(path, **data):
    raw = {
        "name": "seq",
        "task": "binary",
        "data": {
            "source": "keras.imdb",
            "path": str(path),
            "num_words": 30,
            "vectorize": "sequence",
            "maxlen": 8,
            **data,
        },
        "model": {"kind": "python:none.py:build"},
    }
    return validate(raw).config


def test_keras_imdb_as_ordered_sequences_like_the_book(keras, tiny_imdb) -> None:  # noqa: F811
    config = sequence_config(tiny_imdb, validation={"holdout": 10})
    raw = load_raw(config.data)
    assert raw.kind == "sequence"
    (x_train, _), (x_test, _) = load_local("imdb", tiny_imdb, num_words=30)
    portion = make_portions(raw, config)[0]
    prepared = portion.prepared
    assert prepared.input_spec.shape == (8,)
    assert prepared.input_spec.dtype == "int32" and prepared.input_spec.vocabulary == 30
    # the book: pad_sequences(load_data(num_words=...)) with Keras's defaults (pre, pre)
    both = np.concatenate([prepared.validation.x, prepared.train.x])
    assert sorted(map(tuple, both)) == sorted(
        map(tuple, keras.utils.pad_sequences(x_train, maxlen=8))
    )
    test = prepare_test(raw, config, prepared.state)
    np.testing.assert_array_equal(test.x, keras.utils.pad_sequences(x_test, maxlen=8))
    assert representation_of(prepared.state).name == "sequence"

    batches = list(make_dataset(prepared.train, batch_size=16))
    assert batches[0][0].dtype.name == "int32" and tuple(batches[0][0].shape) == (16, 8)
    shuffled, steps = training_dataset(prepared.train, 16, seed=1, epochs=(0, 1))
    seen = np.concatenate([x.numpy() for x, _ in shuffled.take(steps)])
    assert sorted(map(tuple, seen)) == sorted(map(tuple, prepared.train.x))


def test_post_padding_and_truncating_are_kept_in_the_state(tiny_imdb) -> None:  # noqa: F811
    config = sequence_config(tiny_imdb, padding="post", truncating="post", maxlen=3)
    raw = load_raw(config.data)
    state = make_portions(raw, config)[0].prepared.state
    assert {k: state[k] for k in ("maxlen", "padding", "truncating", "num_words")} == {
        "maxlen": 3,
        "padding": "post",
        "truncating": "post",
        "num_words": 30,
    }
    (_, _), (x_test, _) = load_local("imdb", tiny_imdb, num_words=30)
    expected = [list(row[:3]) + [0] * (3 - len(row[:3])) for row in x_test]
    np.testing.assert_array_equal(prepare_test(raw, config, state).x, expected)


def test_every_representation_has_a_name_and_reads_or_refuses_files(tmp_path) -> None:
    names = {"features", "table", "images", "multi_hot", "sequence", "text", "table_text"}
    assert set(REPRESENTATIONS) == names | {"series", "image_files", "token_windows"}
    lines = tmp_path / "tokens.txt"
    lines.write_text("1 5 7\n4,4\n")
    state = {"kind": "sequence", "num_words": 6, "maxlen": 3, "padding": "pre", "truncating": "pre"}
    rep = representation_of(state)
    np.testing.assert_array_equal(
        rep.apply(rep.read(lines, state, None), state), [[1, 5, 2], [0, 4, 4]]
    )
    # runs saved before multi_hot had its name still load
    assert representation_of({"kind": "sequences"}).name == "multi_hot"


def test_each_training_epoch_is_a_permutation_keyed_by_seed_and_epoch(keras) -> None:  # noqa: F811
    """What resume relies on: epoch 2 is the same whether the fit started at 0 or at 2."""
    split = Split(np.arange(50, dtype=np.float32)[:, None], np.arange(50))
    steps = 4

    def epochs(seed: int, first: int, last: int) -> list[np.ndarray]:
        dataset, steps_per_epoch = training_dataset(split, 16, seed=seed, epochs=(first, last))
        assert steps_per_epoch == steps
        labels = np.concatenate([y.numpy() for _, y in dataset])
        return np.split(labels, last - first)

    from_start = epochs(1, 0, 3)
    for order in from_start:
        assert sorted(order) == list(range(50))
    assert not np.array_equal(from_start[0], from_start[1])
    np.testing.assert_array_equal(epochs(1, 2, 3)[0], from_start[2])
    assert not np.array_equal(epochs(2, 0, 1)[0], from_start[0])


def test_pipelines_run_without_the_autotuning_thread(keras) -> None:  # noqa: F811
    """With tf.data's autotuning thread, deleting a fit's iterator waits until that thread
    wakes: beside a second training process, fit returned 47-56 s after its last epoch.
    The batches are the same without it."""
    split = Split(np.arange(50, dtype=np.float32)[:, None], np.arange(50))
    shuffled, _ = training_dataset(split, 16, seed=1, epochs=(0, 1))
    ordered = make_dataset(split, 16)
    for dataset in (shuffled, ordered):
        assert dataset.options().autotune.enabled is False
    assert sorted(np.concatenate([y.numpy() for _, y in shuffled])) == list(range(50))
    np.testing.assert_array_equal(np.concatenate([y.numpy() for _, y in ordered]), range(50))


def test_pipelines_gather_from_the_prepared_arrays_not_from_copies(keras) -> None:  # noqa: F811
    """A pipeline lends the split's arrays to TensorFlow (`dlrun.data.held`). Captured
    as constants, a 400 MB array cost up to three more copies while its dataset ran;
    here a change to the arrays after the dataset is made shows in its batches."""
    reviews = Sequences.from_lists([[1, 2, 3], [4, 5], [6]], num_words=10).take(np.arange(3))
    padded = reviews.padded(4)
    labels = np.array([0, 1, 0])
    dense = make_dataset(Split(padded, labels), 2)
    sparse = make_dataset(Split(reviews, labels), 3)
    padded[0, -1] = 9
    reviews.values[0] = 7  # row 0's token 1 becomes token 7
    x, _ = next(iter(dense))
    assert x.numpy()[0].tolist() == [0, 1, 2, 9]
    x, _ = next(iter(sparse))
    assert keras.ops.convert_to_numpy(x.indices)[0].tolist() == [0, 7]


def test_held_arrays_of_any_layout_gather_the_same_values(keras) -> None:  # noqa: F811
    import tensorflow as tf

    from dlrun.data.held import held

    grid = np.arange(24, dtype=np.float32).reshape(4, 6)
    for array in (grid[:, ::2], grid[1:], grid > 5, np.zeros((0, 3), np.int64)):
        variable = held(array, "case")
        got = tf.gather(variable.read_value(), tf.range(len(array))).numpy()
        np.testing.assert_array_equal(got, array)
