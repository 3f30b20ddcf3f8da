"""`dlrun show RUN`: one run in full, without importing TensorFlow.

Prints the status (and why, for a broken or failed run), provenance (command,
seed, git commit, versions, host, times), the stages with their verdicts, the
final test metrics, the files, and the resolved config that reproduces the run.

`visualize` draws what the run's final model learned instead (book ch. 5; it loads
TensorFlow): the activations of its layers for one input, the patterns a layer's
filters respond to, the class heatmap (Grad-CAM) of one input, and what data
augmentation does to a few training images. The PNGs go in `RUN/visuals/`, and
report.md is rewritten to show them.

Example:

```python
info = show(Path("runs/20261122-101500-imdb-a1b2c3"), runs_dir=Path("runs"), out=Output())
written = visualize("last", Visuals(heatmap=Path("cat.jpg")), runs_dir=Path("runs"), out=Output())
```
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlrun.commands.runs import STATUS_STYLE, format_value, print_table
from dlrun.console import Output, literal, printable
from dlrun.errors import UsageError
from dlrun.report.markdown import VISUALS, class_names
from dlrun.runs.catalog import (
    RunInfo,
    artifacts,
    format_duration,
    load_run,
    resolve_run,
    stage_table,
)

FORMATS = ("text", "json")
# layers drawn by --activations without --layers: the first ones, as the book does
DEFAULT_LAYERS = 8
AUGMENTED_IMAGES = 4
# smallest width of a PNG in pixels: small images are drawn with larger pixels
MIN_WIDTH = 480


@dataclass
class Visuals:
    """What `dlrun show` is asked to draw (the --activations, --filters, ... options)."""

    activations: Path | None = None
    layers: list[str] = field(default_factory=list)
    filters: str | None = None
    heatmap: Path | None = None
    augmented: int | None = None

    def wanted(self) -> bool:
        return any(
            v is not None for v in (self.activations, self.filters, self.heatmap, self.augmented)
        )


def show(run_arg: str | Path, *, runs_dir: Path, out: Output, fmt: str = "text") -> RunInfo:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}'; use one of: {', '.join(FORMATS)}.")
    info = load_run(resolve_run(run_arg, runs_dir, need="any"))
    if fmt == "json":
        record = {
            **info.as_dict(),
            "meta": info.meta,
            "config": info.config,
            "summary": info.summary,
            "files": [{"path": p, "bytes": n} for p, n in artifacts(info.path)],
        }
        out.result(json.dumps(record, indent=2, default=str), markup=False, soft_wrap=True)
        return info
    _header(out, info)
    _provenance(out, info)
    _stages(out, info)
    _final(out, info)
    _files(out, info)
    _config(out, info)
    return info


def _header(out: Output, info: RunInfo) -> None:
    style = STATUS_STYLE.get(info.status, "")
    status = f"[{style}]{literal(info.status)}[/]" if style else literal(info.status)
    out.result(f"[bold]{literal(info.id)}[/]  {status}")
    table = out.table("", "")
    table.show_header = False
    table.add_row("name", literal(info.name))
    table.add_row("path", literal(info.path))
    if info.task:
        table.add_row("task", literal(info.task))
    if info.sweep:
        table.add_row("sweep", literal(", ".join(f"{k} {v}" for k, v in info.sweep.items())))
    if info.problem:
        table.add_row("problem", f"[red]{literal(info.problem)}[/]")
    print_table(out, table)


def _provenance(out: Output, info: RunInfo) -> None:
    meta = info.meta
    if not meta:
        return
    out.result("\n[bold]provenance[/]")
    table = out.table("", "")
    table.show_header = False
    command = meta.get("command")
    if isinstance(command, list):
        table.add_row("command", literal(shlex.join(str(c) for c in command)))
    for key in ("cwd", "seed", "git_commit", "host", "started", "finished"):
        if meta.get(key) is not None:
            table.add_row(key.replace("_", " "), literal(meta[key]))
    if info.duration is not None:
        table.add_row("duration", format_duration(info.duration))
    runtime = meta.get("runtime") if isinstance(meta.get("runtime"), dict) else {}
    if info.backend is not None:
        where = [f"{k} {v}" for k, v in runtime.items() if k != "backend"]
        table.add_row("backend", literal(", ".join([info.backend, *where])))
    versions = meta.get("versions")
    if isinstance(versions, dict):
        table.add_row("versions", literal(", ".join(f"{k} {v}" for k, v in versions.items())))
    print_table(out, table)


def _stages(out: Output, info: RunInfo) -> None:
    columns, rows = stage_table(info.summary)
    if not rows:
        return
    out.result("\n[bold]stages[/]")
    table = out.table(*(literal(c) for c in columns))
    for row in rows:
        table.add_row(*(literal(c) for c in row))
    print_table(out, table)


def _final(out: Output, info: RunInfo) -> None:
    final = info.summary.get("final")
    if not isinstance(final, dict):
        return
    test = final.get("test") if isinstance(final.get("test"), dict) else {}
    source = final.get("stage") or final.get("from")
    out.result(f"\n[bold]final model[/]{f' (from stage {literal(source)})' if source else ''}")
    table = out.table("test metric", "value")
    for key, value in test.items():
        if isinstance(value, (int, float)):
            table.add_row(literal(key), format_value(value))
    print_table(out, table)
    matrix = test.get("confusion_matrix")
    if isinstance(matrix, list) and matrix and all(isinstance(row, list) for row in matrix):
        names = [literal(name) for name in class_names(info.path, len(matrix))]
        out.result("confusion matrix (rows: true class, columns: predicted)")
        grid = out.table("", *names)
        for name, row in zip(names, matrix, strict=False):
            grid.add_row(name, *(literal(v) for v in row))
        print_table(out, grid)


def _files(out: Output, info: RunInfo) -> None:
    out.result("\n[bold]files[/]")
    table = out.table("file", "size")
    table.show_header = False
    for path, size in artifacts(info.path):
        table.add_row(literal(path), _size(size))
    print_table(out, table)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def _config(out: Output, info: RunInfo) -> None:
    path = info.path / "config.yaml"
    if not path.is_file():
        return
    shown = literal(path, one_line=True)
    out.result(f"\n[bold]config[/] ({shown}, resolved: re-run it with dlrun train {shown})")
    out.result(printable(_read_text(path)), markup=False, soft_wrap=True, end="")


def _read_text(path: Path) -> Any:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"(cannot read: {exc.strerror})\n"


def visualize(run_arg: str | Path, visuals: Visuals, *, runs_dir: Path, out: Output) -> list[Path]:
    """Draw what `visuals` asks for with the run's final model; returns the PNGs written."""
    from dlrun.commands.evaluate import load_final_model
    from dlrun.models import visualize as draw
    from dlrun.report.markdown import write_report
    from dlrun.runs.rundir import Run
    from dlrun.runtime import BACKENDS, Runtime, use
    from dlrun.spec import load_config

    if visuals.layers and visuals.activations is None:
        raise UsageError("--layers picks the layers of --activations; give --activations IMAGE.")
    run = Run.open(resolve_run(run_arg, runs_dir))
    run.final_model()  # a run without one is refused before TensorFlow loads
    # The gradients of filters and heatmaps are TensorFlow's (GradientTape): the model
    # file is portable, so a run trained on any backend is drawn under TensorFlow.
    use(Runtime(BACKENDS["tensorflow"])).start(out.verbose)
    config = load_config(run.path / "config.yaml", inputs=False).config
    from dlrun.data.representations import load_state

    state = load_state(run)
    target = run.path / VISUALS
    written: list[Path] = []
    if visuals.augmented is not None:
        images = _training_images(config, state)
        grid = draw.augmented(images, state.get("augment", {}), visuals.augmented, config.seed)
        written.append(_save(target / "augmented.png", grid))
    drawn_by_model = (visuals.activations, visuals.filters, visuals.heatmap)
    model = load_final_model(run, out.verbose) if any(drawn_by_model) else None
    if model is not None:
        _refuse_unless_images(model, visuals, config)
    if visuals.activations is not None:
        image = _model_input(visuals.activations, state, config)
        layers = visuals.layers or draw.feature_layers(model)[:DEFAULT_LAYERS]
        for layer, grid in draw.activations(model, image, layers).items():
            name = f"activations_{_slug(visuals.activations.stem)}_{_slug(layer)}.png"
            written.append(_save(target / name, grid, colormap="viridis"))
    if visuals.filters is not None:
        out.info(f"gradient ascent on the filters of {literal(visuals.filters)}")
        grid = draw.filter_patterns(model, visuals.filters, seed=config.seed)
        written.append(_save(target / f"filters_{_slug(visuals.filters)}.png", grid))
    if visuals.heatmap is not None:
        image = _model_input(visuals.heatmap, state, config)
        overlay, chosen = draw.grad_cam(model, image)
        names = state.get("class_names")
        label = names[chosen] if names else chosen
        out.info(f"{literal(visuals.heatmap)}: predicted {literal(label)}")
        name = f"heatmap_{_slug(visuals.heatmap.stem)}.png"
        written.append(_save(target / name, overlay))
    write_report(run)
    for path in written:
        out.result(printable(path), markup=False, soft_wrap=True)
    out.info(f"linked from {literal(run.path / 'report.md')}")
    return written


def _refuse_unless_images(model: Any, visuals: Visuals, config: Any) -> None:
    """Activations, filters and heatmaps are feature maps over an image: a model that takes
    rows or sequences has none, and its input reader would take the image for its own kind
    of file."""
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) == 3:
        return
    asked = [
        option
        for option, value in (
            ("--activations", visuals.activations),
            ("--filters", visuals.filters),
            ("--heatmap", visuals.heatmap),
        )
        if value is not None
    ]
    raise UsageError(
        f"{', '.join(asked)}: this run's model takes inputs of shape {shape} (data.source: "
        f"{config.data.source}), not images; feature maps are drawn for image models only.",
        hint="Use a run on images (image_dir, keras.mnist, keras.cifar10, an npz of images).",
    )


def _model_input(path: Path, state: dict[str, Any], config: Any) -> Any:
    """One input as the run's model receives it, read and preprocessed as in training."""
    import numpy as np

    from dlrun.commands.predict import read_inputs
    from dlrun.data.pipeline import make_dataset
    from dlrun.data.prepare import apply_state
    from dlrun.data.splits import Split

    x = apply_state(read_inputs(path, state, config), state)
    if len(x) != 1:
        raise UsageError(f"{path} holds {len(x)} inputs; give one image.")
    features, _ = next(iter(make_dataset(Split(x, np.zeros(1, dtype=np.float32)), 1)))
    return np.asarray(features)[0]


def _training_images(config: Any, state: dict[str, Any]) -> Any:
    """The first training image of each class (up to four), as the model receives them."""
    import numpy as np

    from dlrun.data.prepare import apply_state
    from dlrun.data.representations.image_files import ImagePaths, decode_all, image_files

    if state.get("kind") != "image_files":
        raise UsageError("--augmented is for runs on image folders (data.source: image_dir).")
    if not state.get("augment"):
        raise UsageError("this run has no data.augment: its training images are not augmented.")
    classes, folders = config.data.layout()
    first = next(iter(folders.values()))
    # listing the folders reads no image: only these few are decoded
    paths = [image_files(first / name)[0][0] for name in classes[:AUGMENTED_IMAGES]]
    found = ImagePaths.of(paths, np.zeros((len(paths), 3), np.int32))
    return decode_all(apply_state(found, state))


def _save(path: Path, grid: Any, colormap: str | None = None) -> Path:
    from dlrun.models.visualize import save_png

    save_png(path, grid, colormap=colormap, scale=max(1, min(8, MIN_WIDTH // grid.shape[1])))
    return path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "image"
