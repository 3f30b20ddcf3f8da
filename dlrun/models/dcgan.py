"""`dcgan`: a deep convolutional generative adversarial network (book ch. 8).

A generator turns random points of a latent space into images; a discriminator tells
real images from generated ones, and each trains against the other. The generator
projects a latent point to a (height / 2**n, width / 2**n) feature map and doubles it
with each Conv2DTranspose of `generator_filters` (n of them; 4x4 kernels, strides 2, as
in the book), ending in a sigmoid: images in [0, 1], as the data scales them. The
discriminator is strided 3x3 Conv2D layers of `discriminator_filters`, global max
pooling, optional dropout and one logit: the networks of the Keras guide's GAN
("Customizing what happens in fit()"), whose defaults these are.

It takes images (height, width, channels) whose height and width divide by
2 ** len(generator_filters). The model computes its own losses: compile it with the
generator's optimizer (`optimizer`) and, optionally, the discriminator's
(`discriminator_optimizer`; by default a copy of the generator's, at
`discriminator_learning_rate` when set). Batches are images alone (labels, if any, are
ignored). `fit` logs `d_loss`, `g_loss` and `real_accuracy` (the share of the real
images that the discriminator calls real), and so do `evaluate` and the validation, on
held-out real images and freshly generated ones. `predict(z)` generates images from
latent points z of shape (n, latent_dim); `model.generator` and `model.discriminator`
are the two networks.

Example config:

```yaml
model:
  kind: dcgan
  latent_dim: 128
  generator_filters: [128, 128]
  discriminator_filters: [64, 128]
  discriminator_learning_rate: 0.0001   # default: the generator's (train.optimizer)
  dropout: 0.2
```

The Keras class (`GAN`) is made on first use, so that importing this module does not
import Keras: `register()` (or `build_dcgan`) makes and registers it, and `dlrun.models`
calls `register()` as soon as a process imports Keras (`dlrun.tfenv.after_keras_import`).
"""

from __future__ import annotations

import functools
import math
import random
from typing import Any, Literal

from pydantic import Field

from dlrun.config.schema import ModelSection, Rate, Units
from dlrun.data.inputs import InputSpec
from dlrun.errors import ConfigError
from dlrun.models.layers import join
from dlrun.tasks import Head


class DcganConfig(ModelSection):
    """A generator (Conv2DTranspose) and a discriminator (Conv2D) trained against each
    other."""

    # required (mlp is the kind a config without one gets), so editors tell the kinds apart
    kind: Literal["dcgan"] = Field(description="A DCGAN: a generator and a discriminator.")
    latent_dim: Units = Field(128, description="Size of the generator's random input.")
    generator_filters: list[Units] = Field(
        default_factory=lambda: [128, 128],
        min_length=1,
        description="Filters of the generator's Conv2DTranspose layers; each doubles the "
        "height and width.",
    )
    discriminator_filters: list[Units] = Field(
        default_factory=lambda: [64, 128],
        min_length=1,
        description="Filters of the discriminator's strided Conv2D layers.",
    )
    discriminator_learning_rate: float | None = Field(
        None,
        gt=0,
        description="The discriminator optimizer's learning rate; default: the same "
        "optimizer and learning rate (or schedule) as the generator's.",
    )
    dropout: Rate = Field(
        0.0, description="Dropout rate in [0, 1) before the discriminator's logit."
    )
    label_noise: float = Field(
        0.05,
        ge=0,
        lt=0.5,
        description="Softens the discriminator's training labels by up to this much at "
        "random (real towards 0, fake towards 1), the book's trick; 0 for hard labels.",
    )

    def describe(self) -> str:
        return (
            f"dcgan latent {self.latent_dim} gen {join(self.generator_filters)} "
            f"disc {join(self.discriminator_filters)}"
        )

    def problems(self) -> list[str]:
        if self.output_activation not in ("auto", "sigmoid"):
            return [
                f"model.output_activation is '{self.output_activation}', but the dcgan's "
                "generator ends in a sigmoid (images in [0, 1], as the data scales them); "
                "remove model.output_activation."
            ]
        return []

    def shape_problems(self, shape: tuple[int, ...]) -> list[str]:
        problem = image_shape_problem(self, tuple(shape))
        return [problem] if problem else []


def image_shape_problem(config: DcganConfig, shape: tuple[int, ...]) -> str | None:
    """Why the generator cannot make images of `shape`, or None."""
    if len(shape) != 3:
        return (
            f"model.kind 'dcgan' generates images (height, width, channels); the data "
            f"gives shape {shape}."
        )
    factor = 2 ** len(config.generator_filters)
    height, width = shape[:2]
    if height % factor or width % factor:
        return (
            f"model.kind 'dcgan' doubles its feature maps in each of the "
            f"{len(config.generator_filters)} layers of model.generator_filters, so the "
            f"images' height and width must divide by {factor}; they are {height}x{width}. "
            "Use fewer generator layers or resize the images."
        )
    return None


@functools.cache
def keras_classes() -> dict[str, type]:
    """Make and register (package "dlrun") the Keras class of this kind, once.

    Returns:
        {"GAN": ...}.

    Example:

    ```python
    GAN = keras_classes()["GAN"]
    ```
    """
    import keras

    from dlrun.models import gan_steps

    @keras.saving.register_keras_serializable(package="dlrun")
    class GAN(keras.Model):
        """A generator and a discriminator with a training step per backend
        (`dlrun.models.gan_steps`).

        Args:
            generator: latent point (latent_dim,) -> image in [0, 1].
            discriminator: image -> one logit (positive: real).
            latent_dim: the generator's input size.
            seed: the seed of the latent points and label noise; None draws one.
            discriminator_learning_rate: for the default discriminator optimizer.
            label_noise: how much the discriminator's training labels are softened.

        Example:

        ```python
        gan = GAN(generator, discriminator, latent_dim=64, seed=1)
        gan.compile(optimizer=keras.optimizers.Adam(2e-4))   # the discriminator's: a copy
        gan.fit(images, epochs=20)                            # d_loss, g_loss, real_accuracy
        fakes = gan.predict(keras.random.normal((16, 64)))
        ```
        """

        def __init__(
            self,
            generator: Any,
            discriminator: Any,
            latent_dim: int,
            seed: int | None = None,
            discriminator_learning_rate: float | None = None,
            label_noise: float = 0.05,
            **kwargs: Any,
        ) -> None:
            super().__init__(**kwargs)
            self.generator = generator
            self.discriminator = discriminator
            self.latent_dim = latent_dim
            self.seed = seed
            self.discriminator_learning_rate = discriminator_learning_rate
            self.label_noise = label_noise
            # a variable of the model, not a weight: JAX's steps carry it, and a backup
            # of the model's variables resumes the same latent points
            self.seed_generator = keras.random.SeedGenerator(seed)
            self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
            self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
            self.real_accuracy_tracker = keras.metrics.Mean(name="real_accuracy")
            self.discriminator_optimizer: Any = None
            # both networks are built functional models
            self.built = True

        @property
        def metrics(self) -> list[Any]:
            # no `loss`: a GAN has two, and neither says alone how good the images are
            return [self.d_loss_tracker, self.g_loss_tracker, self.real_accuracy_tracker]

        def call(self, inputs: Any, training: bool | None = None) -> Any:
            return self.generator(inputs, training=training)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return self.generator.output_shape

        def compile(
            self,
            optimizer: Any = "adam",
            discriminator_optimizer: Any = None,
            loss: Any = None,
            metrics: Any = None,
            **kwargs: Any,
        ) -> None:
            """Compile with the generator's `optimizer` and the discriminator's.

            Args:
                optimizer: the generator's optimizer (a Keras optimizer or its name).
                discriminator_optimizer: the discriminator's; None: a copy of
                    `optimizer`'s config, at `discriminator_learning_rate` when set.
                loss, metrics: must be None: the GAN has its own.
                **kwargs: what `keras.Model.compile` takes besides (steps_per_execution,
                    jit_compile, ...).
            """
            if loss is not None or metrics:
                raise ValueError(
                    "The GAN computes its own losses and metrics (d_loss, g_loss, "
                    "real_accuracy); compile it without `loss` and `metrics`."
                )
            # No loss scaling under mixed_float16: Keras would wrap the optimizer to unscale
            # gradients that these steps never scaled.
            kwargs.setdefault("auto_scale_loss", False)
            super().compile(optimizer=optimizer, **kwargs)
            if discriminator_optimizer is None:
                config = self.optimizer.get_config()
                if self.discriminator_learning_rate is not None:
                    config["learning_rate"] = self.discriminator_learning_rate
                config["name"] = "discriminator_optimizer"
                discriminator_optimizer = type(self.optimizer).from_config(config)
            self.discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
            # Each optimizer is built on its own network now: Keras would build the
            # generator's on all the trainable variables, the discriminator's too.
            self.optimizer.build(self.generator.trainable_variables)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)

        def get_compile_config(self) -> dict[str, Any]:
            config = super().get_compile_config()
            if config and self.discriminator_optimizer is not None:
                config["discriminator_optimizer"] = keras.saving.serialize_keras_object(
                    self.discriminator_optimizer
                )
            return config

        def compile_from_config(self, config: dict[str, Any]) -> None:
            self.compile(**keras.saving.deserialize_keras_object(config))

        def train_step(self, *args: Any) -> Any:
            return gan_steps.train_step(self, *args)

        def test_step(self, *args: Any) -> Any:
            return gan_steps.test_step(self, *args)

        # The JAX trainer carries `self.optimizer.variables` through its steps; these two
        # add the discriminator optimizer's after them, which `gan_steps.jax_train_step`
        # splits off.

        def _get_jax_state(
            self,
            trainable_variables: bool = False,
            non_trainable_variables: bool = False,
            optimizer_variables: bool = False,
            metrics_variables: bool = False,
            purge_model_variables: bool = False,
        ) -> tuple[Any, ...]:
            state = list(
                super()._get_jax_state(
                    trainable_variables=trainable_variables,
                    non_trainable_variables=non_trainable_variables,
                    optimizer_variables=optimizer_variables,
                    metrics_variables=metrics_variables,
                )
            )
            if optimizer_variables and self.discriminator_optimizer is not None:
                at = int(trainable_variables) + int(non_trainable_variables)
                extra = [v.value for v in self.discriminator_optimizer.variables]
                state[at] = [*state[at], *extra]
            if purge_model_variables:
                self._purge_model_variables(
                    trainable_variables=trainable_variables,
                    non_trainable_variables=non_trainable_variables,
                    optimizer_variables=optimizer_variables,
                    metrics_variables=metrics_variables,
                )
            return tuple(state)

        def jax_state_sync(self) -> None:
            state = getattr(self, "_jax_state", None)
            values = state.get("optimizer_variables") if state else None
            if values and not self._jax_state_synced and self.discriminator_optimizer:
                split = len(self.optimizer.variables)
                for variable, value in zip(
                    self.discriminator_optimizer.variables, values[split:], strict=True
                ):
                    variable.assign(value)
                self._jax_state = {**state, "optimizer_variables": values[:split]}
            super().jax_state_sync()

        def get_config(self) -> dict[str, Any]:
            return {
                **super().get_config(),
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "latent_dim": self.latent_dim,
                "seed": self.seed,
                "discriminator_learning_rate": self.discriminator_learning_rate,
                "label_noise": self.label_noise,
            }

        @classmethod
        def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Any:
            config = dict(config)
            generator = keras.saving.deserialize_keras_object(
                config.pop("generator"), custom_objects=custom_objects
            )
            discriminator = keras.saving.deserialize_keras_object(
                config.pop("discriminator"), custom_objects=custom_objects
            )
            return cls(generator, discriminator, **config)

    return {"GAN": GAN}


def register() -> None:
    """Make and register the GAN's Keras class (imports Keras), so that
    `keras.saving.load_model(path, safe_mode=True)` can rebuild a saved GAN."""
    keras_classes()


def __getattr__(name: str) -> Any:
    # `from dlrun.models.dcgan import GAN` makes the class on demand
    if name == "GAN":
        return keras_classes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_generator(config: DcganConfig, shape: tuple[int, ...]) -> Any:
    """latent point -> image of `shape` in [0, 1]: Dense to a (h / 2**n, w / 2**n) map,
    n Conv2DTranspose (strides 2), a sigmoid Conv2D to the channels."""
    import keras

    height, width, channels = shape
    factor = 2 ** len(config.generator_filters)
    small = (height // factor, width // factor, config.generator_filters[0])
    latent = keras.Input(shape=(config.latent_dim,), name="latent")
    x = keras.layers.Dense(math.prod(small), name="dense")(latent)
    x = keras.layers.LeakyReLU(0.2, name="dense_act")(x)
    x = keras.layers.Reshape(small, name="reshape")(x)
    for i, filters in enumerate(config.generator_filters):
        x = keras.layers.Conv2DTranspose(filters, 4, strides=2, padding="same", name=f"deconv_{i}")(
            x
        )
        x = keras.layers.LeakyReLU(0.2, name=f"deconv_{i}_act")(x)
    # float32 whatever the dtype policy, as the task heads are
    images = keras.layers.Conv2D(
        channels, 7, padding="same", activation="sigmoid", dtype="float32", name="image"
    )(x)
    return keras.Model(latent, images, name="generator")


def build_discriminator(config: DcganConfig, shape: tuple[int, ...]) -> Any:
    """image -> one logit (positive: real): strided 3x3 Conv2D, global max pooling,
    dropout, Dense(1), as the Keras guide's GAN. Its first design (4x4 kernels, Flatten)
    won against the generator within an epoch on MNIST, which then drew black images."""
    import keras

    images = keras.Input(shape=shape, name="image")
    x = images
    for i, filters in enumerate(config.discriminator_filters):
        x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", name=f"conv_{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"conv_{i}_act")(x)
    x = keras.layers.GlobalMaxPooling2D(name="pool")(x)
    if config.dropout:
        # An explicit seed (from Python's random, which the run's seed sets): on PyTorch,
        # Keras's Dropout without one draws from torch's global generator, which no
        # backup of the model's variables holds, so a resumed fit would drop others.
        seed = random.randint(1, 2**31 - 1)
        x = keras.layers.Dropout(config.dropout, seed=seed, name="dropout")(x)
    logit = keras.layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(images, logit, name="discriminator")


def build_dcgan(config: DcganConfig, spec: InputSpec, outputs: int, head: Head | None) -> Any:
    """A `GAN` of the configured generator and discriminator.

    Args:
        config: the kind's keys.
        spec: images (height, width, channels) whose height and width divide by
            2 ** len(generator_filters).
        outputs: not used: the generator makes images of the input's shape.
        head: not used: the GAN computes its own losses.

    Example:

    ```python
    model = build_dcgan(DcganConfig(kind="dcgan"), InputSpec((28, 28, 1)), 0, None)
    model.compile(optimizer=keras.optimizers.Adam(2e-4))
    model.fit(images, epochs=20)
    model.predict(keras.random.normal((16, 64))).shape   # (16, 28, 28, 1)
    ```
    """
    del outputs, head
    if spec.vocabulary is not None or spec.sparse:
        raise ConfigError(
            "model.kind 'dcgan' generates images; the data gives "
            f"{'token ids' if spec.vocabulary is not None else 'sparse multi-hot sets'}."
        )
    problem = image_shape_problem(config, tuple(spec.shape))
    if problem:
        raise ConfigError(problem)
    # Python's random is what keras.utils.set_random_seed seeds: the run's seed gives the
    # GAN's, which the saved config keeps
    seed = random.randint(1, 2**31 - 1)
    return keras_classes()["GAN"](
        build_generator(config, spec.shape),
        build_discriminator(config, spec.shape),
        latent_dim=config.latent_dim,
        seed=seed,
        discriminator_learning_rate=config.discriminator_learning_rate,
        label_noise=config.label_noise,
        name="dcgan",
    )
