"""`dlrun predict RUN INPUT`: a run's final model on new inputs, after its own preprocessing.

The preprocessing fitted when the run trained (`preprocessing.json`) is applied
with `dlrun.data.prepare.apply_state`, never refitted. Accepted inputs:

- tabular runs (csv source): a CSV with a header holding the training columns, by
  name, in any order; other columns (the target, an id) are ignored;
- feature and image runs: an `.npz` with an array `x` (or an `.npy`), raw values
  as in training (e.g. uint8 pixels);
- token-sequence runs (imdb, reuters): a text file, one sample per line, token
  ids separated by spaces or commas (the same ids as the training data).

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
import re
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.catalog import resolve_run
from dlrun.commands.evaluate import load_final_model
from dlrun.console import Output
from dlrun.data.splits import Features, Sequences
from dlrun.data.tabular import not_utf8
from dlrun.errors import DataError, UsageError
from dlrun.runs import Run, write_text
from dlrun.spec import DlrunConfig, load_config

ARRAY_SUFFIXES = (".npz", ".npy")


def predict(
    run_arg: str | Path,
    input_file: Path,
    *,
    output: Path | None,
    runs_dir: Path,
    out: Output,
) -> np.ndarray:
    """Predict `input_file` with the run's final model; returns the raw model outputs."""
    run = Run.open(resolve_run(run_arg, runs_dir))
    run.final_model()  # a run without one is refused before the input is read
    if output is not None and output.suffix not in (".csv", ".npz"):
        raise UsageError(f"--output must end in .csv or .npz, not '{output.suffix}'.")
    config = load_config(run.path / "config.yaml", inputs=False).config
    state = run.read_json("preprocessing.json")
    try:
        raw = read_inputs(Path(input_file), state, config)
    except UnicodeDecodeError as exc:
        raise not_utf8(Path(input_file), exc) from None
    model = load_final_model(run, out.verbose)
    predictions = predict_features(model, raw, state, config, Path(input_file))
    labels = predicted_labels(predictions, config.task, state.get("class_names"))
    columns, rows = prediction_table(predictions, labels, config.task, state)
    if output is None:
        out.result(_csv_text(columns, rows), markup=False, soft_wrap=True, end="")
        return predictions
    if output.suffix == ".npz":
        from dlrun.runs import save_with

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
    kind = state["kind"]
    if kind == "features":  # kept as they are: a wrong width would not even normalize
        _check_shape(path, np.shape(raw)[1:], np.shape(raw)[1:], model)
    features = apply_state(raw, state)
    if kind == "images":  # flattened, or given a channel axis
        _check_shape(path, np.shape(raw)[1:], np.shape(features)[1:], model)
    n = len(features)
    if n == 0:
        raise DataError("the input holds no samples.")
    dataset = make_dataset(Split(features, np.zeros(n, dtype=np.float32)), config.train.batch_size)
    return np.asarray(model.predict(dataset.map(lambda x, _: x), verbose=0))


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
    if not path.is_file():
        raise UsageError(f"input file not found: {path}")
    kind = state["kind"]
    suffix = path.suffix.lower()
    if kind == "table":
        if suffix in ARRAY_SUFFIXES:
            raise DataError(f"{path}: this run was trained on a CSV table; give a CSV file.")
        return _read_table(path, state, config.data.delimiter)
    if kind == "sequences":
        if suffix in ARRAY_SUFFIXES:
            raise DataError(
                f"{path}: this run was trained on token sequences; give a text file with one "
                "sample per line, token ids separated by spaces or commas."
            )
        return _read_token_lines(path, int(state["num_words"]))
    if suffix not in ARRAY_SUFFIXES:
        raise DataError(
            f"{path}: this run was trained on {kind} arrays; give an .npz with an array 'x' "
            "(or an .npy)."
        )
    return _read_array(path)


def _read_table(path: Path, state: dict[str, Any], delimiter: str) -> np.ndarray:
    with path.open(newline="", encoding="utf-8") as fp:
        rows = list(csv.reader(fp, delimiter=delimiter))
    if len(rows) < 2:
        raise DataError(f"{path} has no data rows under its header.")
    header, body = rows[0], rows[1:]
    wanted = [spec["name"] for spec in state["columns"]]
    missing = [name for name in wanted if name not in header]
    if missing:
        raise DataError(
            f"{path} lacks the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} the run was trained on.",
            hint=f"Needed columns: {', '.join(wanted)}.",
        )
    bad = [i + 2 for i, row in enumerate(body) if len(row) != len(header)]
    if bad:
        raise DataError(f"{path}: line {bad[0]} has a different number of fields than the header.")
    index = [header.index(name) for name in wanted]
    return np.array([[row[i] for i in index] for row in body], dtype=object)


_SEPARATORS = re.compile(r"[\s,]+")


def _read_token_lines(path: Path, num_words: int) -> Sequences:
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        tokens = [t for t in _SEPARATORS.split(line.strip()) if t]
        try:
            rows.append([int(t) for t in tokens])
        except ValueError:
            raise DataError(
                f"{path}, line {number}: expected token ids (integers), got '{line[:40]}'."
            ) from None
        if any(t < 0 for t in rows[-1]):
            raise DataError(f"{path}, line {number}: token ids cannot be negative.")
    return Sequences.from_lists(rows, num_words=num_words)


def _read_array(path: Path) -> np.ndarray:
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as arrays:
            if "x" not in arrays:
                raise DataError(
                    f"{path} has no array 'x' (it has: {', '.join(arrays.files) or 'none'})."
                )
            return arrays["x"]
    except (ValueError, OSError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None


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
