"""`autoencoder`: the target is the input (book ch. 8: autoencoders and VAEs).

A batch is (x, x). A plain `autoencoder` is compiled with binary crossentropy against its
input (pixels in [0, 1]); a `vae` owns its loss (reconstruction + KL divergence, its
`compute_loss`) and is compiled with an optimizer alone. The baseline is the mean
training image (`dlrun.workflow.baselines`). The final model draws
`reconstructions.png`, and for a 2-D latent space `latent_grid.png` and
`latent_scatter.png`; a VAE generates by decoding points drawn from its prior.

Example:

```yaml
task: autoencoder
data: {source: keras.mnist}
model: {kind: vae, latent_dim: 2}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from dlrun.contracts.base import Baseline, Contract, Optimizers
from dlrun.contracts.pictures import latent_batch, latent_grid, latent_scatter, save_grid
from dlrun.data.prepare import apply_state

# Test images drawn above their reconstructions.
SHOWN = 10
# Keras's clip of probabilities in binary crossentropy.
EPSILON = 1e-7


def encoder_of(model: Any) -> Any:
    return model.encoder if hasattr(model, "encoder") else model.get_layer("encoder")


def decoder_of(model: Any) -> Any:
    return model.decoder if hasattr(model, "decoder") else model.get_layer("decoder")


def encode(model: Any, x: np.ndarray) -> np.ndarray:
    """Latent points of `x`: a VAE's means, an autoencoder's codes."""
    codes = encoder_of(model).predict(x, verbose=0)
    return np.asarray(codes[0] if isinstance(codes, list | tuple) else codes)


def mean_image(train_x: np.ndarray, eval_x: np.ndarray) -> dict[str, float]:
    """Binary crossentropy of reconstructing every image as the mean training image:
    per pixel (`loss`, as an autoencoder compiled with binary crossentropy logs it) and
    summed over each image's pixels (`reconstruction_loss`, as a VAE logs it)."""
    mean = np.clip(np.asarray(train_x, dtype=np.float64).mean(axis=0), EPSILON, 1 - EPSILON)
    x = np.asarray(eval_x, dtype=np.float64)
    per_pixel = -(x * np.log(mean) + (1 - x) * np.log(1 - mean))
    return {
        "loss": float(per_pixel.mean()),
        "reconstruction_loss": float(per_pixel.reshape(len(x), -1).sum(axis=1).mean()),
    }


def _mean_image(scored: Any) -> dict[str, float] | None:
    if scored.train_x is None or scored.eval_x is None:
        return None
    train = np.asarray(scored.train_x)
    if scored.raw_train:
        # the images' preparation is linear, so the prepared mean is the mean prepared
        train = apply_state(train.mean(axis=0, keepdims=True), scored.state or {})
    return mean_image(train, np.asarray(scored.eval_x))


class Autoencoder(Contract):
    name = "autoencoder"
    tasks: ClassVar[tuple[str, ...]] = ("autoencoder",)
    kinds: ClassVar[tuple[str, ...]] = ("autoencoder", "vae")
    batch = "xx"
    baselines: ClassVar[dict[str, tuple[str, Baseline]]] = {
        "mean_image": ("mean training image", _mean_image)
    }

    def metrics(self, config: Any) -> list[str]:
        return ["reconstruction_loss", "kl_loss"] if config.model.kind == "vae" else []

    def default_metric(self, config: Any) -> str:
        # a VAE's loss adds the KL divergence, which the mean-image baseline has no
        # counterpart of: its reconstruction is what compares
        return "val_reconstruction_loss" if config.model.kind == "vae" else "val_loss"

    def problems(self, config: Any) -> list[str]:
        problems = []
        if config.train.loss != "auto":
            problems.append(
                f"train.loss '{config.train.loss}': an autoencoder's loss is its own "
                "(binary crossentropy against its input; a vae's adds the KL divergence). "
                "Remove train.loss."
            )
        if config.train.class_weight is not None:
            problems.append(
                "train.class_weight weighs classes, and an autoencoder has none. Remove it."
            )
        return problems

    def compile(
        self, model: Any, config: Any, optimizers: Optimizers, steps_per_execution: int
    ) -> None:
        loss = None if config.model.kind == "vae" else "binary_crossentropy"
        model.compile(optimizer=optimizers(), loss=loss, steps_per_execution=steps_per_execution)

    def draw(
        self, model: Any, state: Any, test: Any, directory: Path, config: Any
    ) -> dict[str, str]:
        x = np.asarray(test.x[:SHOWN])
        if x.ndim < 3:
            return {}  # vectors, not images: there is nothing to look at
        shown = np.asarray(model.predict(x, verbose=0))
        save_grid(directory / "reconstructions.png", np.concatenate([x, shown]), len(x))
        drawn = {"reconstructions": "reconstructions.png"}
        if config.model.latent_grid is not False and model_latent_dim(model) == 2:
            latent_grid(decoder_of(model), directory / "latent_grid.png")
            points = encode(model, np.asarray(test.x))
            labels = np.asarray(test.y) if np.asarray(test.y).ndim == 1 else None
            latent_scatter(points, labels, directory / "latent_scatter.png")
            drawn.update(latent_grid="latent_grid.png", latent_scatter="latent_scatter.png")
        return drawn

    def generates(self, config: Any) -> Literal["images"] | None:
        # only a VAE's latent space has a distribution (its prior) to draw points from
        return "images" if config.model.kind == "vae" else None

    def generate_images(self, model: Any, count: int, seed: int) -> np.ndarray:
        points = latent_batch(count, model_latent_dim(model), seed)
        return np.asarray(decoder_of(model).predict(points, verbose=0))


def model_latent_dim(model: Any) -> int:
    return int(decoder_of(model).inputs[0].shape[-1])
