"""Model kinds registry: a name -> (typed config, the inputs it accepts, build function).

Adding a model kind is one module (its `ModelSection` subclass and its builder) and one
line in `MODELS`; `dlrun.spec` builds the `model` union of the schema from this mapping.
A config's kind selects its entry by the part before the first ':' (`python:file.py:fn`
is the `python` kind). Builders import Keras inside the function, so this package stays
importable without TensorFlow. `python:` runs the user's own builder (the user's code runs
with dlrun's rights: only use builders you trust).

Representations a kind may accept (`dlrun.data.sources` names what each source gives):
`features` (dense vectors), `table` (encoded CSV rows), `images` (height, width[,
channels]), `multi_hot` (sparse token sets), `sequence` (ordered token ids, 0 = padding),
`series` (float time-series windows: steps, features), `token_windows` (windows of a
text's token ids, each with the next token as its target).

Example:

```python
model = build_model(config.model, prepared.input_spec, prepared.outputs, head)
```
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from dlrun.config.schema import ModelSection
from dlrun.data.inputs import InputSpec
from dlrun.models import dcgan, transformer, vae
from dlrun.models.autoencoder import AutoencoderConfig, build_autoencoder
from dlrun.models.conv1d import Conv1dConfig, build_conv1d
from dlrun.models.convnet import ConvnetConfig, build_convnet
from dlrun.models.embedding_bag import EmbeddingBagConfig, build_embedding_bag
from dlrun.models.mlp import MlpConfig, build_mlp
from dlrun.models.pretrained import PretrainedConfig, build_pretrained
from dlrun.models.rnn import RnnConfig, build_rnn
from dlrun.models.user import PythonModelConfig, build_user_model
from dlrun.tasks import Head
from dlrun.tfenv import after_keras_import

REPRESENTATIONS = (
    "features",
    "table",
    "images",
    "multi_hot",
    "sequence",
    "series",
    "token_windows",
)


class ModelKind(NamedTuple):
    config: type[ModelSection]
    accepts: tuple[str, ...]
    build: Callable[[Any, InputSpec, int, Head], Any]


MODELS: dict[str, ModelKind] = {
    "mlp": ModelKind(MlpConfig, ("features", "table", "images", "multi_hot", "series"), build_mlp),
    "convnet": ModelKind(ConvnetConfig, ("images",), build_convnet),
    "embedding_bag": ModelKind(EmbeddingBagConfig, ("sequence",), build_embedding_bag),
    "conv1d": ModelKind(Conv1dConfig, ("sequence", "series", "token_windows"), build_conv1d),
    "rnn": ModelKind(RnnConfig, ("sequence", "series", "token_windows"), build_rnn),
    "pretrained": ModelKind(PretrainedConfig, ("images",), build_pretrained),
    "transformer": ModelKind(
        transformer.TransformerConfig, ("sequence", "token_windows"), transformer.build_transformer
    ),
    "autoencoder": ModelKind(AutoencoderConfig, ("images", "features"), build_autoencoder),
    "vae": ModelKind(vae.VaeConfig, ("images", "features"), vae.build_vae),
    "dcgan": ModelKind(dcgan.DcganConfig, ("images",), dcgan.build_dcgan),
    "python": ModelKind(PythonModelConfig, REPRESENTATIONS, build_user_model),
}


# A saved VAE, GAN or transformer loads in safe mode in any process that imported Keras.
for _kind in (vae, dcgan, transformer):
    after_keras_import(_kind.register)


def kind_tag(kind: str) -> str:
    """The registry entry of a `model.kind` value: the part before the first ':'."""
    return kind.partition(":")[0]


def build_model(config: ModelSection, spec: InputSpec, outputs: int, head: Head) -> Any:
    """Build the configured body with the task's head; for standardized targets
    (`spec.target_scale`), the head's output times the targets' deviations plus their
    means, in a last non-trainable layer: the model learns targets of unit spread and
    predicts them in their units, so saved, exported and predicting models need no
    other step."""
    model = MODELS[kind_tag(config.kind)].build(config, spec, outputs, head)
    if spec.target_scale is None:
        return model
    import keras

    mean, std = spec.target_scale
    # float32 under a mixed precision policy too, as the head is: a float16 output times
    # a deviation in the hundreds loses the target's digits.
    scaled = keras.layers.Rescaling(
        list(std), offset=list(mean), dtype="float32", name="target_scale"
    )(model.output)
    return keras.Model(model.input, scaled, name=model.name)
