"""`autoencoder`: an encoder to a latent vector and a decoder back to the input (book ch. 8).

The model learns to reproduce its input, so it trains on batches (x, x) with a pixel-wise
loss (binary crossentropy: the decoder ends in a sigmoid, the inputs being scaled to
[0, 1]). It is made of two nested models, `encoder` (input -> latent vector) and
`decoder` (latent vector -> reconstruction), which can be taken out and used alone:

```python
encoder = model.get_layer("encoder")   # images -> codes, e.g. for a nearest-neighbour search
decoder = model.get_layer("decoder")   # codes -> images
```

`architecture: conv` (the default) takes images (height, width, channels) whose height
and width divide by 2 ** len(filters) (4 for the two default blocks): each Conv2D of
`filters` halves them (strides 2), and the decoder's Conv2DTranspose layers double them
back. `architecture: dense` flattens any input through the Dense layers of `units`, and
reshapes the decoder's output to the input's shape. `noise` adds Gaussian noise to the
input in training only (a denoising autoencoder: it learns to restore the clean input).

Example config:

```yaml
model: {kind: autoencoder, latent_dim: 32, architecture: conv, filters: [32, 64], noise: 0.1}
```

The shared encoder and decoder bodies here serve the `vae` kind too.
"""

from __future__ import annotations

import math
import random
from typing import Any, Literal

from pydantic import Field

from dlrun.config.schema import ModelSection, Units
from dlrun.data.inputs import InputSpec
from dlrun.errors import ConfigError
from dlrun.models.augment import model_inputs
from dlrun.models.layers import join
from dlrun.tasks import Head


class CodecKeys(ModelSection):
    """The encoder and decoder keys the autoencoder and the VAE share."""

    latent_dim: Units = Field(32, description="Size of the latent vector (the code).")
    architecture: Literal["conv", "dense"] = Field(
        "conv",
        description="conv: Conv2D blocks (strides 2) for images whose height and width "
        "divide by 2 ** len(filters); dense: Dense layers on the flattened input, any shape.",
    )
    filters: list[Units] = Field(
        default_factory=lambda: [32, 64],
        description="Filters of the encoder's Conv2D blocks (conv); the decoder mirrors them.",
    )
    units: list[Units] = Field(
        default_factory=lambda: [128],
        description="Hidden Dense layer sizes of the encoder (dense); the decoder mirrors them.",
    )
    latent_grid: bool | None = Field(
        None,
        description="Draw latent_grid.png and latent_scatter.png of the final model (a 2-D "
        "latent space only); default: when latent_dim is 2.",
    )

    def body(self) -> str:
        """'conv 32-64 latent 2' or 'dense 128 latent 32'."""
        layers = self.filters if self.architecture == "conv" else self.units
        shown = f" {join(layers)}" if layers else ""
        return f"{self.architecture}{shown} latent {self.latent_dim}"

    def problems(self) -> list[str]:
        problems = []
        if self.architecture == "conv" and not self.filters:
            problems.append(
                f"model.architecture 'conv' needs at least one Conv2D block and "
                f"model.filters is empty; give one (e.g. filters: [32, 64]) or use "
                f"architecture: dense for a {self.kind} without convolutions."
            )
        if self.latent_grid and self.latent_dim != 2:
            problems.append(
                f"model.latent_grid draws a plane of latent points, and model.latent_dim is "
                f"{self.latent_dim}: set latent_dim: 2, or remove model.latent_grid."
            )
        if self.output_activation not in ("auto", "sigmoid"):
            problems.append(
                f"model.output_activation is '{self.output_activation}', but a {self.kind}'s "
                "decoder ends in a sigmoid, as its inputs are scaled to [0, 1]; remove "
                "model.output_activation."
            )
        return problems

    def shape_problems(self, shape: tuple[int, ...]) -> list[str]:
        problem = conv_shape_problem(self, tuple(shape))
        return [problem] if problem else []


class AutoencoderConfig(CodecKeys):
    """Encoder to a latent vector, decoder back to the input; optionally denoising."""

    # required (mlp is the kind a config without one gets), so editors tell the kinds apart
    kind: Literal["autoencoder"] = Field(
        description="An encoder to a latent vector and a decoder back to the input."
    )
    noise: float = Field(
        0.0,
        ge=0,
        description="Standard deviation of the Gaussian noise added to the input in "
        "training only (a denoising autoencoder); 0 for none.",
    )

    def describe(self) -> str:
        noise = f" + noise {self.noise:g}" if self.noise else ""
        return f"autoencoder {self.body()}{noise}"


def conv_shape_problem(config: CodecKeys, shape: tuple[int, ...]) -> str | None:
    """Why inputs of `shape` do not fit the conv body of `config`, or None when they do
    (or the body is dense, which takes any shape)."""
    if config.architecture != "conv":
        return None
    if len(shape) != 3:
        return (
            f"model.architecture 'conv' needs images (height, width, channels); the data "
            f"gives shape {shape}. Use model.architecture: dense for other inputs."
        )
    factor = 2 ** len(config.filters)
    height, width = shape[:2]
    if height % factor or width % factor:
        return (
            f"model.architecture 'conv' halves the image's height and width in each of the "
            f"{len(config.filters)} blocks of model.filters, so they must divide by "
            f"{factor}; the images are {height}x{width}. Use fewer blocks, resize the "
            "images, or use model.architecture: dense."
        )
    return None


def check_input(config: CodecKeys, spec: InputSpec) -> None:
    """Raise a ConfigError when `spec` is no input the body of `config` can take."""
    if spec.vocabulary is not None or spec.sparse:
        raise ConfigError(
            f"model.kind '{config.kind}' reconstructs dense float inputs (images or "
            f"vectors scaled to [0, 1]); the data gives "
            f"{'token ids' if spec.vocabulary is not None else 'sparse multi-hot sets'}.",
            hint="Use images or feature vectors.",
        )
    problem = conv_shape_problem(config, tuple(spec.shape))
    if problem:
        raise ConfigError(problem)


def encoder_body(config: CodecKeys, spec: InputSpec) -> tuple[Any, Any]:
    """The encoder's Input and its last hidden tensor, flat (batch, features), for the
    latent layer(s) to read.

    Args:
        config: the body's keys (architecture, filters, units).
        spec: one input sample; images for the conv body.

    Example:

    ```python
    inputs, x = encoder_body(config, InputSpec((28, 28, 1)))
    encoder = keras.Model(inputs, keras.layers.Dense(2)(x), name="encoder")
    ```
    """
    import keras

    check_input(config, spec)
    inputs = keras.Input(shape=spec.shape, name="encoder_inputs")
    x = inputs
    if config.architecture == "conv":
        for i, filters in enumerate(config.filters):
            x = keras.layers.Conv2D(
                filters, 3, strides=2, padding="same", activation="relu", name=f"conv_{i}"
            )(x)
    if len(x.shape) > 2:
        x = keras.layers.Flatten(name="flatten")(x)
    if config.architecture == "dense":
        for i, units in enumerate(config.units):
            x = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
    return inputs, x


def build_decoder(config: CodecKeys, spec: InputSpec) -> Any:
    """The decoder: latent vector -> an input of `spec`'s shape, in [0, 1] (sigmoid),
    mirroring `encoder_body`.

    Args:
        config: the body's keys (latent_dim, architecture, filters, units).
        spec: one input sample, the shape the decoder outputs.

    Example:

    ```python
    decoder = build_decoder(config, InputSpec((28, 28, 1)))
    decoder.output_shape  # (None, 28, 28, 1)
    ```
    """
    import keras

    check_input(config, spec)
    latent = keras.Input(shape=(config.latent_dim,), name="latent")
    # float32 whatever the dtype policy (train.precision), as the task heads are: a float16
    # sigmoid and the crossentropy on it lose the pixels near 0 and 1
    output_dtype = "float32"
    if config.architecture == "conv":
        height, width, channels = spec.shape
        factor = 2 ** len(config.filters)
        small = (height // factor, width // factor, config.filters[-1])
        x = keras.layers.Dense(math.prod(small), activation="relu", name="dense")(latent)
        x = keras.layers.Reshape(small, name="reshape")(x)
        for i, filters in reversed(list(enumerate(config.filters))):
            x = keras.layers.Conv2DTranspose(
                filters, 3, strides=2, padding="same", activation="relu", name=f"deconv_{i}"
            )(x)
        outputs = keras.layers.Conv2D(
            channels,
            3,
            padding="same",
            activation="sigmoid",
            dtype=output_dtype,
            name="reconstruction",
        )(x)
    else:
        x = latent
        for i, units in reversed(list(enumerate(config.units))):
            x = keras.layers.Dense(units, activation="relu", name=f"dense_{i}")(x)
        x = keras.layers.Dense(
            math.prod(spec.shape), activation="sigmoid", dtype=output_dtype, name="reconstruction"
        )(x)
        outputs = keras.layers.Reshape(spec.shape, name="reshape")(x) if len(spec.shape) > 1 else x
    return keras.Model(latent, outputs, name="decoder")


def build_autoencoder(
    config: AutoencoderConfig, spec: InputSpec, outputs: int, head: Head | None
) -> Any:
    """inputs [-> augmentation] [-> GaussianNoise] -> encoder -> decoder.

    Args:
        config: the kind's keys.
        spec: images (height, width, channels) for the conv body; any dense float input
            for the dense body.
        outputs: not used: the reconstruction has the input's shape.
        head: not used: the decoder ends in a sigmoid.

    Example:

    ```python
    config = AutoencoderConfig(kind="autoencoder", latent_dim=16, noise=0.2)
    model = build_autoencoder(config, InputSpec((28, 28, 1)), 0, None)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, x, epochs=10)
    codes = model.get_layer("encoder").predict(x)   # (n, 16)
    ```
    """
    import keras

    del outputs, head
    encoder_inputs, x = encoder_body(config, spec)
    latent = keras.layers.Dense(config.latent_dim, name="latent")(x)
    encoder = keras.Model(encoder_inputs, latent, name="encoder")
    decoder = build_decoder(config, spec)
    inputs, x = model_inputs(spec)
    if config.noise:
        # GaussianNoise is active in training only: evaluate and predict see the clean
        # input. Its seed comes from Python's random, which the run's seed sets, and is
        # saved with the model.
        seed = random.randint(1, 2**31 - 1)
        x = keras.layers.GaussianNoise(config.noise, seed=seed, name="noise")(x)
    return keras.Model(inputs, decoder(encoder(x)), name="autoencoder")
