"""`dlrun dream IMAGE`: DeepDream of an image (book ch. 8), under TensorFlow.

The base is a keras.applications model (InceptionV3 by default, the book's, with its
layers mixed4 to mixed7) or a dlrun run's convnet (`run:<id>`, whose layers are named
with --layers). The result is a PNG of the image's size, `IMAGE-dream.png` by default,
and beside it a JSON file of the settings that made it (`dlrun.generative`).

`load_base` is shared with `dlrun style`: it turns `--base`/`--weights` into a
`dlrun.generative.bases.Base` on the TensorFlow backend, whatever the process's
default backend, as `dlrun show` does for its gradients.

Example:

```python
target = dream(Path("sky.jpg"), base="inception_v3", weights=None, layers="mixed4=1,mixed5=1.5",
               settings=DreamSettings(octaves=3), output=None, force=False,
               runs_dir=Path("runs"), out=Output())
```
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.console import Output, literal, printable
from dlrun.errors import UsageError
from dlrun.generative import output_path, pixels, provenance, read_image, write_result
from dlrun.generative.bases import (
    DREAM_LAYERS,
    Base,
    application_base,
    application_name,
    check_application,
    run_label,
    shortened,
)
from dlrun.generative.dream import DreamSettings
from dlrun.generative.dream import dream as run_dream


def dream(
    image: Path,
    *,
    base: str,
    weights: str | None,
    layers: str | None,
    settings: DreamSettings,
    output: Path | None,
    force: bool,
    runs_dir: Path,
    out: Output,
) -> Path:
    """Dream `image` with `base`; write the PNG and its settings; return the PNG's path."""
    started = time.monotonic()
    # Everything the command line can get wrong is refused before TensorFlow loads.
    _check_settings(settings)
    wanted = parse_layers(layers) if layers is not None else None
    picture = read_image(image)
    target = output_path(image, output, "dream", force=force)
    resolved = load_base(base, weights, runs_dir=runs_dir, out=out)
    if wanted is None:
        wanted = _default_layers(resolved)
    resolved.check_layers(list(wanted), "--layers")
    settings.layers = wanted
    source = pixels(picture, resolved.channels)
    layers_text = ", ".join(f"{name} {weight:g}" for name, weight in wanted.items())
    out.info(f"dreaming {literal(image)} with {literal(resolved.name)}: {literal(layers_text)}")
    with out.reporting():
        dreamed, octaves = run_dream(resolved, source, settings)
    for octave in octaves:
        shape = "x".join(str(d) for d in octave["shape"])
        stop = ", stopped at --max-loss" if octave["stopped_at_max_loss"] else ""
        out.info(
            f"octave {shape}: {octave['steps']} steps, loss {octave['loss_first']:.4g} -> "
            f"{octave['loss_last']:.4g}{stop}"
        )
    inputs = {"image": str(image.resolve())}
    finish(
        out,
        "dream",
        resolved,
        settings,
        inputs,
        target,
        dreamed,
        {"octave_results": octaves},
        started,
    )
    return target


def finish(
    out: Output,
    command: str,
    base: Any,
    settings: Any,
    inputs: dict[str, str],
    target: Path,
    image: np.ndarray,
    results: dict[str, Any],
    started: float,
) -> None:
    """Write the image and the record of what made it (the settings, the inputs, the
    results, the software), then say where they are: dream's and style's last step."""
    record = {
        "command": command,
        "base": base.name,
        "weights": weights_record(base.weights),
        **settings.as_dict(),
        "seed": None,  # nothing is random: the same inputs give the same image
        "backend": "tensorflow",
        **inputs,
        "output": str(target.resolve()),
        "size": [int(image.shape[1]), int(image.shape[0])],
        **results,
        **provenance(),
        "seconds": round(time.monotonic() - started, 3),
    }
    written = write_result(target, image, record)
    out.result(printable(target), markup=False, soft_wrap=True)
    out.info(f"settings in {literal(written)}")


def parse_layers(text: str) -> dict[str, float]:
    """`mixed4=1.0,mixed5=1.5` as {layer: weight}; a layer without `=` weighs 1.

    Example:

    ```python
    parse_layers("mixed4=1,mixed5")   # {"mixed4": 1.0, "mixed5": 1.0}
    ```
    """
    found: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        try:
            weight = float(value) if sep else 1.0
        except ValueError:
            weight = float("nan")
        if not name or weight != weight or weight in (float("inf"), float("-inf")):
            raise UsageError(
                f"--layers: '{part}' is not LAYER or LAYER=WEIGHT.",
                hint="Example: --layers mixed4=1.0,mixed5=1.5",
            )
        found[name] = weight
    if not found:
        raise UsageError("--layers names no layer.", hint="Example: --layers mixed4=1.0,mixed5=1.5")
    return found


def load_base(base: str, weights: str | None, *, runs_dir: Path, out: Output) -> Base:
    """`--base` and `--weights` as a Base, on the TensorFlow backend.

    A keras.applications name is built with `weights` (None: imagenet); `run:<run>` is
    that run's final model, loaded in safe mode, and takes no --weights.
    """
    from dlrun.runtime import BACKENDS, Runtime, use

    run_arg = run_label(base)
    if run_arg is None:
        check_application(base, weights)  # a typo is refused before TensorFlow loads
    elif weights is not None:
        raise UsageError(
            "--weights is for keras.applications bases; a run: base brings the weights its "
            "run trained.",
            hint="Remove --weights.",
        )
    # The gradients are TensorFlow's (GradientTape); a model file is portable, so a run
    # trained on any backend is loaded under TensorFlow.
    use(Runtime(BACKENDS["tensorflow"])).start(out.verbose)
    if run_arg is None:
        out.info(f"loading {literal(application_name(base))} ({literal(weights or 'imagenet')})")
        return application_base(base, weights, out.verbose)
    return _run_base(run_arg, runs_dir, out)


def weights_record(weights: str | None) -> str | None:
    """The weights as a settings file keeps them: a file by its absolute path."""
    if weights is None or weights == "imagenet":
        return weights
    return str(Path(weights).resolve())


def _run_base(run_arg: str, runs_dir: Path, out: Output) -> Base:
    from dlrun.commands.evaluate import load_final_model
    from dlrun.data.representations import load_state
    from dlrun.generative.bases import run_base
    from dlrun.runs.catalog import resolve_run
    from dlrun.runs.rundir import Run

    if not run_arg:
        raise UsageError("--base run: names no run.", hint="Give run:<run id or path>.")
    run = Run.open(resolve_run(run_arg, runs_dir))
    model = load_final_model(run, out.verbose)
    out.info(f"loading the final model of {literal(run.id)}")
    return run_base(f"run:{run.path}", model, load_state(run))


def _default_layers(base: Base) -> dict[str, float]:
    if base.name in DREAM_LAYERS:
        return dict(DREAM_LAYERS[base.name])
    raise UsageError(
        f"{base.name} has no default layers to dream with; name them with --layers.",
        hint=f"Its layers with feature maps: {shortened(base.feature_layers())}. Example: "
        "--layers NAME=1.0,OTHER=1.5",
    )


def _check_settings(settings: DreamSettings) -> None:
    if settings.octaves > 1 and settings.octave_scale <= 1.0:
        raise UsageError(
            f"--octave-scale {settings.octave_scale}: each octave is that many times the one "
            "before; give a number above 1.",
        )
