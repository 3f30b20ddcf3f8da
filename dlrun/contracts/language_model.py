"""`language_model`: predict the next token of a text (book ch. 8: text generation).

A batch is (a window of token ids, the next token's id); the head is a softmax over the
vocabulary, compiled with sparse categorical crossentropy, so a split's perplexity is
exp(loss). The baseline is the unigram model of the training tokens. Each epoch writes
samples at the book's temperatures (the run's `samples.txt`, TensorBoard's text tab),
and `dlrun generate RUN --prompt ...` continues a prompt.

Example:

```yaml
task: language_model
data: {source: text_file, path: corpus.txt, level: char, sequence_length: 60, step: 3}
model: {kind: rnn, cell: lstm, units: [128]}
```
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from dlrun.contracts.base import Baseline
from dlrun.contracts.supervised import Supervised
from dlrun.data.prepare import apply_state
from dlrun.data.representations.token_windows import decode, encode, unigram_perplexity
from dlrun.tasks import Head

TEMPERATURES = (0.2, 0.5, 1.0)
# Tokens each epoch's samples add to their prompt.
SAMPLE_LENGTH = 200
SAMPLE_SEED = 1


def perplexity(loss: float) -> float:
    """exp(mean crossentropy): the number of tokens the model hesitates between."""
    return math.exp(loss) if loss < 700 else math.inf


def sample(probabilities: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """One token id from a softmax reweighted by `temperature` (the book's
    `reweight_distribution`): low temperatures pick the likeliest tokens."""
    logits = np.log(np.maximum(probabilities.astype(np.float64), 1e-12)) / temperature
    weights = np.exp(logits - logits.max())
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def continue_ids(
    model: Any,
    prompt: np.ndarray,
    length: int,
    window: int,
    temperatures: Sequence[float],
    seed: int,
) -> list[np.ndarray]:
    """`length` token ids sampled one after the other after `prompt`, at each temperature,
    each predicted from the last `window` ids (padded on the left with 0 while there are
    fewer). The temperatures are one batch: one model call per token for all of them."""
    rngs = [np.random.default_rng(seed) for _ in temperatures]
    context = np.zeros((len(temperatures), window + length), dtype=np.int32)
    start = window - min(len(prompt), window)
    context[:, start:window] = prompt[len(prompt) - (window - start) :]
    steps = model.steps_per_execution
    # one predict step per call, compiled once (as `dlrun.evaluation.predict_batches`)
    model.steps_per_execution, model.predict_function = 1, None
    try:
        for i in range(length):
            probabilities = np.asarray(model.predict_on_batch(context[:, i : i + window]))
            for row, (temperature, rng) in enumerate(zip(temperatures, rngs, strict=True)):
                context[row, window + i] = sample(probabilities[row], temperature, rng)
    finally:
        model.steps_per_execution, model.predict_function = steps, None
    return list(context[:, window:])


def generate_text(
    model: Any,
    state: dict[str, Any],
    prompt: str,
    length: int,
    temperatures: Sequence[float],
    seed: int,
) -> tuple[list[str], list[str]]:
    """The prompt's continuation at each temperature, and the prompt's tokens that the
    vocabulary lacks (read as [UNK])."""
    ids, unknown = encode(prompt, state)
    window = int(state["sequence_length"])
    continued = continue_ids(model, ids, length, window, temperatures, seed)
    return [decode(c, state) for c in continued], unknown


def _unigram(scored: Any) -> dict[str, float] | None:
    """The next token drawn from the training tokens' frequencies: its perplexity, the
    crossentropy (`loss`) that gives it, and the accuracy of always naming the most
    frequent token."""
    if scored.train_x is None or scored.eval_x is None or not scored.state:
        return None
    train = scored.train_x
    if scored.raw_train:
        train = apply_state(train, scored.state)
    # the windows' targets as vocabulary ids: the raw ones index the text's own tokens
    train_y, eval_y = train.targets(), scored.eval_x.targets()
    value = unigram_perplexity(train_y, eval_y, int(scored.state["outputs"]))
    most = np.bincount(train_y).argmax()
    return {
        "perplexity": value,
        "loss": float(np.log(value)),
        "accuracy": float((eval_y == most).mean()),
    }


class LanguageModel(Supervised):
    name = "language_model"
    tasks: ClassVar[tuple[str, ...]] = ("language_model",)
    # one softmax over the vocabulary per window: predictions of a whole split would
    # hold windows x vocabulary floats
    scores_predictions = False
    baselines: ClassVar[dict[str, tuple[str, Baseline]]] = {
        "unigram": ("unigram frequencies", _unigram)
    }

    def metrics(self, config: Any) -> list[str]:
        return ["accuracy"]

    def default_metric(self, config: Any) -> str:
        return "val_loss"  # perplexity is exp(loss): the same ranking, and it is logged

    def head(self, config: Any) -> Head:
        return Head("softmax", "sparse_categorical_crossentropy", ["accuracy"])

    def problems(self, config: Any) -> list[str]:
        problems = []
        if config.data.source != "text_file":
            problems.append(
                f"task language_model learns from text, and data.source '{config.data.source}' "
                "gives no text to cut into windows. Use data.source: text_file (a text file, a "
                "directory of .txt files, or a CSV text column)."
            )
        for key, set_ in (
            ("loss", config.train.loss != "auto"),
            ("class_weight", config.train.class_weight is not None),
        ):
            if set_:
                problems.append(
                    f"train.{key}: a language model predicts the next token with sparse "
                    f"categorical crossentropy over its vocabulary. Remove train.{key}."
                )
        return problems

    def evaluate(
        self, model: Any, dataset: Any, callbacks: list[Any] | None = None
    ) -> dict[str, float]:
        metrics = super().evaluate(model, dataset, callbacks)
        metrics["perplexity"] = perplexity(metrics["loss"])
        return metrics

    def generates(self, config: Any) -> Literal["text"]:
        return "text"

    def epoch_callbacks(self, directory: Path, prepared: Any, config: Any) -> list[Any]:
        from dlrun.contracts.callbacks import EpochText

        state = prepared.state
        source = prepared.validation if prepared.validation is not None else prepared.train
        prompt_ids = source.x.windows(np.array([0]))[0]  # the first window it is scored on
        prompt = decode(prompt_ids, state)
        window = int(state["sequence_length"])

        def make(model: Any) -> str:
            parts = [f"prompt: {prompt!r}"]
            made = continue_ids(model, prompt_ids, SAMPLE_LENGTH, window, TEMPERATURES, SAMPLE_SEED)
            for temperature, ids in zip(TEMPERATURES, made, strict=True):
                parts.append(f"temperature {temperature}: {decode(ids, state)!r}")
            return "\n".join(parts)

        tensorboard = directory / "tensorboard" if config.train.tensorboard else None
        return [EpochText(make, directory, tensorboard)]
