"""`gan`: a generator against a discriminator (book ch. 8: DCGAN).

A batch is the images alone. The model (`dcgan`) has two optimizers, and its own
`train_step` per backend; it logs both losses (`d_loss`, `g_loss`) and, on validation,
`real_accuracy`: the share of held-out real images its discriminator calls real. None of
these measure the samples, so no epoch is "best": a fit keeps its last epoch, and the
workflow's ranking of stages does not apply. `samples.png` (a fixed latent batch) is
drawn after every epoch, into the run and TensorBoard's images tab.

Example:

```yaml
task: gan
data: {source: keras.mnist}
model: {kind: dcgan, latent_dim: 64}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from dlrun.contracts.base import Contract, Optimizers
from dlrun.contracts.pictures import latent_batch, save_grid

# The fixed latent batch each epoch's samples.png is drawn from, and its seed.
SAMPLES = 64
SAMPLE_SEED = 12345


def generate(model: Any, count: int, seed: int) -> np.ndarray:
    """`count` images from latent points drawn with `seed`."""
    dim = int(model.generator.inputs[0].shape[-1])
    return np.asarray(model.generator.predict(latent_batch(count, dim, seed), verbose=0))


class Gan(Contract):
    name = "gan"
    tasks: ClassVar[tuple[str, ...]] = ("gan",)
    kinds: ClassVar[tuple[str, ...]] = ("dcgan",)
    batch = "x"
    chooses_epochs = False

    def metrics(self, config: Any) -> list[str]:
        return ["g_loss", "d_loss", "real_accuracy"]

    def problems(self, config: Any) -> list[str]:
        problems = []
        if config.workflow is not None:
            problems.append(
                "workflow: a GAN's losses do not measure its samples, so they cannot rank "
                "stages. Remove the workflow section, train once and look at samples.png."
            )
        if config.sweep is not None:
            problems.append(
                "sweep: a GAN's losses do not measure its samples, so they cannot rank trials. "
                "Remove the sweep section."
            )
        es = config.train.early_stopping
        if es is not None and es.enabled and "early_stopping" in config.train.model_fields_set:
            problems.append(
                "train.early_stopping: a GAN's losses do not say when its samples stop "
                "improving. Remove it (a GAN trains its train.epochs)."
            )
        for key, value in (
            ("loss", config.train.loss != "auto"),
            ("metrics", config.train.metrics),
        ):
            if value:
                problems.append(
                    f"train.{key}: a GAN's losses and metrics are its own (d_loss, g_loss, "
                    f"real_accuracy). Remove train.{key}."
                )
        return problems

    def compile(
        self, model: Any, config: Any, optimizers: Optimizers, steps_per_execution: int
    ) -> None:
        model.compile(
            optimizer=optimizers(),
            discriminator_optimizer=optimizers(config.model.discriminator_learning_rate),
            steps_per_execution=steps_per_execution,
        )

    def epoch_callbacks(self, directory: Path, prepared: Any, config: Any) -> list[Any]:
        from dlrun.contracts.callbacks import EpochSamples

        tensorboard = directory / "tensorboard" if config.train.tensorboard else None
        return [
            EpochSamples(
                lambda model: generate(model, SAMPLES, SAMPLE_SEED), directory, tensorboard
            )
        ]

    def draw(
        self, model: Any, state: Any, test: Any, directory: Path, config: Any
    ) -> dict[str, str]:
        save_grid(directory / "samples.png", generate(model, SAMPLES, SAMPLE_SEED))
        return {"samples": "samples.png"}

    def generates(self, config: Any) -> Literal["images"]:
        return "images"

    def generate_images(self, model: Any, count: int, seed: int) -> np.ndarray:
        return generate(model, count, seed)
