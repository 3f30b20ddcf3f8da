"""A cache of loaded sources, keyed by the source files' identity and the data config.

Loading IMDB (unpickling 50,000 Python lists, Keras's encoding, the CSR build) costs
seconds in every run, every workflow stage's process and every sweep worker. The
loaded `RawData` is saved once as plain `.npy` files and memory-mapped on later loads,
so the pages are shared by every process that reads them.

- The key is a hash of the data config (without the keys that only carve or encode
  labels later: `validation`, `limit`, `labels`, `cache`) and of each input file's
  path, size and modification time: a changed file or config is a new entry.
- Only numeric arrays are cached (CSV tables of raw strings are not), and only sources
  that read files (`DataSection.input_files`).
- Entries are written to a temporary directory and renamed into place, so a killed run
  or two sweep workers loading at once never leave a half-written entry. An entry that
  cannot be read is removed and the source loaded again.

The cache lives in `$DLRUN_CACHE_DIR`, else `$XDG_CACHE_HOME/dlrun`, else
`~/.cache/dlrun`; it is safe to delete at any time. `data.cache: false` bypasses it.

Example:

```python
raw = cached(config.data, load)     # load(config.data) on a miss, the saved copy after
```
"""

from __future__ import annotations

import contextlib
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
from dlrun.data.splits import RawData, Sequences, Split, TokenLists
from dlrun.errors import DataWarning

# bumped whenever what a source returns changes shape, so old entries are never read
FORMAT = 1
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
            return _read(entry)
        except (OSError, ValueError, KeyError) as exc:
            warnings.warn(
                f"the data cache entry {entry} is unreadable ({exc}); loading the data again.",
                DataWarning,
                stacklevel=2,
            )
            shutil.rmtree(entry, ignore_errors=True)
    raw = load(config)
    if _cacheable(raw):
        try:
            _write(entry, raw)
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
        isinstance(s.x, TokenLists) or np.asarray(s.x).dtype != object for s in splits
    ) and all(np.asarray(s.y).dtype != object for s in splits)


def _write(entry: Path, raw: RawData) -> None:
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        meta: dict[str, Any] = {
            "kind": raw.kind,
            "class_names": raw.class_names,
            "feature_names": raw.feature_names,
            "splits": {},
        }
        for name in ("train", "test", "validation"):
            split = getattr(raw, name)
            if split is not None:
                meta["splits"][name] = _save_split(tmp, name, split)
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        # another process may have written the same entry first: keep theirs
        with contextlib.suppress(OSError):
            tmp.rename(entry)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _save_split(folder: Path, name: str, split: Split) -> dict[str, Any]:
    np.save(folder / f"{name}_y.npy", np.asarray(split.y))
    if isinstance(split.x, TokenLists):
        np.save(folder / f"{name}_values.npy", split.x.values)
        np.save(folder / f"{name}_row_splits.npy", split.x.row_splits)
        return {"rows": type(split.x).__name__, "num_words": split.x.num_words}
    np.save(folder / f"{name}_x.npy", np.asarray(split.x))
    return {"rows": None}


def _read(entry: Path) -> RawData:
    meta = json.loads((entry / "meta.json").read_text(encoding="utf-8"))
    splits = {name: _load_split(entry, name, info) for name, info in meta["splits"].items()}
    return RawData(
        train=splits["train"],
        test=splits["test"],
        validation=splits.get("validation"),
        kind=meta["kind"],
        class_names=meta["class_names"],
        feature_names=meta["feature_names"],
    )


def _load_split(entry: Path, name: str, info: dict[str, Any]) -> Split:
    def array(part: str) -> np.ndarray:
        return np.load(entry / f"{name}_{part}.npy", mmap_mode="r", allow_pickle=False)

    if info["rows"] is None:
        return Split(array("x"), array("y"))
    rows = {"TokenLists": TokenLists, "Sequences": Sequences}[info["rows"]]
    x = rows(values=array("values"), row_splits=array("row_splits"), num_words=info["num_words"])
    return Split(x, array("y"))
