"""`dlrun export RUN`: the final model as a TensorFlow SavedModel for serving, checked.

Writes `<output>/saved_model/` (a `serve` signature, in inference mode: data
augmentation layers pass images through unchanged; an image run serves float32 images
of its training size, scaled as `preprocessing.json` says),
`<output>/model.keras` (a copy) and `<output>/preprocessing.json` (what a
server must apply to raw inputs first). Before the export is moved into place it
is reloaded with `tf.saved_model.load` and must give the same outputs as the
Keras model on a few samples; otherwise nothing is written. A model trained on
sparse multi-hot batches (imdb, reuters) serves dense multi-hot rows: Keras's
export keeps no sparse input signature. A raw-text run's SavedModel takes strings: its
vectorizer is exported with it.

Example:

```python
target = export("runs/20261122-101500-digits-a1b2c3", fmt="saved_model", output=None,
                runs_dir=Path("runs"), out=Output())
```
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.commands.evaluate import load_final_model
from dlrun.console import Output, literal, printable
from dlrun.errors import DlrunError, UsageError
from dlrun.runs.catalog import resolve_run
from dlrun.runs.rundir import Run, temporary_prefix

MARKER = ".dlrun-export"  # marks a directory dlrun may replace on the next export
FORMATS = ("saved_model",)
SAMPLES = 8
TOLERANCE = 1e-5


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
        out.info(f"exporting [bold]{literal(run.id)}[/] as a SavedModel")
        from dlrun.data.representations import load_state

        has_state = (run.path / "preprocessing.json").is_file()
        state: dict[str, Any] = load_state(run) if has_state else {}
        strings = state.get("kind") == "text"
        if strings:
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
    out.info(
        f"  saved_model/  reloaded with tf.saved_model.load: outputs agree on {SAMPLES} samples "
        f"(max difference {difference:.2g})\n"
        f"  model.keras   the Keras model\n"
        f"  preprocessing.json  apply to raw inputs first (dlrun predict does)\n"
        f"Serve it: tf.saved_model.load('{printable(target / 'saved_model')}').serve(x)"
        + (" with x dense multi-hot rows (float32)" if sparse else _images(model, state))
        + (" with x a string tensor of raw texts, shape (n,)" if strings else ""),
        markup=False,
    )
    return target


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


def sample_inputs(model: Any, n: int = SAMPLES, seed: int = 0) -> np.ndarray:
    """Inputs shaped like the model's: standard-normal features, or multi-hot rows.

    A model trained on sparse multi-hot batches is exported with a dense input
    (Keras's export keeps no sparse signature), so its samples are dense too.
    """
    spec = model.inputs[0]
    shape = tuple(int(d) for d in spec.shape[1:])
    rng = np.random.RandomState(seed)
    if getattr(spec, "sparse", False):
        return (rng.random_sample((n, *shape)) < 0.05).astype(np.float32)
    return rng.normal(size=(n, *shape)).astype(np.float32)


def _replaceable(target: Path) -> bool:
    """Only an earlier dlrun export (it holds the marker file) may be replaced."""
    return target.is_dir() and (target / MARKER).is_file()


def verify_saved_model(model: Any, path: Path) -> float:
    """Reload the SavedModel; its `serve` outputs must match the Keras model's."""
    import tensorflow as tf

    inputs = sample_inputs(model)
    expected = np.asarray(model(inputs, training=False))
    reloaded = tf.saved_model.load(str(path))
    got = np.asarray(reloaded.serve(inputs))
    if got.shape != expected.shape:
        raise DlrunError(
            f"the exported SavedModel gives outputs of shape {got.shape}, "
            f"the Keras model {expected.shape}; nothing was written."
        )
    difference = float(np.max(np.abs(got - expected))) if expected.size else 0.0
    if not difference <= TOLERANCE:
        raise DlrunError(
            f"the exported SavedModel disagrees with the Keras model (max difference "
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
    import tensorflow as tf

    from dlrun.data.representations import representation_of

    rng = np.random.RandomState(0)
    words = state["vocabulary"]
    texts = [" ".join(rng.choice(words, size=12)) for _ in range(SAMPLES)]
    rep = representation_of(state)
    x = rep.apply(np.array(texts, dtype=object), state)
    dense = x if isinstance(x, np.ndarray) else x.to_dense()
    expected = np.asarray(model(dense, training=False))
    reloaded = tf.saved_model.load(str(path))  # held: its variables die with it
    got = np.asarray(reloaded.serve(tf.constant(texts)))
    difference = float(np.max(np.abs(got - expected))) if expected.size else 0.0
    if got.shape != expected.shape or not difference <= TOLERANCE:
        raise DlrunError(
            f"the exported string SavedModel disagrees with the Keras model (max difference "
            f"{difference:.3g}); nothing was written."
        )
    return difference
