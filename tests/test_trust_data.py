"""Data a user can trust: no split that silently holds one class, no series time dlrun
cannot read, no protocol key silently ignored, no array or file that trains to a wrong
number (issue 23).

Each test writes a tiny data file into tmp_path and checks what a user would notice:
the exit code and message of `dlrun train`, or which samples each split holds.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import one_paragraph, train_data

from dlrun.data.portions import make_portions
from dlrun.data.prepare import prepare_test
from dlrun.data.sources import load_raw
from dlrun.spec import validate


def _text_folders(root: Path, n_train: int, n_test: int) -> Path:
    """The aclImdb layout, train/{neg,pos} and test/{neg,pos}, whose files sort class
    after class as aclImdb's do."""
    for split, n in (("train", n_train), ("test", n_test)):
        for label, word in (("neg", "awful"), ("pos", "great")):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                (folder / f"{i}.txt").write_text(f"the film was {word} number {i}")
    return root


# --- data.limit takes a sample of every class (item 1) -----------------------------------


def test_limit_on_class_folders_gives_every_split_both_classes(tmp_path) -> None:
    root = _text_folders(tmp_path / "aclImdb", n_train=40, n_test=20)
    config = validate(
        {
            "name": "limit",
            "seed": 3,
            "task": "binary",
            "data": {"source": "text_dir", "path": str(root), "limit": 30},
            "model": {"kind": "mlp", "units": [4]},
        }
    ).config
    raw = load_raw(config.data)
    (portion,) = make_portions(raw, config)
    test = prepare_test(raw, config, portion.prepared.state)
    # The first 30 files of each split are mostly or all 'neg': a limit must not take them.
    assert Counter(np.concatenate([portion.train_y, portion.val_y]).tolist()) == {0: 15, 1: 15}
    assert set(portion.val_y.tolist()) == {0, 1}
    assert Counter(test.y.tolist()) == {0.0: 15, 1.0: 15}


def test_limit_on_a_csv_sorted_by_label_keeps_each_class_share(tmp_path) -> None:
    labels = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    path = tmp_path / "sorted.csv"
    path.write_text("size,label\n" + "".join(f"{i},{c}\n" for i, c in enumerate(labels)))
    config = validate(
        {
            "name": "limit",
            "task": "multiclass",
            "data": {"source": "csv", "path": str(path), "target": "label", "limit": 40},
            "model": {"kind": "mlp", "units": [4]},
        }
    ).config
    raw = load_raw(config.data)
    (portion,) = make_portions(raw, config)
    kept = Counter(np.concatenate([portion.train_y, portion.val_y]).tolist())
    # the CSV's own test carve leaves about 80 rows; 40 of them keep the 6:3:1 shares
    assert sum(kept.values()) == 40
    assert kept[0] == pytest.approx(24, abs=1) and kept[1] == pytest.approx(12, abs=1)
    assert kept[2] == pytest.approx(4, abs=1)


@pytest.mark.parametrize("validation", [{"fraction": 0.2}, {"kfold": 3}])
def test_the_validation_carve_gives_each_class_its_share(tmp_path, validation) -> None:
    # 15 'neg' then 15 'pos': seed 1337's plain shuffle held out 6 'neg' and no 'pos'
    root = _text_folders(tmp_path / "aclImdb", n_train=15, n_test=5)
    config = validate(
        {
            "name": "carve",
            "seed": 1337,
            "task": "binary",
            "data": {"source": "text_dir", "path": str(root), "validation": validation},
            "model": {"kind": "mlp", "units": [4]},
        }
    ).config
    portions = make_portions(load_raw(config.data), config)
    share = 3 if "fraction" in validation else 5
    for portion in portions:
        assert Counter(portion.val_y.tolist()) == {0: share, 1: share}


def test_a_test_split_of_one_class_is_refused(cli, runs_dir, write_config, tmp_path) -> None:
    rng = np.random.RandomState(0)
    path = tmp_path / "data.npz"
    np.savez(
        path,
        x_train=rng.rand(40, 3),
        y_train=np.arange(40) % 2,
        x_test=rng.rand(10, 3),
        y_test=np.zeros(10, dtype=np.int64),
    )
    code, _, err = train_data(cli, write_config, {"source": "npz", "path": str(path)}, "binary")
    assert code == 1
    assert one_paragraph(err).startswith(
        "error: the test split holds 1 class (0, all 10 samples): a binary model that "
        "always answers 0 is perfect on it, so its scores would mean nothing. Check the "
        f"labels of y_train of {path}: every split needs at least two classes."
    )


def test_a_training_split_of_one_class_after_the_limit_is_refused(
    cli, runs_dir, write_config, tmp_path
) -> None:
    # One 'pos' file in 40: a sample of 10 has no room for it.
    root = _text_folders(tmp_path / "aclImdb", n_train=39, n_test=5)
    for extra in (root / "train" / "pos").iterdir():
        if extra.name != "0.txt":
            (root / "train" / "neg" / f"moved-{extra.name}").write_text(extra.read_text())
            extra.unlink()
    data = {"source": "text_dir", "path": str(root), "limit": 10}
    code, _, err = train_data(cli, write_config, data, "binary")
    assert code == 1
    paragraph = one_paragraph(err)
    assert "error: the train split holds 1 class ('neg', all 8 samples)" in paragraph
    assert "Raise data.limit (now 10" in paragraph


# --- series times dlrun reads without data.time_format (item 4) --------------------------


def _series_csv(path: Path, times: list[str]) -> Path:
    t = np.arange(len(times))
    values = 10 + 0.05 * t + np.sin(t / 3) + np.random.RandomState(0).normal(0, 0.2, len(t))
    path.write_text(
        "when,level\n" + "".join(f"{w},{v:.3f}\n" for w, v in zip(times, values, strict=True))
    )
    return path


def _series_data(path: Path) -> dict:
    return {
        "source": "timeseries",
        "path": str(path),
        "time_column": "when",
        "target": "level",
        "lookback": 4,
        "horizon": 1,
    }


def test_a_yearly_series_trains_without_time_format(cli, runs_dir, write_config, tmp_path):
    path = _series_csv(tmp_path / "yearly.csv", [str(y) for y in range(1850, 1930)])
    code, _, err = train_data(cli, write_config, _series_data(path), "regression")
    assert code == 0, err
    # 1852 has 366 days, 1851 365: a year is still one step, with no gap to report
    assert "gap" not in err and "shorter than usual" not in err
    # the run's resolved config (its validation implied by data.split) trains again
    (run,) = runs_dir.iterdir()
    code, _, err = cli("check", run / "config.yaml")
    assert code == 0, err


@pytest.mark.parametrize(
    ("times", "first", "last"),
    [
        ([str(y) for y in range(1850, 1890)], "1850-01-01", "1889-01-01"),
        (
            [f"{2001 + (q + 2) // 4}Q{(q + 2) % 4 + 1}" for q in range(40)],
            "2001-07-01",
            "2011-04-01",
        ),
        (
            [f"{2001 + (m + 6) // 12}-{(m + 6) % 12 + 1:02d}" for m in range(40)],
            "2001-07-01",
            "2004-10-01",
        ),
        ([str(i) for i in range(40)], "1970-01-01T00:00:00", "1970-01-01T00:00:39"),
    ],
    ids=["years", "quarters", "months", "index"],
)
def test_years_quarters_months_and_an_index_are_regular_series(tmp_path, times, first, last):
    import warnings

    from dlrun.data.timeseries import TimeseriesConfig, series_source
    from dlrun.errors import DataWarning

    path = _series_csv(tmp_path / "s.csv", times)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # a gap or an uneven step would warn
        raw = series_source(TimeseriesConfig(**_series_data(path)))
    windows = raw.train.x
    assert windows.times[0] == np.datetime64(first)
    assert windows.times[-1] == np.datetime64(last)


@pytest.mark.parametrize(
    ("times", "gap"),
    [
        (["1850", "1851", "1852", "1855", *map(str, range(1856, 1896))], "3 years after 1852"),
        (
            ["2001Q3", "2001Q4", "2002Q3", *[f"{2002 + q // 4}Q{q % 4 + 1}" for q in range(3, 43)]],
            "3 quarters after 2001Q4",
        ),
        (
            [
                "2001-01",
                "2001-02",
                "2001-05",
                *[f"2001-{m:02d}" for m in range(6, 13)],
                *[f"{y}-{m:02d}" for y in (2002, 2003, 2004) for m in range(1, 13)],
            ],
            "3 months after 2001-02",
        ),
    ],
    ids=["years", "quarters", "months"],
)
def test_a_gap_in_a_calendar_series_is_named_in_its_unit(tmp_path, times, gap):
    from dlrun.data.timeseries import TimeseriesConfig, series_source
    from dlrun.errors import DataWarning

    path = _series_csv(tmp_path / "s.csv", times)
    with pytest.warns(DataWarning) as caught:
        series_source(TimeseriesConfig(**_series_data(path)))
    message = " ".join(str(w.message) for w in caught)
    assert "1 gap (steps longer than the usual 1 " in message
    assert f"the largest {gap}" in message


# --- data.validation keys a series cannot honour (item 5) --------------------------------


@pytest.mark.parametrize("key", ["fraction", "holdout"])
def test_a_series_refuses_validation_fraction_as_it_does_holdout(
    cli, write_config, tmp_path, key
) -> None:
    days = [str(np.datetime64("2020-01-01") + i) for i in range(80)]
    path = _series_csv(tmp_path / "daily.csv", days)
    data = {**_series_data(path), "validation": {key: 0.3 if key == "fraction" else 10}}
    config = write_config({"name": "s", "task": "regression", "data": data})
    code, _, err = cli("check", config)
    assert code == 2
    assert (
        f"data.validation.{key} does not apply to a series: its validation rows are "
        "data.split.validation (a share of the rows, after the training ones)."
    ) in " ".join(err.split())


# --- npz arrays that would train to a wrong number, or fail without a name ---------------


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def test_npz_features_that_are_nan_are_refused(cli, runs_dir, write_config, tmp_path) -> None:
    rng = np.random.RandomState(0)
    x_train = rng.rand(40, 3)
    x_train[7:, :] = np.nan
    path = _npz(
        tmp_path / "data.npz",
        x_train=x_train,
        y_train=np.arange(40) % 2,
        x_test=rng.rand(10, 3),
        y_test=np.arange(10) % 2,
    )
    code, _, err = train_data(cli, write_config, {"source": "npz", "path": str(path)}, "binary")
    assert code == 1
    assert one_paragraph(err) == (
        f"error: {path}: x_train holds 99 values that are not a finite number (NaN or "
        "infinite), the first in sample 7. Fill or remove those samples and save the file again."
    )


def test_npz_lengths_that_differ_are_refused_by_check(cli, write_config, tmp_path) -> None:
    rng = np.random.RandomState(0)
    path = _npz(
        tmp_path / "data.npz",
        x_train=rng.rand(40, 3),
        y_train=np.arange(30) % 2,
        x_test=rng.rand(10, 3),
        y_test=np.arange(10) % 2,
    )
    config = write_config(
        {"name": "n", "task": "binary", "data": {"source": "npz", "path": str(path)}}
    )
    code, _, err = cli("check", config)
    assert code == 2  # read from the headers: no run directory, no TensorFlow
    assert (
        f"{path}: x_train has 40 samples but y_train has 30; each sample needs its label. "
        "Rebuild the file so that x_train and y_train have the same length."
    ) in " ".join(err.split())


def test_a_ragged_npz_array_is_named(cli, write_config, tmp_path) -> None:
    rng = np.random.RandomState(0)
    ragged = np.empty(20, dtype=object)
    ragged[:] = [list(range(1 + i % 4)) for i in range(20)]
    path = tmp_path / "data.npz"
    np.savez(
        path,
        x_train=ragged,
        y_train=np.arange(20) % 2,
        x_test=rng.rand(5, 3),
        y_test=np.arange(5) % 2,
        allow_pickle=True,
    )
    config = write_config(
        {"name": "n", "task": "binary", "data": {"source": "npz", "path": str(path)}}
    )
    code, _, err = cli("check", config)
    assert code == 2
    assert "Traceback" not in err
    assert f"{path}: x_train is an array of Python objects, not of numbers" in " ".join(err.split())


def test_a_pickled_payload_in_an_npz_is_refused_without_a_traceback(
    cli, write_config, tmp_path
) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("unpickled!",))

    rng = np.random.RandomState(0)
    labels = np.empty(2, dtype=object)
    labels[:] = [Payload(), 1]
    path = tmp_path / "data.npz"
    np.savez(
        path,
        x_train=rng.rand(2, 3),
        y_train=labels,
        x_test=rng.rand(2, 3),
        y_test=np.arange(2),
        allow_pickle=True,
    )
    config = write_config(
        {"name": "n", "task": "binary", "data": {"source": "npz", "path": str(path)}}
    )
    code, out, err = cli("check", config)
    assert code == 2
    assert "Traceback" not in err and "unpickled!" not in out + err
    assert f"{path}: y_train is an array of Python objects" in " ".join(err.split())


# --- a CSV target of text for a regression ------------------------------------------------


def test_a_regression_target_of_text_is_refused(cli, runs_dir, write_config, tmp_path) -> None:
    countries = ["France", "Germany", "Spain", "Italy"]
    path = tmp_path / "t.csv"
    path.write_text("size,country\n" + "".join(f"{i},{countries[i % 4]}\n" for i in range(40)))
    data = {"source": "csv", "path": str(path), "target": "country"}
    code, _, err = train_data(cli, write_config, data, "regression")
    # caught from the labels before any run starts (the run-time check stays for text
    # that only appears past the rows check peeks at)
    assert code == 2, err
    message = one_paragraph(err)
    assert "task 'regression' needs numbers" in message and "'country'" in message
    assert "Use task: multiclass" in message and "Traceback" not in err


# --- a cache entry whose arrays do not fit together ----------------------------------------


def test_a_cache_entry_of_the_wrong_shape_is_rebuilt(data_cache, tmp_path) -> None:
    from dlrun.data.cache import cache_key
    from dlrun.data.npz import NpzConfig
    from dlrun.errors import DataWarning

    path = tmp_path / "d.npz"
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    np.savez(path, x_train=x, y_train=np.arange(20) % 2, x_test=x[:5], y_test=np.arange(5) % 2)
    config = NpzConfig(source="npz", path=str(path))
    load_raw(config)
    entry = data_cache / cache_key(config)
    np.save(entry / "train_x.npy", np.zeros((7, 3), dtype=np.float32))  # reads, but is wrong
    with pytest.warns(DataWarning, match="damaged .*the train split has 7 inputs but 20 labels"):
        raw = load_raw(config)
    np.testing.assert_array_equal(raw.train.x, x)
    np.testing.assert_array_equal(load_raw(config).train.x, x)  # and the entry is whole again


# --- images: a header that claims too many pixels, sizes that differ ----------------------


def _png(path: Path, height: int, width: int) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((height, width), np.uint8)).save(path)
    return path


def _image_config(root: Path, **data) -> dict:
    return {
        "name": "images",
        "task": "binary",
        "data": {"source": "image_dir", "path": str(root), **data},
        "model": {"kind": "convnet", "filters": [4], "units": [4]},
    }


def test_an_image_whose_header_claims_too_many_pixels_is_refused_before_decoding(
    cli, write_config, tmp_path
) -> None:
    root = tmp_path / "images"
    for label in ("a", "b"):
        for i in range(3):
            _png(root / label / f"{i}.png", 8, 8)
    bomb = _png(root / "b" / "bomb.png", 8, 8)
    data = bytearray(bomb.read_bytes())
    data[16:24] = (20000).to_bytes(4, "big") * 2  # the IHDR width and height
    bomb.write_bytes(bytes(data))
    code, _, err = cli("check", write_config(_image_config(root)))
    assert code == 2 and "Traceback" not in err
    assert (
        f"{bomb}: its header says 20000x20000, 400,000,000 pixels, more than data.max_pixels "
        "(89,478,485); decoding it would take about 1.5 GB. Shrink or remove the image, or "
        "raise data.max_pixels if it is meant."
    ) in " ".join(err.split())
    config = _image_config(root, max_pixels=400_000_000, image_size=[8, 8])
    code, _, err = cli("check", write_config(config, "raised.yaml"))
    assert code == 0, err


def test_images_of_mixed_sizes_are_named_by_check(cli, write_config, tmp_path) -> None:
    root = tmp_path / "images"
    for label in ("a", "b"):
        for i in range(3):
            _png(root / label / f"{i}.png", 8, 8)
    _png(root / "b" / "wide.png", 8, 12)
    code, _, err = cli("check", write_config(_image_config(root)))
    assert code == 2 and "Traceback" not in err
    assert (
        f"the images differ in size: {root / 'a' / '0.png'} is 8x8, {root / 'b' / 'wide.png'} "
        "is 8x12 (height x width), and data.image_size is not set. Set data.image_size: "
        "[height, width]; every image is resized to it."
    ) in " ".join(err.split())
