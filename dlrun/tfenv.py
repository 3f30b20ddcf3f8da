"""Import TensorFlow and Keras lazily and quietly.

TensorFlow's C++ side prints absl/oneDNN/cpu-feature lines at import that
`TF_CPP_MIN_LOG_LEVEL` does not catch (some are written before absl reads it),
so unless `verbose`, stderr is pointed at /dev/null at the file-descriptor level
for the import only. oneDNN stays on: turning it off makes training ~1.8x slower.

Before the import, glibc's malloc is held to one arena per core (`MALLOC_ARENAS`). By
default it keeps up to eight per core, and TensorFlow's thread pools and tf.data's
threads each take one and keep the memory freed in it. On 2 cores, the cap lowers the
peak RSS of a convnet fit on 70,000 MNIST PNGs (bench/mnist_png.py) by about 14 MB, with
no slower fit. The backend decides (`Backend.malloc_arenas`): JAX's XLA threads ran
slower under the cap. A `MALLOC_ARENA_MAX` in the environment is the user's choice and is
left alone. `release_memory` hands the freed memory back after each fit.

Example:

```python
keras = import_keras(verbose=False)
```
"""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType

# TensorFlow's C++ log level when quiet: 3 keeps its ERROR lines off the terminal too.
# Those are notices, not failures (a masked LSTM prints "oneDNN supports DT_BOOL only on
# platforms with AVX-512" on every fit); a real failure reaches Python as an exception.
QUIET_TF_LOG_LEVEL = "3"

# One per core the process may run on: threads beyond that wait for a core anyway.
MALLOC_ARENAS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
_M_ARENA_MAX = -8  # mallopt's parameter number for it, from glibc's malloc.h


def cap_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Hold glibc malloc to `arenas` arenas for the threads started from now on.

    Args:
        arenas: the most arenas malloc may create; defaults to `MALLOC_ARENAS`, the
            number of cores this process may run on.

    Returns:
        True when the cap is set; False off glibc or when the environment sets
        `MALLOC_ARENA_MAX`, which glibc has already applied.

    Example:

    ```python
    cap_malloc_arenas()   # before TensorFlow starts its threads
    ```
    """
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return libc.mallopt(_M_ARENA_MAX, arenas) == 1


def _glibc() -> ctypes.CDLL | None:
    """glibc, when this process runs on it; None on other systems and libcs (musl has
    neither arenas nor malloc_trim)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


@contextmanager
def _silenced_stderr() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def release_memory() -> None:
    """Drop the finished fit's graphs and tensors, and give the freed pages back.

    Called after every fit and after the final evaluation, so memory stays flat across
    stages and the report's plots do not add to what the fits left. With capped arenas
    the freed memory stays inside them unless trimmed: `malloc_trim` hands their free
    pages to the system (glibc only; elsewhere that step is skipped).
    """
    if "keras" in sys.modules:
        sys.modules["keras"].backend.clear_session(free_memory=True)  # collects too
    else:
        gc.collect()
    trim_memory()


def trim_memory() -> None:
    """Give the system the free pages left inside malloc's arenas (glibc only), as
    `release_memory` does, without touching Keras: for arrays just dropped while a
    model is still in use."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def import_keras(verbose: bool = False) -> ModuleType:
    """Keras on this process's backend (`dlrun.runtime.current`), started once."""
    from dlrun.runtime import current

    return current().start(verbose)


# Run once Keras is imported: dlrun's own Keras classes (a VAE, a GAN) are made and
# registered for safe-mode loading then, so that `dlrun check` never imports Keras.
_AFTER_IMPORT: list[Callable[[], None]] = []


def after_keras_import(hook: Callable[[], None]) -> None:
    """Call `hook` once Keras is imported: now, if it is already."""
    if "keras" in sys.modules:
        hook()
    else:
        _AFTER_IMPORT.append(hook)


def load_keras(verbose: bool = False, cap_arenas: bool = True) -> ModuleType:
    """Import TensorFlow (for tf.data, whatever the backend) then Keras on $KERAS_BACKEND;
    quiet unless `verbose`; malloc's arenas capped first if `cap_arenas`.
    `dlrun.runtime.Runtime.start` sets the backend first."""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        _run_hooks()
        return sys.modules["keras"]
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if cap_arenas:
        cap_malloc_arenas()
    if not verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
        with _silenced_stderr():
            import keras
            import tensorflow as tf
        tf.get_logger().setLevel("ERROR")
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
        warnings.filterwarnings("ignore", module="keras")
    else:
        import keras
    _run_hooks()
    # TensorFlow's and Keras's modules hold ~430,000 objects that live as long as the
    # process: frozen, they are left out of every later collection (`release_memory`
    # after each fit), which then takes microseconds instead of 0.14 s. Reference
    # counting still frees any of them that is dropped; only a cycle among them stays.
    gc.freeze()
    return keras


def _run_hooks() -> None:
    while _AFTER_IMPORT:
        _AFTER_IMPORT.pop(0)()
