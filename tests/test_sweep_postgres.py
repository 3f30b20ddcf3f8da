"""Two `dlrun sweep --storage postgresql://...` processes share one study on a real server.

The test starts its own PostgreSQL (Debian's `postgresql` package, which `make test`
installs when it can) in a temporary directory, listening on 127.0.0.1 only, on a free
port; it skips, saying why, where PostgreSQL is not installed or will not start.
"""

from __future__ import annotations

import copy
import glob
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from conftest import TINY_CONFIG

from dlrun.sweep.study import outcome, used

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("the psycopg driver is not installed (pip install 'psycopg[binary]')")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; make test tries)")
    bin_dir = Path(found[-1]).parent
    # initdb refuses to run as root: run the server as the package's postgres user.
    as_user = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    base = Path(tempfile.mkdtemp(prefix="dlrun-pg-"))
    if as_user:
        shutil.chown(base, "postgres")
    data, port = base / "data", _free_port()

    def run(*args: str) -> None:
        done = subprocess.run([*as_user, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            pytest.skip(f"PostgreSQL did not start: {' '.join(args[:1])}: {done.stderr[-300:]}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-N")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
        log = str(base / "server.log")
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", log, "-o", options, "-w", "start")
        try:
            run(
                str(bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "dlrun",
            )
            yield f"postgresql://postgres@127.0.0.1:{port}/dlrun"
        finally:
            subprocess.run(
                [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_two_machines_share_one_study_and_the_count_is_exact(
    postgres_url: str, write_config, tmp_path: Path
) -> None:
    config = copy.deepcopy(TINY_CONFIG)
    config["train"].update({"epochs": 4, "tensorboard": False, "checkpoint": False})
    config["sweep"] = {
        "metric": "val_accuracy",
        "sampler": "random",
        "pruner": "none",
        "trials": 6,
        "space": {"model.dropout": {"float": [0.0, 0.4]}},
    }
    path = write_config(config)
    # Two independent `dlrun sweep` processes, as on two machines, each with its runs dir.
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dlrun", "sweep", str(path), "--storage", postgres_url, "-q"],
            cwd=ROOT,
            env={**os.environ, "DLRUN_RUNS_DIR": str(tmp_path / f"machine{i}")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err

    study = optuna.load_study(study_name="tiny", storage=postgres_url)
    trials = study.get_trials()
    assert used(trials) == 6
    assert sum(outcome(t) == "complete" for t in trials) == 6
    assert len({t.number for t in trials}) == len(trials)
    # both processes ran trials (each writes its trials to its own runs dir)
    per_machine = [len(list((tmp_path / f"machine{i}").glob("*-t[0-9]*-*"))) for i in range(2)]
    assert sum(per_machine) == 6 and min(per_machine) >= 1
