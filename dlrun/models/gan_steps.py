"""The DCGAN's training and evaluation steps, one per Keras backend.

A GAN step trains two networks against each other with two optimizers: first the
discriminator (real images labelled 1, generated ones 0), then the generator (its images
labelled 1, so that it learns to fool the discriminator as it now is). Keras's own
`train_step` follows one loss with one optimizer, so each backend gets its own step, as
the keras.io guides "Customizing what happens in fit()" write them: TensorFlow with
`tf.GradientTape`, PyTorch with autograd, JAX with `jax.value_and_grad` over stateless
functions that take the variables' values and return their new ones.

The forward passes (`discriminator_pass`, `generator_pass`) are shared: on JAX they run in
a `keras.StatelessScope` that maps every variable of the model to the value the step
holds, so a layer reads that value and the seed generators' updates are recorded instead
of assigned.

Only `dlrun.models.dcgan`'s GAN imports this module (it imports Keras).

Example:

```python
class GAN(keras.Model):
    def train_step(self, *args):   # (data), or (state, data) on JAX
        return gan_steps.train_step(self, *args)
```
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
from keras import ops


def real_images(data: Any) -> Any:
    """The images of a batch: x of x, (x,), (x, y) or (x, y, sample_weight)."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


def crossentropy(labels: Any, logits: Any) -> Any:
    """Mean binary crossentropy of logits (the discriminator outputs no sigmoid)."""
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


def latent_points(gan: Any, batch: Any) -> Any:
    """`batch` points of the latent space, from the GAN's seeded generator."""
    return keras.random.normal((batch, gan.latent_dim), seed=gan.seed_generator)


def discriminator_pass(gan: Any, real: Any, training: bool) -> tuple[Any, Any]:
    """The discriminator's loss on `real` and as many generated images, and its logits
    on `real`.

    In training, the labels are softened by up to `gan.label_noise` at random (real
    ones towards 0, fake ones towards 1): the book's trick that keeps the discriminator
    from becoming sure too fast, which would leave the generator no gradient.
    """
    batch = ops.shape(real)[0]
    # the discriminator's step leaves the generator alone
    fake = ops.stop_gradient(gan.generator(latent_points(gan, batch), training=training))
    # one call on both halves, as the Keras guide's GAN: the discriminator has no batch
    # statistics, so this is the two calls' result in half the kernel launches
    logits = gan.discriminator(ops.concatenate([real, fake], axis=0), training=training)
    real_logits, fake_logits = logits[:batch], logits[batch:]
    real_labels = ops.ones_like(real_logits)
    fake_labels = ops.zeros_like(fake_logits)
    if training and gan.label_noise:
        shape = ops.shape(real_logits)
        real_labels -= gan.label_noise * keras.random.uniform(shape, seed=gan.seed_generator)
        fake_labels += gan.label_noise * keras.random.uniform(shape, seed=gan.seed_generator)
    loss = (crossentropy(real_labels, real_logits) + crossentropy(fake_labels, fake_logits)) / 2
    return loss, real_logits


def generator_pass(gan: Any, batch: Any, training: bool) -> Any:
    """The generator's loss: the discriminator's crossentropy on `batch` generated
    images labelled real (the non-saturating GAN loss)."""
    logits = gan.discriminator(
        gan.generator(latent_points(gan, batch), training=training), training=training
    )
    return crossentropy(ops.ones_like(logits), logits)


def update_metrics(gan: Any, d_loss: Any, g_loss: Any, real_logits: Any) -> dict[str, Any]:
    """Update `d_loss`, `g_loss` and `real_accuracy` (the share of real images the
    discriminator calls real: a positive logit); their values so far."""
    gan.d_loss_tracker.update_state(d_loss)
    gan.g_loss_tracker.update_state(g_loss)
    gan.real_accuracy_tracker.update_state(ops.cast(real_logits > 0, "float32"))
    return {metric.name: metric.result() for metric in gan.metrics}


# TensorFlow


def tensorflow_train_step(gan: Any, data: Any) -> dict[str, Any]:
    import tensorflow as tf

    real = real_images(data)
    with tf.GradientTape() as tape:
        d_loss, real_logits = discriminator_pass(gan, real, training=True)
    weights = gan.discriminator.trainable_weights
    gan.discriminator_optimizer.apply(tape.gradient(d_loss, weights), weights)
    with tf.GradientTape() as tape:
        g_loss = generator_pass(gan, ops.shape(real)[0], training=True)
    weights = gan.generator.trainable_weights
    gan.optimizer.apply(tape.gradient(g_loss, weights), weights)
    return update_metrics(gan, d_loss, g_loss, real_logits)


# PyTorch


def torch_train_step(gan: Any, data: Any) -> dict[str, Any]:
    import torch

    real = real_images(data)
    gan.zero_grad()
    d_loss, real_logits = discriminator_pass(gan, real, training=True)
    d_loss.backward()
    weights = gan.discriminator.trainable_weights
    grads = [w.value.grad for w in weights]
    with torch.no_grad():
        gan.discriminator_optimizer.apply(grads, weights)
    # the generator's loss goes through the discriminator: clear the grads it leaves there
    gan.zero_grad()
    g_loss = generator_pass(gan, ops.shape(real)[0], training=True)
    g_loss.backward()
    weights = gan.generator.trainable_weights
    grads = [w.value.grad for w in weights]
    with torch.no_grad():
        gan.optimizer.apply(grads, weights)
    return update_metrics(gan, d_loss.detach(), g_loss.detach(), real_logits.detach())


# TensorFlow and PyTorch evaluate alike


def stateful_test_step(gan: Any, data: Any) -> dict[str, Any]:
    real = real_images(data)
    d_loss, real_logits = discriminator_pass(gan, real, training=False)
    g_loss = generator_pass(gan, ops.shape(real)[0], training=False)
    return update_metrics(gan, d_loss, g_loss, real_logits)


# JAX


def positions(variables: Sequence[Any], subset: Sequence[Any]) -> list[int]:
    """Where each variable of `subset` is in `variables` (the model's list, which the
    JAX state follows), in `subset`'s order (the one its optimizer was built on)."""
    at = {id(v): i for i, v in enumerate(variables)}
    return [at[id(v)] for v in subset]


def replaced(values: Sequence[Any], where: Sequence[int], new: Sequence[Any]) -> list[Any]:
    out = list(values)
    for i, value in zip(where, new, strict=True):
        out[i] = value
    return out


def stateless_run(
    gan: Any, trainable: Sequence[Any], non_trainable: Sequence[Any], fn: Any
) -> tuple[Any, list[Any]]:
    """`fn()` with the model's variables reading `trainable` and `non_trainable`; its
    result and the non-trainable values it leaves (the seed generators advance)."""
    mapping = [
        *zip(gan.trainable_variables, trainable, strict=True),
        *zip(gan.non_trainable_variables, non_trainable, strict=True),
    ]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        result = fn()
    return result, [scope.get_current_value(v) for v in gan.non_trainable_variables]


def stateless_metrics(
    gan: Any, metrics_values: Sequence[Any], d_loss: Any, g_loss: Any, real_logits: Any
) -> tuple[dict[str, Any], list[Any]]:
    mapping = list(zip(gan.metrics_variables, metrics_values, strict=True))
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = update_metrics(gan, d_loss, g_loss, real_logits)
    return logs, [scope.get_current_value(v) for v in gan.metrics_variables]


def jax_train_step(gan: Any, state: Any, data: Any) -> tuple[dict[str, Any], Any]:
    """The JAX trainer's step: (logs, new state) from the state (trainable,
    non-trainable, optimizer and metrics variables' values) and a batch. The optimizer
    values are the generator optimizer's, then the discriminator optimizer's (the GAN's
    `_get_jax_state` puts both there)."""
    import jax

    trainable, non_trainable, optimizer_values, metrics_values = state
    real = real_images(data)
    split = len(gan.optimizer.variables)
    g_optimizer_values, d_optimizer_values = optimizer_values[:split], optimizer_values[split:]
    at_d = positions(gan.trainable_variables, gan.discriminator.trainable_variables)
    at_g = positions(gan.trainable_variables, gan.generator.trainable_variables)

    def d_loss_fn(d_values: list[Any], non_trainable: list[Any]) -> tuple[Any, Any]:
        values = replaced(trainable, at_d, d_values)
        (loss, real_logits), non_trainable = stateless_run(
            gan, values, non_trainable, lambda: discriminator_pass(gan, real, training=True)
        )
        return loss, (real_logits, non_trainable)

    d_values = [trainable[i] for i in at_d]
    (d_loss, (real_logits, non_trainable)), grads = jax.value_and_grad(d_loss_fn, has_aux=True)(
        d_values, non_trainable
    )
    d_values, d_optimizer_values = gan.discriminator_optimizer.stateless_apply(
        d_optimizer_values, grads, d_values
    )
    trainable = replaced(trainable, at_d, d_values)

    batch = real.shape[0]

    def g_loss_fn(g_values: list[Any], non_trainable: list[Any]) -> tuple[Any, Any]:
        values = replaced(trainable, at_g, g_values)
        return stateless_run(
            gan, values, non_trainable, lambda: generator_pass(gan, batch, training=True)
        )

    g_values = [trainable[i] for i in at_g]
    (g_loss, non_trainable), grads = jax.value_and_grad(g_loss_fn, has_aux=True)(
        g_values, non_trainable
    )
    g_values, g_optimizer_values = gan.optimizer.stateless_apply(
        g_optimizer_values, grads, g_values
    )
    trainable = replaced(trainable, at_g, g_values)

    logs, metrics_values = stateless_metrics(gan, metrics_values, d_loss, g_loss, real_logits)
    optimizer_values = [*g_optimizer_values, *d_optimizer_values]
    return logs, (trainable, non_trainable, optimizer_values, metrics_values)


def jax_test_step(gan: Any, state: Any, data: Any) -> tuple[dict[str, Any], Any]:
    trainable, non_trainable, metrics_values = state
    real = real_images(data)

    def passes() -> tuple[Any, Any, Any]:
        d_loss, real_logits = discriminator_pass(gan, real, training=False)
        return d_loss, generator_pass(gan, real.shape[0], training=False), real_logits

    (d_loss, g_loss, real_logits), non_trainable = stateless_run(
        gan, trainable, non_trainable, passes
    )
    logs, metrics_values = stateless_metrics(gan, metrics_values, d_loss, g_loss, real_logits)
    return logs, (trainable, non_trainable, metrics_values)


TRAIN_STEPS = {
    "tensorflow": tensorflow_train_step,
    "torch": torch_train_step,
    "jax": jax_train_step,
}
TEST_STEPS = {"tensorflow": stateful_test_step, "torch": stateful_test_step, "jax": jax_test_step}


def train_step(gan: Any, *args: Any) -> Any:
    """The GAN's training step on the running backend: `(data)` -> logs, or on JAX
    `(state, data)` -> (logs, state)."""
    return _step(TRAIN_STEPS, "train")(gan, *args)


def test_step(gan: Any, *args: Any) -> Any:
    """The GAN's evaluation step on the running backend, as `train_step` takes it."""
    return _step(TEST_STEPS, "test")(gan, *args)


def _step(steps: dict[str, Any], kind: str) -> Any:
    backend = keras.backend.backend()
    if backend not in steps:
        raise NotImplementedError(
            f"The DCGAN has no {kind} step for the Keras backend '{backend}'; it trains "
            f"on {', '.join(sorted(steps))}."
        )
    return steps[backend]
