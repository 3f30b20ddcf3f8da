"""Raw text: the `text:` vectorization keys, and the `text_dir` source (folders of files).

`text_dir` reads the aclImdb layout, `<root>/{train,test}/<class>/*.txt`, or
`<root>/<class>/*.txt` with a seeded test split carved by `test_fraction`. Class names
are the folder names, sorted (aclImdb: neg, pos); a folder in train without its match
in test (aclImdb's `unsup`) is not a class. The texts are vectorized by a Keras
`TextVectorization` layer adapted on the training portion only
(`dlrun.data.representations.text`). Reading the files shows its progress
(`dlrun.console.progress`): aclImdb's 50,000 take a while from a cold disk.

Example config:

```yaml
data:
  source: text_dir
  path: data/aclImdb
  text: {max_tokens: 20000, ngrams: 2, output: multi_hot}
```
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from dlrun.config.schema import Section
from dlrun.console import Step, progress
from dlrun.data.class_folders import ClassFolders, at_least_two, class_names, existing_root
from dlrun.data.splits import RawData, Split, with_test_split
from dlrun.errors import DataError, DataWarning


class TextKeys(Section):
    """How raw text becomes model input: Keras `TextVectorization` settings."""

    max_tokens: int | None = Field(
        20000, ge=3, description="Vocabulary size, the most frequent tokens (null: all)."
    )
    ngrams: int = Field(1, ge=1, description="Also count token n-grams up to this length.")
    output: Literal["int", "multi_hot", "count", "tf_idf"] = Field(
        "multi_hot",
        description="int: ordered token ids (sequence models); multi_hot, count, tf_idf: "
        "one sparse vector per text (mlp).",
    )
    sequence_length: int = Field(
        500, ge=1, description="output int: pad or cut every text to this many tokens."
    )
    standardize: Literal["lower_and_strip_punctuation", "lower", "strip_punctuation"] | None = (
        Field("lower_and_strip_punctuation", description="Text cleaning before splitting.")
    )


class TextDirConfig(ClassFolders):
    """Text files in one folder per class."""

    gives_words: ClassVar[bool] = True

    source: Literal["text_dir"] = Field(description="Folders of text files, one per class.")
    path: str = Field(description="The root: <root>/{train,test}/<class>/ or <root>/<class>/.")
    text: TextKeys = Field(default_factory=TextKeys)
    test_fraction: float = Field(
        0.2, gt=0, lt=1, description="Without a test/ folder: share carved as the test split."
    )
    skip_bad_files: bool = Field(
        False, description="Skip files that are not UTF-8 text (counted), instead of failing."
    )

    @property
    def representation(self) -> str:
        return "sequence" if self.text.output == "int" else "multi_hot"

    def layout(self) -> tuple[list[str], list[Path]]:
        """(class names, the split folders: [train, test] or [root])."""
        return layout(Path(self.path))


def layout(root: Path) -> tuple[list[str], list[Path]]:
    """(class names, the split folders: [train, test] or [root]); DataError if unusable."""
    existing_root(root)
    splits = [root / "train", root / "test"] if (root / "train").is_dir() else [root]
    if len(splits) == 2 and not splits[1].is_dir():
        raise DataError(
            f"{root} has train/ but no test/ folder.",
            hint="Add test/, or put the class folders directly in data.path to carve a test split.",
        )
    names = [class_names(s) for s in splits]
    classes = [c for c in names[0] if all(c in other for other in names[1:])]
    at_least_two(classes, splits[0], "*.txt")
    for split in splits:
        for name in classes:
            if not any(e.is_file() for e in os.scandir(split / name)):
                raise DataError(f"the class folder {split / name} holds no files.")
    return classes, splits


def text_dir_source(config: TextDirConfig) -> RawData:
    classes, splits = config.layout()
    skipped: list[Path] = []
    listed = [_listed(folder, classes) for folder in splits]
    with progress("reading text files", sum(len(files) for files in listed), "files") as step:
        parts = [_read_split(files, config.skip_bad_files, skipped, step) for files in listed]
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} file{'s' if len(skipped) > 1 else ''} that are not UTF-8 "
            f"text (data.skip_bad_files), the first {skipped[0]}.",
            DataWarning,
            stacklevel=2,
        )
    if len(parts) == 1:
        ((x, y),) = parts
        return with_test_split(x, y, config.test_fraction, "text", classes, None)
    (x_train, y_train), (x_test, y_test) = parts
    return RawData(Split(x_train, y_train), Split(x_test, y_test), kind="text", class_names=classes)


def _listed(folder: Path, classes: list[str]) -> list[tuple[int, Path]]:
    """(label, file) of every file in `folder`'s class folders, class by class, sorted."""
    return [
        (label, file)
        for label, name in enumerate(classes)
        for file in sorted(p for p in (folder / name).iterdir() if p.is_file())
    ]


def _read_split(
    files: list[tuple[int, Path]], skip_bad: bool, skipped: list[Path], step: Step
) -> tuple[np.ndarray, np.ndarray]:
    texts, labels = [], []
    for label, file in files:
        step()
        try:
            texts.append(file.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            if not skip_bad:
                raise DataError(
                    f"{file} is not UTF-8 text (byte {exc.start}: {exc.reason}).",
                    hint="Convert it to UTF-8, or set data.skip_bad_files: true to skip "
                    "such files (they are counted and reported).",
                ) from None
            skipped.append(file)
            continue
        labels.append(label)
    x = np.empty(len(texts), dtype=object)
    x[:] = texts
    return x, np.asarray(labels, dtype=np.int64)
