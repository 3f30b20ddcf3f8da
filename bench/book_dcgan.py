"""The GAN of the Keras guide "Customizing what happens in fit()" (TensorFlow version,
guides/custom_train_step_in_tensorflow.py, fchollet) in plain Keras.

The guide as it is written: the discriminator (Conv2D 64 and 128, 3x3, strides 2, each
LeakyReLU 0.2, GlobalMaxPooling2D, Dense 1 logit), the generator (latent_dim 128, Dense
7x7x128, LeakyReLU, two Conv2DTranspose 128 4x4 strides 2 with LeakyReLU, a sigmoid Conv2D
7x7 to one channel), and the `GAN` model whose `train_step` trains the discriminator on
generated and real images together (labels noised by 0.05 * uniform) and then the
generator through it with "real" labels; binary crossentropy from logits, Adam 3e-4 for
both, batch 64, a tf.data pipeline shuffled with a buffer of 1,024. What differs, so that it
does the same work as bench/configs/gen_dcgan.yaml: it trains on an mnist.npz's training
images after the first HOLDOUT (dlrun's unshuffled validation holdout) instead of all
70,000 images, for EPOCHS whole epochs instead of 100 batches; and it does the work a dlrun
GAN run does each epoch, which the guide's GAN does not: a `test_step` (both losses on
generated images and the HOLDOUT real ones, without label noise) validates on the holdout,
and keras.io's DCGAN example's `GANMonitor` saves 64 generated images (the grid dlrun draws)
after every epoch. `fit_only_seconds` is the guide's GAN as written: the epochs' training
alone, without the validation and the samples. With SAMPLES_NPY, after the timed fit it
saves 1,000 generated images there (latent points drawn by numpy's default_rng(1), as
`dlrun generate --seed 1` draws them), so that bench/generative.py scores the guide's GAN
as it scores dlrun's. Prints one JSON line.

Usage: python bench/book_dcgan.py MNIST_NPZ EPOCHS HOLDOUT [SAMPLES_NPY]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

# Create the discriminator
discriminator = keras.Sequential(
    [
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(64, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(128, (3, 3), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.GlobalMaxPooling2D(),
        layers.Dense(1),
    ],
    name="discriminator",
)

# Create the generator
latent_dim = 128
generator = keras.Sequential(
    [
        keras.Input(shape=(latent_dim,)),
        # We want to generate 128 coefficients to reshape into a 7x7x128 map
        layers.Dense(7 * 7 * 128),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2DTranspose(128, (4, 4), strides=(2, 2), padding="same"),
        layers.LeakyReLU(negative_slope=0.2),
        layers.Conv2D(1, (7, 7), padding="same", activation="sigmoid"),
    ],
    name="generator",
)


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        # Sample random points in the latent space
        batch_size = tf.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )

        # Decode them to fake images
        generated_images = self.generator(random_latent_vectors)

        # Combine them with real images
        combined_images = tf.concat([generated_images, real_images], axis=0)

        # Assemble labels discriminating real from fake images
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
        # Add random noise to the labels - important trick!
        labels += 0.05 * keras.random.uniform(tf.shape(labels), seed=self.seed_generator)

        # Train the discriminator
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

        # Sample random points in the latent space
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )

        # Assemble labels that say "all real images"
        misleading_labels = tf.zeros((batch_size, 1))

        # Train the generator (note that we should *not* update the weights
        # of the discriminator)!
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply(grads, self.generator.trainable_weights)

        # Update metrics and return their value.
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {
            "d_loss": self.d_loss_tracker.result(),
            "g_loss": self.g_loss_tracker.result(),
        }

    # What dlrun's validation does (the guide's GAN has no test step): the train step's
    # losses, without label noise and without updates.
    def test_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = tf.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        generated_images = self.generator(random_latent_vectors)
        combined_images = tf.concat([generated_images, real_images], axis=0)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
        d_loss = self.loss_fn(labels, self.discriminator(combined_images))
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        predictions = self.discriminator(self.generator(random_latent_vectors))
        g_loss = self.loss_fn(tf.zeros((batch_size, 1)), predictions)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {
            "d_loss": self.d_loss_tracker.result(),
            "g_loss": self.g_loss_tracker.result(),
        }


# keras.io's DCGAN example (dcgan_overriding_train_step.py) as it is written, with 64 images
# in a folder of ours
class GANMonitor(keras.callbacks.Callback):
    def __init__(self, num_img=3, latent_dim=128):
        self.num_img = num_img
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(42)

    def on_epoch_end(self, epoch, logs=None):
        started = time.perf_counter()
        random_latent_vectors = keras.random.normal(
            shape=(self.num_img, self.latent_dim), seed=self.seed_generator
        )
        generated_images = self.model.generator(random_latent_vectors)
        generated_images *= 255
        generated_images.numpy()
        for i in range(self.num_img):
            img = keras.utils.array_to_img(generated_images[i])
            img.save(os.path.join(monitor_dir, f"generated_img_{epoch:03d}_{i}.png"))
        extra.append(time.perf_counter() - started)


class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_test_begin(self, logs=None):
        self.validating = time.perf_counter()

    def on_test_end(self, logs=None):
        extra.append(time.perf_counter() - self.validating)

    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.started)


path, epochs, holdout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
keras.utils.set_random_seed(1)
batch_size = 64
with np.load(path) as arrays:
    all_digits = arrays["x_train"][holdout:]
    held_out = arrays["x_train"][:holdout]
all_digits = all_digits.astype("float32") / 255.0
all_digits = np.reshape(all_digits, (-1, 28, 28, 1))
dataset = tf.data.Dataset.from_tensor_slices(all_digits)
dataset = dataset.shuffle(buffer_size=1024).batch(batch_size)
held_out = np.reshape(held_out.astype("float32") / 255.0, (-1, 28, 28, 1))
validation = tf.data.Dataset.from_tensor_slices(held_out).batch(batch_size)

gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
gan.compile(
    d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
    g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
    loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
)
times: list[float] = []
extra: list[float] = []  # validation and samples: the work beyond the guide's GAN
with tempfile.TemporaryDirectory() as monitor_dir:
    started = time.perf_counter()
    history = gan.fit(
        dataset,
        epochs=epochs,
        validation_data=validation,
        callbacks=[EpochTimes(), GANMonitor(num_img=64, latent_dim=latent_dim)],
        verbose=0,
    )
    fit_seconds = time.perf_counter() - started
if len(sys.argv) > 4:
    latent = np.random.default_rng(1).standard_normal((1000, latent_dim)).astype("float32")
    np.save(sys.argv[4], generator.predict(latent, verbose=0))
print(
    json.dumps(
        {
            "fit_seconds": fit_seconds,
            "fit_only_seconds": fit_seconds - sum(extra),
            "fit_only": "the guide's GAN as written: its training alone, without "
            "validation or samples",
            "fit_includes": f"validation on {len(held_out)} images and 64 saved samples each epoch",
            "samples": len(all_digits),
            "epochs": epochs,
            "epoch_seconds": times,
            "test_accuracy": None,
            "d_loss": history.history["d_loss"][-1],
            "g_loss": history.history["g_loss"][-1],
        }
    )
)
