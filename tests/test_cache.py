"""The data cache: a source is loaded once per file and config, then memory-mapped."""

from __future__ import annotations

import numpy as np
import pytest

from dlrun.data.cache import cache_key, cached
from dlrun.data.keras_files import KerasTextConfig
from dlrun.data.npz import NpzConfig
from dlrun.data.sources import SOURCES, load_raw
from dlrun.data.tabular import CsvConfig
from dlrun.errors import DataWarning
from dlrun.spec import validate
from tests.test_data import csv_rows, ragged, random_rows, tiny_imdb, write_csv  # noqa: F401


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    path = tmp_path / "cache"
    monkeypatch.setenv("DLRUN_CACHE_DIR", str(path))
    return path


def counting(source: str):
    calls = []

    def load(config):
        calls.append(config)
        return SOURCES[source].load(config)

    return load, calls


def test_second_load_is_memory_mapped_and_equal(cache_dir, tiny_imdb) -> None:  # noqa: F811
    config = KerasTextConfig(source="keras.imdb", path=str(tiny_imdb), num_words=20)
    load, calls = counting("keras.imdb")
    first = cached(config, load)
    second = cached(config, load)
    assert len(calls) == 1
    assert isinstance(second.train.x.values, np.memmap)
    for a, b in ((first.train, second.train), (first.test, second.test)):
        np.testing.assert_array_equal(a.x.values, b.x.values)
        np.testing.assert_array_equal(a.x.row_splits, b.x.row_splits)
        np.testing.assert_array_equal(a.y, b.y)
    assert type(second.train.x) is type(first.train.x) and second.kind == "multi_hot"
    assert len(list(cache_dir.iterdir())) == 1


def test_the_key_follows_the_file_and_the_loading_keys(cache_dir, tiny_imdb) -> None:  # noqa: F811
    config = KerasTextConfig(source="keras.imdb", path=str(tiny_imdb), num_words=20)
    key = cache_key(config)
    # carving and label keys act after loading: the same entry serves them all
    assert cache_key(config.model_copy(update={"limit": 5})) == key
    assert cache_key(config.model_copy(update={"num_words": 10})) != key
    ordered = KerasTextConfig(
        source="keras.imdb", path=str(tiny_imdb), num_words=20, vectorize="sequence", maxlen=5
    )
    assert cache_key(ordered) != key
    rng = np.random.RandomState(9)
    np.savez(
        tiny_imdb,
        x_train=ragged(random_rows(rng, 41, 60)),
        y_train=rng.randint(0, 2, 41),
        x_test=ragged(random_rows(rng, 30, 60)),
        y_test=rng.randint(0, 2, 30),
        allow_pickle=True,
    )
    assert cache_key(config) != key  # a replaced file is a new entry
    assert len(load_raw(config).train) == 41


def test_a_damaged_entry_is_reloaded_with_a_warning(cache_dir, tmp_path) -> None:
    path = tmp_path / "d.npz"
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    np.savez(path, x_train=x, y_train=np.arange(20) % 2, x_test=x[:5], y_test=np.arange(5) % 2)
    config = NpzConfig(source="npz", path=str(path))
    load_raw(config)
    (entry,) = cache_dir.iterdir()
    (entry / "train_x.npy").write_bytes(b"\x93NUMPY broken")
    with pytest.warns(DataWarning, match="unreadable"):
        raw = load_raw(config)
    np.testing.assert_array_equal(raw.train.x, x)
    np.testing.assert_array_equal(load_raw(config).train.x, x)  # and the entry is whole again


def test_no_entry_for_tables_or_when_turned_off(cache_dir, tmp_path, tiny_imdb) -> None:  # noqa: F811
    table = write_csv(tmp_path / "t.csv", csv_rows(30))
    load_raw(CsvConfig(source="csv", path=str(table), target="label"))  # raw strings
    load_raw(KerasTextConfig(source="keras.imdb", path=str(tiny_imdb), cache=False))
    assert not cache_dir.exists() or not list(cache_dir.iterdir())


def test_a_series_is_cached_once_and_its_warnings_are_given_again(cache_dir, tmp_path) -> None:
    import tensorflow as tf

    from dlrun.data.representations import REPRESENTATIONS
    from tests.test_timeseries import full_config, series_rows, write_series

    rows = series_rows()
    del rows[50:53]  # a gap of four days
    rows[10], rows[11] = rows[11], rows[10]  # two rows out of time order
    config = validate(full_config(write_series(tmp_path / "s.csv", rows))).config.data
    load, calls = counting("timeseries")
    with pytest.warns(DataWarning) as first_said:
        first = cached(config, load)
    with pytest.warns(DataWarning) as second_said:
        second = cached(config, load)
    assert len(calls) == 1
    said = sorted(str(w.message) for w in first_said)
    assert any("gap" in m for m in said) and any("sorted" in m for m in said)
    assert sorted(str(w.message) for w in second_said) == said
    # the splits share one series, saved once and memory-mapped
    assert isinstance(second.train.x.series, np.memmap)
    assert second.train.x.series is second.test.x.series
    assert len(list(next(cache_dir.iterdir()).glob("*series.npy"))) == 1
    for a, b in ((first.train, second.train), (first.test, second.test)):
        np.testing.assert_array_equal(a.x.starts, b.x.starts)
        np.testing.assert_array_equal(a.x.times, b.x.times)
        np.testing.assert_array_equal(a.y, b.y)
        assert (a.x.steps, a.x.horizon, a.x.offset) == (b.x.steps, b.x.horizon, b.x.offset)
    # and the memory-mapped series feeds TensorFlow as the loaded one does
    windows = [split.x for split in (first.train, second.train)]
    for x in windows:
        x.mean, x.std = np.zeros(2, np.float32), np.ones(2, np.float32)
    index = tf.constant([0, 7])
    got = [REPRESENTATIONS["series"].batches(x)(index).numpy() for x in windows]
    np.testing.assert_array_equal(got[0], got[1])
