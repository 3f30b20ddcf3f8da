"""keras.io's Variational AutoEncoder (examples/generative/vae.py, fchollet) in plain Keras.

The example as it is written: the `Sampling` layer, the encoder (Conv2D 32 and 64, 3x3,
strides 2, Flatten, Dense 16 relu, z_mean and z_log_var in a 2-D latent space), the
decoder (Dense 7x7x64, Conv2DTranspose 64 and 32 strides 2, a sigmoid Conv2DTranspose to
one channel) and the `VAE` model whose `train_step` adds the reconstruction loss (binary
crossentropy summed over the pixels, mean over the batch) to the KL divergence; Adam,
batch 128, TensorFlow. What differs, so that it does the same work as
bench/configs/gen_vae.yaml: it trains on an mnist.npz's training images after the first
HOLDOUT (which validate each epoch, as dlrun's unshuffled holdout does) instead of all
70,000 images, for EPOCHS epochs instead of 30, and has a `test_step` (the example has
none) that scores the same losses with z = z_mean, as dlrun's VAE evaluates; the test
images are scored once at the end. Prints one JSON line.

Usage: python bench/book_vae.py MNIST_NPZ EPOCHS HOLDOUT
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = tf.shape(z_mean)[0]
        dim = tf.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + tf.exp(0.5 * z_log_var) * epsilon


latent_dim = 2

encoder_inputs = keras.Input(shape=(28, 28, 1))
x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Flatten()(x)
x = layers.Dense(16, activation="relu")(x)
z_mean = layers.Dense(latent_dim, name="z_mean")(x)
z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
z = Sampling()([z_mean, z_log_var])
encoder = keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")

latent_inputs = keras.Input(shape=(latent_dim,))
x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
x = layers.Reshape((7, 7, 64))(x)
x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
decoder = keras.Model(latent_inputs, decoder_outputs, name="decoder")


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
        ]

    def losses_of(self, data, z_mean, z_log_var, z):
        reconstruction = self.decoder(z)
        reconstruction_loss = tf.reduce_mean(
            tf.reduce_sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2))
        )
        kl_loss = -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var))
        kl_loss = tf.reduce_mean(tf.reduce_sum(kl_loss, axis=1))
        return reconstruction_loss, kl_loss

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction_loss, kl_loss = self.losses_of(data, z_mean, z_log_var, z)
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        return self.update(total_loss, reconstruction_loss, kl_loss)

    # not in the example: validation and test, decoded from z_mean as dlrun evaluates
    def test_step(self, data):
        z_mean, z_log_var, _ = self.encoder(data)
        reconstruction_loss, kl_loss = self.losses_of(data, z_mean, z_log_var, z_mean)
        return self.update(reconstruction_loss + kl_loss, reconstruction_loss, kl_loss)

    def update(self, total_loss, reconstruction_loss, kl_loss):
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {
            "loss": self.total_loss_tracker.result(),
            "reconstruction_loss": self.reconstruction_loss_tracker.result(),
            "kl_loss": self.kl_loss_tracker.result(),
        }

    def call(self, x):
        z_mean, z_log_var, z = self.encoder(x)
        return self.decoder(z)


class EpochTimes(keras.callbacks.Callback):
    """Seconds of each epoch, its validation included."""

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.started)


path, epochs, holdout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with np.load(path) as arrays:
    x_train, x_test = arrays["x_train"], arrays["x_test"]
x_train = np.expand_dims(x_train, -1).astype("float32") / 255
x_test = np.expand_dims(x_test, -1).astype("float32") / 255
x_val, x_train = x_train[:holdout], x_train[holdout:]

keras.utils.set_random_seed(1)
vae = VAE(encoder, decoder)
vae.compile(optimizer=keras.optimizers.Adam())
times: list[float] = []
started = time.perf_counter()
history = vae.fit(
    x_train,
    epochs=epochs,
    batch_size=128,
    validation_data=(x_val,),
    callbacks=[EpochTimes()],
    verbose=0,
)
fit_seconds = time.perf_counter() - started
test = vae.evaluate(x_test, batch_size=128, return_dict=True, verbose=0)
print(
    json.dumps(
        {
            "fit_seconds": fit_seconds,
            "samples": len(x_train),
            "epochs": epochs,
            "epoch_seconds": times,
            "test_accuracy": None,
            "test_reconstruction_loss": test["reconstruction_loss"],
            "test_kl_loss": test["kl_loss"],
            "val_loss": history.history["val_loss"][-1],
            "fit_includes": f"validation on {len(x_val)} images each epoch",
        }
    )
)
