"""Seeing what a convnet learned (book ch. 5): activations, filter patterns, class heatmaps.

Each function takes a trained Keras model and returns images as float arrays in [0, 1]
(`save_png` writes them), so `dlrun show` only decides which to draw and where:

- `activations`: the feature maps of chosen layers for one input, one tile per channel;
- `filter_patterns`: for each filter of a layer, the input that excites it most, found by
  gradient ascent in input space from a grey image;
- `grad_cam`: where in the image the predicted class comes from (Grad-CAM: the last
  feature maps weighted by the gradient of the class score), over the image;
- `augmented`: what `data.augment` does to a few training images.

Layers of a nested model (a `pretrained` kind's base) are named `base/<layer>`. The
model always runs in inference mode, so augmentation and dropout stay off.

Example:

```python
grids = activations(model, image, ["conv_0", "pool_0"])   # {"conv_0": (h, w) grid, ...}
save_png(run.path / "visuals" / "conv_0.png", grids["conv_0"], colormap="viridis")
```
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.errors import UsageError
from dlrun.models.augment import augmentation_layers
from dlrun.runs.rundir import save_with

NESTED = "/"
# layers that only pass the image on: not worth a picture
_PLUMBING = ("InputLayer", "Dense", "Dropout", "Flatten")
MAX_TILES = 64


def feature_layers(model: Any) -> list[str]:
    """Names of the layers with feature maps (4-D outputs), in order, nested ones included."""
    names = []
    for layer in model.layers:
        if _is_model(layer):
            names += [f"{layer.name}{NESTED}{n}" for n in feature_layers(layer)]
        elif _four_d(layer) and not _skipped(layer):
            names.append(layer.name)
    return names


def activations(model: Any, image: np.ndarray, layers: list[str]) -> dict[str, np.ndarray]:
    """One grid per layer: the layer's feature maps for `image`, a tile per channel (the
    first 64), each scaled to [0, 1] on its own as the book draws them."""
    probe = _probe(model, layers)
    outputs = probe(image[None], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    grids = {}
    for name, out in zip(layers, outputs, strict=True):
        maps = np.asarray(out)[0]
        if maps.ndim != 3:
            raise UsageError(f"layer {name} has no feature maps (its output is {maps.shape}).")
        tiles = [_unit(maps[..., c]) for c in range(min(maps.shape[-1], MAX_TILES))]
        grids[name] = tile(tiles)
    return grids


def filter_patterns(
    model: Any, layer: str, *, steps: int = 30, rate: float = 10.0, seed: int = 0
) -> np.ndarray:
    """A grid of the inputs that maximize each filter's mean activation in `layer` (the
    first 64 filters), by gradient ascent from a grey image with a little noise."""
    import tensorflow as tf

    probe = _probe(model, [layer])
    channels = int(probe.outputs[0].shape[-1])
    count = min(channels, MAX_TILES)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    rng = np.random.RandomState(seed)
    images = tf.Variable(0.5 + 0.05 * rng.uniform(-1, 1, (count, *shape)).astype(np.float32))
    picks = tf.one_hot(np.arange(count), channels)  # image i excites filter i
    for _ in range(steps):
        with tf.GradientTape() as tape:
            maps = probe(images, training=False)
            # The border of a map sees padding, not the pattern: leave it out when it can.
            if maps.shape[1] > 4 and maps.shape[2] > 4:
                maps = maps[:, 2:-2, 2:-2, :]
            score = tf.reduce_sum(tf.reduce_mean(maps, axis=(1, 2)) * picks)
        grads = tape.gradient(score, images)
        norms = tf.sqrt(tf.reduce_mean(tf.square(grads), axis=(1, 2, 3), keepdims=True))
        images.assign_add(rate * grads / (norms + 1e-8))
    return tile([_deprocess(np.asarray(img)) for img in images.numpy()])


def grad_cam(model: Any, image: np.ndarray) -> tuple[np.ndarray, int]:
    """(The class heatmap over `image` as an RGB array, the class it explains): the last
    feature maps weighted by the gradient of the predicted class's score."""
    import tensorflow as tf

    # the last feature maps: a convnet's last conv layer, a pretrained model's base
    maps_layers = [
        layer.name
        for layer in model.layers
        if _four_d(layer) and (_is_model(layer) or not _skipped(layer))
    ]
    if not maps_layers:
        raise UsageError("the model has no layer with feature maps (a convnet) to explain.")
    probe = _probe(model, maps_layers[-1:], with_output=True)
    with tf.GradientTape() as tape:
        maps, predictions = probe(image[None], training=False)
        scores = predictions[0]
        if scores.shape[-1] == 1:  # sigmoid: the score of the class it decides for
            chosen = int(scores[0] > 0.5)
            score = scores[0] if chosen else 1 - scores[0]
        else:
            chosen = int(tf.argmax(scores))
            score = scores[chosen]
    grads = tape.gradient(score, maps)
    weights = tf.reduce_mean(grads, axis=(0, 1, 2))
    cam = tf.nn.relu(tf.reduce_sum(maps[0] * weights, axis=-1)).numpy()
    cam = np.asarray(tf.image.resize(cam[..., None], image.shape[:2]))[..., 0]
    heat = _colored(_unit(cam), "jet")
    picture = np.repeat(image, 3, axis=-1) if image.shape[-1] == 1 else image[..., :3]
    return 0.6 * picture + 0.4 * heat, chosen


def augmented(images: np.ndarray, augment: dict[str, Any], variants: int, seed: int) -> Any:
    """A grid: each row one image, as it is, then `variants` augmented versions of it."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = augmentation_layers(augment.items())
    rows = []
    for image in images:
        row = [image]
        for _ in range(variants):
            x = image[None]
            for layer in layers:
                x = layer(x, training=True)
            row.append(np.clip(np.asarray(x)[0], 0, 1))
        rows.append(row)
    return tile([t for row in rows for t in row], columns=variants + 1)


def tile(tiles: list[np.ndarray], columns: int | None = None, gap: int = 1) -> np.ndarray:
    """Tiles of one shape in a grid, row by row, with a white gap between them."""
    columns = columns or math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / columns)
    height, width = tiles[0].shape[:2]
    extra = tiles[0].shape[2:]
    grid = np.ones(
        (rows * (height + gap) - gap, columns * (width + gap) - gap, *extra), dtype=np.float32
    )
    for i, t in enumerate(tiles):
        top, left = (height + gap) * (i // columns), (width + gap) * (i % columns)
        grid[top : top + height, left : left + width] = t
    return grid


def save_png(path: Path, image: np.ndarray, *, colormap: str | None = None, scale: int = 1) -> None:
    """Write a [0, 1] image (gray, RGB, or one channel drawn with `colormap`) as a PNG,
    each pixel `scale` times larger (a 28x28 map is too small to see)."""
    from PIL import Image

    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if colormap is not None and image.ndim == 2:
        image = _colored(image, colormap)
    if scale > 1:
        image = image.repeat(scale, axis=0).repeat(scale, axis=1)
    pixels = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_with(path, lambda tmp: Image.fromarray(pixels).save(tmp, format="PNG"))


def _probe(model: Any, layers: list[str], with_output: bool = False) -> Any:
    """A model from `model`'s input to the outputs of `layers` (and its own output)."""
    import keras

    outputs = [_tensor(model, name) for name in layers]
    if with_output:
        outputs.append(model.outputs[0])
    return keras.Model(model.inputs[0], outputs[0] if len(outputs) == 1 else outputs)


def _tensor(model: Any, name: str) -> Any:
    """The symbolic output of layer `name` (or `outer/inner`) in `model`'s own graph."""
    import keras

    outer, _, inner = name.partition(NESTED)
    layer = _layer(model, outer)
    if not _is_model(layer):
        if inner:
            raise UsageError(f"layer {outer} holds no layers; name one of its model's layers.")
        return layer.output
    # A nested model's .output is its own graph's: follow its call in this graph.
    node = layer._inbound_nodes[0]
    if not inner:
        return node.output_tensors[0]
    sub = keras.Model(layer.inputs, _tensor(layer, inner))
    return sub(node.input_tensors[0])


def _layer(model: Any, name: str) -> Any:
    import difflib

    names = [layer.name for layer in model.layers]
    if name not in names:
        known = feature_layers(model) or names
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise UsageError(
            f"the model has no layer '{name}'.{hint} Layers with feature maps: "
            f"{', '.join(known[:20])}{', ...' if len(known) > 20 else ''}."
        )
    return model.get_layer(name)


def _is_model(layer: Any) -> bool:
    import keras

    return isinstance(layer, keras.Model)


def _four_d(layer: Any) -> bool:
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):  # a layer with several outputs
        return False


def _skipped(layer: Any) -> bool:
    name = type(layer).__name__
    return name in _PLUMBING or layer.name.startswith("augment_") or layer.name == "inputs"


def _unit(values: np.ndarray) -> np.ndarray:
    """Scaled to [0, 1]; a constant map stays 0."""
    values = np.asarray(values, dtype=np.float32)
    low, high = float(values.min()), float(values.max())
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def _deprocess(image: np.ndarray) -> np.ndarray:
    """A filter pattern made visible: centred, 0.15 standard deviations per unit, clipped."""
    image = (image - image.mean()) / (image.std() + 1e-5) * 0.15 + 0.5
    return np.clip(image, 0, 1)


def _colored(values: np.ndarray, name: str) -> np.ndarray:
    from matplotlib import colormaps

    return colormaps[name](values)[..., :3].astype(np.float32)
