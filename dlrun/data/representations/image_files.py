"""`image_files`: images kept on disk as paths, decoded batch by batch in the tf.data map.

The container (`ImagePaths`) holds file paths and the size each image has on disk,
nothing decoded, so memory does not grow with the number of images. Each batch's files
are read, decoded (BMP, GIF, JPEG, PNG), converted to the run's color mode, resized to
its image size (bilinear, as `keras.utils.image_dataset_from_directory` does) and
scaled to [0, 1] inside the pipeline (`batches`), in parallel with training.

Models see float32 images of shape (height, width, channels), the same as in-memory
image arrays: the model-facing representation is `images`. The fitted state also carries
`data.augment`, which the model applies in training only (`dlrun.models.augment`).

`scan` decodes every file once, when a source lists its files or `predict` reads new
ones, so a corrupt file is named before training starts, not by a decoder error deep
inside an epoch. Before that, `check_headers` reads only the files' headers, so an image
that claims more pixels than `data.max_pixels` is refused before it is decoded, in
training and in predict alike. Both show their progress (`dlrun.console.progress`).

Example:

```python
x, _ = scan_files(["cat.jpg", "dog.png"], skip_bad=False)
x = REPRESENTATIONS["image_files"].apply(x, state)     # paths with the run's size
images = decode_all(x)                                   # (2, 150, 150, 3) float32
```
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.console import progress
from dlrun.data.inputs import InputSpec
from dlrun.data.representations.base import (
    INTEGER,
    MAPPING,
    NUMBER,
    Check,
    Representation,
    absent_or,
    one_of,
)
from dlrun.data.splits import RawData, Split
from dlrun.errors import DataError, DataWarning
from dlrun.tfenv import import_keras

# what keras.utils.image_dataset_from_directory reads (and tf.io.decode_image decodes)
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
CHANNELS = {"grayscale": 1, "rgb": 3}
_COLOR = {1: "grayscale", 2: "grayscale+alpha", 3: "RGB", 4: "RGBA"}
# Pillow's threshold for a "decompression bomb" (it refuses twice this): a file of a few
# hundred KB can claim 20000x20000 pixels, and decoding it whole takes gigabytes.
MAX_PIXELS = 89_478_485
_PNG, _GIFS, _JPEG = b"\x89PNG\r\n\x1a\n", (b"GIF87a", b"GIF89a"), b"\xff\xd8"
# JPEG markers of a frame header (SOF0-SOF15), which holds the size; not DHT, JPG, DAC
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
SKIP_BAD_FIX = (
    "Replace or remove it, or set data.skip_bad_files: true to skip such files (they are "
    "counted and reported)."
)


@dataclass
class ImagePaths:
    """Image files: their paths and the (height, width, channels) they have on disk.

    Paths are bytes (`os.fsencode`), one byte a character where a str array takes four,
    and relative to `root`, the folder they share: a short path fits inside TensorFlow's
    string tensor, a longer one gets an allocation of its own. On 60,000 files the
    tensor took 1.4 MB with paths of up to 20 bytes (`train/3/00012.png`), 2.6 MB with
    21 and 5.8 MB with 32 (`/tmp/mnist_png/train/3/00012.png`). `size`, `channels` and
    `scale` are what the files are decoded to; a fitted state sets them
    (`ImageFiles.apply`).
    """

    representation: ClassVar[str] = "image_files"

    paths: np.ndarray
    shapes: np.ndarray
    size: tuple[int, int] | None = None
    channels: int | None = None
    scale: float = 1 / 255
    root: bytes = b""

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, index: np.ndarray) -> ImagePaths:
        index = np.asarray(index, dtype=np.int64)
        return replace(self, paths=self.paths[index], shapes=self.shapes[index])

    def names(self) -> list[str]:
        """The full paths as text."""
        return [os.fsdecode(self.root + p) for p in self.paths]

    @classmethod
    def of(cls, files: list[str], shapes: np.ndarray) -> ImagePaths:
        """`files` (and their shapes), kept relative to the folder they all share."""
        root = os.path.dirname(os.path.commonprefix(files))
        if root and not root.endswith(os.sep):
            root += os.sep
        return cls(
            np.array([os.fsencode(f[len(root) :]) for f in files]), shapes, root=os.fsencode(root)
        )


class ImageFiles(Representation):
    name = "image_files"
    what = "image files"
    reads_folders = True
    state_keys: ClassVar[dict[str, Check]] = {
        "image_size": (
            lambda v: isinstance(v, list) and len(v) == 2 and all(INTEGER[0](d) for d in v),
            "[height, width]",
        ),
        "channels": one_of(*CHANNELS.values()),
        "scale": NUMBER,
        "augment": absent_or(MAPPING),
    }

    def fit(self, train: Split, raw: RawData, data: DataSection) -> dict[str, Any]:
        size = getattr(data, "image_size", None)
        if size is None:  # the source made sure every image has this one size
            size = [int(d) for d in train.x.shapes[0][:2]]
        augment = getattr(data, "augment", None)
        return {
            "image_size": [int(d) for d in size],
            "channels": CHANNELS[getattr(data, "color_mode", "rgb")],
            "scale": 1 / 255,
            "augment": augment.layers() if augment is not None else {},
        }

    def apply(self, x: Any, state: dict[str, Any]) -> ImagePaths:
        height, width = state["image_size"]
        return replace(x, size=(height, width), channels=state["channels"], scale=state["scale"])

    def input_spec(self, x: Any, state: dict[str, Any]) -> InputSpec:
        height, width = state["image_size"]
        return InputSpec(
            shape=(height, width, state["channels"]),
            augment=tuple(state.get("augment", {}).items()),
        )

    def batches(self, x: Any) -> Callable[[Any], Any]:
        import tensorflow as tf

        paths = tf.constant(x.paths)
        decode = _decoder(x)
        signature = tf.TensorSpec((*x.size, x.channels), tf.float32)

        def features(index: Any) -> Any:
            return tf.map_fn(decode, tf.gather(paths, index), fn_output_signature=signature)

        return features

    def read(self, path: Path, state: dict[str, Any], data: DataSection) -> ImagePaths:
        """An image file, or every image in a folder (and its subfolders), for predict."""
        if path.is_dir():
            files = sorted(
                str(p) for p in path.rglob("*") if p.is_file() and not _hidden(p.relative_to(path))
            )
            images = [p for p in files if _is_image(p)]
            if not images:
                raise DataError(
                    f"{path} holds no image files ({', '.join(IMAGE_SUFFIXES)}).",
                    hint="Give an image file, or a folder of them.",
                )
            warn_ignored([p for p in files if not _is_image(p)])
        elif _is_image(str(path)):
            images = [str(path)]
        else:
            raise DataError(
                f"{path}: this run was trained on {self.what}; give an image "
                f"({', '.join(IMAGE_SUFFIXES)}) or a folder of them."
            )
        check_headers(
            images,
            getattr(data, "max_pixels", MAX_PIXELS),
            state["image_size"],
            fix="Shrink the image; data.max_pixels in the run's config.yaml sets the limit.",
        )
        # data.skip_bad_files is about the training data: a new image left out would get
        # no prediction, and the rows of the others would not say so.
        found, _ = scan_files(
            images,
            skip_bad=False,
            fix="Replace or remove it: dlrun skips no new input (data.skip_bad_files is for "
            "the training data only).",
        )
        _say_conversions(found, state)
        return found


def scan_files(
    files: list[str], skip_bad: bool, fix: str = SKIP_BAD_FIX
) -> tuple[ImagePaths, np.ndarray]:
    """Decode every file once (in TensorFlow, in parallel) to learn its size and catch the
    ones that are not readable images: (the readable ones, their positions in `files`).

    Raises a DataError naming the first bad file, with `fix` as its hint, or skips the bad
    ones with a warning that counts them when `skip_bad`."""
    import_keras()  # TensorFlow, imported quietly: a source may be the first to need it
    import tensorflow as tf

    found = ImagePaths.of(files, np.zeros((len(files), 3), dtype=np.int32))
    good = np.zeros(len(files), dtype=bool)
    read = _reader(found.root)

    def shape_of(index: Any, path: Any) -> Any:
        image = tf.io.decode_image(read(path), expand_animations=False)
        return index, tf.shape(image, out_type=tf.int32)

    dataset = (
        tf.data.Dataset.from_tensor_slices((np.arange(len(files)), found.paths))
        .map(shape_of, num_parallel_calls=tf.data.AUTOTUNE)
        # A file that fails to read or decode drops out here; it is the index missing below.
        .ignore_errors()
        # a batch is indices and shapes only: small ones cost little and move the progress
        .batch(256)
    )
    with progress("scanning image files", len(files), "files") as step:
        for index, shape in dataset.as_numpy_iterator():
            found.shapes[index], good[index] = shape, True
            # map keeps the files' order: the last index counts the bad files before it too
            step(int(index[-1]) + 1 - step.done)
        step(len(files) - step.done)  # bad files after the last good one
    bad = np.flatnonzero(~good)
    if len(bad) and not skip_bad:
        first = Path(files[bad[0]])
        more = f" ({len(bad) - 1} more files are bad too)" if len(bad) > 1 else ""
        raise DataError(
            f"{first} is not a readable image: {_decode_error(first)}{more}.",
            hint=fix,
        )
    if len(bad):
        warnings.warn(
            f"skipped {len(bad)} file{'s' if len(bad) > 1 else ''} that are not readable "
            f"images (data.skip_bad_files), the first {files[bad[0]]}.",
            DataWarning,
            stacklevel=2,
        )
    if not good.any():
        raise DataError("none of the image files could be read.")
    kept = np.flatnonzero(good)
    return found.take(kept), kept


def decode_all(x: ImagePaths) -> np.ndarray:
    """The images of an applied container as one float32 array (a few: visualizations)."""
    import tensorflow as tf

    decode = _decoder(x)
    return np.stack([decode(tf.constant(p)).numpy() for p in x.paths])


def _reader(root: bytes) -> Callable[[Any], Any]:
    """path tensor (relative to `root`) -> the file's bytes."""
    import tensorflow as tf

    prefix = tf.constant(root)
    return lambda path: tf.io.read_file(tf.strings.join([prefix, path]))


def _decoder(x: ImagePaths) -> Callable[[Any], Any]:
    """path tensor (one of `x.paths`) -> the image, as the run decodes it (channels,
    size, scale)."""
    import tensorflow as tf

    if x.size is None or x.channels is None:
        raise ValueError("apply a fitted state to the image paths before decoding them")
    size, channels, scale = x.size, x.channels, x.scale
    read = _reader(x.root)

    def decode(path: Any) -> Any:
        image = tf.io.decode_image(read(path), channels=channels, expand_animations=False)
        # bilinear, aspect ratio not kept: what image_dataset_from_directory does by default
        return tf.image.resize(image, size) * scale

    return decode


def _decode_error(path: Path) -> str:
    """TensorFlow's reason for refusing one file, in one line."""
    import tensorflow as tf

    try:
        tf.io.decode_image(tf.io.read_file(str(path)), expand_animations=False)
    except (tf.errors.OpError, ValueError) as exc:
        message = getattr(exc, "message", str(exc)).strip().splitlines()
        return message[0].rstrip(".") if message else type(exc).__name__
    return "it decodes when read alone; it may have changed while being read"


def size_note(shapes: np.ndarray, size: tuple[int, int] | list[int] | None) -> str | None:
    """What resizing does to these images, or None when they already have `size`;
    `size` None asks for their common size, and several sizes are then a DataError."""
    counts = Counter((int(h), int(w)) for h, w in shapes[:, :2])
    listed = ", ".join(f"{h}x{w} ({n})" for (h, w), n in counts.most_common(4))
    if len(counts) > 4:
        listed += f" and {len(counts) - 4} more sizes"
    if size is None:
        if len(counts) > 1:
            raise DataError(
                f"the images come in {len(counts)} sizes: {listed}.",
                hint="Set data.image_size: [height, width]; every image is resized to it.",
            )
        return None
    target = (int(size[0]), int(size[1]))
    off = sum(n for hw, n in counts.items() if hw != target)
    if not off:
        return None
    if len(counts) == 1:
        what = f"all {off} images are {listed.split(' ')[0]}"
    else:
        what = f"{off} of {len(shapes)} images are not {target[0]}x{target[1]} ({listed})"
    return f"{what}; each is resized to {target[0]}x{target[1]} (bilinear, aspect ratio not kept)."


def _say_conversions(found: ImagePaths, state: dict[str, Any]) -> None:
    """Warn when new images differ in color or size from what the run was trained on."""
    channels = state["channels"]
    colors = Counter(_COLOR.get(int(c), f"{c}-channel") for c in found.shapes[:, 2])
    mode = "grayscale" if channels == 1 else "RGB"
    other = {name: n for name, n in colors.items() if name != mode}
    if other:
        shown = ", ".join(f"{n} {name}" for name, n in other.items())
        warnings.warn(
            f"this run was trained on {mode} images; converted {shown} image"
            f"{'s' if sum(other.values()) > 1 else ''} to {mode}.",
            DataWarning,
            stacklevel=3,
        )
    note = size_note(found.shapes, state["image_size"])
    if note:
        warnings.warn(f"the input: {note}", DataWarning, stacklevel=3)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def warn_ignored(files: list[str]) -> None:
    """Say which files were not read because they are no images, so none is lost silently."""
    if files:
        kinds = ", ".join(sorted({os.path.splitext(f)[1].lower() or "(no suffix)" for f in files}))
        warnings.warn(
            f"ignored {len(files)} file{'s' if len(files) > 1 else ''} that are not images "
            f"({kinds}), the first {files[0]}.",
            DataWarning,
            stacklevel=3,
        )


def image_files(folder: Path) -> tuple[list[str], list[str]]:
    """(image files, other files) directly in `folder`, sorted; hidden files are neither.

    Paths as str, not Path: 70,000 Path objects take tens of MB more."""
    entries = sorted(e.path for e in os.scandir(folder) if e.is_file() and e.name[0] != ".")
    images = [p for p in entries if _is_image(p)]
    return images, [p for p in entries if not _is_image(p)]


def _is_image(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in IMAGE_SUFFIXES


def check_headers(
    files: list[str],
    max_pixels: int,
    image_size: tuple[int, int] | list[int] | None,
    fix: str = "Shrink or remove the image, or raise data.max_pixels if it is meant.",
) -> None:
    """Refuse, from the files' headers and before any is decoded, an image of more than
    `max_pixels` (`data.max_pixels`, with `fix` as the hint), and images of different
    sizes when no `image_size` says what to resize them to. A file whose header dlrun
    cannot read is left to the decoder."""
    first: tuple[str, tuple[int, int]] | None = None
    with progress("reading image headers", len(files), "files") as step:
        for file in files:
            step()
            size = header_size(file)
            if size is None:
                continue
            height, width = size
            if height * width > max_pixels:
                raise DataError(
                    f"{file}: its header says {height}x{width}, {height * width:,} pixels, more "
                    f"than data.max_pixels ({max_pixels:,}); decoding it would take "
                    f"about {height * width * 4 / 2**30:.1f} GB.",
                    hint=fix,
                )
            if first is None:
                first = (file, size)
            elif image_size is None and size != first[1]:
                (h, w) = first[1]
                raise DataError(
                    f"the images differ in size: {first[0]} is {h}x{w}, {file} is "
                    f"{height}x{width} (height x width), and data.image_size is not set.",
                    hint="Set data.image_size: [height, width]; every image is resized to it.",
                )


def header_size(path: str) -> tuple[int, int] | None:
    """(height, width) as a BMP, GIF, JPEG or PNG file's header states it, without
    decoding; None when the header is not one of these or is cut short."""
    try:
        with open(path, "rb") as fp:
            head = fp.read(26)
            if head.startswith(_PNG) and head[12:16] == b"IHDR":
                return int.from_bytes(head[20:24], "big"), int.from_bytes(head[16:20], "big")
            if head[:6] in _GIFS and len(head) >= 10:
                return int.from_bytes(head[8:10], "little"), int.from_bytes(head[6:8], "little")
            if head.startswith(b"BM") and len(head) >= 26:
                if int.from_bytes(head[14:18], "little") == 12:  # the old OS/2 header
                    return (
                        int.from_bytes(head[20:22], "little"),
                        int.from_bytes(head[18:20], "little"),
                    )
                width = int.from_bytes(head[18:22], "little", signed=True)
                height = int.from_bytes(head[22:26], "little", signed=True)
                return abs(height), abs(width)  # a negative height: rows top-down
            if head.startswith(_JPEG):
                fp.seek(2)
                return _jpeg_size(fp)
    except OSError:
        return None
    return None


def _jpeg_size(fp: Any) -> tuple[int, int] | None:
    """Walk the JPEG segments to the frame header, which holds the size."""
    while True:
        marker = fp.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        if marker[1] in (0x01, *range(0xD0, 0xD8)) or marker[1] == 0xFF:  # no length field
            if marker[1] == 0xFF:
                fp.seek(-1, 1)  # fill bytes before a marker
            continue
        length = int.from_bytes(fp.read(2), "big")
        if marker[1] in _SOF:
            frame = fp.read(5)
            if len(frame) < 5:
                return None
            return int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")
        if length < 2:
            return None
        fp.seek(length - 2, 1)
