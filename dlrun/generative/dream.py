"""DeepDream (book ch. 8, keras.io's DeepDream example), under TensorFlow.

Gradient ascent on the image to make chosen layers fire: the loss is the weighted sum,
over the layers, of the squared activations (the border left out, where a map is larger
than 4x4) divided by the map's size. Each step moves the image by `step_size` times the
gradient normalized by its mean absolute value. The image is processed at `octaves`
scales, smallest first, each `octave_scale` times the previous; between octaves it is
upscaled, and the detail that shrinking the original lost is put back in.

The image is optimized in pixels scaled to [-1, 1] whatever the base (exactly
keras.io's InceptionV3 inputs), so `step_size` means the same for every base. Nothing is
random: the same image and settings give the same dream.

Example:

```python
settings = DreamSettings(layers={"mixed4": 1.0, "mixed5": 1.5})
dreamed, octaves = dream(base, pixels, settings)   # pixels in [0, 1], (h, w, c)
```
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dlrun.console import progress
from dlrun.errors import UsageError
from dlrun.generative.bases import Base


@dataclass
class DreamSettings:
    """The layers to excite (name: weight in the loss) and the ascent's settings."""

    layers: dict[str, float] = field(default_factory=dict)
    octaves: int = 3
    octave_scale: float = 1.4
    steps: int = 20
    step_size: float = 0.01
    max_loss: float = 15.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def octave_shapes(height: int, width: int, octaves: int, scale: float) -> list[tuple[int, int]]:
    """The (height, width) of each octave, smallest first; the last is the image's own.

    Example:

    ```python
    octave_shapes(100, 200, 3, 1.4)   # [(51, 102), (71, 142), (100, 200)]
    ```
    """
    shapes = [(int(height / scale**i), int(width / scale**i)) for i in range(octaves)]
    return shapes[::-1]


def dream(
    base: Base, image: np.ndarray, settings: DreamSettings
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """`image` (pixels in [0, 1], (height, width, channels)) dreamed by `base`.

    Returns the dreamed pixels, same shape, in [0, 1], and one record per octave: its
    shape, the steps taken, the loss before the first and the last step, and whether
    the loss passed `max_loss` (which ends an octave's ascent early).
    """
    import tensorflow as tf

    extractor = base.extractor(list(settings.layers))
    shapes = octave_shapes(*image.shape[:2], settings.octaves, settings.octave_scale)
    _check_smallest(base, extractor, shapes[0], settings)
    weights = dict(settings.layers)

    def loss_of(scaled: Any) -> Any:
        features = extractor(base.to_input((scaled + 1.0) / 2.0), training=False)
        loss = tf.zeros(())
        for name, maps in features.items():
            size = tf.reduce_prod(tf.cast(tf.shape(maps), tf.float32))
            # Borders of a map see padding: left out, as keras.io does, when there is
            # an inside to keep.
            if maps.shape[1] > 4 and maps.shape[2] > 4:
                maps = maps[:, 2:-2, 2:-2, :]
            loss += weights[name] * tf.reduce_sum(tf.square(maps)) / size
        return loss

    original = tf.constant(image[None] * 2.0 - 1.0)
    shrunk = tf.image.resize(original, shapes[0])
    dreamed = original
    records = []
    for number, shape in enumerate(shapes, 1):
        dreamed = tf.image.resize(dreamed, shape)
        # One function per octave: traced once for its shape.
        step = tf.function(_ascent_step(loss_of, settings.step_size))
        losses: list[float] = []
        stopped = False
        label = f"octave {number}/{len(shapes)} ({shape[0]}x{shape[1]})"
        with progress(label, total=settings.steps, unit="steps") as advance:
            for _ in range(settings.steps):
                loss, dreamed = step(dreamed)
                losses.append(float(loss))
                advance()
                if losses[-1] > settings.max_loss:
                    stopped = True
                    break
        # Put back the detail the smaller octaves never had.
        lost = tf.image.resize(original, shape) - tf.image.resize(shrunk, shape)
        dreamed += lost
        shrunk = tf.image.resize(original, shape)
        records.append(
            {
                "shape": list(shape),
                "steps": len(losses),
                "loss_first": losses[0] if losses else None,
                "loss_last": losses[-1] if losses else None,
                "stopped_at_max_loss": stopped,
            }
        )
    result = np.clip((np.asarray(dreamed)[0] + 1.0) / 2.0, 0.0, 1.0)
    return result.astype(np.float32), records


def _ascent_step(loss_of: Any, step_size: float) -> Any:
    import tensorflow as tf

    def step(image: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            tape.watch(image)
            loss = loss_of(image)
        grads = tape.gradient(loss, image)
        grads /= tf.maximum(tf.reduce_mean(tf.abs(grads)), 1e-6)
        return loss, image + step_size * grads

    return step


def _check_smallest(
    base: Base, extractor: Any, shape: tuple[int, int], settings: DreamSettings
) -> None:
    """A UsageError, before any ascent, when the smallest octave is too small for the
    base (its layers would have no map left)."""
    import tensorflow as tf

    fix = (
        f"Use fewer --octaves (now {settings.octaves}), a smaller --octave-scale (now "
        f"{settings.octave_scale}), or a larger image."
    )
    if min(shape) < 1:
        raise UsageError(f"the smallest octave would be {shape[0]}x{shape[1]} pixels.", hint=fix)
    try:
        found = extractor(tf.zeros((1, *shape, base.channels)), training=False)
        empty = [name for name, maps in found.items() if 0 in tuple(maps.shape)]
    except Exception as exc:  # TensorFlow: a negative or zero dimension inside the model
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(
            f"the smallest octave, {shape[0]}x{shape[1]}, is too small for {base.name} "
            f"({reason[:200]}).",
            hint=fix,
        ) from None
    if empty:
        raise UsageError(
            f"at the smallest octave, {shape[0]}x{shape[1]}, {', '.join(empty)} "
            "has no feature map left.",
            hint=fix,
        )
