"""What the folder-per-class sources (`text_dir`, `image_dir`) share.

The classes are the folders under `data.path` (or under its split folders), sorted, with
hidden folders left out. Each source decides its own split folders and which files
count; this module holds the checks that read the same for both, and the config methods
that look at the folders before anything loads.

Example (a source with no split folders):

```python
class AudioDirConfig(ClassFolders):
    def layout(self) -> tuple[list[str], list[Path]]:
        root = existing_root(Path(self.path))
        classes = class_names(root)
        at_least_two(classes, root, "*.wav")
        return classes, [root]
```
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field

from dlrun.config.schema import DataSection
from dlrun.errors import DataError
from dlrun.tasks import Labels


class ClassFolders(DataSection):
    """A data section whose classes are folders: `layout` reads them, and `check` and
    the label peek use it without loading a file."""

    path: str = Field(description="The root folder of the class folders.")

    def layout(self) -> tuple[list[str], Any]:
        """(class names, the split folders); raises a DataError naming what is unusable."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"the class folders of {self.path}"

    def input_problems(self) -> list[str]:
        try:
            self.layout()
        except DataError as exc:
            return [f"{exc.message} {exc.hint}" if exc.hint else exc.message]
        return []

    def peek_labels(self) -> Labels | None:
        try:
            classes = self.layout()[0]
        except DataError:
            return None
        return Labels(len(classes), binary=len(classes) == 2, names=tuple(classes))


def existing_root(root: Path) -> Path:
    """`root`, when it is a folder; else a DataError that says what to give."""
    if not root.is_dir():
        what = "a file" if root.exists() else "not found"
        raise DataError(f"data.path {root}: {what}; give the folder that holds the class folders.")
    return root


def class_names(folder: Path) -> list[str]:
    """The folders in `folder`, sorted, without hidden ones."""
    return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))


def at_least_two(classes: list[str], folder: Path, files: str) -> None:
    """A classifier needs two classes: a DataError naming the ones `folder` has, if fewer;
    `files` shows what a class folder holds (e.g. "*.txt")."""
    if len(classes) < 2:
        found = ", ".join(classes) or "none"
        raise DataError(
            f"{folder} has {len(classes)} class folder{'s' if len(classes) != 1 else ''} "
            f"({found}); a classifier needs at least two.",
            hint=f"Put each class's files in a folder of its own: <root>/<class>/{files}.",
        )
