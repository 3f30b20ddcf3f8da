"""The `image_dir` source: image files in one folder per class, streamed from disk.

`<root>/{train,validation,test}/<class>/*` (validation/ and test/ optional), or
`<root>/<class>/*`. A split without its folder is carved: test by `test_fraction`
(seeded), validation by `data.validation`. Class names are the train folders' names,
sorted; they label the confusion matrix and `predict`'s output. Files are BMP, GIF, JPEG
or PNG, as `keras.utils.image_dataset_from_directory` reads them; other files are
counted and named in a warning, hidden files skipped.

Loading lists and decodes every file once (`scan_files`): a corrupt file is an error
that names it (or, with `skip_bad_files`, a counted warning), and images of other sizes
than `image_size` are resized, with a warning that says so. Training then decodes each
batch from disk (`dlrun.data.representations.image_files`), so memory does not grow with
the number of images. `augment` adds Keras preprocessing layers at the model's input,
active in training only.

Example config:

```yaml
data:
  source: image_dir
  path: data/cats_and_dogs
  image_size: [150, 150]
  color_mode: rgb
  augment: {flip: horizontal, rotation: 0.1, zoom: 0.2}
```
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from dlrun.config.schema import Section
from dlrun.data.class_folders import ClassFolders, at_least_two, class_names, existing_root
from dlrun.data.representations.image_files import (
    CHANNELS,
    MAX_PIXELS,
    check_headers,
    header_size,
    image_files,
    scan_files,
    size_note,
    warn_ignored,
)
from dlrun.data.splits import RawData, Split
from dlrun.errors import DataError, DataWarning

SPLITS = ("train", "validation", "test")
Fraction = Annotated[float, Field(gt=0, lt=1)]


class AugmentKeys(Section):
    """Random transformations of the training images, as Keras preprocessing layers at
    the model's input (RandomFlip, RandomRotation, ...): active in `fit` only, so
    evaluate, predict and export see the images as they are."""

    flip: Literal["horizontal", "vertical", "horizontal_and_vertical"] | None = Field(
        None, description="RandomFlip mode."
    )
    rotation: Fraction | None = Field(
        None, description="RandomRotation factor: up to this fraction of a full turn."
    )
    zoom: Fraction | None = Field(None, description="RandomZoom factor: zoom in or out by up to.")
    translation: Fraction | None = Field(
        None, description="RandomTranslation factor: shift by up to this fraction of the size."
    )
    contrast: Fraction | None = Field(None, description="RandomContrast factor.")
    brightness: Fraction | None = Field(
        None, description="RandomBrightness factor: add up to this fraction of the value range."
    )

    def layers(self) -> dict[str, Any]:
        """The transformations that are set, in the order the model applies them."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class ImageDirConfig(ClassFolders):
    """Image files in one folder per class."""

    source: Literal["image_dir"] = Field(description="Folders of image files, one per class.")
    path: str = Field(
        description="The root: <root>/{train,validation,test}/<class>/ or <root>/<class>/."
    )
    image_size: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] | None = Field(
        None,
        description="[height, width] every image is resized to (default: the images' own "
        "size, when they all have one).",
    )
    color_mode: Literal["grayscale", "rgb"] = Field(
        "rgb", description="Channels the images are decoded to (converted when they differ)."
    )
    augment: AugmentKeys | None = Field(
        None, description="Data augmentation in training only (Keras preprocessing layers)."
    )
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="Without a test/ folder: share carved as the test split."
    )
    skip_bad_files: bool = Field(
        False, description="Skip files that are not readable images (counted), instead of failing."
    )
    max_pixels: int = Field(
        MAX_PIXELS,
        ge=1,
        description="Refuse an image whose header claims more pixels (height x width) than "
        "this, before it is decoded: decoding holds the whole image in memory.",
    )

    def layout(self) -> tuple[list[str], dict[str, Path]]:
        """(class names, split -> folder)."""
        return layout(Path(self.path))

    def input_problems(self) -> list[str]:
        problems = super().input_problems()
        if problems:
            return problems
        classes, folders = self.layout()
        files = [
            file
            for folder in folders.values()
            for name in classes
            if (folder / name).is_dir()
            for file in image_files(folder / name)[0]
        ]
        try:
            check_headers(files, self.max_pixels, self.image_size)
        except DataError as exc:
            return [str(exc).replace("\n", " ")]
        return []

    def peek_shape(self) -> tuple[int, ...] | None:
        channels = CHANNELS[self.color_mode]
        if self.image_size is not None:
            return (*self.image_size, channels)
        # without image_size every image has one size (input_problems): the first's
        try:
            classes, folders = self.layout()
        except DataError:
            return None
        first = image_files(next(iter(folders.values())) / classes[0])[0]
        size = header_size(first[0]) if first else None
        return None if size is None else (*size, channels)


def layout(root: Path) -> tuple[list[str], dict[str, Path]]:
    """(class names, split -> folder: train and any of validation, test; or {"all": root}).

    Raises a DataError for a folder that is not usable, before any image is read."""
    existing_root(root)
    if (root / "train").is_dir():
        folders = {s: root / s for s in SPLITS if (root / s).is_dir()}
    elif any((root / s).is_dir() for s in SPLITS[1:]):
        raise DataError(
            f"{root} has {' and '.join(f'{s}/' for s in SPLITS[1:] if (root / s).is_dir())} "
            "but no train/ folder.",
            hint="Add train/<class>/ folders, or put the class folders directly in data.path.",
        )
    else:
        folders = {"all": root}
    first = next(iter(folders.values()))
    classes = class_names(first)
    at_least_two(classes, first, "*.png")
    for split, folder in folders.items():
        unknown = sorted(set(class_names(folder)) - set(classes))
        if unknown and split != "all":
            raise DataError(
                f"{folder} has class folder{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(unknown)}, which {first} has not: the model could never predict "
                f"{'them' if len(unknown) > 1 else 'it'}.",
                hint=f"Add {'them' if len(unknown) > 1 else 'it'} to {first}, or remove "
                f"{'them' if len(unknown) > 1 else 'it'} from {folder}.",
            )
    for name in classes:
        if not image_files(first / name)[0]:
            raise DataError(f"the class folder {first / name} holds no image files.")
    return classes, folders


def image_dir_source(config: ImageDirConfig) -> RawData:
    classes, folders = config.layout()
    files: list[str] = []
    labels: list[np.ndarray] = []
    split_of: list[np.ndarray] = []
    ignored: list[str] = []
    for code, folder in enumerate(folders.values()):
        for label, name in enumerate(classes):
            if not (folder / name).is_dir():
                continue  # a validation or test folder may lack a class
            images, others = image_files(folder / name)
            files += images
            labels.append(np.full(len(images), label, dtype=np.int64))
            split_of.append(np.full(len(images), code, dtype=np.int8))
            ignored += others
    warn_ignored(ignored)
    check_headers(files, config.max_pixels, config.image_size)
    scanned, kept = scan_files(files, config.skip_bad_files)
    del files  # the scanned paths are bytes, a quarter of the size
    # the files that survived the scan, with their labels and splits
    y = np.concatenate(labels)[kept]
    codes = np.concatenate(split_of)[kept]
    note = size_note(scanned.shapes, config.image_size)
    if note:
        warnings.warn(note, DataWarning, stacklevel=2)
    parts = {
        split: Split(scanned.take(np.flatnonzero(codes == code)), y[codes == code])
        for code, split in enumerate(folders)
    }
    rng = np.random.RandomState(113)
    # A seeded order, not the folders' class after class: data.limit takes a sample of
    # every class, as a carved split does.
    parts = {split: part.take(rng.permutation(len(part))) for split, part in parts.items()}
    train = parts.get("train", parts.get("all"))
    if "test" in parts:
        test = parts["test"]
    else:
        n_test = max(1, int(round(len(train) * config.test_fraction)))
        test, train = train.take(np.arange(n_test)), train.take(np.arange(n_test, len(train)))
    validation = parts.get("validation")
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        if part is not None and not len(part):
            raise DataError(f"{config.path} leaves no images for the {name} split.")
    return RawData(train, test, kind="image_files", class_names=classes, validation=validation)
