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
A CSV is read, preprocessed, predicted and written `CHUNK_ROWS` rows at a time. Inputs the
preprocessing takes but the training data never held (a category never seen, an empty
cell) are counted and warned of per column, or refused with `--strict`; a number that is
not finite is refused, naming its column and row.

Example:

```python
predictions = predict("runs/20261122-101500-houses-a1b2c3", Path("new.csv"), output=None,
                      runs_dir=Path("runs"), out=Output())
```
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from rich.markup import escape

from dlrun.commands.evaluate import load_final_model, saved_threshold
from dlrun.console import Output
from dlrun.contracts import contract_for
from dlrun.data.representations import load_state, representation_of
from dlrun.data.representations.base import Misfits, Representation
from dlrun.data.representations.image_files import ImagePaths
from dlrun.data.representations.text import text_lines
from dlrun.data.splits import Features
from dlrun.data.tabular import not_utf8
from dlrun.errors import DataError, UsageError
from dlrun.evaluation import binary_classes, predict_batches
from dlrun.runs.catalog import resolve_run
from dlrun.runs.rundir import Run
from dlrun.spec import DlrunConfig, load_config

# Rows of a CSV read, preprocessed, predicted and written at a time, so memory does not
# grow with the file: a 4-column CSV peaked at 0.76 GB (mostly TensorFlow) with 200,000
# rows and with 1.3 million.
CHUNK_ROWS = 50_000


def predict(
    run_arg: str | Path,
    input_file: Path | None,
    *,
    texts: list[str] | None = None,
    output: Path | None,
    runs_dir: Path,
    out: Output,
    strict: bool = False,
    chunk_rows: int = CHUNK_ROWS,
    threshold: float | None = None,
) -> np.ndarray:
    """Predict `input_file` (or `texts`, for a raw-text run) with the run's final model;
    returns the raw model outputs.

    Inputs that do not fit the training data (an unseen category, an empty cell) are
    predicted with a warning per column, or refused as a whole under `strict`. A CSV is
    handled `chunk_rows` rows at a time, with the same output as in one go.
    A binary run's classes are decided at `threshold`, else at the one the run chose
    (workflow.threshold), else at 0.5.
    """
    if (input_file is None) == (not texts):
        raise UsageError("give an input file or --text, not both and not neither.")
    run = Run.open(resolve_run(run_arg, runs_dir))
    run.final_model()  # a run without one is refused before the input is read
    if output is not None and output.suffix not in (".csv", ".npz"):
        raise UsageError(f"--output must end in .csv or .npz, not '{output.suffix}'.")
    config = load_config(run.path / "config.yaml", inputs=False).config
    if contract_for(config.task).head(config) is None:
        raise UsageError(
            f"{run.path.name} is a run of task {config.task}: its model makes images, not "
            "predictions of a target.",
            hint="dlrun generate RUN makes new samples (a vae, a gan); dlrun evaluate RUN "
            "scores it on its test split.",
        )
    if threshold is not None and config.task != "binary":
        raise UsageError(
            f"--threshold decides between the two classes of a binary run; this run is "
            f"'{config.task}'. Leave out --threshold."
        )
    if threshold is None and config.task == "binary":
        threshold = saved_threshold(run)
    state = load_state(run)
    if config.task == "language_model":
        # the next token of each text: one class per token of the vocabulary
        state = {**state, "class_names": state["tokens"]}
    representation = representation_of(state)
    where = Path(input_file) if input_file is not None else Path("--text")
    if texts and representation.name != "text":
        raise UsageError(
            f"--text is for runs trained on raw text; this run was trained on "
            f"{representation.what}. Give an input file."
        )

    def inputs() -> Iterator[Features]:
        if texts:
            yield text_lines(list(texts))
            return
        try:
            yield from read_input_chunks(where, state, config, chunk_rows)
        except UnicodeDecodeError as exc:
            raise not_utf8(where, exc) from None

    if strict:  # refused before anything is predicted or written
        _refuse_misfits(inputs(), state, where)
    misfits = Misfits()
    chunks = _checked(inputs(), state, where, misfits)
    first = next(chunks)  # the input's own errors come before the model loads
    model = load_final_model(run, out.verbose)
    with _predictions_to(output, out) as write, out.reporting():
        for raw in itertools.chain([first], chunks):
            predictions = predict_features(model, raw, state, config, where)
            predictions, leading = representation.outputs(predictions, raw, state)
            task = "multiclass" if config.task == "language_model" else config.task
            labels = predicted_labels(predictions, task, state.get("class_names"), threshold)
            columns, rows = prediction_table(predictions, labels, task, state)
            columns = [*leading, *columns]
            rows = [[*(v[i] for v in leading.values()), *row] for i, row in enumerate(rows)]
            if isinstance(raw, ImagePaths):  # which row is which image
                columns = ["file", *columns]
                rows = [[path, *row] for path, row in zip(raw.names(), rows, strict=True)]
            write(columns, rows, predictions, labels)
    for message in misfits.messages():
        out.warn(f"{where}: {message}")
    predictions = write.predictions()
    if output is not None:
        out.info(f"{len(predictions)} predictions written to {escape(str(output))}")
    return predictions


def _checked(
    chunks: Iterator[Features], state: dict[str, Any], where: Path, misfits: Misfits
) -> Iterator[Features]:
    """The chunks of an input, each checked as it is read: what does not fit the training
    data is added to `misfits`, what nothing can be predicted from raises."""
    representation = representation_of(state)
    done = 0
    for raw in chunks:
        misfits.add(representation.misfits(raw, state, done, where))
        done += len(raw)
        yield raw


def _refuse_misfits(chunks: Iterator[Features], state: dict[str, Any], where: Path) -> None:
    """Read every chunk of an input; a DataError lists every misfit (`predict --strict`)."""
    misfits = Misfits()
    for _ in _checked(chunks, state, where, misfits):
        pass
    if misfits:
        raise DataError(
            f"{where} does not fit the data the run was trained on:\n  "
            + "\n  ".join(misfits.messages()),
            hint="predict --strict refuses such inputs: fix them, or leave out --strict to "
            "predict them as the messages say.",
        )


class _Sink:
    """Where predictions go, chunk by chunk: stdout, a CSV that grows in a temporary file
    moved into place at the end, or an .npz written at the end."""

    def __init__(self, output: Path | None, out: Output, csv_file: TextIO | None) -> None:
        self.output, self.out, self.csv_file = output, out, csv_file
        self.chunks: list[np.ndarray] = []
        self.labels: list[Any] = []
        self.header = True

    def __call__(
        self, columns: list[str], rows: list[list[str]], predictions: np.ndarray, labels: Any
    ) -> None:
        self.chunks.append(predictions)
        if labels is not None:
            self.labels.append(np.asarray(labels))
        text = _csv_text(columns if self.header else None, rows)
        self.header = False
        if self.csv_file is not None:
            self.csv_file.write(text)
        elif self.output is None:
            self.out.result(text, markup=False, soft_wrap=True, end="")

    def predictions(self) -> np.ndarray:
        return np.concatenate(self.chunks)

    def all_labels(self) -> Any:
        return np.concatenate(self.labels) if self.labels else None


@contextmanager
def _predictions_to(output: Path | None, out: Output) -> Iterator[_Sink]:
    """A sink for predictions; a file is in place only when every chunk is written."""
    from dlrun.runs.rundir import atomic_path

    if output is None:
        yield _Sink(None, out, None)
        return
    with atomic_path(output) as tmp:
        if output.suffix == ".csv":
            with tmp.open("w", encoding="utf-8", newline="") as fp:
                yield _Sink(output, out, fp)
            return
        sink = _Sink(output, out, None)
        yield sink
        _savez(tmp, sink.predictions(), sink.all_labels())


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
    dataset = make_dataset(
        Split(features, np.zeros(n, dtype=np.float32)), predict_batch(features, config), batch="x"
    )
    return predict_batches(model, dataset)


# What one predict batch's inputs may take: each batch is a Python call, so the training
# batch (often 32) made a 1.3 M-row table 40,000 calls; images still get small batches.
PREDICT_BATCH_BYTES = 32 * 2**20
PREDICT_BATCH_MAX = 4096


def predict_batch(features: Any, config: DlrunConfig) -> int:
    """The batch size for predicting `features`: as many samples of an array as fit in
    PREDICT_BATCH_BYTES (at most PREDICT_BATCH_MAX), never fewer than the training batch;
    the training batch for inputs built per batch (token sets, windows, image files)."""
    if not isinstance(features, np.ndarray) or not len(features):
        return config.train.batch_size
    per_sample = max(1, features.nbytes // len(features))
    return max(config.train.batch_size, min(PREDICT_BATCH_MAX, PREDICT_BATCH_BYTES // per_sample))


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
    return _reader(path, state).read(path, state, config.data)


def read_input_chunks(
    path: Path, state: dict[str, Any], config: DlrunConfig, rows: int
) -> Iterator[Features]:
    """`read_inputs`, about `rows` samples at a time."""
    return _reader(path, state).read_chunks(path, state, config.data, rows)


def _reader(path: Path, state: dict[str, Any]) -> Representation:
    """The representation that reads `path`, once it is known to be an input it can read."""
    representation = representation_of(state)
    if not path.exists():
        raise UsageError(f"input file not found: {path}")
    if path.is_dir() and not representation.reads_folders:
        raise UsageError(f"{path} is a folder; this run takes an input file.")
    return representation


def predicted_labels(
    predictions: np.ndarray,
    task: str,
    class_names: list[str] | None,
    threshold: float | None = None,
) -> Any:
    """Class decisions: argmax (multiclass), > `threshold` (binary; None: 0.5), > 0.5
    (multilabel); None for regression."""
    if task == "multiclass":
        index = predictions.argmax(axis=1)
        return np.array(class_names)[index] if class_names else index
    if task == "binary":
        index = binary_classes(predictions, threshold)
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


def _csv_text(columns: list[str] | None, rows: list[list[str]]) -> str:
    """CSV lines of `rows`, under a header of `columns` unless it is None."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if columns is not None:
        writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()


def _savez(path: Path, predictions: np.ndarray, labels: Any) -> None:
    arrays = {"predictions": predictions}
    if labels is not None:
        arrays["labels"] = np.asarray(labels)
    with path.open("wb") as fp:
        np.savez(fp, **arrays)
