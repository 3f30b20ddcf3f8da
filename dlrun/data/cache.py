"""A cache of loaded sources, keyed by the source files' identity and the data config.

Loading IMDB (unpickling 50,000 Python lists, Keras's encoding, the CSR build) costs
seconds in every run, every workflow stage's process and every sweep worker. The
loaded `RawData` is saved once as plain `.npy` files and memory-mapped on later loads,
so the pages are shared by every process that reads them.

- The key is a hash of the data config (without the keys that only carve or encode
  labels later: `validation`, `limit`, `labels`, `cache`) and of each input file's
  path, size and modification time: a changed file or config is a new entry.
- Only numeric arrays are cached (CSV tables of raw strings are not), and only sources
  that read files (`DataSection.input_files`). A container (token lists, series
  windows) is saved field by field, an array its splits share saved once.
- The data warnings a load gave (a series' gaps, rows sorted into time order) are kept
  with the entry and given again on every load from it, so a cached run says what the
  first one said.
- Entries are written to a temporary directory and renamed into place, so a killed run
  or two sweep workers loading at once never leave a half-written entry. An entry that
  cannot be read, or whose arrays do not fit together, is removed and the source loaded
  again.

The cache lives in `$DLRUN_CACHE_DIR`, else `$XDG_CACHE_HOME/dlrun`, else
`~/.cache/dlrun`; it is safe to delete at any time. `data.cache: false` bypasses it.

Example:

```python
raw = cached(config.data, load)     # load(config.data) on a miss, the saved copy after
```
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.config.schema import DataSection
from dlrun.data.representations.token_windows import TokenWindows
from dlrun.data.splits import RawData, Sequences, Split, TokenLists
from dlrun.data.timeseries import Windows
from dlrun.errors import DataWarning

# bumped whenever what a source returns changes shape, so old entries are never read
FORMAT = 2
# the containers an entry may hold, saved field by field
CONTAINERS: dict[str, type] = {
    "TokenLists": TokenLists,
    "Sequences": Sequences,
    "Windows": Windows,
    "TokenWindows": TokenWindows,
}
_NOT_IN_KEY = {"validation", "limit", "labels", "cache"}


def cache_root() -> Path:
    """Where entries live: $DLRUN_CACHE_DIR, else the user's cache directory."""
    if os.environ.get("DLRUN_CACHE_DIR"):
        return Path(os.environ["DLRUN_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dlrun"


def cache_key(config: DataSection) -> str | None:
    """The entry's name, or None when the source reads no file (nothing to key on)."""
    files = config.input_files()
    if not files:
        return None
    identity: dict[str, Any] = {
        "format": FORMAT,
        "data": config.model_dump(mode="json", exclude=_NOT_IN_KEY),
        "files": [],
    }
    for file in files:
        stat = file.stat()
        identity["files"].append([str(file.resolve()), stat.st_size, stat.st_mtime_ns])
    text = json.dumps(identity, sort_keys=True)
    return f"{config.source}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def cached(config: DataSection, load: Callable[[DataSection], RawData]) -> RawData:
    """`load(config)`, from the cache when an entry for this config and these files exists."""
    key = cache_key(config) if getattr(config, "cache", True) else None
    if key is None:
        return load(config)
    entry = cache_root() / key
    if (entry / "meta.json").is_file():
        try:
            raw, said = _read(entry)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            warnings.warn(
                f"the data cache entry {entry} is unreadable or damaged ({exc}); loading the "
                "data again.",
                DataWarning,
                stacklevel=2,
            )
            shutil.rmtree(entry, ignore_errors=True)
        else:
            for message in said:
                warnings.warn(message, DataWarning, stacklevel=2)
            return raw
    seen: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            raw = load(config)
    finally:  # to the caller's filters, as if never caught, even when the load failed
        for w in seen:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    said = [str(w.message) for w in seen if issubclass(w.category, DataWarning)]
    if _cacheable(raw):
        try:
            _write(entry, raw, said)
        except OSError as exc:  # a full or read-only disk costs speed, not the run
            warnings.warn(
                f"could not cache the loaded data in {entry.parent}: {exc}",
                DataWarning,
                stacklevel=2,
            )
    return raw


def _cacheable(raw: RawData) -> bool:
    splits = [s for s in (raw.train, raw.test, raw.validation) if s is not None]
    return all(
        type(s.x).__name__ in CONTAINERS or np.asarray(s.x).dtype != object for s in splits
    ) and all(np.asarray(s.y).dtype != object for s in splits)


def _write(entry: Path, raw: RawData, said: list[str]) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        meta: dict[str, Any] = {
            "kind": raw.kind,
            "class_names": raw.class_names,
            "feature_names": raw.feature_names,
            "warnings": said,
            "splits": {},
        }
        saved: dict[int, str] = {}
        for name in ("train", "test", "validation"):
            split = getattr(raw, name)
            if split is not None:
                meta["splits"][name] = {
                    "x": _save(tmp, f"{name}_x", split.x, saved),
                    "y": _save_array(tmp, f"{name}_y", np.asarray(split.y), saved),
                }
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        # another process may have written the same entry first: keep theirs
        with contextlib.suppress(OSError):
            tmp.rename(entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _save(folder: Path, name: str, x: Any, saved: dict[int, str]) -> dict[str, Any]:
    """An array as one file; a container as its arrays' files and its other fields."""
    if type(x).__name__ not in CONTAINERS:
        return {"array": _save_array(folder, name, np.asarray(x), saved)}
    arrays, fields = {}, {}
    for field in dataclasses.fields(x):
        value = getattr(x, field.name)
        if isinstance(value, np.ndarray):
            arrays[field.name] = _save_array(folder, f"{name}_{field.name}", value, saved)
        else:
            fields[field.name] = value.item() if isinstance(value, np.generic) else value
    return {"container": type(x).__name__, "arrays": arrays, "fields": fields}


def _save_array(folder: Path, name: str, array: np.ndarray, saved: dict[int, str]) -> str:
    """The file that holds `array`: written once, however many splits share it."""
    if id(array) not in saved:
        np.save(folder / f"{name}.npy", array, allow_pickle=False)
        saved[id(array)] = f"{name}.npy"
    return saved[id(array)]


def _read(entry: Path) -> tuple[RawData, list[str]]:
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    opened: dict[str, np.ndarray] = {}

    def array(file: str) -> np.ndarray:
        # copy-on-write: the pages stay shared, and the array can be handed to TensorFlow
        # (DLPack refuses read-only buffers)
        if file not in opened:
            opened[file] = np.load(entry / file, mmap_mode="c", allow_pickle=False)
        return opened[file]

    def features(info: dict[str, Any]) -> Any:
        if "array" in info:
            return array(info["array"])
        parts = {field: array(file) for field, file in info["arrays"].items()}
        return CONTAINERS[info["container"]](**parts, **info["fields"])

    splits = {
        name: Split(features(info["x"]), array(info["y"])) for name, info in meta["splits"].items()
    }
    raw = RawData(
        train=splits["train"],
        test=splits["test"],
        validation=splits.get("validation"),
        kind=meta["kind"],
        class_names=meta["class_names"],
        feature_names=meta["feature_names"],
    )
    _check_whole(raw)
    return raw, meta["warnings"]


def _check_whole(raw: RawData) -> None:
    """Raise ValueError when an entry's arrays read but do not fit together (a file of
    an entry replaced by another array), so the entry is loaded again, not trained on."""
    shapes = set()
    for name in ("train", "test", "validation"):
        split = getattr(raw, name)
        if split is None:
            continue
        x = split.x
        if isinstance(x, TokenLists):
            splits = x.row_splits
            if not len(splits) or splits[0] != 0 or splits[-1] != len(x.values):
                raise ValueError(f"the {name} token lists' offsets do not fit their values")
        elif isinstance(x, Windows):
            rows = len(x.series)
            times_fit = x.times is None or len(x.times) == rows
            if len(x.target) != rows or not times_fit:
                raise ValueError(f"the {name} series' columns have different lengths")
            if len(x) and (x.starts.min() < 0 or x.target_rows.max() >= rows):
                raise ValueError(f"the {name} windows reach past the series")
        else:
            shapes.add(np.shape(x)[1:])
        if len(x) != len(split.y):
            raise ValueError(f"the {name} split has {len(x)} inputs but {len(split.y)} labels")
    if len(shapes) > 1:
        raise ValueError(f"the splits' samples have different shapes {sorted(shapes)}")
