"""`dlrun style CONTENT STYLE`: neural style transfer (book ch. 8), under TensorFlow.

The base is a keras.applications model (VGG19 by default, the book's, comparing content
at block5_conv2 and style at block1_conv1 ... block5_conv1) or a dlrun run's convnet
(`run:<id>`, whose layers are named with --content-layer and --style-layers). The result
has the content image's size (the style image is resized to it): `CONTENT-style.png` by
default, and beside it a JSON file of the settings that made it, with the losses.

Example:

```python
target = style(Path("photo.jpg"), Path("starry.jpg"), base="vgg19", weights=None,
               content_layer=None, style_layers=None, settings=StyleSettings(""),
               output=None, force=False, runs_dir=Path("runs"), out=Output())
```
"""

from __future__ import annotations

import time
from pathlib import Path

from dlrun.commands.dream import finish, load_base
from dlrun.console import Output, literal
from dlrun.errors import UsageError
from dlrun.generative import output_path, pixels, read_image
from dlrun.generative.bases import STYLE_LAYERS, shortened
from dlrun.generative.style import StyleSettings, transfer


def style(
    content: Path,
    style_image: Path,
    *,
    base: str,
    weights: str | None,
    content_layer: str | None,
    style_layers: str | None,
    settings: StyleSettings,
    output: Path | None,
    force: bool,
    runs_dir: Path,
    out: Output,
) -> Path:
    """Paint `content` in the style of `style_image`; write the PNG and its settings."""
    started = time.monotonic()
    wanted_styles = _names(style_layers) if style_layers is not None else None
    content_picture = read_image(content, "CONTENT")
    style_picture = read_image(style_image, "STYLE")
    target = output_path(content, output, "style", force=force)
    resolved = load_base(base, weights, runs_dir=runs_dir, out=out)
    default_content, default_styles = STYLE_LAYERS.get(resolved.name, (None, None))
    chosen_content = content_layer or default_content
    chosen_styles = wanted_styles or default_styles
    if chosen_content is None or chosen_styles is None:
        missing = " and ".join(
            option
            for option, value in (
                ("--content-layer", chosen_content),
                ("--style-layers", chosen_styles),
            )
            if value is None
        )
        raise UsageError(
            f"{resolved.name} has no default layers for style transfer; give {missing}.",
            hint=f"Its layers with feature maps: {shortened(resolved.feature_layers())}.",
        )
    settings.content_layer, settings.style_layers = chosen_content, list(chosen_styles)
    resolved.check_layers([settings.content_layer], "--content-layer")
    resolved.check_layers(settings.style_layers, "--style-layers")
    source = pixels(content_picture, resolved.channels)
    painting = pixels(style_picture, resolved.channels, size=source.shape[:2])
    out.info(
        f"painting {literal(content)} in the style of {literal(style_image)} with "
        f"{literal(resolved.name)}: content {literal(settings.content_layer)}, style "
        f"{literal(', '.join(settings.style_layers))}"
    )
    with out.reporting():
        blended, losses = transfer(resolved, source, painting, settings)
    out.info(f"loss {losses['initial']:.4g} -> {losses['final']:.4g}")
    inputs = {"content": str(content.resolve()), "style": str(style_image.resolve())}
    finish(out, "style", resolved, settings, inputs, target, blended, {"loss": losses}, started)
    return target


def _names(text: str) -> list[str]:
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise UsageError("--style-layers names no layer.", hint="Example: --style-layers a,b,c")
    return names
