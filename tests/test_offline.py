"""Offline, a Keras built-in dataset fails with one message that says which file goes where.

The download is pointed at a proxy on a closed local port (127.0.0.1:9), so nothing
leaves this machine; a subprocess makes the proxy variables apply to urllib cleanly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    assert "set data.path to it" in err
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
