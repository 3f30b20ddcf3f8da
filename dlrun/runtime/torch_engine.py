"""PyTorch: one process on one device. `keras.distribution` has no PyTorch support yet
(`data_parallel` should take it when Keras ships it), Keras's PyTorch trainer runs one
batch per call, and torch tensors are dense: sparse multi-hot batches are made dense on
the way in (a batch of 512 rows of a 10,000-word vocabulary is 20 MB of float32)."""

from __future__ import annotations

from dlrun.runtime.engine import Backend


def _threads(threads: int, env: dict[str, str]) -> dict[str, str]:
    # torch sizes its intra-op pool from OMP_NUM_THREADS at import: on a loaded CPU the
    # default (every core, per process) collapses its throughput.
    return {key: str(threads) for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if key not in env}


BACKEND = Backend(
    name="torch",
    package="torch",
    install="pip install 'dlrun[torch]' (for the CPU build: pip install torch "
    "--index-url https://download.pytorch.org/whl/cpu first)",
    sparse_inputs=False,
    array_batches=True,
    steps_per_execution=False,
    xla=False,
    thread_env=_threads,
)
