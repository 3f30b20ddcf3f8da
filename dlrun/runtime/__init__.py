"""The runtime: which Keras backend trains, over which devices, and whether this process
is the chief. Created once per process that trains, before Keras is imported, and
carried to the fit (Lightning's strategy object; Keras's own `keras.distribution`).

Backends are a registry: one module each (`tf_engine`, `jax_engine`, `torch_engine`)
and one line in `BACKENDS`. The backend is chosen by `--backend`, else the config's
`backend`, else `KERAS_BACKEND`, else TensorFlow. TensorFlow stays imported for tf.data,
which Keras feeds to every backend.

Example:

```python
runtime = Runtime.for_run(backend="jax", strategy="data_parallel", devices=2)
keras = runtime.start()                  # KERAS_BACKEND=jax, then Keras, then the mesh
with runtime.scope():
    model = build(...); model.compile(...)
runtime.is_chief                         # only the chief writes the run directory
```
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from dlrun.errors import ConfigError, FatalError
from dlrun.runtime import jax_engine, tf_engine, torch_engine
from dlrun.runtime.engine import Backend, Distribution, Shard, chunks

BACKENDS: dict[str, Backend] = {
    b.name: b for b in (tf_engine.BACKEND, jax_engine.BACKEND, torch_engine.BACKEND)
}
DEFAULT_BACKEND = "tensorflow"
# What keras.distribution.initialize reads, so a launcher's settings work for dlrun too.
ENV_COORDINATOR = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
ENV_PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
ENV_PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"
HEARTBEAT_SECONDS = 100  # JAX's own default

__all__ = ["BACKENDS", "Backend", "Distribution", "Runtime", "Shard", "current", "pick_backend"]


def pick_backend(wanted: str | None, *, where: str = "--backend") -> Backend:
    """The backend `wanted` names, else `KERAS_BACKEND`'s, else TensorFlow; installed.

    Raises ConfigError naming the setting, the choices and what to install.
    """
    name, said = wanted, where
    if name is None and os.environ.get("KERAS_BACKEND"):
        name, said = os.environ["KERAS_BACKEND"], "KERAS_BACKEND"
    name = name or DEFAULT_BACKEND
    backend = BACKENDS.get(name)
    if backend is None:
        raise ConfigError(
            f"{said} is '{name}', which is no Keras backend dlrun runs on.",
            hint=f"Use one of: {', '.join(BACKENDS)}.",
        )
    if not backend.installed():
        raise ConfigError(
            f"{said} is '{name}', but {backend.package} is not installed here.",
            hint=f"Install it: {backend.install}",
        )
    return backend


@dataclass
class Runtime:
    """One process's engine: its backend, its distribution and its place among the
    processes of a multi-process run.

    Args:
        backend: the Keras backend.
        strategy: `distribute.strategy`, or None for one device.
        devices: the devices to train over (None: all the backend sees).
        processes: processes training together (JAX multi-process), 1 otherwise.
        process_id: this process's number; 0 is the chief.
        coordinator: host:port of process 0's coordination service.
        heartbeat_seconds: how long a silent process is waited for before the others
            stop (JAX's coordination service).
    """

    backend: Backend
    strategy: str | None = None
    devices: int | None = None
    processes: int = 1
    process_id: int = 0
    coordinator: str | None = None
    heartbeat_seconds: int = HEARTBEAT_SECONDS
    distribution: Distribution | None = field(default=None, init=False)
    _keras: ModuleType | None = field(default=None, init=False, repr=False)

    @classmethod
    def for_config(
        cls,
        config: Any,
        *,
        processes: int | None = None,
        process_id: int | None = None,
        coordinator: str | None = None,
    ) -> Runtime:
        """The runtime a config asks for; multi-process settings from the arguments, else
        the KERAS_DISTRIBUTION_* environment."""
        backend = pick_backend(config.backend, where="backend")
        dist = config.distribute
        env = os.environ
        processes = processes or int(env.get(ENV_PROCESSES, "1") or 1)
        if process_id is None:
            process_id = int(env.get(ENV_PROCESS_ID, "0") or 0)
        coordinator = coordinator or env.get(ENV_COORDINATOR) or None
        return cls(
            backend,
            strategy=dist.strategy if dist is not None else None,
            devices=dist.devices if dist is not None else None,
            processes=processes,
            process_id=process_id,
            coordinator=coordinator,
            heartbeat_seconds=dist.heartbeat_seconds if dist is not None else HEARTBEAT_SECONDS,
        )

    @property
    def is_chief(self) -> bool:
        return self.process_id == 0

    @property
    def replicas(self) -> int:
        return self.distribution.replicas if self.distribution is not None else 1

    @property
    def shard(self) -> Shard | None:
        return self.distribution.shard if self.distribution is not None else None

    def start(self, verbose: bool = False) -> ModuleType:
        """Import Keras on this runtime's backend (once), join the other processes, and
        lay out the distribution; returns keras."""
        if self._keras is not None:
            return self._keras
        loaded = sys.modules.get("keras")
        if loaded is not None and loaded.backend.backend() != self.backend.name:
            raise FatalError(
                f"this process runs Keras on {loaded.backend.backend()} already; "
                f"{self.backend.name} needs a process of its own.",
                hint="Run dlrun in a new process (sweep workers are).",
            )
        os.environ["KERAS_BACKEND"] = self.backend.name
        os.environ.update(self.backend.xla_env(dict(os.environ)))
        if self.strategy is not None:  # devices per process: distribute.devices is the total
            each = -(-(self.devices or 1) // self.processes)
            os.environ.update(self.backend.devices_env(each, dict(os.environ)))
        from dlrun.tfenv import load_keras

        keras = load_keras(verbose, cap_arenas=self.backend.malloc_arenas)
        self.backend.after_import(keras)
        if self.processes > 1:
            self._join()
        if self.strategy is not None:
            assert self.backend.distribution is not None  # `dlrun check` refuses the rest
            self.distribution = self.backend.distribution(
                keras, self.strategy, self.devices, self.processes, self.process_id
            )
        self._keras = keras
        return keras

    def _join(self) -> None:
        """Start (chief) or join the coordination service of a multi-process run."""
        import jax

        jax.distributed.initialize(
            coordinator_address=self.coordinator,
            num_processes=self.processes,
            process_id=self.process_id,
            heartbeat_timeout_seconds=self.heartbeat_seconds,
        )

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Where models are built and compiled: the strategy's scope, if any."""
        if self.distribution is None:
            yield
            return
        with self.distribution.scope():
            yield

    def local(self, model: Any) -> Any:
        """A model that predicts here: `model`, or a one-device copy of it."""
        return self.distribution.local(model) if self.distribution is not None else model

    def describe(self) -> dict[str, Any]:
        """What meta.json records of it."""
        found: dict[str, Any] = {"backend": self.backend.name}
        if self.strategy is not None:
            found.update(strategy=self.strategy, replicas=self.replicas)
        if self.processes > 1:
            found["processes"] = self.processes
        return found

    def batch_split(self, batch_size: int) -> str | None:
        """How a global batch is shared out, for the log; None on one device."""
        if self.distribution is None:
            return None
        sizes = list(chunks(batch_size, self.replicas))
        each = str(sizes[0]) if len(set(sizes)) == 1 else "/".join(map(str, sizes))
        where = f" in {self.processes} processes" if self.processes > 1 else ""
        return (
            f"{self.strategy} over {self.replicas} devices{where}: "
            f"global batch {batch_size} = {self.replicas} x {each}"
        )


_current: Runtime | None = None


def current() -> Runtime:
    """This process's runtime: the one a command started, else TensorFlow (or
    KERAS_BACKEND's) on one device, made on first use."""
    global _current
    if _current is None:
        _current = Runtime(pick_backend(None))
    return _current


def use(runtime: Runtime) -> Runtime:
    """Make `runtime` this process's runtime (once Keras is imported, only one of its
    backend)."""
    global _current
    _current = runtime
    return runtime
