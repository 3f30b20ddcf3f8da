"""dlrun.runtime in this process: choosing a backend, and how a data-parallel fit's
batches are cut (the end-to-end runs on each backend are tests/test_backends.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from dlrun.data.pipeline import kept_rows, make_dataset, training_dataset
from dlrun.data.splits import Split
from dlrun.errors import ConfigError
from dlrun.runtime import BACKENDS, Backend, Runtime, Shard, pick_backend
from dlrun.runtime.processes import ENGINE_LINE, PEER_DIED


def _labels(dataset) -> list[np.ndarray]:
    return [y.numpy() for _, y in dataset]


def test_each_process_gets_its_own_contiguous_part_of_every_batch() -> None:
    """Two processes of two devices each: every batch is cut to a multiple of the four
    devices, and the processes' parts together are exactly the kept rows, each once."""
    split = Split(np.arange(23, dtype=np.float32)[:, None], np.arange(23))
    parts = [
        _labels(make_dataset(split, 8, shard=Shard(multiple=4, index=i, count=2))) for i in range(2)
    ]
    assert [len(b) for b in parts[0]] == [4, 4, 2]  # 8, 8, then 7 cut to 4
    assert [list(b) for b in parts[1]] == [[4, 5, 6, 7], [12, 13, 14, 15], [18, 19]]
    kept = sorted(np.concatenate([*parts[0], *parts[1]]))
    assert kept == [*range(20)]
    assert kept_rows(23, 8, Shard(multiple=4, count=2)) == 20


def test_a_last_batch_smaller_than_the_devices_is_left_out_and_not_counted() -> None:
    split = Split(np.arange(17, dtype=np.float32)[:, None], np.arange(17))
    dataset, steps = training_dataset(split, 8, seed=1, epochs=(0, 2), shard=Shard(multiple=2))
    batches = _labels(dataset)
    assert steps == 2 and len(batches) == 4  # the 1-row remainder of each epoch is dropped
    assert all(len(b) == 8 for b in batches)
    for epoch in (batches[:2], batches[2:]):
        assert len(set(np.concatenate(epoch))) == 16
    assert kept_rows(17, 8, Shard(multiple=2)) == 16
    assert kept_rows(17, 8, None) == 17


def test_an_unknown_backend_names_the_setting_and_the_choices(monkeypatch) -> None:
    monkeypatch.setenv("KERAS_BACKEND", "mxnet")
    with pytest.raises(ConfigError) as error:
        pick_backend(None)
    assert "KERAS_BACKEND is 'mxnet'" in error.value.message
    assert "tensorflow, jax, torch" in error.value.hint
    assert pick_backend("tensorflow").name == "tensorflow"  # an explicit choice wins


def test_a_backend_not_installed_says_what_to_install(monkeypatch) -> None:
    missing = Backend(name="nope", package="dlrun_no_such_package", install="pip install nope")
    monkeypatch.setitem(BACKENDS, "nope", missing)
    with pytest.raises(ConfigError) as error:
        pick_backend("nope")
    assert "dlrun_no_such_package is not installed" in error.value.message
    assert error.value.hint == "Install it: pip install nope"


def test_the_log_says_how_the_global_batch_is_shared() -> None:
    runtime = Runtime(BACKENDS["jax"], strategy="data_parallel", processes=2)
    assert runtime.batch_split(64) is None  # not started: no distribution yet
    from dlrun.runtime.engine import Distribution

    runtime.distribution = Distribution("data_parallel", 4)
    assert runtime.batch_split(64) == (
        "data_parallel over 4 devices in 2 processes: global batch 64 = 4 x 16"
    )
    assert runtime.describe() == {
        "backend": "jax",
        "strategy": "data_parallel",
        "replicas": 4,
        "processes": 2,
    }


def test_the_supervisor_keeps_engine_noise_and_knows_a_dead_peer() -> None:
    noise = [
        "F1207 02:31:41.137785   22649 client.h:80] Terminating process because ...",
        "    @     0x7fe5780eb505  std::_Function_handler<>::_M_invoke()",
        "*** Check failure stack trace: ***",
        "RPC: /xla.coordination.CoordinationService/PollForError [type.googleapis.com/...]",
    ]
    assert all(ENGINE_LINE.search(line) for line in noise)
    assert not ENGINE_LINE.search("error: the run failed: the loss became NaN")
    assert PEER_DIED.search("UNAVAILABLE: Task 1 heartbeat timeout. This indicates that")


def test_a_sweep_worker_is_capped_on_every_backend_even_with_the_users_own_xla_flags(
    monkeypatch,
) -> None:
    from dlrun.sweep.worker import worker_env

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's own cap wins
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS", raising=False)
    env = worker_env(jobs=2)
    assert env["XLA_FLAGS"] == (
        "--xla_force_host_platform_device_count=2 --xla_cpu_multi_thread_eigen=false"
    )
    assert env["OMP_NUM_THREADS"] == "2"
    assert env["TF_NUM_INTRAOP_THREADS"] == "1"
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")
    assert worker_env(jobs=2)["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true"


def test_tensorflow_compiles_with_the_xla_cpu_flags_that_ran_faster_keeping_the_users(
    monkeypatch,
) -> None:
    """XLA:CPU's concurrency scheduler and fusion emitters slowed dlrun's recurrent steps
    here (README): a TensorFlow runtime turns them off before XLA reads its flags, and a
    value the user set stays."""
    from dlrun.runtime import BACKENDS, Runtime

    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_fusion_emitters=true")
    Runtime(BACKENDS["tensorflow"]).start()
    flags = os.environ["XLA_FLAGS"].split()
    assert flags == [
        "--xla_cpu_use_fusion_emitters=true",
        "--xla_cpu_enable_concurrency_optimized_scheduler=false",
    ]
    assert BACKENDS["jax"].xla_env({}) == {}  # JAX's steps ran the same either way


def test_a_flag_is_taken_as_set_only_by_its_own_name() -> None:
    """A user's flag whose name only begins with one of dlrun's does not keep dlrun's out."""
    from dlrun.runtime.engine import xla_flags

    env = {"XLA_FLAGS": "--xla_cpu_use_fusion_emitters_extra=1"}
    assert xla_flags(env, {"--xla_cpu_use_fusion_emitters": "false"}) == {
        "XLA_FLAGS": "--xla_cpu_use_fusion_emitters_extra=1 --xla_cpu_use_fusion_emitters=false"
    }
    assert xla_flags({"XLA_FLAGS": "--a=1"}, {"--a": "2", "--b": "3"}) == {
        "XLA_FLAGS": "--a=1 --b=3"
    }


def test_tensorflow_multiplies_sparse_batches_by_sparse_dense_matmul_with_keras_results(
    monkeypatch,
) -> None:
    """A Dense layer on a sparse multi-hot batch runs tf.sparse.sparse_dense_matmul, not
    Keras's embedding lookup (1.6x slower on IMDB dense here, README), with the outputs
    and kernel gradients of the same batch made dense."""
    import tensorflow as tf

    from dlrun.runtime import BACKENDS, Runtime

    keras = Runtime(BACKENDS["tensorflow"]).start()

    def refused(*args, **kwargs):
        raise AssertionError("Keras's embedding lookup ran")

    monkeypatch.setattr(tf.nn, "embedding_lookup_sparse", refused)
    rng = np.random.default_rng(0)
    dense = (rng.random((6, 40)) < 0.2).astype(np.float32)
    dense[2] = 0.0  # a review with no known word
    sparse = tf.sparse.from_dense(dense)
    layer = keras.layers.Dense(5, activation="relu")
    layer.build((None, 40))
    results = []
    for batch in (sparse, tf.constant(dense)):
        with tf.GradientTape() as tape:
            out = layer(batch)
            loss = tf.reduce_sum(out * tf.range(5.0))
        results.append(
            (out.numpy(), [g.numpy() for g in tape.gradient(loss, layer.trainable_weights)])
        )
    (out_sparse, grads_sparse), (out_dense, grads_dense) = results
    assert out_sparse.shape == (6, 5) and out_sparse.dtype == np.float32
    np.testing.assert_allclose(out_sparse, out_dense, rtol=1e-6, atol=1e-6)
    for a, b in zip(grads_sparse, grads_dense, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def _batches(dataset) -> list[tuple[np.ndarray, ...]]:
    return [tuple(np.asarray(part) for part in batch) for batch in dataset]


@pytest.mark.parametrize("shard", [None, Shard(multiple=2), Shard(multiple=4, index=1, count=2)])
def test_jax_and_torch_get_the_tf_data_batches_gathered_by_numpy(monkeypatch, shard) -> None:
    """JAX and PyTorch are fed numpy batches (no TensorFlow iterator beside their own
    threads): the same rows in the same order as tf.data's, epoch by epoch, with the
    labels one-hot and each sample's loss weight where the fit asks for them."""
    import dlrun.runtime as runtime
    from dlrun.data.array_batches import ArrayBatches
    from dlrun.data.representations.token_windows import TokenWindows
    from dlrun.data.timeseries import Windows

    rows = np.arange(46, dtype=np.float32).reshape(23, 2)
    series = np.arange(60, dtype=np.float32).reshape(30, 2)
    splits = {
        "arrays": Split(rows, np.arange(23) % 3, loss_weight=0.25),
        "token windows": Split(
            TokenWindows(np.arange(40, dtype=np.int32) % 7, np.arange(0, 33, 3), 5, [], "char"),
            np.arange(11) % 7,
        ),
        "series windows": Split(
            Windows(
                series,
                series[:, 0].astype(np.float64),
                None,
                np.arange(20),
                4,
                2,
                1,
                False,
                0.0,
                mean=np.float32([1, 2]),
                std=np.float32([4, 8]),
            ),
            np.arange(20, dtype=np.float32),
        ),
    }

    def both(make, *args, **kwargs):
        monkeypatch.setattr(runtime, "_current", Runtime(BACKENDS["tensorflow"]))
        by_tf = make(*args, **kwargs)
        monkeypatch.setattr(runtime, "_current", Runtime(BACKENDS["jax"]))
        by_numpy = make(*args, **kwargs)
        if isinstance(by_tf, tuple):  # training_dataset's (dataset, steps)
            assert by_tf[1] == by_numpy[1]
            by_tf, by_numpy = by_tf[0], by_numpy[0]
        assert isinstance(by_numpy, ArrayBatches) and not isinstance(by_tf, ArrayBatches)
        return _batches(by_tf), _batches(by_numpy)

    for name, split in splits.items():
        one_hot = 3 if name == "arrays" else None
        for tf_batches, numpy_batches in (
            both(training_dataset, split, 8, seed=5, epochs=(1, 3), shard=shard, one_hot=one_hot),
            both(make_dataset, split, 8, shard=shard, one_hot=one_hot),
            both(make_dataset, split, 8, shard=shard, batch="xx"),
        ):
            assert len(numpy_batches) == len(tf_batches), name
            for ours, theirs in zip(numpy_batches, tf_batches, strict=True):
                assert len(ours) == len(theirs)
                for a, b in zip(ours, theirs, strict=True):
                    assert a.dtype == b.dtype and a.shape == b.shape, name
                    np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=name)
