"""TensorBoard HParams records for dlrun's trainings, written without TensorFlow.

Each training (a workflow stage, a sweep trial, a K-fold fold) is one HParams
*session*, stored in its TensorBoard directory beside Keras's `train/` and
`validation/` event files:

- `record_session` writes the session start (the hyperparameters: the flattened
  config, plus run, stage and sweep trial), one scalar per metric at the best
  epoch (`best/val_accuracy`, ...; best by the `metric` the caller chooses with:
  the workflow's or sweep's metric, else the early-stopping monitor), and the
  session end; plus `hparams.json`, the
  same facts in a form dlrun reads back cheaply.
- `write_experiment` writes the experiment definition (each hyperparameter with
  its domain, each metric) for a set of runs. `dlrun tensorboard` writes one for
  the runs it serves, so the HParams dashboard always finds an experiment that
  covers every run, stage and trial (Keras Tuner's "Can't find an HParams-plugin
  experiment" comes from event files without one).

The records are built with `tensorboard.plugins.hparams` protos and written with
TensorBoard's own record writer, so no TensorFlow import is needed (a sweep's
parent process or `dlrun tensorboard` can write them).

Example:

```python
record_session(stage_dir / "tensorboard", config, history, metric="val_accuracy", seconds=12.5)
write_experiment(Path("/tmp/exp"), [Path("runs")])
```
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

from dlrun.objective import Objective
from dlrun.runs.catalog import flatten
from dlrun.runs.rundir import atomic_path, read_json, write_json

SESSION_FILE = "hparams.json"
EVENTS_FILE = "events.out.tfevents.dlrun-hparams"
# Config keys that say where things are, not how the model was trained.
_NOT_HPARAMS = ("name", "data.path", "data.delimiter", "train.tensorboard", "train.checkpoint")
# Sections that describe the search or the workflow rather than one training.
_SECTIONS = ("workflow", "sweep")


def session_hparams(config: Any, session_dir: Path) -> dict[str, bool | float | str]:
    """The hyperparameters of one training: its config flattened, plus where it sits."""
    data = config.model_dump(mode="json") if hasattr(config, "model_dump") else dict(config)
    values: dict[str, bool | float | str] = {}
    for key, value in flatten(data).items():
        if value in (None, [], {}) or key in _NOT_HPARAMS or key.split(".")[0] in _SECTIONS:
            continue
        values[key] = _hparam_value(value)
    run_dir, stage = _run_and_stage(session_dir)
    values["run"] = run_dir.name if run_dir else session_dir.name
    values["stage"] = stage
    meta = _meta(run_dir)
    sweep = meta.get("sweep") if isinstance(meta.get("sweep"), dict) else None
    if sweep:
        values["sweep"] = str(sweep.get("name", ""))
        if isinstance(sweep.get("trial"), int):
            values["trial"] = float(sweep["trial"])
    return values


def _hparam_value(value: Any) -> bool | float | str:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return float(value)
    return json.dumps(value, separators=(",", ":"))


def _run_and_stage(session_dir: Path) -> tuple[Path | None, str]:
    """`<run>/stages/<stage...>/tensorboard` -> (run dir, "stage/..."); else (None, name)."""
    parts = session_dir.resolve().parts
    if "stages" in parts:
        i = len(parts) - 1 - parts[::-1].index("stages")
        stage_parts = [p for p in parts[i + 1 :] if p != "tensorboard"]
        return Path(*parts[:i]), "/".join(stage_parts) or "train"
    return None, session_dir.name


def _meta(run_dir: Path | None) -> dict[str, Any]:
    if run_dir is None or not (run_dir / "meta.json").is_file():
        return {}
    try:
        meta = read_json(run_dir / "meta.json")
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def best_metrics(history: dict[str, list[float]], metric: str) -> dict[str, float]:
    """Each history column at the best epoch by `metric` (the last epoch without it)."""
    epochs = len(next(iter(history.values()), []))
    if not epochs:
        return {}
    best = Objective.of(metric).best_epoch(history.get(metric, []))
    index = epochs - 1 if best is None else best - 1
    values = {}
    for key, column in history.items():
        if key != "learning_rate" and index < len(column) and math.isfinite(column[index]):
            values[key] = float(column[index])
    values["epoch"] = float(index + 1)
    return values


def record_session(
    session_dir: Path,
    config: Any,
    history: dict[str, list[float]],
    *,
    metric: str,
    seconds: float,
) -> dict[str, Any]:
    """Write one training's HParams session (start, best-epoch metrics, end) atomically."""
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    end = time.time()
    start = end - seconds
    hparams = session_hparams(config, session_dir)
    metrics = best_metrics(history, metric)
    step = int(metrics.get("epoch", 0))

    start_info = plugin_data_pb2.SessionStartInfo(start_time_secs=start)
    for key, value in hparams.items():
        if isinstance(value, bool):
            start_info.hparams[key].bool_value = value
        elif isinstance(value, float):
            start_info.hparams[key].number_value = value
        else:
            start_info.hparams[key].string_value = value
    end_info = plugin_data_pb2.SessionEndInfo(
        status=api_pb2.STATUS_SUCCESS,
        end_time_secs=end,
    )
    events = [
        _plugin_event(metadata.SESSION_START_INFO_TAG, start, session_start_info=start_info),
        *(_scalar_event(f"best/{k}", v, step, end) for k, v in metrics.items()),
        _plugin_event(metadata.SESSION_END_INFO_TAG, end, session_end_info=end_info),
    ]
    _write_events(session_dir / EVENTS_FILE, [_file_version(start), *events])
    record = {
        "hparams": hparams,
        "metrics": metrics,
        "status": "success",
        "start": start,
        "end": end,
    }
    write_json(session_dir / SESSION_FILE, record)
    return record


def _plugin_event(tag: str, wall_time: float, **data: Any) -> Any:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    content = plugin_data_pb2.HParamsPluginData(**data)
    summary = summary_pb2.Summary(
        value=[
            summary_pb2.Summary.Value(
                tag=tag,
                metadata=metadata.create_summary_metadata(content),
                tensor=metadata.NULL_TENSOR,
            )
        ]
    )
    return event_pb2.Event(wall_time=wall_time, step=0, summary=summary)


def _scalar_event(tag: str, value: float, step: int, wall_time: float) -> Any:
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.scalar import metadata as scalar_metadata
    from tensorboard.util import tensor_util

    summary = summary_pb2.Summary(
        value=[
            summary_pb2.Summary.Value(
                tag=tag,
                metadata=scalar_metadata.create_summary_metadata(display_name=tag, description=""),
                tensor=tensor_util.make_tensor_proto(value, dtype="float32"),
            )
        ]
    )
    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary)


def _file_version(wall_time: float) -> Any:
    from tensorboard.compat.proto import event_pb2

    return event_pb2.Event(wall_time=wall_time, file_version="brain.Event:2")


def _write_events(path: Path, events: list[Any]) -> None:
    """A complete event file, moved into place at once (TensorBoard never sees half of it)."""
    from tensorboard.summary.writer.record_writer import RecordWriter

    with atomic_path(path) as tmp, tmp.open("wb") as fp:
        writer = RecordWriter(fp)
        for event in events:
            writer.write(event.SerializeToString())
        writer.flush()


def find_sessions(paths: list[Path]) -> list[dict[str, Any]]:
    """The `hparams.json` records under the given runs directories or run directories."""
    found = []
    for root in paths:
        for dirpath, dirnames, filenames in os.walk(root):
            if SESSION_FILE in filenames:
                # Below a session are only Keras's event folders. Pruning by what a directory
                # holds, not by its name: `train` is also a stage (workflow=null, sweep trials).
                dirnames.clear()
                try:
                    record = read_json(Path(dirpath) / SESSION_FILE)
                except (OSError, ValueError):
                    continue  # a broken run must not keep TensorBoard from starting
                if isinstance(record, dict) and isinstance(record.get("hparams"), dict):
                    found.append(record)
    return found


def experiment_summary(sessions: list[dict[str, Any]], description: str = "") -> Any:
    """The experiment proto summary: every hyperparameter and metric the sessions used.

    Hyperparameters that vary between sessions come first; constant ones stay
    listed (after them) so a single run still shows its configuration.
    """
    from tensorboard.plugins.hparams import api_pb2

    values: dict[str, list[Any]] = {}
    for session in sessions:
        for key, value in session["hparams"].items():
            values.setdefault(key, []).append(value)
    first = ("run", "stage", "sweep", "trial")
    names = sorted(
        values,
        key=lambda k: (
            k not in first,
            len({json.dumps(v) for v in values[k]}) < 2,
            first.index(k) if k in first else 0,
            k,
        ),
    )
    infos = []
    for name in names:
        seen = values[name]
        if all(isinstance(v, bool) for v in seen):
            info = api_pb2.HParamInfo(name=name, type=api_pb2.DATA_TYPE_BOOL)
            info.domain_discrete.extend(sorted(set(seen)))
        elif all(isinstance(v, float | int) and not isinstance(v, bool) for v in seen):
            info = api_pb2.HParamInfo(name=name, type=api_pb2.DATA_TYPE_FLOAT64)
            info.domain_interval.min_value = float(min(seen))
            info.domain_interval.max_value = float(max(seen))
        else:
            info = api_pb2.HParamInfo(name=name, type=api_pb2.DATA_TYPE_STRING)
            info.domain_discrete.extend(sorted({str(v) for v in seen}))
        infos.append(info)
    metric_names = sorted(
        {k for s in sessions for k in s.get("metrics", {})},
        key=lambda k: (k == "epoch", not k.startswith("val_"), k != "val_loss", k),
    )
    metrics = [
        api_pb2.MetricInfo(
            name=api_pb2.MetricName(group="", tag=f"best/{name}"),
            display_name=name if name != "epoch" else "best epoch",
            description=_metric_description(name),
            dataset_type=(
                api_pb2.DATASET_VALIDATION if name.startswith("val_") else api_pb2.DATASET_TRAINING
            ),
        )
        for name in metric_names
    ]
    experiment = api_pb2.Experiment(
        description=description, time_created_secs=time.time(), hparam_infos=infos
    )
    experiment.metric_infos.extend(metrics)
    return experiment


def _metric_description(name: str) -> str:
    if name == "epoch":
        return "The epoch the metrics are taken from (best by the run's selection metric)."
    better = "higher" if Objective.of(name).maximize else "lower"
    return f"{name} at the best epoch ({better} is better)."


def write_experiment(directory: Path, roots: list[Path], description: str = "") -> int:
    """Write the experiment definition covering every session under `roots`; returns the count."""
    from tensorboard.plugins.hparams import metadata

    sessions = find_sessions(roots)
    if not sessions:
        return 0
    experiment = experiment_summary(sessions, description)
    event = _plugin_event(metadata.EXPERIMENT_TAG, time.time(), experiment=experiment)
    _write_events(Path(directory) / EVENTS_FILE, [_file_version(time.time()), event])
    return len(sessions)
