"""JAX: `data_parallel` is `keras.distribution.DataParallel`, over one process's devices
or several processes' (`keras.distribution`'s multi-process setup, started by
`dlrun.runtime.Runtime.start`).

Each process feeds its own slice of every global batch (`Shard`), and every batch holds
a multiple of the devices: JAX lays a batch out across them and refuses one that does
not split evenly. A trained model predicts through a copy on one local device, since
fetching outputs laid across other processes' devices is impossible.

Sparse batches are made dense on the way in. Keras hands JAX a tf.SparseTensor batch as a
BCOO array sized by that batch's count of non-zeros, which differs from batch to batch, so
JAX compiled the training step again for every batch: IMDB dense (multi-hot) ran at 147
samples/s against plain Keras's 2,373 on dense rows (bench/backends.py).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from dlrun.runtime.engine import Backend, Distribution, Shard, xla_flags

DEVICE_FLAG = "--xla_force_host_platform_device_count"
THREADS_FLAG = "--xla_cpu_multi_thread_eigen"


def _threads(threads: int, env: dict[str, str]) -> dict[str, str]:
    # XLA's CPU client sizes its pool from the cores it is allowed on; Eigen's
    # intra-op threads follow this flag.
    return xla_flags(env, {THREADS_FLAG: "false"}) if threads == 1 else {}


def _cpu_devices(devices: int, env: dict[str, str]) -> dict[str, str]:
    return xla_flags(env, {DEVICE_FLAG: str(devices)}) if devices >= 2 else {}


def _data_parallel(
    keras: Any, strategy: str, devices: int | None, processes: int, process_id: int
) -> Distribution:
    import jax

    local = len(jax.local_devices())
    chosen = _each_process(jax, min(devices // processes, local) if devices else local)
    parallel = keras.distribution.DataParallel(devices=chosen)
    # dlrun's pipeline gives each process its own part of a batch (Shard), so Keras
    # must not shard the dataset again.
    parallel.auto_shard_dataset = False
    keras.distribution.set_distribution(parallel)
    replicas = len(chosen)
    return Distribution(
        strategy,
        replicas,
        scope=parallel.scope,
        shard=Shard(multiple=replicas, index=process_id, count=processes),
        local=lambda model: _local_copy(keras, model),
    )


def _each_process(jax: Any, per_process: int) -> list[Any]:
    """The first `per_process` devices of every process."""
    taken: dict[int, list[Any]] = {}
    for device in jax.devices():
        taken.setdefault(device.process_index, [])
        if len(taken[device.process_index]) < per_process:
            taken[device.process_index].append(device)
    return [d for group in taken.values() for d in group]


def _local_copy(keras: Any, model: Any) -> Any:
    """`model` rebuilt with its trained weights outside the distribution, on this
    process's first device (`model` itself when it is such a copy already)."""
    if getattr(model, "_dlrun_local", False):
        return model
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        with tempfile.TemporaryDirectory(prefix="dlrun-local-") as tmp:
            path = Path(tmp) / "model.keras"
            model.save(path)
            copy = keras.saving.load_model(path, safe_mode=True)
    finally:
        keras.distribution.set_distribution(previous)
    copy._dlrun_local = True
    return copy


BACKEND = Backend(
    name="jax",
    package="jax",
    install="pip install 'dlrun[jax]'",
    strategies=("data_parallel",),
    sparse_inputs=False,
    array_batches=True,
    thread_env=_threads,
    distribution=_data_parallel,
    devices_env=_cpu_devices,
    # XLA's CPU threads contend for two arenas: bench/book_sequence_imdb.py (plain Keras,
    # LSTM, 2 epochs of 4,096 reviews) took 8.81-9.18 s to fit with MALLOC_ARENA_MAX=2 and
    # 8.33-8.76 s without, in 3 alternating pairs, most of it in the first epoch
    # (compiling the step); PyTorch's convnet ran no slower capped, so it keeps the cap
    malloc_arenas=False,
)
