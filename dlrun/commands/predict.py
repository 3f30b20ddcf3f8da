"""`dlrun predict RUN INPUT`: a run's final model on new inputs, after its own preprocessing.

The preprocessing fitted when the run trained (`preprocessing.json`) is applied
with `dlrun.data.prepare.apply_state`, never refitted. Accepted inputs:

- tabular runs (csv source): a CSV with a header holding the training columns, by
  name, in any order; other columns (the target, an id) are ignored;
- feature and image runs: an `.npz` with an array `x` (or an `.npy`), raw values
  as in training (e.g. uint8 pixels);
- token-sequence runs (imdb, reuters): a text file, one sample per line, token
  ids separated by spaces or commas (the same ids as the training data);
- time-series runs: a CSV of at least a window of recent rows (the training columns);
  the forecast from the last window, in the target's units, with the time it is for;
- image-folder runs (image_dir): an image file, or a folder of them (subfolders too),
  decoded, converted and resized as in training; the output names each file.

Predictions go to stdout or `--output` (.csv, or .npz with `predictions` and `labels`).

Example:

```python
predictions = predict("runs/20261122-101500-houses-a1b2c3", Path("new.csv"), output=None,
                      runs_dir=Path("runs"), out=Output())
```
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.commands.evaluate import load_final_model
from dlrun.console import Output
from dlrun.data.representations import representation_of
from dlrun.data.representations.image_files import ImagePaths
from dlrun.data.representations.text import text_lines
from dlrun.data.splits import Features
from dlrun.data.tabular import not_utf8
from dlrun.errors import DataError, UsageError
from dlrun.evaluation import predict_batches
from dlrun.runs.catalog import resolve_run
from dlrun.runs.rundir import Run, write_text
from dlrun.spec import DlrunConfig, load_config


def predict(
    run_arg: str | Path,
    input_file: Path | None,
    *,
    texts: list[str] | None = None,
    output: Path | None,
    runs_dir: Path,
    out: Output,
) -> np.ndarray:
    """Predict `input_file` (or `texts`, for a raw-text run) with the run's final model;
    returns the raw model outputs."""
    if (input_file is None) == (not texts):
        raise UsageError("give an input file or --text, not both and not neither.")
    run = Run.open(resolve_run(run_arg, runs_dir))
    run.final_model()  # a run without one is refused before the input is read
    if output is not None and output.suffix not in (".csv", ".npz"):
        raise UsageError(f"--output must end in .csv or .npz, not '{output.suffix}'.")
    config = load_config(run.path / "config.yaml", inputs=False).config
    state = run.read_json("preprocessing.json")
    where = Path(input_file) if input_file is not None else Path("--text")
    if texts:
        if representation_of(state).name != "text":
            raise UsageError(
                f"--text is for runs trained on raw text; this run was trained on "
                f"{representation_of(state).what}. Give an input file."
            )
        raw: Features = text_lines(list(texts))
    else:
        try:
            raw = read_inputs(where, state, config)
        except UnicodeDecodeError as exc:
            raise not_utf8(where, exc) from None
    model = load_final_model(run, out.verbose)
    predictions = predict_features(model, raw, state, config, where)
    predictions, leading = representation_of(state).outputs(predictions, raw, state)
    labels = predicted_labels(predictions, config.task, state.get("class_names"))
    columns, rows = prediction_table(predictions, labels, config.task, state)
    columns = [*leading, *columns]
    rows = [[*(v[i] for v in leading.values()), *row] for i, row in enumerate(rows)]
    if isinstance(raw, ImagePaths):  # which row is which image
        columns = ["file", *columns]
        rows = [[path, *row] for path, row in zip(raw.names(), rows, strict=True)]
    if output is None:
        out.result(_csv_text(columns, rows), markup=False, soft_wrap=True, end="")
        return predictions
    if output.suffix == ".npz":
        from dlrun.runs.rundir import save_with

        save_with(output, lambda tmp: _savez(tmp, predictions, labels))
    else:
        write_text(output, _csv_text(columns, rows))
    out.info(f"{len(predictions)} predictions written to {output}")
    return predictions


def predict_features(
    model: Any, raw: Features, state: dict[str, Any], config: DlrunConfig, path: Path
) -> np.ndarray:
    """Apply the fitted preprocessing, then the model, batch by batch."""
    from dlrun.data.pipeline import make_dataset
    from dlrun.data.prepare import apply_state
    from dlrun.data.splits import Split

    # Arrays are taken as the user gives them (tables and token lines are read to fit).
    kind = representation_of(state).name
    if kind == "features":  # kept as they are: a wrong width would not even normalize
        _check_shape(path, np.shape(raw)[1:], np.shape(raw)[1:], model)
    features = apply_state(raw, state)
    if kind == "images":  # flattened, or given a channel axis
        _check_shape(path, np.shape(raw)[1:], np.shape(features)[1:], model)
    n = len(features)
    if n == 0:
        raise DataError("the input holds no samples.")
    dataset = make_dataset(Split(features, np.zeros(n, dtype=np.float32)), config.train.batch_size)
    return predict_batches(model, dataset.map(lambda x, _: x))


def _check_shape(
    path: Path, sample: tuple[int, ...], prepared: tuple[int, ...], model: Any
) -> None:
    """A sample must have the model's input shape once preprocessed (`prepared`)."""
    expected = tuple(int(d) for d in model.inputs[0].shape[1:])
    if tuple(prepared) != expected:
        raise DataError(
            f"{path}: its samples have shape {tuple(sample)}, but the run's model takes samples "
            f"of shape {expected}.",
            hint=f"Give one sample per row, {math.prod(expected)} values each, raw as in training.",
        )


def read_inputs(path: Path, state: dict[str, Any], config: DlrunConfig) -> Features:
    """Raw inputs in the form the run's preprocessing expects, from a file a user has."""
    representation = representation_of(state)
    if not path.exists():
        raise UsageError(f"input file not found: {path}")
    if path.is_dir() and not representation.reads_folders:
        raise UsageError(f"{path} is a folder; this run takes an input file.")
    return representation.read(path, state, config.data)


def predicted_labels(predictions: np.ndarray, task: str, class_names: list[str] | None) -> Any:
    """Class decisions: argmax (multiclass), > 0.5 (binary, multilabel); None for regression."""
    if task == "multiclass":
        index = predictions.argmax(axis=1)
        return np.array(class_names)[index] if class_names else index
    if task == "binary":
        index = (predictions.reshape(-1) > 0.5).astype(int)
        return np.array(class_names)[index] if class_names and len(class_names) == 2 else index
    if task == "multilabel":
        return (predictions > 0.5).astype(int)
    return None


def prediction_table(
    predictions: np.ndarray, labels: Any, task: str, state: dict[str, Any]
) -> tuple[list[str], list[list[str]]]:
    names = state.get("class_names") or [str(i) for i in range(predictions.shape[-1])]
    values = predictions.reshape(len(predictions), -1)
    if task == "multiclass":
        columns = ["predicted", *(f"p_{n}" for n in names)]
        rows = [[str(lab), *map(_number, row)] for lab, row in zip(labels, values, strict=True)]
    elif task == "binary":
        columns = ["predicted", "probability"]
        rows = [[str(lab), _number(row[0])] for lab, row in zip(labels, values, strict=True)]
    elif task == "multilabel":
        columns = [*(f"p_{n}" for n in names), "labels"]
        rows = [
            [*map(_number, row), " ".join(str(i) for i in np.flatnonzero(lab))]
            for lab, row in zip(labels, values, strict=True)
        ]
    else:
        width = values.shape[1]
        columns = ["prediction"] if width == 1 else [f"prediction_{i}" for i in range(width)]
        rows = [list(map(_number, row)) for row in values]
    return columns, rows


def _number(value: float) -> str:
    return f"{float(value):.7g}"


def _csv_text(columns: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def _savez(path: Path, predictions: np.ndarray, labels: Any) -> None:
    arrays = {"predictions": predictions}
    if labels is not None:
        arrays["labels"] = np.asarray(labels)
    with path.open("wb") as fp:
        np.savez(fp, **arrays)
