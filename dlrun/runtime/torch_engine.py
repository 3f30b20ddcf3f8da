"""PyTorch: one process on one device. `keras.distribution` has no PyTorch support yet
(`data_parallel` should take it when Keras ships it), Keras's PyTorch trainer runs one
batch per call, and torch tensors are dense: sparse multi-hot batches are made dense on
the way in (a batch of 512 rows of a 10,000-word vocabulary is 20 MB of float32). On a
CPU, Keras's LSTM and GRU run on torch's fused kernels, as they do on CUDA (`_fused_rnns`)."""

from __future__ import annotations

import inspect
import sys
from typing import Any

from dlrun.runtime.engine import Backend


def _threads(threads: int, env: dict[str, str]) -> dict[str, str]:
    # torch sizes its intra-op pool from OMP_NUM_THREADS at import: on a loaded CPU the
    # default (every core, per process) collapses its throughput.
    return {key: str(threads) for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if key not in env}


def _fused_rnns(keras: Any) -> None:
    """Run Keras's LSTM and GRU on torch's fused kernels on a CPU too.

    Keras's torch backend takes torch's own kernels (`torch._VF.lstm` and `_VF.gru`,
    through its `_cudnn_lstm` and `_cudnn_gru`) only on CUDA; on a CPU it loops over the
    time steps in Python: IMDB's Embedding 32 + LSTM 32 trained 48 samples/s that way and
    343 fused, with the same predictions before and after an epoch. What the kernels
    cannot take (a mask, `unroll`, no bias, other activations, GRU's `reset_after=False`,
    a trace for export) keeps Keras's loop. Reads private Keras functions: check them on
    a Keras upgrade.
    """
    import torch

    backend = sys.modules["keras.src.backend"]
    rnn = sys.modules["keras.src.backend.torch.rnn"]
    if getattr(backend.lstm, "dlrun_fused", False):  # another runtime of this process did it
        return
    tanh = (keras.activations.tanh, torch.tanh, keras.ops.tanh)
    sigmoid = (keras.activations.sigmoid, torch.sigmoid, keras.ops.sigmoid)

    def fused(loop: Any, kernel_call: str, states: tuple[str, ...], needs: str) -> Any:
        """`loop` (Keras's `lstm` or `gru`), sent to the kernel `rnn.<kernel_call>` when it
        can take the call: `states` name the initial states it passes on, `needs` the
        argument of the call that the kernel needs true (`batch_first`, `reset_after`)."""
        signature = inspect.signature(loop)

        def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            a = bound.arguments
            if not (
                a[needs]
                and a["mask"] is None
                and not a["unroll"]
                and a["bias"] is not None
                and a["activation"] in tanh
                and a["recurrent_activation"] in sigmoid
                and not torch.jit.is_tracing()
                and not getattr(torch.compiler, "is_compiling", lambda: False)()
            ):
                return loop(*args, **kwargs)
            kernel = rnn.convert_to_tensor(a["kernel"])
            inputs = rnn.convert_to_tensor(a["inputs"]).to(kernel.dtype)
            if a["go_backwards"]:
                inputs = torch.flip(inputs, dims=[1])
            return getattr(rnn, kernel_call)(
                inputs,
                *(rnn.convert_to_tensor(a[state]).to(kernel.dtype) for state in states),
                kernel,
                rnn.convert_to_tensor(a["recurrent_kernel"]),
                rnn.convert_to_tensor(a["bias"]),
                return_sequences=a["return_sequences"],
                device=inputs.device,
            )

        call.dlrun_fused = True  # type: ignore[attr-defined]
        return call

    backend.lstm = fused(
        backend.lstm, "_cudnn_lstm", ("initial_state_h", "initial_state_c"), "batch_first"
    )
    backend.gru = fused(backend.gru, "_cudnn_gru", ("initial_state",), "reset_after")


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
    after_import=_fused_rnns,
)
