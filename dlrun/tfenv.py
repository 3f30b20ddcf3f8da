"""Import TensorFlow and Keras lazily and quietly.

TensorFlow's C++ side prints absl/oneDNN/cpu-feature lines at import that
`TF_CPP_MIN_LOG_LEVEL` does not catch (some are written before absl reads it),
so unless `verbose`, stderr is pointed at /dev/null at the file-descriptor level
for the import only. oneDNN stays on: turning it off makes training ~1.8x slower.

Example:

```python
keras = import_keras(verbose=False)
```
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

# TensorFlow's C++ log level when quiet: 3 keeps its ERROR lines off the terminal too.
# Those are notices, not failures (a masked LSTM prints "oneDNN supports DT_BOOL only on
# platforms with AVX-512" on every fit); a real failure reaches Python as an exception.
QUIET_TF_LOG_LEVEL = "3"


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


def import_keras(verbose: bool = False) -> ModuleType:
    """Import TensorFlow then Keras (TensorFlow backend); quiet unless `verbose`."""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return sys.modules["keras"]
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
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
    return keras
