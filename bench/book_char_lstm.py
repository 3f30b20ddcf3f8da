"""keras.io's character-level LSTM (examples/generative/lstm_character_level_text_generation.py,
fchollet) in plain Keras.

The example as it is written: the text lowercased, windows of 40 characters every 3
characters, each one-hot encoded (bool arrays x of (windows, 40, characters) and y of
(windows, characters)), one LSTM(128) and a softmax Dense over the characters,
categorical crossentropy, RMSprop at 0.01, batch 128, one `fit` of one epoch at a time,
TensorFlow. What differs, so that it does the same work as bench/configs/gen_char_lstm.yaml:
the text is TEXT_FILE (bench/generative.py writes a prefix of the IMDB training reviews)
instead of Nietzsche; it trains on its first 80 % and validates each epoch on the next
10 % (dlrun's data.split {validation: 0.1, test: 0.1}: the same portions and windows), for
EPOCHS epochs instead of 40; after every epoch it samples as dlrun's run does (its
EpochText callback): 200 characters at temperatures 0.2, 0.5 and 1.0 after the first
validation window, instead of 400 at four temperatures after a random window, with the
example's own loop (one `predict` a character). That sampling is part of each timed
epoch, as it is of dlrun's; the fits alone are timed too. After training, LENGTH
characters at temperature 0.2 after PROMPT (the example's `sample`, seeded), untimed.
Prints one JSON line.

Usage: python bench/book_char_lstm.py TEXT_FILE EPOCHS PROMPT LENGTH
"""

from __future__ import annotations

import json
import math
import os
import sys
import time

os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

path, epochs, prompt, length = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
with open(path, encoding="utf-8") as f:
    text = f.read().lower()

chars = sorted(list(set(text)))
char_indices = dict((c, i) for i, c in enumerate(chars))
indices_char = dict((i, c) for i, c in enumerate(chars))

# dlrun's portions: the last 10 % tests, the 10 % before it validates
n_val = n_test = int(len(text) * 0.1)
train_text = text[: len(text) - n_val - n_test]
val_text = text[len(train_text) : len(train_text) + n_val]

maxlen = 40
step = 3


def vectorize(text):
    # cut the text in semi-redundant sequences of maxlen characters
    sentences = []
    next_chars = []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i : i + maxlen])
        next_chars.append(text[i + maxlen])
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype="bool")
    y = np.zeros((len(sentences), len(chars)), dtype="bool")
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1
    return x, y


x, y = vectorize(train_text)
x_val, y_val = vectorize(val_text)

keras.utils.set_random_seed(1)
model = keras.Sequential(
    [
        keras.Input(shape=(maxlen, len(chars))),
        layers.LSTM(128),
        layers.Dense(len(chars), activation="softmax"),
    ]
)
optimizer = keras.optimizers.RMSprop(learning_rate=0.01)
model.compile(loss="categorical_crossentropy", optimizer=optimizer)


def sample(preds, temperature=1.0):
    # helper function to sample an index from a probability array
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = np.random.multinomial(1, preds, 1)
    return np.argmax(probas)


def generate(sentence, length, diversity):
    # the example's loop: one predict a character
    generated = ""
    for _ in range(length):
        x_pred = np.zeros((1, maxlen, len(chars)))
        for t, char in enumerate(sentence):
            if char in char_indices:
                x_pred[0, t, char_indices[char]] = 1.0
        preds = model.predict(x_pred, verbose=0)[0]
        next_char = indices_char[sample(preds, diversity)]
        sentence = sentence[1:] + next_char
        generated += next_char
    return generated


batch_size = 128
times, fit_times = [], []
np.random.seed(1)
for _epoch in range(epochs):
    started = time.perf_counter()
    history = model.fit(
        x, y, batch_size=batch_size, epochs=1, validation_data=(x_val, y_val), verbose=0
    )
    fit_times.append(time.perf_counter() - started)
    for diversity in [0.2, 0.5, 1.0]:
        generate(val_text[:maxlen], 200, diversity)
    times.append(time.perf_counter() - started)

np.random.seed(1)
generated = generate(prompt.lower()[-maxlen:].rjust(maxlen), length, 0.2)

val_loss = history.history["val_loss"][-1]
print(
    json.dumps(
        {
            "fit_seconds": sum(times),
            "samples": len(x),
            "epochs": epochs,
            "epoch_seconds": times,
            "fit_only_seconds": sum(fit_times),
            "fit_only": "its fits alone, without the per-epoch sampling",
            "test_accuracy": None,
            "val_loss": val_loss,
            "val_perplexity": math.exp(val_loss),
            "characters": len(chars),
            "generated": generated,
            "fit_includes": f"validation on {len(x_val)} windows and 600 sampled characters "
            "each epoch",
        }
    )
)
