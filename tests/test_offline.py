"""Offline, a Keras built-in dataset fails with one message that says which file goes where.

The download is pointed at a proxy on a closed local port (127.0.0.1:9), so nothing
leaves this machine; a subprocess makes the proxy variables apply to urllib cleanly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

from dlrun.data.keras_files import load_builtin
from dlrun.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
CLOSED_PORT = "http://127.0.0.1:9"


def test_missing_keras_dataset_names_the_file_the_cache_and_data_path(
    tmp_path: Path, write_config
) -> None:
    keras_home = tmp_path / "keras-home"
    keras_home.mkdir()
    runs = tmp_path / "runs"
    config = write_config(
        {
            "name": "mnist",
            "task": "multiclass",
            "data": {"source": "keras.mnist", "limit": 100},
            "model": {"units": [4]},
            "train": {"epochs": 1},
        }
    )
    env = {
        **os.environ,
        "KERAS_HOME": str(keras_home),
        "DLRUN_RUNS_DIR": str(runs),
        "NO_COLOR": "1",
        **{
            name: CLOSED_PORT for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")
        },
    }
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    result = subprocess.run(
        [sys.executable, "-m", "dlrun", "train", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    err = " ".join(result.stderr.split())
    assert "Traceback" not in err
    assert err.count("error:") == 1
    assert err.startswith("error: could not load the Keras dataset 'mnist'")
    assert f"put Keras's original mnist.npz at {keras_home / 'datasets' / 'mnist.npz'}" in err
    assert "set data.path to any copy of mnist.npz" in err
    (run,) = runs.iterdir()
    meta = json.loads((run / "meta.json").read_text())
    assert meta["status"] == "failed"
    assert "mnist.npz" in meta["error"]


def test_data_path_to_a_missing_copy(cli, runs_dir, write_config, tmp_path) -> None:
    absent = tmp_path / "mnist.npz"
    config = write_config(
        {"name": "m", "task": "multiclass", "data": {"source": "keras.mnist", "path": str(absent)}}
    )
    code, out, err = cli("train", config, "-q")
    assert code == 2  # the config check finds it, before any run directory exists
    assert err == (
        f"error: invalid config ({config}): data.path {absent}: not found; give the .npz file "
        "(paths are relative to here).\n"
    )
    assert not runs_dir.exists()


@pytest.mark.parametrize(
    "name", ["imdb", "reuters", "mnist", "fashion_mnist", "cifar10", "boston_housing"]
)
def test_offline_hint_names_the_path_keras_reads(name, tmp_path, monkeypatch) -> None:
    """The hint must name the very path Keras 3.15 tries to fill before it downloads."""
    from dlrun.tfenv import import_keras

    import_keras()
    from keras.src.backend import config
    from keras.src.utils import file_utils

    home = tmp_path / "keras-home"
    home.mkdir()  # as Keras does when it is imported
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(config, "_KERAS_DIR", str(home))  # read once, when Keras is imported
    wanted: list[Path] = []

    def offline(origin, target, *args):
        wanted.append(Path(target))
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    with pytest.raises(DataError) as info:
        load_builtin(name, None)
    hint = " ".join(str(info.value.hint).split())
    (target,) = wanted
    if name == "fashion_mnist":  # one of four files fetched one by one into one folder
        assert f"in {target.parent}," in hint and target.name in hint
    else:
        assert f" {target}, " in hint
    assert "set data.path to" in hint
    if name == "cifar10":
        assert target.name == "cifar-10-batches-py-target_archive"
        assert "the original cifar-10-python.tar.gz (sha256 6d958be074577803" in hint
