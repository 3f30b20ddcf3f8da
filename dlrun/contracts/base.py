"""`Contract`: what training means for one kind of learning.

A contract says what a batch is, how the model is compiled, what is logged and watched,
how a split is scored and what a run draws and generates. The supervised tasks share
one (`supervised`); the generative ones each have their own. Contracts sit at the
bottom of the layers (like the runtime): they are handed Keras objects, datasets and
arrays, and import Keras only inside their methods, so `dlrun check` can ask them
questions without TensorFlow.

Example:

```python
contract = contract_for(config.task)
contract.batch                      # "xy" | "xx" | "x"
contract.compile(model, config, optimizers, steps_per_execution=32)
contract.evaluate(model, dataset)   # {"loss": 0.31, ...}, through model.evaluate
```
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

from dlrun.data.pipeline import Batch

# Makes an optimizer from train.optimizer; the learning rate can be overridden (a GAN's
# discriminator may learn at its own rate).
Optimizers = Callable[..., Any]
# A baseline's metrics on the part scored, from what `Scored` holds (None: it does not apply).
Baseline = Callable[[Any], dict[str, float] | None]


class Contract:
    """Base of every training contract; a subclass sets the class attributes and
    overrides what differs from Keras's plain `fit` of (x, y).

    Attributes:
        name: the registry key.
        tasks: the `task:` values it serves.
        kinds: the model kinds it trains; None: every kind no other contract claims.
        batch: what one batch is: (x, y), (x, x) (the target is the input) or x alone.
        chooses_epochs: whether a metric it logs ranks the epochs of a fit. A GAN's
            losses do not measure its samples: its fits keep their last epoch.
        scores_predictions: a split is scored from the model's predictions, with a
            confusion matrix (`dlrun.evaluation.evaluate_model`), not by `evaluate`.
        baselines: its common-sense baselines, {key: (label, compute)}: compute gets a
            `dlrun.workflow.baselines.Scored` (the training part and the part scored) and
            returns metrics named as the model logs them, or None where it does not apply.
    """

    name: ClassVar[str]
    tasks: ClassVar[tuple[str, ...]]
    kinds: ClassVar[tuple[str, ...] | None] = None
    batch: ClassVar[Batch] = "xy"
    chooses_epochs: ClassVar[bool] = True
    scores_predictions: ClassVar[bool] = False
    baselines: ClassVar[dict[str, tuple[str, Baseline]]] = {}

    def metrics(self, config: Any) -> list[str]:
        """What a fit logs besides `loss` (without `val_`), first the one that the
        default objective watches."""
        return []

    def default_metric(self, config: Any) -> str:
        """The objective when `objective.metric` is not given."""
        metrics = self.metrics(config)
        return f"val_{metrics[0]}" if metrics else "val_loss"

    def problems(self, config: Any) -> list[str]:
        """What in a config this contract cannot train, each with its fix."""
        return []

    def head(self, config: Any) -> Any:
        """The task's head (`dlrun.tasks.Head`) that the model builder puts last, or None
        when the model kind makes its own outputs."""
        return None

    def compile(
        self, model: Any, config: Any, optimizers: Optimizers, steps_per_execution: int
    ) -> None:
        """Compile `model` for this contract."""
        model.compile(optimizer=optimizers(), steps_per_execution=steps_per_execution)

    def evaluate(
        self, model: Any, dataset: Any, callbacks: list[Any] | None = None
    ) -> dict[str, float]:
        """The model's own losses and metrics on a dataset of this contract's batches,
        through `model.evaluate`: a model's own `compute_loss` and metrics count."""
        results = model.evaluate(dataset, verbose=0, return_dict=True, callbacks=callbacks)
        return {k: float(v) for k, v in results.items()}

    def epoch_callbacks(self, model_dir: Path, prepared: Any, config: Any) -> list[Any]:
        """Keras callbacks that show the model's work each epoch (samples)."""
        return []

    def draw(
        self, model: Any, state: Any, test: Any, directory: Path, config: Any
    ) -> dict[str, str]:
        """The final model's pictures of the test split in `directory`: {what: file
        name}; `state` is the fitted preprocessing."""
        return {}

    def generates(self, config: Any) -> Literal["images", "text"] | None:
        """What `dlrun generate` makes with this config's model, None: nothing."""
        return None

    def generate_images(self, model: Any, count: int, seed: int) -> Any:
        """`count` new images in [0, 1], from latent points drawn with `seed`."""
        raise NotImplementedError(f"a {self.name} model generates no images")
