"""Pictures the generative contracts draw: grids of images, a latent grid and scatter,
and images or text in TensorBoard's tabs.

Example:

```python
save_grid(run / "samples.png", generator.predict(z))
latent_grid(decoder, run / "latent_grid.png", n=15)
```
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from dlrun.models.visualize import save_png, tile
from dlrun.runs.rundir import save_with

# Pixels per image pixel in a saved grid: a 28x28 digit is too small to see.
SCALE = 2


def save_grid(path: Path, images: np.ndarray, columns: int | None = None) -> None:
    """Images in [0, 1] as one PNG grid, row by row."""
    save_png(path, tile(list(np.asarray(images)), columns=columns), scale=SCALE)


def latent_batch(count: int, latent_dim: int, seed: int) -> np.ndarray:
    """Standard normal latent points, the same for the same seed on every backend."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


def latent_points(n: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    """An n x n grid of 2-D latent points, rows from high to low in the second
    coordinate (as the book's figure: the first row is the grid's top)."""
    xs = np.linspace(low, high, n)
    ys = np.linspace(high, low, n)
    return np.array([[x, y] for y in ys for x in xs], dtype=np.float32)


def latent_grid(decoder: Any, path: Path, n: int = 15, span: float = 2.0) -> None:
    """The decoder's images of an n x n grid over [-span, span]^2: the book's figure of
    digits morphing into one another."""
    images = np.asarray(decoder.predict(latent_points(n, -span, span), verbose=0))
    save_grid(path, images, columns=n)


def latent_scatter(points: np.ndarray, labels: np.ndarray | None, path: Path) -> None:
    """2-D latent points, coloured by label where the data has labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6))
    if labels is None:
        ax.scatter(points[:, 0], points[:, 1], s=3)
    else:
        drawn = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=3)
        fig.colorbar(drawn, ax=ax, label="label")
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title("test images in latent space")
    save_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))
    plt.close(fig)


def grid_columns(count: int) -> int:
    return math.ceil(math.sqrt(count))


def write_image(logdir: Path, tag: str, image: np.ndarray, step: int) -> None:
    """One image in TensorBoard's images tab (TensorFlow is the data layer's dependency
    on every backend)."""
    import tensorflow as tf

    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 2:
        image = image[..., None]
    writer = tf.summary.create_file_writer(str(logdir / "samples"))
    with writer.as_default():
        tf.summary.image(tag, image[None], step=step)
    writer.close()


def write_text(logdir: Path, tag: str, text: str, step: int) -> None:
    """Text in TensorBoard's text tab."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(logdir / "samples"))
    with writer.as_default():
        tf.summary.text(tag, text, step=step)
    writer.close()
