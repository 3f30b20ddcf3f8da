"""`vae`: a variational autoencoder (book ch. 8, "image generation with variational
autoencoders").

The encoder maps an input to the mean and log-variance of a normal distribution in a
small latent space (2 dimensions by default, so it can be plotted); training decodes a
point sampled from it, and the loss is the reconstruction's binary crossentropy (summed
over the pixels, averaged over the batch, as in the keras.io VAE example) plus the KL
divergence of that distribution from the standard normal, which keeps the latent space
continuous: any point near the origin decodes to a plausible input.

The model computes its own loss: compile it with an optimizer only, and train it on
batches (x, x) or x alone. `fit` and `evaluate` log `loss`, `reconstruction_loss` and
`kl_loss`. `predict(x)` returns reconstructions (decoded from the mean: deterministic,
and evaluate's reconstruction loss is the mean's too); `model.decoder` turns latent points
into new inputs, `model.encoder` inputs into [z_mean, z_log_var].

The encoder and decoder bodies are the autoencoder's (`architecture`, `filters`, `units`).

Example config:

```yaml
model: {kind: vae, latent_dim: 2, architecture: conv, filters: [32, 64]}
```

The Keras classes (`VAE`, `Sampling`) are made on first use, so that importing this
module does not import Keras: `register()` (or `build_vae`) makes and registers them, and
`dlrun.models` calls `register()` as soon as a process imports Keras
(`dlrun.tfenv.after_keras_import`), so a saved VAE loads in safe mode:

```python
keras = import_keras()
model = keras.saving.load_model("vae.keras", safe_mode=True)
```
"""

from __future__ import annotations

import functools
import random
from typing import Any, Literal

from pydantic import Field

from dlrun.config.schema import Units
from dlrun.data.inputs import InputSpec
from dlrun.models.autoencoder import CodecKeys, build_decoder, encoder_body
from dlrun.tasks import Head


class VaeConfig(CodecKeys):
    """A variational autoencoder: an encoder to a latent normal distribution, a decoder."""

    # required (mlp is the kind a config without one gets), so editors tell the kinds apart
    kind: Literal["vae"] = Field(
        description="A variational autoencoder (encoder to a latent distribution, decoder)."
    )
    latent_dim: Units = Field(
        2, description="Size of the latent space (2 can be plotted and walked through)."
    )

    def describe(self) -> str:
        return f"vae {self.body()}"


@functools.cache
def keras_classes() -> dict[str, type]:
    """Make and register (package "dlrun") the Keras classes of this kind, once.

    Returns:
        {"Sampling": ..., "VAE": ...}.

    Example:

    ```python
    VAE = keras_classes()["VAE"]
    ```
    """
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="dlrun")
    class Sampling(keras.layers.Layer):
        """z = z_mean + exp(z_log_var / 2) * epsilon, epsilon ~ N(0, I), in training;
        z_mean otherwise (evaluate and predict are deterministic).

        The draws come from a seeded `keras.random.SeedGenerator`, whose state is a
        variable of the layer (not a weight): it goes through JAX's stateless steps, and
        a backup of the model's variables resumes the same draws.

        Args:
            seed: the seed of the draws; None draws one from Python's `random`, which
                `keras.utils.set_random_seed` seeds.
        """

        def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.seed = seed
            self.seed_generator = keras.random.SeedGenerator(seed)
            self.built = True

        def call(self, inputs: Any, training: bool | None = None) -> Any:
            z_mean, z_log_var = inputs
            if not training:
                return z_mean
            epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape[0]

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "seed": self.seed}

    @keras.saving.register_keras_serializable(package="dlrun")
    class VAE(keras.Model):
        """encoder -> Sampling -> decoder, with the VAE loss in `compute_loss`.

        Keras's own `train_step` and `test_step` run it, so it trains on every backend:
        `call` adds the KL divergence with `add_loss` (Keras collects it in the JAX
        trainer's stateless pass too), and `compute_loss` adds it to the reconstruction
        loss and updates the `reconstruction_loss` and `kl_loss` trackers.

        Args:
            encoder: input -> [z_mean, z_log_var].
            decoder: z -> reconstruction in [0, 1].
            seed: the seed of the sampling.

        Example:

        ```python
        model = VAE(encoder, decoder, seed=1)
        model.compile(optimizer="adam")
        model.fit(x, x, epochs=30)   # logs loss, reconstruction_loss, kl_loss
        images = model.decoder.predict(keras.random.normal((16, 2)))
        ```
        """

        def __init__(self, encoder: Any, decoder: Any, seed: int | None = None, **kwargs: Any):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            # float32 whatever the dtype policy, as z_mean and z_log_var are: the noise is
            # drawn in float32, and exp(z_log_var / 2) overflows float16 early
            self.sampling = Sampling(seed, dtype="float32", name="sampling")
            self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
            # the nested models are built, and Sampling has no weights
            self.built = True

        @property
        def metrics(self) -> list[Any]:
            # Keras's `loss` tracker first, then ours: fit resets them all each epoch
            tracked = [self.reconstruction_loss_tracker, self.kl_loss_tracker]
            return [m for m in super().metrics if m not in tracked] + tracked

        def call(self, inputs: Any, training: bool | None = None) -> Any:
            z_mean, z_log_var = self.encoder(inputs, training=training)
            z = self.sampling([z_mean, z_log_var], training=training)
            kl = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            self.add_loss(ops.mean(ops.sum(kl, axis=1)))
            return self.decoder(z, training=training)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return self.decoder.output_shape

        def compute_loss(
            self,
            x: Any = None,
            y: Any = None,
            y_pred: Any = None,
            sample_weight: Any = None,
            training: bool = True,
        ) -> Any:
            # batches are (x, x) or x alone: the target is the input either way
            target = ops.cast(x if y is None else y, y_pred.dtype)
            pixels = ops.binary_crossentropy(target, y_pred)
            per_sample = ops.sum(ops.reshape(pixels, (ops.shape(pixels)[0], -1)), axis=1)
            reconstruction = ops.mean(per_sample)
            # the KL term of `call` (and any weight penalty of a layer), which the JAX
            # trainer hands over from its stateless forward pass
            added = self.losses
            kl = ops.sum(ops.stack(added)) if added else ops.zeros((), dtype=y_pred.dtype)
            self.reconstruction_loss_tracker.update_state(reconstruction)
            self.kl_loss_tracker.update_state(kl)
            return reconstruction + kl

        def get_config(self) -> dict[str, Any]:
            return {
                **super().get_config(),
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "seed": self.sampling.seed,
            }

        @classmethod
        def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Any:
            config = dict(config)
            encoder = keras.saving.deserialize_keras_object(
                config.pop("encoder"), custom_objects=custom_objects
            )
            decoder = keras.saving.deserialize_keras_object(
                config.pop("decoder"), custom_objects=custom_objects
            )
            return cls(encoder, decoder, **config)

    return {"Sampling": Sampling, "VAE": VAE}


def register() -> None:
    """Make and register the VAE's Keras classes (imports Keras), so that
    `keras.saving.load_model(path, safe_mode=True)` can rebuild a saved VAE."""
    keras_classes()


def __getattr__(name: str) -> Any:
    # `from dlrun.models.vae import VAE` makes the classes on demand
    if name in ("VAE", "Sampling"):
        return keras_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_vae(config: VaeConfig, spec: InputSpec, outputs: int, head: Head | None) -> Any:
    """A `VAE` of the configured encoder and decoder bodies.

    Args:
        config: the kind's keys.
        spec: images (height, width, channels) for the conv body; any dense float input
            for the dense body.
        outputs: not used: the reconstruction has the input's shape.
        head: not used: the model computes its own loss.

    Example:

    ```python
    model = build_vae(VaeConfig(kind="vae"), InputSpec((28, 28, 1)), 0, None)
    model.compile(optimizer="adam")   # no loss: the VAE's own
    model.fit(x, epochs=30)
    ```
    """
    import keras

    del outputs, head
    inputs, x = encoder_body(config, spec)
    # float32 whatever the dtype policy: exp(z_log_var) overflows float16 early
    z_mean = keras.layers.Dense(config.latent_dim, dtype="float32", name="z_mean")(x)
    z_log_var = keras.layers.Dense(config.latent_dim, dtype="float32", name="z_log_var")(x)
    encoder = keras.Model(inputs, [z_mean, z_log_var], name="encoder")
    decoder = build_decoder(config, spec)
    # Python's random is what keras.utils.set_random_seed seeds: the run's seed gives the
    # sampling's, which the saved config keeps
    seed = random.randint(1, 2**31 - 1)
    return keras_classes()["VAE"](encoder, decoder, seed=seed, name="vae")
