"""What a Keras backend is to dlrun, and the distribution it trains under (no backend
import at module level: `check` and `--help` read these without starting an engine).

Example:

```python
backend = Backend(name="jax", package="jax", install="pip install 'dlrun[jax]'",
                  strategies=("data_parallel",), distribution=jax_distribution)
backend.installed()            # is jax importable here, without importing it
```
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Shard:
    """How this process cuts each batch of a distributed fit.

    Args:
        multiple: every batch the model sees holds a multiple of this many rows (the
            replicas: JAX lays each batch out across its devices and refuses a batch
            that does not split evenly).
        index: this process's number.
        count: how many processes feed the same global batch; each gets its own
            contiguous 1/count of it.
    """

    multiple: int
    index: int = 0
    count: int = 1


@dataclass
class Distribution:
    """One engine's data-parallel training, made by its backend.

    Args:
        strategy: the config's name for it (`data_parallel`, `mirrored`).
        replicas: model copies training in step, one per device.
        scope: a context manager that builds and compiles a model for it.
        shard: how this process's batches are cut (None: the engine splits them).
        local: a copy of a trained model that predicts on one local device (JAX's
            model spans every process's devices, and a fetch of its outputs fails).
    """

    strategy: str
    replicas: int
    scope: Callable[[], AbstractContextManager[Any]] = nullcontext
    shard: Shard | None = None
    local: Callable[[Any], Any] = field(default=lambda model: model)


@dataclass(frozen=True)
class Backend:
    """A Keras backend as dlrun uses it.

    Args:
        name: `KERAS_BACKEND`'s value for it.
        package: the package whose presence means the backend is installed.
        install: what to run when it is missing.
        strategies: the `distribute.strategy` values it runs, on its own mechanism.
        sparse_inputs: fit takes sparse batches (multi-hot token sets) as they are; if
            not, each batch is made dense on the way in.
        dense_strategies: strategies under which it takes no sparse batches either
            (Keras 3.15's TensorFlow trainer cannot lay a SparseTensor out over
            MirroredStrategy's replicas).
        array_batches: batches held as arrays are gathered by numpy, not tf.data, whose
            iterator runs TensorFlow's threads beside the engine's (Keras feeds this
            backend numpy either way).
        steps_per_execution: Keras's trainer for it runs several batches per call.
        xla: Keras's trainer for it compiles a step with XLA when asked (`jit_compile`;
            torch's would use torch.compile instead).
        one_step_strategies: strategies under which it runs only one (Keras 3.15's
            TensorFlow trainer fails its multi-step loop under MirroredStrategy).
        thread_env: the changes to an environment that hold the engine to N threads per
            process (sweep workers sharing the cores); a cap the environment sets
            already is kept.
        distribution: makes the engine's distribution over `devices` (None: all it
            sees) for `processes` processes; given keras, already imported.
        devices_env: environment to set before the engine starts so that a CPU shows
            N devices (how data-parallel code is tried out without accelerators).
        after_import: adjusts Keras for this engine once Keras is imported on it.
        xla_env: environment to set before the engine starts for the steps it compiles
            with XLA (`XLA_FLAGS`; a flag the environment sets already is kept).
        malloc_arenas: glibc's malloc is held to one arena per core before the engine
            starts (`dlrun.tfenv.cap_malloc_arenas`): less memory kept by its threads.
    """

    name: str
    package: str
    install: str
    strategies: tuple[str, ...] = ()
    sparse_inputs: bool = True
    dense_strategies: tuple[str, ...] = ()
    array_batches: bool = False
    steps_per_execution: bool = True
    xla: bool = True
    one_step_strategies: tuple[str, ...] = ()
    thread_env: Callable[[int, dict[str, str]], dict[str, str]] = field(
        default=lambda threads, env: {}
    )
    distribution: Callable[[Any, str, int | None, int, int], Distribution] | None = None
    devices_env: Callable[[int, dict[str, str]], dict[str, str]] = field(
        default=lambda devices, env: {}
    )
    after_import: Callable[[Any], None] = field(default=lambda keras: None)
    xla_env: Callable[[dict[str, str]], dict[str, str]] = field(default=lambda env: {})
    malloc_arenas: bool = True

    def many_steps(self, strategy: str | None) -> bool:
        """Whether `steps_per_execution` above 1 runs under `strategy` (None: one device)."""
        return self.steps_per_execution and strategy not in self.one_step_strategies

    def sparse_batches(self, strategy: str | None) -> bool:
        """Whether fit takes sparse batches as they are under `strategy` (None: one device)."""
        return self.sparse_inputs and strategy not in self.dense_strategies

    def installed(self) -> bool:
        return importlib.util.find_spec(self.package) is not None


def xla_flags(env: dict[str, str], flags: dict[str, str]) -> dict[str, str]:
    """The change to `env` that adds `flags` ({"--xla_...": value}) to its XLA_FLAGS,
    leaving out any flag it sets already (a user's own value wins); {} if none is new.

    Example:

    ```python
    xla_flags({"XLA_FLAGS": "--a=1"}, {"--a": "2", "--b": "3"})   # {"XLA_FLAGS": "--a=1 --b=3"}
    ```
    """
    present = env.get("XLA_FLAGS", "")
    named = {flag.split("=", 1)[0] for flag in present.split()}
    new = [f"{name}={value}" for name, value in flags.items() if name not in named]
    return {"XLA_FLAGS": " ".join([present, *new]).strip()} if new else {}


def chunks(total: int, parts: int) -> Iterator[int]:
    """`total` split into `parts` sizes as even as can be (the log's batch split)."""
    base, extra = divmod(total, parts)
    for i in range(parts):
        yield base + (1 if i < extra else 0)
