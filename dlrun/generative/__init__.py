"""Generative deep learning (book ch. 8): DeepDream (`dream`) and neural style transfer
(`style`), by gradient descent on an image's pixels through a convnet (`bases`).

This module holds what both commands share: reading an image, choosing where the result
goes, and writing it with the settings that made it (a JSON file of the same stem).

Example:

```python
image = read_image(Path("sky.jpg"))
target = output_path(Path("sky.jpg"), None, "dream", force=False)   # sky-dream.png
write_result(target, pixels, {"command": "dream", ...})            # + sky-dream.json
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.errors import UsageError


def read_image(path: Path, what: str = "IMAGE") -> Any:
    """The image file at `path`, decoded (a PIL image); a UsageError naming `what` when it
    is missing or no image PIL reads."""
    from PIL import Image, UnidentifiedImageError

    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory; give one image file.")
    if not path.is_file():
        raise UsageError(f"{what} {path}: no such file.")
    try:
        with Image.open(path) as found:
            found.load()
            return found.copy()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise UsageError(
            f"{what} {path}: cannot read it as an image ({type(exc).__name__}: {exc}).",
            hint="Give a PNG, JPEG, BMP or another format Pillow reads.",
        ) from None


def pixels(image: Any, channels: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """A PIL image as float32 pixels in [0, 1], (height, width, channels); gray when
    `channels` is 1; resized to `size` (height, width) if given."""
    from PIL import Image

    image = image.convert("L" if channels == 1 else "RGB")
    if size is not None and image.size != (size[1], size[0]):
        image = image.resize((size[1], size[0]), Image.Resampling.BICUBIC)
    array = np.asarray(image, dtype=np.float32) / 255.0
    return array[..., None] if array.ndim == 2 else array


def output_path(source: Path, output: Path | None, suffix: str, *, force: bool) -> Path:
    """Where the result goes: `output`, else `<source stem>-<suffix>.png` beside `source`.

    Neither the PNG nor its settings JSON is overwritten without `force`; checked before
    any work, as is that the folder can take the files.
    """
    target = output if output is not None else source.with_name(f"{source.stem}-{suffix}.png")
    if target.suffix.lower() != ".png":
        raise UsageError(f"--output {target}: the result is a PNG; give a path ending in .png.")
    settings = settings_path(target)
    existing = [p for p in (target, settings) if p.exists()]
    if existing and not force:
        raise UsageError(
            f"{existing[0]} exists already.",
            hint="Pass --force to overwrite it, or choose another path with -o.",
        )
    if any(p.is_dir() for p in existing):
        raise UsageError(f"{existing[0]} is a directory.")
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {folder}: {exc.strerror or exc}.") from None
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write to {folder}.", hint="Choose another path with -o.")
    return target


def settings_path(target: Path) -> Path:
    """The settings JSON written next to the PNG `target`."""
    return target.with_suffix(".json")


def write_result(target: Path, image: np.ndarray, settings: dict[str, Any]) -> Path:
    """Write the image (pixels in [0, 1]) and, beside it, its settings; each atomically.
    Returns the settings file."""
    from dlrun.models.visualize import save_png
    from dlrun.runs.rundir import write_json

    save_png(target, image)
    path = settings_path(target)
    write_json(path, settings)
    return path


def provenance() -> dict[str, Any]:
    """What a settings file records of the software that wrote it."""
    from dlrun import __version__
    from dlrun.runs.rundir import now, versions

    return {"dlrun_version": __version__, "versions": versions(), "created": now()}
