"""Data augmentation as Keras preprocessing layers at a model's input (book ch. 5).

The data layer describes the augmentation (`InputSpec.augment`, from `data.augment`);
the builders put these layers right after the Input, as Keras and the book do. Keras's
random preprocessing layers transform only when called with `training=True`, so `fit`
sees new variants every epoch while evaluate, predict and an export see the images as
they are. The layers are standard Keras ones: a saved model loads in safe mode.

Example:

```python
inputs, x = model_inputs(InputSpec((150, 150, 3), augment=(("flip", "horizontal"),)))
x = keras.layers.Conv2D(32, 3)(x)
```
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dlrun.data.inputs import InputSpec


def augmentation_layers(augment: Iterable[tuple[str, Any]]) -> list[Any]:
    """One Keras preprocessing layer per (transformation, factor), in order.

    Args:
        augment: pairs such as ("flip", "horizontal"), ("rotation", 0.1), ("zoom", 0.2),
            ("translation", 0.1), ("contrast", 0.2), ("brightness", 0.2).

    Example:

    ```python
    augmentation_layers([("flip", "horizontal"), ("rotation", 0.1)])
    # [<RandomFlip name=augment_flip>, <RandomRotation name=augment_rotation>]
    ```
    """
    import keras

    layers = keras.layers
    makers = {
        "flip": layers.RandomFlip,
        "rotation": layers.RandomRotation,
        "zoom": layers.RandomZoom,
        "translation": lambda f, name: layers.RandomTranslation(f, f, name=name),
        "contrast": layers.RandomContrast,
        # images come scaled to [0, 1] (1/255 for image files and 8-bit arrays)
        "brightness": lambda f, name: layers.RandomBrightness(f, (0.0, 1.0), name=name),
    }
    return [makers[name](factor, name=f"augment_{name}") for name, factor in augment]


def model_inputs(spec: InputSpec) -> tuple[Any, Any]:
    """The model's Input and the tensor its body starts from: the input after the data
    augmentation `spec` asks for (itself when none).

    Args:
        spec: what the data gives the model.

    Example:

    ```python
    inputs, x = model_inputs(prepared.input_spec)
    model = keras.Model(inputs, body(x))
    ```
    """
    import keras

    inputs = keras.Input(shape=spec.shape, sparse=spec.sparse, name="inputs")
    x = inputs
    for layer in augmentation_layers(spec.augment):
        x = layer(x)
    return inputs, x
