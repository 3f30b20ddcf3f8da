"""TensorFlow: the default backend; `mirrored` is `tf.distribute.MirroredStrategy`.

On a machine with one CPU and no accelerator, MirroredStrategy over N devices splits
the CPU into N logical devices first (`tf.config.set_logical_device_configuration`),
as TensorFlow's own tests of the strategy do, so that it can be tried out anywhere.
"""

from __future__ import annotations

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


BACKEND = Backend(
    name="tensorflow",
    package="tensorflow",
    install="pip install dlrun (TensorFlow is one of its dependencies)",
    strategies=("mirrored",),
    one_step_strategies=("mirrored",),
    thread_env=_threads,
    distribution=_mirrored,
    xla_env=lambda env: xla_flags(env, XLA_CPU_FLAGS),
)
