"""The probe corpus: bad input a user can give, each with the exit code and words dlrun owes.

Every case is a command on files the case writes (configs, data files, run directories),
checked for its exit code, fragments of its message, and no traceback. The corpus grows
with each fix: a bad input found to get through gets a case here. The cases run in this
process without training (a fault that needs a trained run, or a signal in a phase of
one, is in its topic's own file: test_job.py, test_resume_faults.py, test_trust_*.py),
so the whole corpus takes seconds; its count is what the closing notes report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

BASE = """\
name: probe
seed: 7
task: multiclass
data: {source: sklearn.digits, limit: 300}
model: {kind: mlp, units: [8]}
train: {epochs: 2, optimizer: {name: adam, learning_rate: 0.001}}
"""
SERIES = """\
name: walk
task: regression
data: {source: timeseries, path: walk.csv, time_column: t, target: v, lookback: 4,
       horizon: 1, validation: {fraction: 0.2}}
model: {kind: mlp, units: [4]}
"""
NPZ = """\
name: arrays
task: multiclass
data: {source: npz, path: d.npz}
model: {kind: mlp, units: [4]}
"""


def swap(old: str, new: str, text: str = BASE) -> dict[str, str]:
    assert old in text, old
    return {"c.yaml": text.replace(old, new)}


def plus(extra: str, text: str = BASE) -> dict[str, str]:
    return {"c.yaml": text + extra}


def npz(path: Path, **arrays: np.ndarray) -> None:
    np.savez(path / "d.npz", **arrays)


def walk_csv(path: Path) -> None:
    rows = "\n".join(f"{i},{np.sin(i / 3):.3f}" for i in range(60))
    (path / "walk.csv").write_text("t,v\n" + rows + "\n")


def broken_meta(content: bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        run = path / "runs" / "20261201-120000-probe-abc123"
        run.mkdir(parents=True)
        (run / "config.yaml").write_text(BASE)
        (run / "meta.json").write_bytes(content)

    return make


@dataclass
class Probe:
    name: str
    argv: list[str]  # "{dir}", here and in the files, stands for the case's folder
    code: int
    says: list[str]  # fragments of stdout + stderr (whitespace-normalized)
    files: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None


CHECK = ["check", "{dir}/c.yaml"]
# "billion laughs": 9**7 values from a few hundred characters
BOMB = (
    "{l0: &l0 [x], "
    + ", ".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 8))
    + "}"
)

PROBES = [
    # -- config files: keys, types, numbers --------------------------------------------
    Probe("a misspelt key", CHECK, 2, ["train.epoch", "epochs"], swap("epochs: 2", "epoch: 2")),
    Probe(
        "true as a number",
        CHECK,
        2,
        ["train.epochs", "not true or false"],
        swap("epochs: 2", "epochs: true"),
    ),
    Probe("a negative seed", CHECK, 2, ["seed"], swap("seed: 7", "seed: -1")),
    Probe("a seed past 32 bits", CHECK, 2, ["seed"], swap("seed: 7", "seed: 4294967296")),
    Probe(
        "an infinite learning rate",
        CHECK,
        2,
        ["learning_rate"],
        swap("learning_rate: 0.001", "learning_rate: .inf"),
    ),
    Probe("a NaN dropout", CHECK, 2, ["dropout"], swap("units: [8]", "units: [8], dropout: .nan")),
    Probe("zero epochs", CHECK, 2, ["train.epochs"], swap("epochs: 2", "epochs: 0")),
    Probe(
        "a batch of zero", CHECK, 2, ["batch_size"], swap("epochs: 2", "epochs: 2, batch_size: 0")
    ),
    Probe("an unknown model kind", CHECK, 2, ["model.kind", "mlp"], swap("kind: mlp", "kind: mpl")),
    Probe(
        "an unknown optimizer",
        CHECK,
        2,
        ["train.optimizer.name", "adam"],
        swap("name: adam", "name: adamm"),
    ),
    Probe(
        "a loss that does not fit the task",
        CHECK,
        2,
        ["loss"],
        swap("epochs: 2", "epochs: 2, loss: mse"),
    ),
    Probe(
        "early stopping on a metric never logged",
        CHECK,
        2,
        ["monitor", "not logged"],
        swap("epochs: 2", "epochs: 2, early_stopping: {monitor: val_auc}"),
    ),
    # -- config files: YAML itself -------------------------------------------------------
    Probe("a key given twice", CHECK, 2, ["duplicate key 'seed'"], plus("seed: 8\n")),
    Probe(
        "a Python tag", CHECK, 2, ["safe"], plus("extra: !!python/object/apply:os.system [ls]\n")
    ),
    Probe("a syntax error", CHECK, 2, ["YAML syntax error"], plus("train: {epochs: [\n")),
    Probe("an alias bomb", CHECK, 2, ["aliases", "expand to more than"], plus(f"bomb: {BOMB}\n")),
    Probe(
        "an alias inside itself",
        CHECK,
        2,
        ["refers to a value that holds it"],
        plus("loop: &a [1, *a]\n"),
    ),
    Probe("a list, not a mapping", CHECK, 2, ["mapping"], {"c.yaml": "- 1\n- 2\n"}),
    Probe("an empty file", CHECK, 2, ["name"], {"c.yaml": ""}),
    Probe("a file that is not there", ["check", "{dir}/nowhere.yaml"], 2, ["nowhere.yaml"]),
    # -- overrides get the files' checks ---------------------------------------------------
    Probe(
        "an override key given twice",
        [*CHECK, "train={epochs: 1, epochs: 2}"],
        2,
        ["duplicate key 'train.epochs'"],
        plus(""),
    ),
    Probe(
        "an override alias inside itself",
        [*CHECK, "model.units=&a [*a]"],
        2,
        ["refers to a value that holds it"],
        plus(""),
    ),
    Probe(
        "an override alias bomb",
        [*CHECK, f"model.extra={BOMB}"],
        2,
        ["expand to more than"],
        plus(""),
    ),
    Probe(
        "an override that is no key=value",
        [*CHECK, "train.epochs"],
        2,
        ["not of the form key.path=value"],
        plus(""),
    ),
    Probe(
        "true as epochs in an override",
        [*CHECK, "train.epochs=true"],
        2,
        ["not true or false"],
        plus(""),
    ),
    # -- protocols the data cannot hold ----------------------------------------------------
    Probe(
        "a kfold larger than the limit",
        [*CHECK, "data.validation={kfold: 400}"],
        2,
        ["kfold is 400"],
        plus(""),
    ),
    Probe(
        "a holdout as large as the limit",
        [*CHECK, "data.validation={holdout: 300}"],
        2,
        ["holdout is 300"],
        plus(""),
    ),
    Probe(
        "a series with a validation fraction", CHECK, 2, ["fraction"], {"c.yaml": SERIES}, walk_csv
    ),
    # -- one objective -----------------------------------------------------------------------
    Probe(
        "two objectives",
        CHECK,
        2,
        ["workflow.metric", "sweep.metric", "one objective"],
        plus(
            "workflow: {metric: val_loss}\nsweep: {metric: val_accuracy, space: "
            "{model.dropout: {float: [0, 0.5]}}}\n"
        ),
    ),
    Probe(
        "an objective never logged",
        CHECK,
        2,
        ["'val_auc'", "is not logged"],
        plus("objective: val_auc\n"),
    ),
    Probe(
        "sweeping the objective",
        CHECK,
        2,
        ["cannot be swept"],
        plus("sweep: {space: {objective.metric: {choice: [val_loss]}}}\n"),
    ),
    Probe("an empty sweep space", CHECK, 2, ["sweep.space is empty"], plus("sweep: {}\n")),
    Probe(
        "an infinite sweep bound",
        CHECK,
        2,
        ["finite"],
        plus("sweep: {space: {model.dropout: {float: [0, .inf]}}}\n"),
    ),
    # -- data files --------------------------------------------------------------------------
    Probe(
        "npz x and y of different lengths",
        CHECK,
        2,
        ["d.npz"],
        {"c.yaml": NPZ},
        lambda p: npz(
            p,
            x_train=np.zeros((10, 3)),
            y_train=np.arange(9) % 2,
            x_test=np.zeros((4, 3)),
            y_test=np.arange(4) % 2,
        ),
    ),
    Probe(
        "npz holding pickled objects",
        CHECK,
        2,
        ["d.npz"],
        {"c.yaml": NPZ},
        lambda p: npz(
            p,
            x_train=np.array([{"a": 1}] * 10, dtype=object),
            y_train=np.arange(10) % 2,
            x_test=np.zeros((4, 3)),
            y_test=np.arange(4) % 2,
        ),
    ),
    Probe(
        "inf in a CSV",
        CHECK,
        2,
        ["column 'a' holds the value 'inf' in data row 2"],
        {
            "c.yaml": "name: t\ntask: binary\ndata: {source: csv, path: {dir}/t.csv, target: y}\n"
            "model: {kind: mlp, units: [4]}\n",
            "t.csv": "a,b,y\n1,2,0\ninf,3,1\n4,5,0\n6,7,1\n",
        },
    ),
    # -- run directories ---------------------------------------------------------------------
    Probe(
        "a runs directory that is a file",
        ["runs", "--runs-dir", "{dir}/c.yaml"],
        2,
        ["c.yaml"],
        plus(""),
    ),
    Probe(
        "a meta.json of random bytes",
        ["runs", "--runs-dir", "{dir}/runs"],
        0,
        ["20261201-120000-probe-abc123"],
        setup=broken_meta(bytes(range(256))),
    ),
    Probe(
        "a meta.json with a number for a time",
        ["runs", "--runs-dir", "{dir}/runs", "--format", "json"],
        0,
        ["20261201-120000-probe-abc123"],
        setup=broken_meta(json.dumps({"status": "completed", "started": 12345}).encode()),
    ),
    Probe(
        "evaluate on a folder that is no run",
        ["evaluate", "{dir}"],
        2,
        ["not a dlrun run directory"],
    ),
    Probe(
        "resume of a folder that is no run",
        ["train", "--resume", "{dir}"],
        2,
        ["not a dlrun run directory"],
    ),
    Probe(
        "resume with a config",
        ["train", "{dir}/c.yaml", "--resume", "{dir}"],
        2,
        ["--resume continues a run with its own config.yaml"],
        plus(""),
    ),
    Probe(
        "evaluate last with no run", ["evaluate", "last", "--runs-dir", "{dir}/runs"], 2, ["no run"]
    ),
]


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_probe(probe: Probe, cli, tmp_path: Path) -> None:
    for name, text in probe.files.items():
        (tmp_path / name).write_text(text.replace("{dir}", str(tmp_path)))
    if probe.setup is not None:
        probe.setup(tmp_path)
    code, out, err = cli(*(a.replace("{dir}", str(tmp_path)) for a in probe.argv))
    said = " ".join((out + err).split())
    assert code == probe.code, said
    for fragment in probe.says:
        assert fragment in said, said
    assert "Traceback" not in said
