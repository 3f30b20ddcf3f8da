"""`pretrained`: a pretrained convolutional base under a new dense head (book ch. 5).

The base is any `keras.applications` model without its top (`base: MobileNetV2`), or a
previous dlrun run's final model cut below its dense layers (`base: run:<id>`: transfer
learning from your own runs). The model is

    inputs -> data augmentation -> the application's preprocess_input -> base
           -> pooling -> Dense layers of `units` -> the task's head

- The application's own `preprocess_input` is applied inside the model, as one fixed
  (non-trainable) per-channel affine map measured from that function: images arrive
  scaled to [0, 1], so it undoes the scaling, turns grayscale into the three channels
  every application wants, and does the application's own centring, all in one
  standard Keras layer that loads in safe mode. A `run:` base takes images as its run
  was trained on them, so it gets no preprocessing.
- `weights: imagenet` is Keras's download into `$KERAS_HOME/models/`; offline, the error
  names the file and where to put it. `weights: PATH` loads a local weights file.
- The base's BatchNormalization layers stay frozen, in inference mode, even when the
  layers around them fine-tune (the Keras transfer-learning guide's advice), so a small
  data set does not overwrite the statistics the base learned.
- `trainable: false` is feature extraction. `unfreeze: N` trains the base's top N
  layers, `trainable: true` all of it. A workflow stage that unfreezes the base starts
  from the weights of the latest earlier stage with the same model frozen (its head is
  trained by then), so `features` then `finetune` is the guide's two-step recipe.

Example config:

```yaml
model: {kind: pretrained, base: MobileNetV2, weights: imagenet, units: [256], dropout: 0.5}
workflow:
  stages:
    - {name: features, role: small}
    - {name: finetune, model: {unfreeze: 20}, train: {optimizer: {learning_rate: 1.0e-5}}}
```
"""

from __future__ import annotations

import difflib
import json
import sys
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from dlrun.config.schema import ModelSection, Units
from dlrun.data.inputs import InputSpec
from dlrun.data.keras_files import keras_cache_dir
from dlrun.errors import ConfigError, DlrunError, FatalError
from dlrun.models.augment import model_inputs
from dlrun.models.layers import DenseKeys, dense_stack, head_layer, join
from dlrun.runs.catalog import resolve_run
from dlrun.runs.rundir import Run, default_runs_dir
from dlrun.tasks import Head

RUN_PREFIX = "run:"
# keras.applications in Keras 3.15, so `dlrun check` names them without importing Keras
# (tests/test_images.py keeps the list equal to Keras's).
APPLICATIONS = (
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
    "DenseNet121", "DenseNet169", "DenseNet201",
    "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
    "EfficientNetB5", "EfficientNetB6", "EfficientNetB7",
    "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
    "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S",
    "InceptionResNetV2", "InceptionV3", "MobileNet", "MobileNetV2", "MobileNetV3Large",
    "MobileNetV3Small", "NASNetLarge", "NASNetMobile", "ResNet101", "ResNet101V2", "ResNet152",
    "ResNet152V2", "ResNet50", "ResNet50V2", "VGG16", "VGG19", "Xception",
)  # fmt: skip
# layers a base cut from a dlrun run leaves out by default: its dense head
_HEAD_LAYERS = ("Dense", "Dropout")
# A saved model's config.json larger than this is not read by `dlrun check` (a few KB for
# a small convnet, a few hundred for a large application).
_MAX_CONFIG_BYTES = 64 << 20


class PretrainedConfig(DenseKeys):
    """A pretrained convolutional base, then the Dense layers of `units` and the head."""

    kind: Literal["pretrained"] = Field(description="A pretrained base under a new head.")
    base: str = Field(
        "MobileNetV2",
        description="A keras.applications name (MobileNetV2, VGG16, ...) or run:<run id> "
        "(a dlrun run's final model, found in --runs-dir, else $DLRUN_RUNS_DIR, else ./runs; "
        "or run:<its path>).",
    )
    weights: str | None = Field(
        "imagenet",
        description="Application weights: imagenet (downloaded to $KERAS_HOME/models/), a "
        "local weights file, or null (random initialization).",
    )
    trainable: bool = Field(
        False, description="Train the whole base (false: feature extraction, base frozen)."
    )
    unfreeze: int = Field(
        0, ge=0, description="Fine-tune the top N layers of the base; the rest stay frozen."
    )
    pooling: Literal["avg", "max", "flatten"] = Field(
        "avg", description="How the base's feature maps become a vector for the head."
    )
    cut: str | None = Field(
        None,
        description="The base ends at this layer (default: an application's last layer; a "
        "run's model without its Dense and Dropout layers on top).",
    )
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra keyword arguments for the application, e.g. {alpha: 0.35}.",
    )
    units: list[Units] = Field(
        default_factory=lambda: [256], description="Hidden Dense layer sizes of the new head."
    )

    @property
    def from_run(self) -> bool:
        return self.base.startswith(RUN_PREFIX)

    @property
    def unfrozen(self) -> bool:
        return self.trainable or self.unfreeze > 0

    def describe(self) -> str:
        if self.trainable:
            state = "trainable"
        elif self.unfreeze:
            state = f"top {self.unfreeze} unfrozen"
        else:
            state = "frozen"
        dense = f" + {join(self.units)}" if self.units else ""
        # a run's id, not the whole path it may be given as
        base = RUN_PREFIX + Path(self.base[len(RUN_PREFIX) :]).name if self.from_run else self.base
        return f"pretrained {base} ({state}){dense}{self.regularization()}"

    def problems(self) -> list[str]:
        problems = super().problems()
        if not self.from_run and self.base not in APPLICATIONS:
            folded = {name.lower(): name for name in APPLICATIONS}
            close = difflib.get_close_matches(self.base.lower(), folded, n=1, cutoff=0.6)
            hint = f" Did you mean '{folded[close[0]]}'?" if close else ""
            problems.append(
                f"model.base '{self.base}' is not a keras.applications model.{hint} Use one of "
                f"{', '.join(APPLICATIONS)}, or run:<run id> for a dlrun run's model."
            )
        if self.base == f"{RUN_PREFIX}last":
            problems.append(
                "model.base run:last names another run after every training, so this config "
                "would not reproduce; give the run's id or path (dlrun runs lists them)."
            )
        if self.trainable and self.unfreeze:
            problems.append(
                "model.trainable: true trains the whole base and model.unfreeze "
                f"{self.unfreeze} only its top layers; set one of them."
            )
        # weights' default, imagenet, stays in resolved configs: only other values are wrong
        if self.from_run and (self.weights != "imagenet" or self.options):
            problems.append(
                "model.weights and model.options are for keras.applications bases; a run: "
                "base brings the weights its run trained. Remove them."
            )
        return problems

    def input_problems(self) -> list[str]:
        if self.from_run:
            try:
                base_model_file(self.base)
            except DlrunError as exc:
                return [f"model.base {self.base}: {exc.message} {exc.hint or ''}".rstrip()]
            return []
        if self.weights not in (None, "imagenet") and not Path(self.weights).is_file():
            return [
                f"model.weights {self.weights}: not found; give a weights file (.weights.h5, "
                ".h5 or .keras), imagenet, or null."
            ]
        return []

    def shape_problems(self, shape: tuple[int, ...]) -> list[str]:
        if not self.from_run:
            return []
        try:
            expected = saved_input_shape(base_model_file(self.base))
        except DlrunError:  # input_problems names a base without its model
            return []
        if expected is None or expected == tuple(shape):
            return []
        message, hint = _shape_mismatch(self.base, expected, tuple(shape))
        return [f"{message} {hint}"]

    def continues_from(self, earlier: ModelSection) -> bool:
        if not self.unfrozen or not isinstance(earlier, PretrainedConfig):
            return False
        frozen = {"trainable": False, "unfreeze": 0}
        return {**self.model_dump(), **frozen} == {**earlier.model_dump(), **frozen}


def base_model_file(base: str) -> Path:
    """The final model file of the run a `run:` base names; a DlrunError if it has none."""
    target = base.removeprefix(RUN_PREFIX)
    return Run.open(resolve_run(target, default_runs_dir())).final_model()


def saved_input_shape(path: Path) -> tuple[int, ...] | None:
    """The shape of one input sample of a model saved as .keras, read from the config.json
    inside the file's zip, so without Keras; None when that does not tell it."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > _MAX_CONFIG_BYTES:
                return None
            config = json.loads(archive.read(info))
        body = config["config"]
        first = body["input_layers"]
        # one input is ["name", 0, 0]; several are a list of those
        name = first[0][0] if isinstance(first[0], list) else first[0]
        (layer,) = (layer["config"] for layer in body["layers"] if layer.get("name") == name)
        return tuple(int(d) for d in layer["batch_shape"][1:])
    except (OSError, zipfile.BadZipFile, KeyError, IndexError, TypeError, ValueError):
        return None


def _shape_mismatch(
    base: str, expected: tuple[int, ...], given: tuple[int, ...]
) -> tuple[str, str]:
    """The message and hint for a run: base whose input shape the data does not give."""
    return (
        f"model.base {base} takes inputs of shape {expected}, but the data gives {given}.",
        "Set data.image_size and data.color_mode to what that run was trained on.",
    )


def build_pretrained(config: PretrainedConfig, spec: InputSpec, outputs: int, head: Head) -> Any:
    import keras

    if len(spec.shape) != 3:
        raise ConfigError(
            f"model.kind 'pretrained' needs images (height, width, channels); the data gives "
            f"shape {spec.shape}.",
            hint="Use model.kind: mlp for vector data.",
        )
    inputs, x = model_inputs(spec)
    if config.from_run:
        base = _run_base(keras, config, spec)
    else:
        base = _application(keras, config, spec)
        preprocess = keras.layers.Dense(3, trainable=False, name="preprocess_input")
        x = preprocess(x)
        preprocess.set_weights(preprocess_weights(config.base, spec.shape[-1]))
    _freeze(base, config)
    x = base(x)
    if len(x.shape) == 4:
        pool = {
            "avg": keras.layers.GlobalAveragePooling2D,
            "max": keras.layers.GlobalMaxPooling2D,
            "flatten": keras.layers.Flatten,
        }[config.pooling]
        x = pool(name="pooling")(x)
    x = dense_stack(x, config)
    return keras.Model(inputs, head_layer(x, outputs, head), name="pretrained")


def _freeze(base: Any, config: PretrainedConfig) -> None:
    """Make the base trainable as configured; its BatchNormalization layers never are."""
    base.trainable = config.unfrozen
    if config.unfreeze:
        if config.unfreeze > len(base.layers):
            raise ConfigError(
                f"model.unfreeze is {config.unfreeze}, but the base has {len(base.layers)} "
                "layers; use model.trainable: true to train all of them."
            )
        for layer in base.layers[: -config.unfreeze]:
            layer.trainable = False
    # A frozen BatchNormalization layer runs in inference mode, so fine-tuning on a small
    # data set does not wreck the statistics the base learned. `base(x, training=False)`,
    # the Keras guide's way, does not hold in Keras 3.15: a functional model passes its own
    # `training` to every layer it calls, nested models included.
    for layer in _all_layers(base):
        if type(layer).__name__ == "BatchNormalization":
            layer.trainable = False


def _all_layers(model: Any) -> list[Any]:
    """The layers of `model` and of the models nested in it."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if hasattr(layer, "layers"):
            found += _all_layers(layer)
    return found


def _application(keras: Any, config: PretrainedConfig, spec: InputSpec) -> Any:
    build = getattr(keras.applications, config.base)
    height, width, _ = spec.shape
    kwargs = {"include_top": False, "input_shape": (height, width, 3), **config.options}
    # a weights file is loaded after the build, so its errors are told apart from Keras's
    # checks of the input size and the options
    from_file = config.weights not in (None, "imagenet")
    try:
        with offline_hint(config.base):
            base = build(weights=None if from_file else config.weights, name="base", **kwargs)
    except ValueError as exc:
        raise ConfigError(
            f"{config.base} cannot be built for {height}x{width} images with "
            f"{config.options or 'its defaults'}: {str(exc).strip().splitlines()[0]}",
            hint="Change data.image_size (most applications need at least 32x32) or model.options.",
        ) from None
    if from_file:
        try:
            base.load_weights(config.weights)
        except Exception as exc:  # another model's file, not HDF5, a wrong suffix
            raise ConfigError(
                f"model.weights {config.weights} does not fit {config.base} without its top "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0]}).",
                hint="Save the weights of the same application built with include_top=False "
                "and the same model.options.",
            ) from None
    return _cut(base, config.cut) if config.cut else base


@contextmanager
def offline_hint(name: str, local: str = "set model.weights to") -> Iterator[None]:
    """Turn a failed weights download into an error naming the file and where it goes;
    `local` says how the command takes a local copy instead."""
    from unittest import mock

    from keras.src.utils import file_utils

    asked: list[str] = []
    download = file_utils.get_file

    def get_file(fname: Any = None, origin: Any = None, *args: Any, **kwargs: Any) -> Any:
        asked.append(str(fname or Path(str(origin)).name))
        return download(fname, origin, *args, **kwargs)

    # Applications call keras.src.utils.file_utils.get_file for their weights.
    with mock.patch.object(file_utils, "get_file", get_file):
        try:
            yield
        except Exception as exc:
            if not asked or isinstance(exc, DlrunError):
                raise
            folder = keras_cache_dir().parent / "models"
            # Every stage would fail alike: stop the run, with where the file goes.
            raise FatalError(
                f"could not get {name}'s imagenet weights, {asked[-1]} "
                f"({type(exc).__name__}: {str(exc).strip().splitlines()[0]}).",
                hint=f"Keras downloads them on first use, which needs the network. Offline, "
                f"put {asked[-1]} in {folder}/ ($KERAS_HOME/models/), or {local} "
                "a local copy of it.",
            ) from None


def preprocess_weights(name: str, channels: int) -> list[np.ndarray]:
    """Kernel and bias of the Dense layer that maps images in [0, 1] with `channels`
    channels to what `name`'s preprocess_input makes of the same images in 0..255.

    Every keras.applications preprocess_input is affine per pixel ('tf' scales to
    [-1, 1], 'torch' standardizes, 'caffe' reverses to BGR and centres, the rest pass
    through): measured on four pixels, checked on random ones."""
    import keras

    module = sys.modules[getattr(keras.applications, name).__module__]

    def preprocess(pixels: np.ndarray) -> np.ndarray:
        # preprocess_input works in place on numpy arrays: hand it a copy
        out = module.preprocess_input(pixels.reshape(-1, 1, 1, 3).astype(np.float32))
        return np.asarray(out, dtype=np.float64).reshape(-1, 3)

    basis = np.vstack([np.zeros(3), 255 * np.eye(3)])
    measured = preprocess(basis)
    bias, kernel = measured[0], measured[1:] - measured[0]
    pixels = np.random.RandomState(0).uniform(0, 255, (16, 3))
    if not np.allclose(preprocess(pixels), pixels / 255 @ kernel + bias, atol=1e-3):
        raise ConfigError(f"{name}'s preprocess_input is not a per-pixel affine map.")
    if channels == 1:  # gray: the same value in R, G and B
        kernel = kernel.sum(axis=0, keepdims=True)
    return [kernel.astype(np.float32), bias.astype(np.float32)]


def _run_base(keras: Any, config: PretrainedConfig, spec: InputSpec) -> Any:
    path = base_model_file(config.base)
    try:
        trained = keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:  # damaged, or refused by safe mode
        raise ConfigError(
            f"model.base {config.base}: Keras cannot load {path}: {type(exc).__name__}: "
            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        ) from None
    expected = tuple(int(d) for d in trained.inputs[0].shape[1:])
    if trained.name == "ensemble":
        raise ConfigError(
            f"model.base {config.base}: that run's final model averages several models "
            "(workflow.final_models); a base must be one model.",
            hint="Train the base run with final_models: 1.",
        )
    if expected != tuple(spec.shape):
        message, hint = _shape_mismatch(config.base, expected, tuple(spec.shape))
        raise ConfigError(message, hint=hint)
    if config.cut:
        return _cut(trained, config.cut)
    layers = trained.layers
    end = len(layers)
    while end > 1 and type(layers[end - 1]).__name__ in _HEAD_LAYERS:
        end -= 1
    if end == len(layers) or end <= 1:  # no dense head to remove: remove the last layer
        end = len(layers) - 1
    return keras.Model(trained.inputs, layers[end - 1].output, name="base")


def _cut(model: Any, layer_name: str) -> Any:
    import keras

    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        close = difflib.get_close_matches(layer_name, names, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(
            f"model.cut '{layer_name}' is not a layer of the base.{hint} Its layers: "
            f"{', '.join(names[-12:])}{' (the last 12)' if len(names) > 12 else ''}."
        )
    return keras.Model(model.inputs, model.get_layer(layer_name).output, name="base")
