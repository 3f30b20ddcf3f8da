"""`--base` of `dlrun dream` and `dlrun style`: a convnet whose layers the image is fitted to.

A base is a `keras.applications` model without its top (`inception_v3`, `InceptionV3`,
`vgg19`, ...: Keras's module or class name, any case), with `weights: imagenet`
(Keras's download, with `dlrun.models.pretrained`'s offline error) or a local weights
file, or the final model of a dlrun run (`run:<id or path>`), loaded in safe mode by the
command. Either way it becomes a `Base`: the model, and the per-pixel affine map from
image pixels in [0, 1] to what the model takes (the application's own
`preprocess_input`, or the scaling the run fitted), so DeepDream and style transfer work
on pixels whatever the base.

An application is built for images of any size. A run's model was saved for one input
size: its layers up to the ones asked for are called again on an input of any size
(`Base.extractor`), which convolutions and pooling allow.

Example:

```python
base = application_base("inception_v3", "imagenet")
extractor = base.extractor(["mixed4", "mixed5"])   # image batch -> {name: feature maps}
features = extractor(base.to_input(pixels[None]), training=False)
```
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.errors import UsageError
from dlrun.models.pretrained import APPLICATIONS, RUN_PREFIX

# The book's layers (keras.io's DeepDream and neural style transfer examples): DeepDream
# maximizes these InceptionV3 blocks with these weights; style transfer matches VGG19's
# first convolution of each block in style and block5_conv2 in content. VGG16 names its
# layers alike.
DREAM_LAYERS: dict[str, dict[str, float]] = {
    "InceptionV3": {"mixed4": 1.0, "mixed5": 1.5, "mixed6": 2.0, "mixed7": 2.5},
}
_VGG_STYLE = [f"block{i}_conv1" for i in range(1, 6)]
STYLE_LAYERS: dict[str, tuple[str, list[str]]] = {
    "VGG19": ("block5_conv2", _VGG_STYLE),
    "VGG16": ("block5_conv2", _VGG_STYLE),
}
# layers named in an error: the first and the last few of a long list
_SHOWN = 6


@dataclass
class Base:
    """A convnet to fit images to, and how pixels in [0, 1] become its input.

    Args:
        name: the application's class name, or `run:<run directory>`.
        weights: imagenet, a weights file, or None (a run brings its own).
        model: the Keras model.
        kernel: (channels, channels) per-pixel map from [0, 1] pixels to the model input.
        bias: (channels,) added after `kernel`.
        flexible: whether `model` takes images of any size as it is.
    """

    name: str
    weights: str | None
    model: Any
    kernel: np.ndarray
    bias: np.ndarray
    flexible: bool = True

    @property
    def channels(self) -> int:
        return int(self.kernel.shape[0])

    def feature_layers(self) -> list[str]:
        """The names of the layers with feature maps (4-D outputs), in order."""
        return [
            layer.name
            for layer in self.model.layers
            if _maps(layer)
            and type(layer).__name__ != "InputLayer"
            # a nested model's own output is not of this graph (a pretrained run's base)
            and not hasattr(layer, "layers")
            # a run's data augmentation passes images through at inference
            and not layer.name.startswith("augment_")
        ]

    def check_layers(self, names: list[str], option: str) -> None:
        """A UsageError naming `option` unless every name is a layer with feature maps."""
        known = self.feature_layers()
        for name in names:
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            guess = f" Did you mean '{close[0]}'?" if close else ""
            if name in self.layer_names():
                problem = f"layer '{name}' of {self.name} has no feature maps (4-D output)."
            else:
                problem = f"{self.name} has no layer '{name}'."
            raise UsageError(
                f"{option}: {problem}{guess} Its layers with feature maps ({len(known)}): "
                f"{shortened(known)}.",
                hint="Name layers with 4-D outputs (convolutions, pooling, blocks).",
            )

    def layer_names(self) -> list[str]:
        return [layer.name for layer in self.model.layers]

    def extractor(self, names: list[str]) -> Any:
        """A model from an image batch of any size (the model's input, see `to_input`) to
        a dict of the feature maps of `names`."""
        import keras

        outputs = {name: self.model.get_layer(name).output for name in names}
        sub = keras.Model(self.model.inputs, outputs)
        if self.flexible:
            return sub
        # The same layers (the same weights), called again on an input of any size.
        any_size = keras.Input(shape=(None, None, self.channels))
        try:
            return keras.models.clone_model(
                sub, input_tensors=[any_size], clone_function=lambda layer: layer
            )
        except Exception as exc:  # a nested model checks its own input size
            raise UsageError(
                f"{self.name}'s model takes only {_size(self.model)} images, and its layers "
                f"up to {', '.join(names)} cannot take other sizes "
                f"({type(exc).__name__}: {_first_line(exc)}).",
                hint="Use a run of a convnet (model.kind: convnet) or a keras.applications base.",
            ) from None

    def to_input(self, pixels: Any) -> Any:
        """A batch of images with pixels in [0, 1] (a tensor) as the model takes it."""
        import tensorflow as tf

        return tf.tensordot(pixels, tf.constant(self.kernel), 1) + tf.constant(self.bias)


def application_name(base: str) -> str:
    """The keras.applications class `base` names: `inception_v3`, `InceptionV3` and
    `inceptionv3` are one. A UsageError for any other name.

    Example:

    ```python
    application_name("mobilenet_v2")   # "MobileNetV2"
    ```
    """
    folded = {_fold(name): name for name in APPLICATIONS}
    found = folded.get(_fold(base))
    if found is None:
        close = difflib.get_close_matches(_fold(base), folded, n=1, cutoff=0.6)
        guess = f" Did you mean '{folded[close[0]]}'?" if close else ""
        raise UsageError(
            f"--base '{base}' is no keras.applications model.{guess}",
            hint=f"Use one of {', '.join(APPLICATIONS)} (or its module name, e.g. "
            "inception_v3), or run:<run id or path> for a dlrun run's convnet.",
        )
    return found


def _fold(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def check_application(base: str, weights: str | None) -> str:
    """The application `base` names, after checking `weights` names imagenet or a file;
    without Keras, so a typo is refused before TensorFlow loads."""
    name = application_name(base)
    if weights not in (None, "imagenet") and not Path(weights).is_file():
        raise UsageError(
            f"--weights {weights}: not found; give a weights file (.weights.h5, .h5 or "
            f".keras) of {name} without its top, or imagenet."
        )
    return name


def application_base(base: str, weights: str | None, verbose: bool = False) -> Base:
    """A keras.applications model without its top, for images of any size.

    `weights` is imagenet (downloaded by Keras into $KERAS_HOME/models/ on first use),
    a local weights file of the same application without its top, or None for imagenet.
    """
    from dlrun.models.pretrained import offline_hint, preprocess_weights
    from dlrun.tfenv import import_keras

    name = check_application(base, weights)
    weights = weights or "imagenet"
    from_file = weights != "imagenet"
    keras = import_keras(verbose)
    build = getattr(keras.applications, name)
    try:
        with offline_hint(name, local="pass --weights"):
            model = build(include_top=False, weights=None if from_file else "imagenet")
    except ValueError as exc:
        raise UsageError(
            f"{name} cannot be built for images of any size: {_first_line(exc)}"
        ) from None
    if from_file:
        try:
            model.load_weights(weights)
        except Exception as exc:  # another model's file, not HDF5, a wrong suffix
            raise UsageError(
                f"--weights {weights} does not fit {name} without its top "
                f"({type(exc).__name__}: {_first_line(exc)}).",
                hint=f"Save the weights of keras.applications.{name}(include_top=False).",
            ) from None
    kernel, bias = preprocess_weights(name, 3)
    return Base(name, weights, model, kernel, bias)


def run_base(label: str, model: Any, state: dict[str, Any]) -> Base:
    """The final model of a dlrun run (`label` names it) as a base: its pixels scaled, and
    standardized, as the run's preprocessing (`state`) does.

    Only runs on 8-bit images (image folders, MNIST, CIFAR-10, ...) are bases: their
    pixels are what a PNG or JPEG holds.
    """
    shape = tuple(model.inputs[0].shape[1:]) if len(model.inputs) == 1 else ()
    if len(shape) != 3 or shape[-1] not in (1, 3):
        raise UsageError(
            f"{label}: the run's model takes inputs of shape {shape}, not gray or RGB images.",
            hint="Use a run on images (image_dir, keras.mnist, keras.cifar10).",
        )
    scale = float(state.get("scale", 0.0))
    if state.get("kind") not in ("image_files", "images") or not np.isclose(scale * 255, 1.0):
        raise UsageError(
            f"{label}: the run was trained on {state.get('kind')} data scaled by {scale}, not "
            "on 8-bit images, so an image file's pixels mean nothing to it.",
            hint="Use a run on image files or 8-bit image arrays (MNIST, CIFAR-10).",
        )
    channels = int(shape[-1])
    mean = np.broadcast_to(np.asarray(state.get("mean", 0.0), np.float32), (channels,))
    std = np.broadcast_to(np.asarray(state.get("std", 1.0), np.float32), (channels,))
    kernel = np.diag(1.0 / std).astype(np.float32)  # pixels in [0, 1] are scale * 0..255
    return Base(label, None, model, kernel, (-mean / std).astype(np.float32), flexible=False)


def run_label(base: str) -> str | None:
    """The run a `run:` base names (`run:last` too), or None for an application name."""
    return base[len(RUN_PREFIX) :] if base.startswith(RUN_PREFIX) else None


def shortened(names: list[str]) -> str:
    """A long list of names as its first and last few around '...'."""
    if len(names) <= 2 * _SHOWN:
        return ", ".join(names) or "none"
    return ", ".join([*names[:_SHOWN], "...", *names[-_SHOWN:]])


def _maps(layer: Any) -> bool:
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):  # a layer with several outputs
        return False


def _size(model: Any) -> str:
    height, width = model.inputs[0].shape[1:3]
    return f"{height}x{width}"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
