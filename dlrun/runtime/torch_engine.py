"""PyTorch: one process on one device. `keras.distribution` has no PyTorch support yet
(`data_parallel` should take it when Keras ships it), Keras's PyTorch trainer runs one
batch per call, and torch tensors are dense: sparse multi-hot batches are made dense on
the way in (a batch of 512 rows of a 10,000-word vocabulary is 20 MB of float32). On a
CPU, Keras's LSTM and GRU run on torch's fused kernels, as they do on CUDA (`_fused_rnns`)."""

from __future__ import annotations

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
    lstm_loop, gru_loop = backend.lstm, backend.gru
    tanh = (keras.activations.tanh, torch.tanh, keras.ops.tanh)
    sigmoid = (keras.activations.sigmoid, torch.sigmoid, keras.ops.sigmoid)

    def fusable(mask: Any, bias: Any, activation: Any, recurrent: Any, unroll: bool) -> bool:
        return (
            mask is None
            and not unroll
            and bias is not None
            and activation in tanh
            and recurrent in sigmoid
            and not torch.jit.is_tracing()
            and not getattr(torch.compiler, "is_compiling", lambda: False)()
        )

    def inputs_as(kernel: Any, inputs: Any, go_backwards: bool) -> Any:
        inputs = rnn.convert_to_tensor(inputs).to(kernel.dtype)
        return torch.flip(inputs, dims=[1]) if go_backwards else inputs

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
        if not (batch_first and fusable(mask, bias, activation, recurrent_activation, unroll)):
            return lstm_loop(
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
        inputs = inputs_as(kernel, inputs, go_backwards)
        return rnn._cudnn_lstm(
            inputs,
            rnn.convert_to_tensor(initial_state_h).to(kernel.dtype),
            rnn.convert_to_tensor(initial_state_c).to(kernel.dtype),
            kernel,
            rnn.convert_to_tensor(recurrent_kernel),
            rnn.convert_to_tensor(bias),
            return_sequences=return_sequences,
            device=inputs.device,
        )

    def gru(
        inputs: Any,
        initial_state: Any,
        mask: Any,
        kernel: Any,
        recurrent_kernel: Any,
        bias: Any,
        activation: Any,
        recurrent_activation: Any,
        return_sequences: bool = False,
        go_backwards: bool = False,
        unroll: bool = False,
        reset_after: bool = True,
    ) -> Any:
        if not (reset_after and fusable(mask, bias, activation, recurrent_activation, unroll)):
            return gru_loop(
                inputs,
                initial_state,
                mask,
                kernel,
                recurrent_kernel,
                bias,
                activation,
                recurrent_activation,
                return_sequences=return_sequences,
                go_backwards=go_backwards,
                unroll=unroll,
                reset_after=reset_after,
            )
        kernel = rnn.convert_to_tensor(kernel)
        inputs = inputs_as(kernel, inputs, go_backwards)
        return rnn._cudnn_gru(
            inputs,
            rnn.convert_to_tensor(initial_state).to(kernel.dtype),
            kernel,
            rnn.convert_to_tensor(recurrent_kernel),
            rnn.convert_to_tensor(bias),
            return_sequences=return_sequences,
            device=inputs.device,
        )

    lstm.dlrun_fused = True  # type: ignore[attr-defined]
    backend.lstm, backend.gru = lstm, gru


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
