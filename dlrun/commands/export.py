"""`dlrun export RUN`: the final model as a TensorFlow SavedModel or an ONNX file, checked.

`--format saved_model` (the default) writes `<output>/saved_model/` (a `serve` signature,
in inference mode: data augmentation layers pass images through unchanged; an image run
serves float32 images of its training size, scaled as `preprocessing.json` says); it is
reloaded with `tf.saved_model.load` to be checked. `--format onnx` writes
`<output>/model.onnx` (one input named `inputs`, any batch size, in inference mode too),
checked with onnxruntime; it needs dlrun's `onnx` extra (`pip install 'dlrun[onnx]'`).
Both also write `<output>/model.keras` (a copy) and `<output>/preprocessing.json` (what a
server must apply to raw inputs first). Before the export is moved into place, it must
give the same outputs as the Keras model on a few samples; otherwise nothing is written.

The export runs under whatever Keras backend the process runs: a SavedModel is written
through TensorFlow, directly or (JAX) through jax2tf, so the torch backend, whose
SavedModel export needs torch_xla, is refused; ONNX goes through tf2onnx, jax2onnx or
torch.onnx. A model trained on sparse multi-hot batches (imdb, reuters) serves dense
multi-hot rows: Keras's export keeps no sparse input signature. A raw-text run's
SavedModel takes strings: its vectorizer is exported with it, under the tensorflow backend
only. ONNX has no string vectorizer, so a raw-text run is refused for ONNX.

A CSV table run's SavedModel (also with a text column) takes the raw columns: its `serve`
(and `serving_default`, which TF Serving calls) takes a dict of one string tensor per
feature column, named as the CSV header, each cell as the CSV holds it, and applies the
run's preprocessing as Keras layers built from `preprocessing.json`
(`dlrun.data.serving`); `serve_vectors` takes rows preprocessed already, as before. The
signatures (TF Serving's) name a column that is no Python identifier otherwise ('floor
type' as floor_type; `serving.signature_names`). It is
checked on the first rows of the run's CSV and on rows that miss values and hold unseen
categories, against `dlrun predict`'s path (the state applied in numpy, then the Keras
model). Tensorflow backend only; its ONNX export takes preprocessed rows.

Example:

```python
target = export("runs/20261122-101500-digits-a1b2c3", fmt="onnx", output=None,
                runs_dir=Path("runs"), out=Output())
```
"""

from __future__ import annotations

import importlib
import json
import logging
import secrets
import shutil
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.commands.evaluate import load_final_model
from dlrun.console import Output, literal, printable
from dlrun.data import serving
from dlrun.errors import DlrunError, UsageError
from dlrun.runs.catalog import resolve_run
from dlrun.runs.rundir import Run, temporary_prefix
from dlrun.tfenv import import_keras

MARKER = ".dlrun-export"  # marks a directory dlrun may replace on the next export
FORMATS = ("saved_model", "onnx")
# Keras writes a SavedModel through TensorFlow; on torch it needs torch_xla, which has no
# CPU wheel matching the torch releases Keras supports.
SAVED_MODEL_BACKENDS = ("tensorflow", "jax")
# What Keras's ONNX export imports on each backend, next to onnx and onnxruntime (the
# check); torch.onnx ships with torch.
ONNX_CONVERTERS = {"tensorflow": ("tf2onnx",), "jax": ("jax2onnx",), "torch": ()}
ONNX_INPUT = "inputs"
SAMPLES = 8
TOLERANCE = 1e-5
EXAMPLE_COLUMNS = 4  # columns of a table's "Serve it" example: a wide table's would not fit


def export(
    run_arg: str | Path,
    *,
    fmt: str,
    output: Path | None,
    runs_dir: Path,
    out: Output,
) -> Path:
    """Export, verify, then move the export into place; returns its directory."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format '{fmt}'; use one of: {', '.join(FORMATS)}.")
    run = Run.open(resolve_run(run_arg, runs_dir))
    model_file = run.final_model()  # a run without one is refused before TensorFlow loads
    target = Path(output) if output is not None else run.path / "export"
    if target.exists() and not _replaceable(target):
        raise UsageError(
            f"{target} exists and is not a dlrun export; refusing to replace it.",
            hint="Give --output a new directory name (or an earlier dlrun export to update).",
        )
    from dlrun.data.representations import load_state

    has_state = (run.path / "preprocessing.json").is_file()
    state: dict[str, Any] = load_state(run) if has_state else {}
    strings = state.get("kind") == "text"
    columns = fmt == "saved_model" and state.get("kind") in serving.KINDS
    backend = import_keras(out.verbose).backend.backend()
    check_supported(
        fmt, backend, strings=strings, sparse=_takes_sparse_input(model_file), columns=columns
    )
    # Not mkdtemp: its 0700 would become the export's own mode, not what the umask says.
    staging = target.parent / f"{temporary_prefix(target.name)}{secrets.token_hex(4)}"
    try:  # before the model loads: a place that takes no file is refused before the work
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
    except OSError as exc:
        raise UsageError(
            f"cannot write the export to {target.parent}: {exc.strerror or exc}.",
            hint="Give --output a directory you can write to.",
        ) from None
    try:
        model = load_final_model(run, out.verbose)
        what = "an ONNX file" if fmt == "onnx" else "a SavedModel"
        out.info(f"exporting [bold]{literal(run.id)}[/] as {what} ({backend} backend)")
        if columns:
            rows = table_rows(run, state)
            export_table_model(model, state, staging / "saved_model", rows)
            difference = verify_table_model(model, state, staging / "saved_model", rows)
        elif fmt == "onnx":
            export_onnx(model, staging / "model.onnx", backend, out.verbose)
            difference = verify_onnx(model, staging / "model.onnx", backend)
        elif strings:
            export_text_model(model, state, staging / "saved_model")
            difference = verify_text_model(model, state, staging / "saved_model")
        else:
            _export(model, staging / "saved_model")
            difference = verify_saved_model(model, staging / "saved_model")
        sparse = bool(getattr(model.inputs[0], "sparse", False)) and not strings
        shutil.copy2(model_file, staging / "model.keras")
        if has_state:
            shutil.copy2(run.path / "preprocessing.json", staging / "preprocessing.json")
        (staging / MARKER).write_text(f"{run.id}\n", encoding="utf-8")
        old = target.with_name(f".{target.name}.old") if target.exists() else None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        staging.rename(target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    out.result(f"exported to [bold]{literal(target)}[/]", soft_wrap=True)
    if fmt == "onnx":
        artifact = (
            f"  model.onnx    loaded with onnxruntime: outputs agree on {SAMPLES} samples "
            f"(max difference {difference:.2g})\n"
        )
        serve = (
            f"Serve it: onnxruntime.InferenceSession('{printable(target / 'model.onnx')}')"
            f".run(None, {{'{ONNX_INPUT}': x}})[0]"
        )
    elif columns:
        artifact = (
            f"  saved_model/  reloaded with tf.saved_model.load: serve (raw CSV columns) and "
            f"serve_vectors agree with dlrun predict on {len(rows)} rows (max difference "
            f"{difference:.2g})\n"
        )
        serve = (
            f"Serve it: tf.saved_model.load('{printable(target / 'saved_model')}')"
            f".serve({_columns_example(state, rows[0])})\n  one string tensor per feature "
            f"column ({len(serving.column_names(state))}), each cell as in the CSV (empty or "
            "NA: missing); serve_vectors(x) takes rows preprocessed as preprocessing.json says"
            + _renamed(state)
        )
    else:
        artifact = (
            f"  saved_model/  reloaded with tf.saved_model.load: outputs agree on {SAMPLES} "
            f"samples (max difference {difference:.2g})\n"
        )
        serve = f"Serve it: tf.saved_model.load('{printable(target / 'saved_model')}').serve(x)"
    if not columns:  # what x is
        serve += (" with x dense multi-hot rows (float32)" if sparse else _images(model, state)) + (
            " with x a string tensor of raw texts, shape (n,)" if strings else ""
        )
    applied = "what serve applies" if columns else "apply to raw inputs first (dlrun predict does)"
    out.info(
        artifact + f"  model.keras   the Keras model\n  preprocessing.json  {applied}\n" + serve,
        markup=False,
    )
    return target


def check_supported(
    fmt: str, backend: str, *, strings: bool, sparse: bool, columns: bool = False
) -> None:
    """Refuse, before the model loads, an export this backend or format cannot write.

    Args:
        fmt: one of FORMATS.
        backend: the Keras backend this process runs (`keras.backend.backend()`).
        strings: the run takes raw texts (its vectorizer is part of the export).
        sparse: the saved model's input is sparse.
        columns: a SavedModel taking raw CSV columns (the table's preprocessing is part
            of the export).

    Example:

    ```python
    check_supported("onnx", "torch", strings=False, sparse=False)  # or UsageError
    ```
    """
    if fmt == "saved_model" and backend not in SAVED_MODEL_BACKENDS:
        raise UsageError(
            f"--format saved_model needs the {' or '.join(SAVED_MODEL_BACKENDS)} Keras "
            f"backend; this process runs {backend}.",
            hint="Export under the tensorflow or jax backend (KERAS_BACKEND=tensorflow), "
            "or use --format onnx.",
        )
    if strings and fmt == "saved_model" and backend != "tensorflow":
        # Under JAX the model goes through jax2tf, which takes numbers only, and the check
        # compares with dlrun's own vectorization, which needs TensorFlow's sparse tensors.
        raise UsageError(
            f"a raw-text run's SavedModel (its vectorizer, then the model) is written under "
            f"the tensorflow backend only; this process runs {backend}.",
            hint="Export it with KERAS_BACKEND=tensorflow.",
        )
    if columns and backend != "tensorflow":
        # Keras builds Normalization's statistics with the backend's ops: under JAX (no
        # x64) they are float32, which rounds a mean of 2000 (a year) by up to 6e-5, where
        # dlrun standardizes in float64.
        raise UsageError(
            f"a CSV table run's SavedModel (its preprocessing as Keras layers, then the "
            f"model) is written under the tensorflow backend only; this process runs "
            f"{backend}.",
            hint="Export it with KERAS_BACKEND=tensorflow, or use --format onnx, which takes "
            "preprocessed rows.",
        )
    if sparse and backend == "torch":  # Keras refuses to load it: torch has no sparse tensors
        raise UsageError(
            "the run's model takes sparse inputs, which Keras's torch backend cannot load.",
            hint="Export it under the tensorflow or jax backend (KERAS_BACKEND=tensorflow).",
        )
    if fmt != "onnx":
        return
    if backend not in ONNX_CONVERTERS:
        raise UsageError(
            f"--format onnx needs the {', '.join(ONNX_CONVERTERS)} Keras backend; this "
            f"process runs {backend}.",
            hint="Export under one of them (KERAS_BACKEND=tensorflow).",
        )
    if strings:
        raise UsageError(
            "--format onnx cannot export a raw-text run: ONNX has no TextVectorization, so "
            "the model would take vectorized rows, not the texts it was trained on.",
            hint="Use --format saved_model under the tensorflow backend: its serve signature "
            "takes the raw strings.",
        )
    for name in ("onnx", "onnxruntime", *ONNX_CONVERTERS[backend]):
        try:
            importlib.import_module(name)
        except ImportError:
            raise UsageError(
                f"--format onnx needs the '{name}' package, which cannot be imported.",
                hint="Install dlrun's onnx extra: pip install 'dlrun[onnx]'",
            ) from None


def _takes_sparse_input(model_file: Path) -> bool:
    """Whether the saved model has a sparse input, read from the archive without loading
    it. An archive that cannot be read answers False: loading it names the damage."""
    try:
        with zipfile.ZipFile(model_file) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return False

    def sparse(node: Any) -> bool:
        if isinstance(node, list):
            return any(sparse(item) for item in node)
        if not isinstance(node, dict):
            return False
        if node.get("class_name") == "InputLayer" and isinstance(node.get("config"), dict):
            return node["config"].get("sparse") is True
        return any(sparse(value) for value in node.values())

    return sparse(config)


def _images(model: Any, state: dict[str, Any]) -> str:
    """How a served image must look, for a model that takes images; else ''."""
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    if len(shape) != 3:
        return ""
    text = f" with x float32 images of shape (n, {', '.join(map(str, shape))})"
    if "scale" in state:
        text += f", the raw pixels times {state['scale']:.6g}"
    if "mean" in state:
        text += ", then standardized as preprocessing.json says"
    return text


def _export(model: Any, path: Path) -> None:
    """`model.export`, with the forward pass in inference mode: called without
    `training=False`, Keras's random preprocessing layers (data augmentation) transform
    their inputs, and a served image would get a random flip or rotation."""
    import keras
    import tensorflow as tf

    specs = [tf.TensorSpec(t.shape, t.dtype) for t in model.inputs]
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve",
        lambda inputs: model(inputs, training=False),
        input_signature=[specs[0] if len(specs) == 1 else specs],
    )
    archive.write_out(str(path), verbose=False)


def export_onnx(model: Any, path: Path, backend: str, verbose: bool = False) -> None:
    """`model.export(format="onnx")` of the model in inference mode, with one dense input
    named `inputs` and a free batch size.

    The model is wrapped in a functional model that calls it with `training=False`:
    tf2onnx and torch.onnx trace `model(x)`, where data augmentation layers stay random
    (tf2onnx then writes random ops onnxruntime cannot load). A converter that fails
    (an op it cannot map) is a DlrunError naming the backend.
    """
    import keras

    spec = model.inputs[0]
    shape = (None, *spec.shape[1:])
    inputs = keras.Input(batch_shape=shape, dtype=spec.dtype, name=ONNX_INPUT)
    served = keras.Model(inputs, model(inputs, training=False))
    if not verbose:  # tf2onnx logs every rewrite pass at INFO
        logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    try:
        served.export(
            str(path),
            format="onnx",
            verbose=verbose,
            input_signature=[keras.InputSpec(shape=shape, dtype=spec.dtype, name=ONNX_INPUT)],
        )
    except Exception as exc:  # each converter fails its own way on an op it cannot map
        raise DlrunError(
            f"Keras could not convert the model to ONNX under the {backend} backend "
            f"({type(exc).__name__}: {_first_line(exc)}); nothing was written.",
            hint=_other_routes(backend),
        ) from None


def verify_onnx(model: Any, path: Path, backend: str) -> float:
    """Run the ONNX file in onnxruntime; its outputs must match the Keras model's."""
    import keras
    import onnxruntime

    inputs = sample_inputs(model)
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = np.asarray(session.run(None, {ONNX_INPUT: inputs})[0])
    except Exception as exc:  # onnxruntime raises its own classes for graphs it cannot run
        raise DlrunError(
            f"the ONNX file written under the {backend} backend does not run in onnxruntime "
            f"({_first_line(exc)}); nothing was written.",
            hint=_other_routes(backend),
        ) from None
    return _agreement("ONNX file", got, expected)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no message"


def _other_routes(backend: str) -> str:
    others = [b for b in ONNX_CONVERTERS if b != backend]
    return (
        f"Export it under the {' or '.join(others)} backend (KERAS_BACKEND={others[0]}), "
        "or as a SavedModel (--format saved_model)."
    )


def sample_inputs(model: Any, n: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """Inputs shaped like the model's: standard-normal features, multi-hot rows, or
    token ids below the smallest Embedding's vocabulary.

    A model trained on sparse multi-hot batches is exported with a dense input
    (Keras's export keeps no sparse signature), so its samples are dense too.
    """
    import keras

    spec = model.inputs[0]
    shape = tuple(int(d) for d in spec.shape[1:])
    rng = np.random.RandomState(seed)
    if getattr(spec, "sparse", False):
        return (rng.random_sample((n, *shape)) < 0.05).astype(np.float32)
    if np.issubdtype(np.dtype(spec.dtype), np.integer):
        embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
        ids = min((layer.input_dim for layer in embeddings), default=2)
        return rng.randint(0, ids, size=(n, *shape)).astype(spec.dtype)
    return rng.normal(size=(n, *shape)).astype(np.float32)


def _replaceable(target: Path) -> bool:
    """Only an earlier dlrun export (it holds the marker file) may be replaced."""
    return target.is_dir() and (target / MARKER).is_file()


def verify_saved_model(model: Any, path: Path) -> float:
    """Reload the SavedModel; its `serve` outputs must match the Keras model's."""
    import keras
    import tensorflow as tf

    inputs = sample_inputs(model)
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    reloaded = tf.saved_model.load(str(path))
    return _agreement("SavedModel", np.asarray(reloaded.serve(inputs)), expected)


def _agreement(what: str, got: np.ndarray, expected: np.ndarray) -> float:
    """The largest difference between an export's outputs and the Keras model's; a
    DlrunError when the shapes differ or it exceeds TOLERANCE."""
    if got.shape != expected.shape:
        raise DlrunError(
            f"the exported {what} gives outputs of shape {got.shape}, "
            f"the Keras model {expected.shape}; nothing was written."
        )
    difference = float(np.max(np.abs(got - expected))) if expected.size else 0.0
    if not difference <= TOLERANCE:
        raise DlrunError(
            f"the exported {what} disagrees with the Keras model (max difference "
            f"{difference:.3g} > {TOLERANCE}); nothing was written."
        )
    return difference


def export_text_model(model: Any, state: dict[str, Any], path: Path) -> None:
    """A SavedModel whose `serve` takes raw strings: the run's vectorizer, then the model
    (the book's 2nd-edition inference model)."""
    import keras
    import tensorflow as tf

    from dlrun.data.representations.text import vectorizer

    output = state["output"]
    layer = vectorizer(state, "count" if output == "tf_idf" else None)
    idf = tf.constant(state["idf"], tf.float32) if output == "tf_idf" else None

    def serve(texts: Any) -> Any:
        x = layer(texts)
        return model(x * idf if idf is not None else x, training=False)

    layer(tf.constant(["built before it is tracked"]))  # the archive tracks built layers only
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.track(layer)
    archive.add_endpoint("serve", serve, input_signature=[tf.TensorSpec([None], tf.string)])
    archive.write_out(str(path), verbose=False)


def verify_text_model(model: Any, state: dict[str, Any], path: Path) -> float:
    """Reload the string SavedModel; on texts made of its own vocabulary, it must agree
    with the Keras model on dlrun's own vectorization of the same texts."""
    import keras
    import tensorflow as tf

    from dlrun.data.representations import representation_of

    rng = np.random.RandomState(0)
    words = state["vocabulary"]
    texts = [" ".join(rng.choice(words, size=12)) for _ in range(SAMPLES)]
    rep = representation_of(state)
    x = rep.apply(np.array(texts, dtype=object), state)
    dense = x if isinstance(x, np.ndarray) else x.to_dense()
    expected = keras.ops.convert_to_numpy(model(dense, training=False))
    reloaded = tf.saved_model.load(str(path))  # held: its variables die with it
    got = np.asarray(reloaded.serve(tf.constant(texts)))
    return _agreement("string SavedModel", got, expected)


def table_rows(run: Run, state: dict[str, Any]) -> np.ndarray:
    """Raw rows to check a table's SavedModel on: the first SAMPLES of the run's CSV, as
    `dlrun predict` reads them (none when the file is gone or holds what predict refuses),
    then SAMPLES made from the state (`serving.sample_rows`: missing cells, unseen
    categories)."""
    from dlrun.commands.predict import read_input_chunks
    from dlrun.data.representations import representation_of
    from dlrun.spec import load_config

    made = serving.sample_rows(state, SAMPLES)
    try:
        config = load_config(run.path / "config.yaml", inputs=False).config
        path = Path(config.data.path)
        rows = next(read_input_chunks(path, state, config, SAMPLES))
        representation_of(state).misfits(rows, state, 0, path)  # text or inf in a number
    except (DlrunError, OSError, UnicodeDecodeError):
        return made
    return np.concatenate([rows, made])


def _column_tensors(state: dict[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """Raw rows as the table SavedModel's `serve` takes them: one string tensor per column."""
    import tensorflow as tf

    return {
        name: tf.constant([str(v) for v in rows[:, j]], tf.string)
        for j, name in enumerate(serving.column_names(state))
    }


def export_table_model(model: Any, state: dict[str, Any], path: Path, rows: np.ndarray) -> None:
    """A SavedModel whose `serve` takes a dict of raw CSV columns: the run's preprocessing
    as Keras layers, then the model in inference mode; `serve_vectors` takes preprocessed
    rows. `rows` (raw, as `table_rows` gives) build the layers before they are tracked."""
    import keras
    import tensorflow as tf

    preprocess = serving.TableColumns(state)
    preprocess(_column_tensors(state, rows[:1]))  # the archive tracks built layers only
    archive = keras.export.ExportArchive()
    archive.track(model)
    for layer in preprocess.layers():
        archive.track(layer)
    # `serve` first: the first endpoint is also `serving_default`, which TF Serving calls.
    archive.add_endpoint(
        "serve",
        lambda columns: model(preprocess(columns), training=False),
        input_signature=[serving.input_signature(state)],
    )
    spec = model.inputs[0]  # dense, also for a sparse input: Keras keeps no sparse signature
    archive.add_endpoint(
        "serve_vectors",
        lambda inputs: model(inputs, training=False),
        input_signature=[tf.TensorSpec(spec.shape, spec.dtype)],
    )
    archive.write_out(str(path), verbose=False)


def verify_table_model(model: Any, state: dict[str, Any], path: Path, rows: np.ndarray) -> float:
    """Reload the table SavedModel; `serve` on the raw `rows`, and `serve_vectors` on them
    preprocessed, must agree with `dlrun predict`'s path: the state applied in numpy, then
    the Keras model."""
    import keras
    import tensorflow as tf

    from dlrun.data.representations import representation_of

    x = representation_of(state).apply(rows, state)
    dense = x if isinstance(x, np.ndarray) else x.to_dense()
    expected = keras.ops.convert_to_numpy(model(dense, training=False))
    reloaded = tf.saved_model.load(str(path))  # held: its variables die with it
    try:
        served = np.asarray(reloaded.serve(_column_tensors(state, rows)))
    except tf.errors.OpError as exc:  # a number Python reads but TensorFlow does not: 1_000
        raise DlrunError(
            f"the exported SavedModel's serve fails on rows dlrun predict takes "
            f"({_first_line(exc)}); nothing was written."
        ) from None
    vectors = np.asarray(reloaded.serve_vectors(tf.constant(dense)))
    return max(
        _agreement("SavedModel's serve (raw CSV columns)", served, expected),
        _agreement("SavedModel's serve_vectors", vectors, expected),
    )


def _columns_example(state: dict[str, Any], row: np.ndarray) -> str:
    """`serve`'s argument for one raw row, as Python; the first EXAMPLE_COLUMNS columns
    of a wider table, then `...`."""
    names = serving.column_names(state)
    shown = [
        f"{name!r}: tf.constant([{str(value)!r}])"
        for name, value in zip(names[:EXAMPLE_COLUMNS], row, strict=False)
    ]
    return "{" + ", ".join(shown) + (", ..." if len(names) > EXAMPLE_COLUMNS else "") + "}"


def _renamed(state: dict[str, Any]) -> str:
    """The table's columns that its signatures (TF Serving's) name otherwise, as a line of
    the export's output; '' when every column keeps its name."""
    renamed = [(c, n) for c, n in serving.signature_names(state).items() if c != n]
    if not renamed:
        return ""
    shown = ", ".join(f"{column!r} as {name}" for column, name in renamed[:EXAMPLE_COLUMNS])
    more = f" and {len(renamed) - EXAMPLE_COLUMNS} more" if len(renamed) > EXAMPLE_COLUMNS else ""
    return f"\n  the signatures (TF Serving) name the inputs {shown}{more}"
