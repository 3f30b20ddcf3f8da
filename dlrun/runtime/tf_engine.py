"""TensorFlow: the default backend; `mirrored` is `tf.distribute.MirroredStrategy`.

On a machine with one CPU and no accelerator, MirroredStrategy over N devices splits
the CPU into N logical devices first (`tf.config.set_logical_device_configuration`),
as TensorFlow's own tests of the strategy do, so that it can be tried out anywhere.
A Dense layer multiplies a sparse batch (multi-hot, tf-idf) by `tf.sparse.sparse_dense_matmul`
(`_sparse_matmul`).
"""

from __future__ import annotations

import sys
from typing import Any

from dlrun.runtime.engine import Backend, Distribution, xla_flags

# XLA:CPU's defaults trade memory for concurrency and emit fusions through its newer
# emitters; on this 2-core CPU both slowed the recurrent steps dlrun compiles with XLA
# (`train.jit_compile`, on for rnn): a Jena-shaped GRU 32 trained 1.14-1.22x faster without
# them (bench/xla_flags.py), and the ordered-IMDB LSTM's run 1.19x, peaking 74 MB lower
# (bench/sequence_imdb.py); a convnet showed no consistent change.
XLA_CPU_FLAGS = {
    "--xla_cpu_enable_concurrency_optimized_scheduler": "false",
    "--xla_cpu_use_fusion_emitters": "false",
}


def _threads(threads: int, env: dict[str, str]) -> dict[str, str]:
    keys = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
    return {key: str(threads) for key in keys if key not in env}


def _mirrored(
    keras: Any, strategy: str, devices: int | None, processes: int, process_id: int
) -> Distribution:
    import tensorflow as tf

    accelerators = tf.config.list_physical_devices("GPU")
    if accelerators:
        names = [d.name.replace("physical_device:", "") for d in accelerators][:devices]
    else:
        wanted = devices or 1
        cpu = tf.config.list_physical_devices("CPU")[0]
        if wanted > 1:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(wanted)]
            )
        names = [d.name for d in tf.config.list_logical_devices("CPU")][:wanted]
    mirrored = tf.distribute.MirroredStrategy(devices=names)
    return Distribution(strategy, mirrored.num_replicas_in_sync, scope=mirrored.scope)


def _sparse_matmul(keras: Any) -> None:
    """Multiply a sparse batch by a dense kernel with `tf.sparse.sparse_dense_matmul`.

    Keras's TensorFlow backend does it through `tf.nn.embedding_lookup_sparse`, whose
    gradient is the rows a batch touched, for embedding tables too large to update whole;
    Keras 3's optimizers make that gradient dense to update the kernel anyway. On this CPU
    the lookup was much the slower: IMDB dense (multi-hot 10,000 words, Dense 16) fitted
    in 1.9 s against 3.0 s with the same metrics to 4 places (bench/own_time.py's fit),
    and the first layer alone took 0.017 s against 0.09 s on 25,000 test reviews. Reads
    a private Keras module: check it on a Keras upgrade.
    """
    import tensorflow as tf

    numpy = sys.modules["keras.src.backend.tensorflow.numpy"]
    keras_matmul = numpy.matmul
    if getattr(keras_matmul, "dlrun_sparse", False):  # another runtime of this process did it
        return

    def matmul(x1: Any, x2: Any) -> Any:
        if isinstance(x1, tf.SparseTensor) and x1.shape.rank == 2:
            x2 = numpy.convert_to_tensor(x2)
            if not isinstance(x2, tf.SparseTensor) and x2.shape.rank == 2:
                # Keras's own dtypes: computed in a float type, returned in the inputs'
                compute = numpy.dtypes.result_type(x1.dtype, x2.dtype, float)
                product = tf.sparse.sparse_dense_matmul(tf.cast(x1, compute), tf.cast(x2, compute))
                product.set_shape([x1.shape[0], x2.shape[1]])
                return tf.cast(product, numpy.dtypes.result_type(x1.dtype, x2.dtype))
        return keras_matmul(x1, x2)

    matmul.dlrun_sparse = True  # type: ignore[attr-defined]
    numpy.matmul = matmul


BACKEND = Backend(
    name="tensorflow",
    package="tensorflow",
    install="pip install dlrun (TensorFlow is one of its dependencies)",
    strategies=("mirrored",),
    one_step_strategies=("mirrored",),
    dense_strategies=("mirrored",),
    thread_env=_threads,
    distribution=_mirrored,
    xla_env=lambda env: xla_flags(env, XLA_CPU_FLAGS),
    after_import=_sparse_matmul,
)
