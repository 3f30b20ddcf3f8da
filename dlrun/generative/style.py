"""Neural style transfer (book ch. 8, keras.io's example), under TensorFlow.

The image starts as the content image and descends, by SGD with an exponentially
decaying learning rate, the sum of three losses:

- content: the squared difference of its feature maps and the content image's in one
  deep layer, times `content_weight`;
- style: for each style layer, the squared difference of its Gram matrix (the channels'
  correlations) and the style image's, over 4 * 3^2 * (height * width)^2 as keras.io
  divides it, times `style_weight` shared out among the layers;
- total variation: how much neighbouring pixels differ, to keep the image smooth,
  times `tv_weight`.

The image is optimized in pixel values 0..255 whatever the base: for VGG, whose
preprocessing only reorders and shifts the channels, that is exactly keras.io's
optimization, and the learning rate means the same for every base. The content and
style targets are computed once. Nothing is random.

Example:

```python
settings = StyleSettings("block5_conv2", ["block1_conv1", "block2_conv1"], iterations=50)
blended, losses = transfer(base, content, style, settings)   # pixels in [0, 1]
```
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dlrun.console import progress
from dlrun.errors import UsageError
from dlrun.generative.bases import Base

# keras.io's learning-rate schedule: ExponentialDecay(100.0, decay_steps=100, decay_rate=0.96)
DECAY_STEPS = 100
DECAY_RATE = 0.96
# the losses a settings file keeps: about this many, evenly spaced, and the last
RECORDED_LOSSES = 100


@dataclass
class StyleSettings:
    """The layers compared and the weights and schedule of the descent."""

    content_layer: str
    style_layers: list[str] = field(default_factory=list)
    content_weight: float = 2.5e-8
    style_weight: float = 1e-6
    tv_weight: float = 1e-6
    iterations: int = 100
    learning_rate: float = 100.0
    decay_steps: int = DECAY_STEPS
    decay_rate: float = DECAY_RATE

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def transfer(
    base: Base, content: np.ndarray, style: np.ndarray, settings: StyleSettings
) -> tuple[np.ndarray, dict[str, Any]]:
    """`content` painted in the style of `style` (pixels in [0, 1], (height, width,
    channels), both of one shape).

    Returns the image, pixels in [0, 1], and its losses: `initial` (the content image's),
    `final` (the result's), and `history` (iteration: loss before it, thinned out).
    """
    import keras
    import tensorflow as tf

    height, width = content.shape[:2]
    names = list(dict.fromkeys([settings.content_layer, *settings.style_layers]))
    extractor = base.extractor(names)

    def features(image: Any) -> dict[str, Any]:
        return extractor(base.to_input(image / 255.0), training=False)

    try:
        content_target = features(tf.constant(content[None] * 255.0))[settings.content_layer]
        style_features = features(tf.constant(style[None] * 255.0))
    except Exception as exc:  # TensorFlow: a negative or zero dimension inside the model
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"a {height}x{width} image is too small for {base.name} ({reason[:200]}).",
            hint="Use a larger content image.",
        ) from None
    style_targets = {name: _gram(style_features[name][0]) for name in settings.style_layers}
    # keras.io's normalization of the style loss: 4 * channels^2 * size^2 with channels 3
    style_norm = 4.0 * 3**2 * float(height * width) ** 2
    share = settings.style_weight / max(len(settings.style_layers), 1)

    def loss_of(image: Any) -> Any:
        found = features(image)
        loss = settings.content_weight * tf.reduce_sum(
            tf.square(found[settings.content_layer] - content_target)
        )
        for name, target in style_targets.items():
            gram = _gram(found[name][0])
            loss += share * tf.reduce_sum(tf.square(gram - target)) / style_norm
        return loss + settings.tv_weight * _total_variation(image)

    @tf.function
    def step(image: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = loss_of(image)
        optimizer.apply_gradients([(tape.gradient(loss, image), image)])
        return loss

    schedule = keras.optimizers.schedules.ExponentialDecay(
        settings.learning_rate, settings.decay_steps, settings.decay_rate
    )
    optimizer = keras.optimizers.SGD(schedule)
    image = tf.Variable(content[None] * 255.0)
    optimizer.build([image])  # its variables made here, not inside the traced step
    every = max(1, settings.iterations // RECORDED_LOSSES)
    history: dict[str, float] = {}
    with progress("style transfer", total=settings.iterations, unit="iterations") as advance:
        for iteration in range(1, settings.iterations + 1):
            loss = float(step(image))
            if not np.isfinite(loss):
                raise UsageError(
                    f"the loss is {loss} at iteration {iteration}: the descent diverged.",
                    hint="Lower --learning-rate or the loss weights.",
                )
            if iteration == 1 or iteration % every == 0 or iteration == settings.iterations:
                history[str(iteration)] = loss
            advance()
    final = float(loss_of(image))
    losses = {"initial": history.get("1"), "final": final, "history": history}
    result = np.clip(np.asarray(image)[0] / 255.0, 0.0, 1.0).astype(np.float32)
    return result, losses


def _gram(maps: Any) -> Any:
    """The Gram matrix of one image's feature maps (height, width, channels): channels
    by channels."""
    import tensorflow as tf

    flat = tf.reshape(tf.transpose(maps, (2, 0, 1)), (tf.shape(maps)[-1], -1))
    return tf.matmul(flat, flat, transpose_b=True)


def _total_variation(image: Any) -> Any:
    """keras.io's total variation loss: sum((dx^2 + dy^2)^1.25) over the pixels."""
    import tensorflow as tf

    down = tf.square(image[:, :-1, :-1, :] - image[:, 1:, :-1, :])
    right = tf.square(image[:, :-1, :-1, :] - image[:, :-1, 1:, :])
    return tf.reduce_sum(tf.pow(down + right, 1.25))
