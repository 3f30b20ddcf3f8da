"""PyTorch: one process on one device. `keras.distribution` has no PyTorch support yet
(`data_parallel` should take it when Keras ships it), Keras's PyTorch trainer runs one
batch per call, and torch tensors are dense: sparse multi-hot batches are made dense on
the way in (a batch of 512 rows of a 10,000-word vocabulary is 20 MB of float32). On a
CPU, Keras's LSTM runs on torch's fused kernel, as it does on CUDA (`_fused_lstm`)."""

from __future__ import annotations

import sys
from typing import Any

from dlrun.runtime.engine import Backend


def _threads(threads: int, env: dict[str, str]) -> dict[str, str]:
    # torch sizes its intra-op pool from OMP_NUM_THREADS at import: on a loaded CPU the
    # default (every core, per process) collapses its throughput.
    return {key: str(threads) for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS") if key not in env}


def _fused_lstm(keras: Any) -> None:
    """Run Keras's LSTM on torch's fused kernel on a CPU too.

    Keras's torch backend takes torch's own LSTM kernel (`torch._VF.lstm`, through its
    `_cudnn_lstm`) only on CUDA; on a CPU it loops over the time steps in Python: IMDB's
    Embedding 32 + LSTM 32 trained 48 samples/s that way and 343 fused, with the same
    predictions before and after an epoch. What the kernel cannot take (a mask,
    `unroll`, no bias, other activations, a trace for export) keeps Keras's loop.
    Reads two private Keras functions: check them on a Keras upgrade.
    """
    import torch

    backend = sys.modules["keras.src.backend"]
    rnn = sys.modules["keras.src.backend.torch.rnn"]
    loop = backend.lstm
    if getattr(loop, "dlrun_fused", False):  # another runtime of this process did it
        return
    tanh = (keras.activations.tanh, torch.tanh, keras.ops.tanh)
    sigmoid = (keras.activations.sigmoid, torch.sigmoid, keras.ops.sigmoid)

    def lstm(
        inputs: Any,
        initial_state_h: Any,
        initial_state_c: Any,
        mask: Any,
        kernel: Any,
        recurrent_kernel: Any,
        bias: Any,
        activation: Any,
        recurrent_activation: Any,
        return_sequences: bool = False,
        go_backwards: bool = False,
        unroll: bool = False,
        batch_first: bool = True,
    ) -> Any:
        fused = (
            mask is None
            and not unroll
            and bias is not None
            and batch_first
            and activation in tanh
            and recurrent_activation in sigmoid
            and not torch.jit.is_tracing()
            and not getattr(torch.compiler, "is_compiling", lambda: False)()
        )
        if not fused:
            return loop(
                inputs,
                initial_state_h,
                initial_state_c,
                mask,
                kernel,
                recurrent_kernel,
                bias,
                activation,
                recurrent_activation,
                return_sequences=return_sequences,
                go_backwards=go_backwards,
                unroll=unroll,
                batch_first=batch_first,
            )
        kernel = rnn.convert_to_tensor(kernel)
        dtype = kernel.dtype
        inputs = rnn.convert_to_tensor(inputs).to(dtype)
        if go_backwards:
            inputs = torch.flip(inputs, dims=[1])
        return rnn._cudnn_lstm(
            inputs,
            rnn.convert_to_tensor(initial_state_h).to(dtype),
            rnn.convert_to_tensor(initial_state_c).to(dtype),
            kernel,
            rnn.convert_to_tensor(recurrent_kernel),
            rnn.convert_to_tensor(bias),
            return_sequences=return_sequences,
            device=inputs.device,
        )

    lstm.dlrun_fused = True  # type: ignore[attr-defined]
    backend.lstm = lstm


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
    after_import=_fused_lstm,
)
