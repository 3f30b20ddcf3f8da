"""TensorBoard: event files read back with TensorBoard's own reader, HParams sessions and
experiment, and `dlrun tensorboard` serving them over HTTP on 127.0.0.1 until SIGINT."""

from __future__ import annotations

import csv
import json
import os
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata

from dlrun.cli import run as dlrun
from dlrun.report.hparams import write_experiment

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("small", "overfit", "wide")


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A digits workflow with three trained stages (and the final retraining)."""
    base = tmp_path_factory.mktemp("tensorboard")
    config = base / "digits_workflow.yaml"
    config.write_text(
        "name: digitswf\n"
        "task: multiclass\n"
        "data: {source: sklearn.digits, validation: {fraction: 0.2}}\n"
        "model: {kind: mlp, units: [8]}\n"
        "train: {batch_size: 64, epochs: 2}\n"
        "workflow:\n"
        "  overfit: {model: {units: [64, 64]}}\n"
        "  regularize: [{name: wide, model: {units: [32], dropout: 0.25}}]\n"
    )
    runs_dir = base / "runs"
    assert dlrun(["train", str(config), "--runs-dir", str(runs_dir), "-q"]) == 0
    (run,) = runs_dir.iterdir()
    return runs_dir, run


def accumulator(path: Path) -> EventAccumulator:
    events = EventAccumulator(str(path), size_guidance={"tensors": 0})
    events.Reload()
    return events


def history(stage_dir: Path) -> list[dict[str, str]]:
    with (stage_dir / "history.csv").open() as fp:
        return list(csv.DictReader(fp))


def scalar(event) -> float:
    from tensorboard.util import tensor_util

    return float(tensor_util.make_ndarray(event.tensor_proto))


def test_each_stage_writes_scalars_tensorboard_can_read(workflow_run) -> None:
    _, run = workflow_run
    for stage in STAGES:
        stage_dir = run / "stages" / stage
        rows = history(stage_dir)
        validation = accumulator(stage_dir / "tensorboard" / "validation")
        losses = validation.Tensors("epoch_loss")
        assert [e.step for e in losses] == list(range(len(rows)))
        assert [round(scalar(e), 5) for e in losses] == [
            round(float(r["val_loss"]), 5) for r in rows
        ]
        train = accumulator(stage_dir / "tensorboard" / "train")
        assert "epoch_accuracy" in train.Tags()["tensors"]


def test_each_stage_is_an_hparams_session_with_its_hyperparameters_and_metrics(
    workflow_run,
) -> None:
    _, run = workflow_run
    expected_units = {"small": "[8]", "overfit": "[64,64]", "wide": "[32]"}
    for stage in STAGES:
        session = accumulator(run / "stages" / stage / "tensorboard")
        tags = session.Tags()["tensors"]
        assert metadata.SESSION_START_INFO_TAG in tags and metadata.SESSION_END_INFO_TAG in tags
        content = session.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data
        assert content.plugin_name == metadata.PLUGIN_NAME
        start = metadata.parse_session_start_info_plugin_data(content.content)
        assert start.hparams["stage"].string_value == stage
        assert start.hparams["run"].string_value == run.name
        assert start.hparams["model.units"].string_value == expected_units[stage]
        assert start.hparams["train.batch_size"].number_value == 64
        dropout = start.hparams["model.dropout"].number_value
        assert dropout == (0.25 if stage == "wide" else 0.0)
        end_content = session.SummaryMetadata(metadata.SESSION_END_INFO_TAG).plugin_data.content
        end = metadata.parse_session_end_info_plugin_data(end_content)
        assert end.status == api_pb2.STATUS_SUCCESS
        assert end.end_time_secs >= start.start_time_secs

        # best epoch as the workflow picks it: by val_accuracy, the first of equals
        rows = history(run / "stages" / stage)
        best = max(rows, key=lambda r: (float(r["val_accuracy"]), -int(r["epoch"])))
        summary = json.loads((run / "summary.json").read_text())
        assert summary["stages"][stage]["best_epoch"] == int(best["epoch"])
        (best_loss,) = session.Tensors("best/val_loss")
        assert best_loss.step == int(best["epoch"])
        assert scalar(best_loss) == pytest.approx(float(best["val_loss"]), rel=1e-6)
        (best_accuracy,) = session.Tensors("best/val_accuracy")
        assert scalar(best_accuracy) == pytest.approx(float(best["val_accuracy"]), rel=1e-6)


def test_experiment_definition_covers_every_session(workflow_run, tmp_path: Path) -> None:
    runs_dir, _ = workflow_run
    assert write_experiment(tmp_path, [runs_dir]) == len(STAGES) + 1  # + the final retraining
    events = accumulator(tmp_path)
    content = events.SummaryMetadata(metadata.EXPERIMENT_TAG).plugin_data.content
    experiment = metadata.parse_experiment_plugin_data(content)
    infos = {info.name: info for info in experiment.hparam_infos}
    assert {"run", "stage", "model.units", "model.dropout", "train.optimizer.learning_rate"} <= set(
        infos
    )
    assert list(infos["stage"].domain_discrete) == sorted([*STAGES, "final"])
    assert infos["model.dropout"].domain_interval.max_value == 0.25
    metric_tags = {m.name.tag for m in experiment.metric_infos}
    assert {"best/val_loss", "best/val_accuracy", "best/loss"} <= metric_tags


def post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def read_url(process: subprocess.Popen, timeout: float) -> str:
    """The URL line dlrun prints once TensorBoard answers."""
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=1):
            line = process.stdout.readline()
            if not line:
                break
            if "http://" in line:
                return line.split("http://", 1)[1].split()[0].rstrip("/")
    process.kill()
    raise AssertionError(f"no URL printed; stderr: {process.stderr.read()[-2000:]}")


def test_dlrun_tensorboard_serves_scalars_and_hparams_then_stops_on_sigint(workflow_run) -> None:
    runs_dir, run = workflow_run
    process = subprocess.Popen(
        [sys.executable, "-m", "dlrun", "tensorboard", "--runs-dir", str(runs_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        address = read_url(process, timeout=180)
        host, port = address.split(":")
        assert host == "127.0.0.1"
        base = f"http://{address}"
        runs = get_json(f"{base}/data/runs")
        for stage in STAGES:
            assert f"runs/{run.name}/stages/{stage}/tensorboard/validation" in runs
        tags = get_json(f"{base}/data/plugin/scalars/tags")
        assert "epoch_loss" in tags[f"runs/{run.name}/stages/small/tensorboard/validation"]

        experiment = post_json(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})
        names = {info["name"] for info in experiment["hparamInfos"]}
        assert {"stage", "model.units", "model.dropout"} <= names
        groups = post_json(
            f"{base}/data/plugin/hparams/session_groups",
            {
                "experimentName": "",
                "allowedStatuses": ["STATUS_SUCCESS", "STATUS_UNKNOWN", "STATUS_RUNNING"],
                "colParams": [],
                "startIndex": 0,
                "sliceSize": 100,
            },
        )
        stages = {g["hparams"]["stage"] for g in groups["sessionGroups"]}
        assert stages == {*STAGES, "final"}
        small = next(g for g in groups["sessionGroups"] if g["hparams"]["stage"] == "small")
        metrics = {m["name"]["tag"]: m["value"] for m in small["metricValues"]}
        assert 0 < metrics["best/val_accuracy"] <= 1
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, process.stderr.read()[-2000:]
    with pytest.raises(OSError):  # the TensorBoard child stopped with dlrun
        urllib.request.urlopen(f"{base}/data/runs", timeout=5)


def test_dlrun_tensorboard_without_runs_says_so(cli, tmp_path: Path) -> None:
    code, _, err = cli("tensorboard", "--runs-dir", tmp_path / "empty")
    assert code == 2
    assert "no runs in" in err


def test_a_single_training_is_an_hparams_session_of_the_experiment(
    cli, runs_dir: Path, tiny_config: Path, tmp_path: Path
) -> None:
    # workflow=null (and every holdout sweep trial) trains in stages/train/: the stage is named
    # like Keras's train/ event folder, and must still be found.
    code, _, err = cli("train", tiny_config, "train.epochs=1", "-q")
    assert code == 0, err
    (run,) = runs_dir.iterdir()
    assert write_experiment(tmp_path / "experiment", [runs_dir]) == 1
    content = accumulator(tmp_path / "experiment").SummaryMetadata(metadata.EXPERIMENT_TAG)
    experiment = metadata.parse_experiment_plugin_data(content.plugin_data.content)
    infos = {info.name: info for info in experiment.hparam_infos}
    assert list(infos["run"].domain_discrete) == [run.name]
    assert list(infos["stage"].domain_discrete) == ["train"]
    assert "best/val_accuracy" in {m.name.tag for m in experiment.metric_infos}
