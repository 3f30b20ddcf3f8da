"""Raw text in: `text_dir` folders, TextVectorization fitted on train only, raw text out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dlrun.data.portions import make_portions
from dlrun.data.prepare import apply_state, prepare_test
from dlrun.data.sources import load_raw
from dlrun.spec import validate
from dlrun.tfenv import import_keras

GOOD = ["great", "wonderful", "moving", "superb", "loved"]
BAD = ["awful", "boring", "dull", "terrible", "hated"]
FILLER = ["the", "film", "a", "was", "plot", "actor", "scene", "and", "it", "story", "ending"]


@pytest.fixture(scope="module")
def keras():
    return import_keras()


def review(rng: np.random.RandomState, positive: bool) -> str:
    words = list(rng.choice(FILLER, size=rng.randint(6, 14)))
    for _ in range(2):
        words.insert(rng.randint(len(words)), rng.choice(GOOD if positive else BAD))
    return " ".join(words).capitalize() + "."


def write_folders(root: Path, n_train: int = 40, n_test: int = 20, seed: int = 0) -> Path:
    """The aclImdb layout: train/{neg,pos,unsup}, test/{neg,pos}."""
    rng = np.random.RandomState(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for label in ("neg", "pos"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                (folder / f"{i}_{rng.randint(1, 10)}.txt").write_text(review(rng, label == "pos"))
    (root / "train" / "unsup").mkdir()
    (root / "train" / "unsup" / "0_0.txt").write_text("no label here")
    return root


def text_config(root: Path, **text) -> dict:
    return {
        "name": "reviews",
        "seed": 3,
        "task": "binary",
        "data": {"source": "text_dir", "path": str(root), "text": text},
        "model": {"kind": "mlp", "units": [8]},
        "train": {
            "batch_size": 16,
            "epochs": 12,
            "optimizer": {"name": "adam", "learning_rate": 0.01},
        },
    }


def test_text_dir_reads_classes_from_folders_and_ignores_unsup(tmp_path) -> None:
    root = write_folders(tmp_path / "aclImdb")
    raw = load_raw(validate(text_config(root)).config.data)
    assert raw.kind == "text" and raw.class_names == ["neg", "pos"]
    assert len(raw.train) == 80 and len(raw.test) == 40  # unsup is not a class
    assert set(raw.train.y.tolist()) == {0, 1}


def test_vocabulary_is_fitted_on_the_training_portion_only(tmp_path) -> None:
    root = write_folders(tmp_path / "aclImdb")
    (root / "test" / "pos" / "only.txt").write_text("zyzzyva great")
    config = validate(text_config(root, output="multi_hot")).config
    raw = load_raw(config.data)
    prepared = make_portions(raw, config)[0].prepared
    vocabulary = prepared.state["vocabulary"]
    assert "zyzzyva" not in vocabulary and "great" in vocabulary
    test = prepare_test(raw, config, prepared.state)
    row = list(raw.test.x).index("zyzzyva great")
    dense = test.x.to_dense()[row]
    # column 0 is out of vocabulary: where the unseen word goes
    assert dense[0] == 1 and dense[vocabulary.index("great") + 1] == 1 and dense.sum() == 2


@pytest.mark.parametrize("output", ["multi_hot", "count", "tf_idf"])
def test_sparse_outputs_equal_keras_text_vectorization(tmp_path, keras, output) -> None:
    root = write_folders(tmp_path / "aclImdb")
    config = validate(text_config(root, output=output, ngrams=2, max_tokens=60)).config
    raw = load_raw(config.data)
    prepared = make_portions(raw, config)[0].prepared
    texts = np.asarray(raw.train.x, dtype=str)
    layer = keras.layers.TextVectorization(max_tokens=60, ngrams=2, output_mode=output)
    train_texts = [t for t in texts if t in set(np.asarray(prepared_texts(raw, config)))]
    layer.adapt(train_texts)
    expected = np.asarray(layer(texts))
    got = apply_state(raw.train.x, prepared.state).to_dense()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert prepared.input_spec.sparse and prepared.input_spec.shape == (expected.shape[1],)


def prepared_texts(raw, config) -> list[str]:
    """The training portion's texts (the holdout carved out of train)."""
    from dlrun.data.prepare import holdout_indices

    fit, _ = holdout_indices(len(raw.train), config.data.validation, config.seed, raw.train.y)
    return list(np.asarray(raw.train.x, dtype=str)[fit])


def test_int_output_gives_padded_token_ids(tmp_path, keras) -> None:
    root = write_folders(tmp_path / "aclImdb")
    config = validate(
        text_config(root, output="int", sequence_length=10) | {"model": {"kind": "python:m.py:f"}}
    ).config
    raw = load_raw(config.data)
    prepared = make_portions(raw, config)[0].prepared
    spec = prepared.input_spec
    assert spec.shape == (10,) and spec.dtype == "int32"
    assert spec.vocabulary == len(prepared.state["vocabulary"]) + 2
    assert prepared.train.x.dtype == np.int32 and prepared.train.x.max() < spec.vocabulary


def train(cli, tmp_path: Path, config: dict) -> Path:
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    runs = tmp_path / "runs"
    code, _, err = cli("train", path, "--runs-dir", runs, "-q")
    assert code == 0, err
    (run,) = runs.iterdir()
    return run


def test_train_on_folders_then_predict_raw_text(cli, tmp_path, keras) -> None:
    root = write_folders(tmp_path / "aclImdb")
    run = train(cli, tmp_path, text_config(root, ngrams=2))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final"]["test"]["accuracy"] >= 0.9  # the words tell the classes apart

    lines = ["A superb and moving film, loved it.", "Dull, boring, awful."]
    file = tmp_path / "new.txt"
    file.write_text("\n".join(lines) + "\n\n")
    code, out, err = cli("predict", run, file, "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    rows = [line.split(",") for line in out.splitlines()[1:]]
    assert [r[0] for r in rows] == ["pos", "neg"]

    model = keras.saving.load_model(run / "final" / "model.keras")
    state = json.loads((run / "preprocessing.json").read_text())
    x = apply_state(np.array(lines, dtype=object), state).to_dense()
    expected = model.predict(x, verbose=0).reshape(-1)
    np.testing.assert_allclose([float(r[1]) for r in rows], expected, rtol=1e-5, atol=1e-6)

    code, out, err = cli("predict", run, "--text", lines[1], "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    assert out.splitlines()[1].startswith("neg,")

    # the exported SavedModel takes raw strings end to end
    import tensorflow as tf

    code, _, err = cli("export", run, "--runs-dir", tmp_path / "runs", "-q")
    assert code == 0, err
    reloaded = tf.saved_model.load(str(run / "export" / "saved_model"))
    served = reloaded.serve(tf.constant(lines))
    np.testing.assert_allclose(np.asarray(served).reshape(-1), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda r: (r / "train" / "pos").rename(r / "train" / "x"), "1 class folder"),
        (lambda r: [f.unlink() for f in (r / "test" / "neg").iterdir()], "holds no files"),
        (lambda r: (r / "train" / "neg" / "bad.txt").write_bytes(b"caf\xe9"), "is not UTF-8"),
    ],
    ids=["one-class", "empty-class", "not-utf8"],
)
def test_bad_folders_get_clear_errors(cli, tmp_path, write_config, make, message) -> None:
    root = write_folders(tmp_path / "aclImdb", n_train=3, n_test=2)
    make(root)
    path = write_config(text_config(root))
    if message == "is not UTF-8":  # found when the files are read: a data error, exit 1
        code, _, err = cli("train", path, "--runs-dir", tmp_path / "runs")
        assert code == 1, err
    else:
        code, _, err = cli("check", path)
        assert code == 2, err
    assert message in err and "Traceback" not in err
    if message == "is not UTF-8":
        assert "bad.txt" in err and "skip_bad_files" in err


def test_skipping_bad_files_counts_them(tmp_path) -> None:
    root = write_folders(tmp_path / "aclImdb", n_train=3, n_test=2)
    (root / "train" / "neg" / "bad.txt").write_bytes(b"caf\xe9")
    from dlrun.errors import DataWarning

    data = text_config(root)["data"] | {"skip_bad_files": True}
    with pytest.warns(DataWarning, match="skipped 1 file that is|skipped 1 file"):
        raw = load_raw(validate({**text_config(root), "data": data}).config.data)
    assert len(raw.train) == 6


def test_ngrams_below_one_is_a_check_error(cli, tmp_path, write_config) -> None:
    root = write_folders(tmp_path / "aclImdb", n_train=3, n_test=2)
    code, _, err = cli("check", write_config(text_config(root, ngrams=0)))
    assert code == 2 and "data.text.ngrams" in err


def test_rnn_on_multi_hot_text_says_to_use_int_output(cli, tmp_path, write_config) -> None:
    root = write_folders(tmp_path / "aclImdb", n_train=3, n_test=2)
    config = text_config(root, output="multi_hot") | {"model": {"kind": "rnn"}}
    code, _, err = cli("check", write_config(config))
    assert code == 2 and "data.text.output: int" in err


def test_workflow_over_rnn_stages_on_raw_text(cli, tmp_path, keras) -> None:
    root = write_folders(tmp_path / "aclImdb", n_train=30, n_test=10)
    config = text_config(root, output="int", sequence_length=16, max_tokens=200)
    config["model"] = {"kind": "rnn", "cell": "gru", "units": [8], "embedding": {"dim": 8}}
    config["train"]["epochs"] = 3
    config["workflow"] = {
        "overfit": {"model": {"units": [16]}},
        "regularize": [{"name": "dropout", "model": {"dropout": 0.3, "recurrent_dropout": 0.2}}],
    }
    run = train(cli, tmp_path, config)
    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["stages"]) == {"small", "overfit", "dropout"}
    assert all(s["status"] == "completed" for s in summary["stages"].values())
    assert summary["final"]["test"]["samples"] == 20
    # each stage trained its own recurrent model over the 16 token ids of a review
    expected = {"small": (8, 0.0, 0.0), "overfit": (16, 0.0, 0.0), "dropout": (8, 0.3, 0.2)}
    for stage, (units, dropout, recurrent_dropout) in expected.items():
        model = keras.saving.load_model(run / "stages" / stage / "model.keras")
        assert model.input_shape == (None, 16)
        (gru,) = [layer for layer in model.layers if type(layer).__name__ == "GRU"]
        assert (gru.units, gru.dropout, gru.recurrent_dropout) == pytest.approx(
            (units, dropout, recurrent_dropout)
        )
        (embedding,) = [layer for layer in model.layers if type(layer).__name__ == "Embedding"]
        assert embedding.output_dim == 8


def write_reviews_csv(path: Path, n: int = 200, seed: int = 1) -> Path:
    import csv

    rng = np.random.RandomState(seed)
    with path.open("w", newline="") as fp:
        writer = csv.writer(fp)
        writer.writerow(["id", "stars_shown", "genre", "review", "liked"])
        for i in range(n):
            liked = i % 2
            writer.writerow(
                [
                    i,
                    rng.randint(1, 6),
                    rng.choice(["drama", "comedy"]),
                    review(rng, bool(liked)),
                    liked,
                ]
            )
    return path


def csv_text_config(path: Path, **data) -> dict:
    return {
        "name": "csv-text",
        "seed": 3,
        "task": "binary",
        "data": {
            "source": "csv",
            "path": str(path),
            "target": "liked",
            "drop": ["id"],
            "text_columns": ["review"],
            **data,
        },
        "model": {"kind": "mlp", "units": [8]},
        "train": {
            "batch_size": 16,
            "epochs": 12,
            "optimizer": {"name": "adam", "learning_rate": 0.01},
        },
    }


def test_csv_text_column_next_to_numeric_and_categorical(cli, tmp_path, keras) -> None:
    table = write_reviews_csv(tmp_path / "reviews.csv")
    config = validate(csv_text_config(table, text={"output": "tf_idf"})).config
    raw = load_raw(config.data)
    assert raw.kind == "table_text" and raw.feature_names == ["stars_shown", "genre", "review"]
    prepared = make_portions(raw, config)[0].prepared
    dense = prepared.train.x.to_dense()
    # stars (standardized), genre (two one-hot columns), then the review's tf-idf vector
    encoded = dense[:, :3]
    assert np.allclose(encoded[:, 0].mean(), 0, atol=1e-5)
    assert set(np.unique(encoded[:, 1:])) <= {0, 1}
    assert prepared.input_spec.sparse
    assert prepared.input_spec.shape == (3 + len(prepared.state["text"]["vocabulary"]) + 1,)

    run = train(cli, tmp_path, csv_text_config(table))
    assert json.loads((run / "summary.json").read_text())["final"]["test"]["accuracy"] >= 0.85
    new = write_reviews_csv(tmp_path / "new.csv", n=6, seed=5)
    code, out, err = cli("predict", run, new, "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    # the new reviews alternate disliked, liked: each liked one scores above every other
    scores = [float(line.split(",")[1]) for line in out.splitlines()[1:]]
    assert min(scores[1::2]) > max(scores[0::2]), scores


def test_csv_text_errors_at_check(cli, tmp_path, write_config) -> None:
    table = write_reviews_csv(tmp_path / "reviews.csv", n=10)
    code, _, err = cli("check", write_config(csv_text_config(table, text_columns=["body"])))
    assert code == 2 and "has no column 'body'" in err
    config = csv_text_config(table, text={"output": "int"}) | {"model": {"kind": "rnn"}}
    code, _, err = cli("check", write_config(config))
    assert code == 2 and "data.drop: [stars_shown, genre]" in err


def test_a_sweep_searches_the_text_keys(cli, tmp_path, write_config, runs_dir) -> None:
    """data.text.* are dotted paths like any other: each trial adapts its own vocabulary."""
    root = write_folders(tmp_path / "aclImdb", n_train=12, n_test=4)
    config = text_config(root, ngrams=1)
    config["train"].update({"epochs": 2, "tensorboard": False, "checkpoint": False})
    config["sweep"] = {
        "metric": "val_accuracy",
        "pruner": "none",
        "trials": 3,
        "space": {
            "data.text.max_tokens": {"choice": [6, 500]},
            "data.text.ngrams": {"choice": [1, 2]},
        },
    }
    code, _, err = cli("sweep", write_config(config), "-q")
    assert code == 0, err
    metas = [json.loads(m.read_text()) for m in runs_dir.glob("*-t[0-9]*-*/meta.json")]
    assert len(metas) == 3
    # the sampler is seeded by the config: these trials cover both vocabulary sizes
    assert {m["sweep"]["params"]["data.text.max_tokens"] for m in metas} == {6, 500}
    for meta in metas:
        params = meta["sweep"]["params"]
        run = runs_dir / meta["id"]
        state = json.loads((run / "preprocessing.json").read_text())
        vocabulary = state["vocabulary"]
        if params["data.text.max_tokens"] == 6:  # one of them is the out-of-vocabulary token
            assert len(vocabulary) == 5
        else:  # room for every token: bigrams come with ngrams 2 only
            assert 5 < len(vocabulary) < 500
            assert any(" " in token for token in vocabulary) == (params["data.text.ngrams"] == 2)
