"""Generative models (book ch. 8): `dlrun train` against the keras.io originals, side by side.

Three pairs, each side its own process, one after the other (as bench/sides.py runs them): fit
throughput, time per epoch, whole-process time and peak RSS, with the dlrun / Keras
ratios (for samples_per_s, >= 1.0 means dlrun is at least as fast), then what the
generative acceptance asks of each:

- vae: bench/book_vae.py (keras.io examples/generative/vae.py) against
  bench/configs/gen_vae.yaml, on MNIST's training images less the first 10,000 (which
  validate). dlrun's test reconstruction loss against the mean-training-image baseline's
  (its summary.json), and where the run drew latent_grid.png.
- dcgan: bench/book_dcgan.py (the GAN of the Keras guide "Customizing what happens in
  fit()") against bench/configs/gen_dcgan.yaml, on `--gan-images` training images (a GAN
  epoch over all 60,000 takes minutes on two cores). Then a dlrun convnet
  (bench/configs/gen_mnist_classifier.yaml) classifies 1,000 images that
  `dlrun generate` draws from the GAN run: their mean top-class probability and how many
  of the 10 digits appear (and the same of 1,000 images from the plain-Keras GAN, drawn
  from the same latent points); and each epoch's 64 samples (decoded from the run's
  samples/epoch-NNN.png grids), the first epoch whose mean top-class probability is
  >= 0.8 being called "recognizable".
- char_lstm: bench/book_char_lstm.py (keras.io's character-level LSTM) against
  bench/configs/gen_char_lstm.yaml, on the first `--lstm-chars` characters of the IMDB
  training reviews (written to one file both sides read). dlrun's validation perplexity
  against the unigram baseline's, and the share of the words that `dlrun generate`
  writes at temperature 0.2 (400 characters after a prompt from the validation text)
  which occur in the training text.

The runs are kept (their directory is printed); `--quick` checks the whole path end to end
on tiny sizes in a few minutes. One JSON line with every figure ends the output.

Usage: python bench/generative.py [--datasets ../shared/datasets] [--pairs vae dcgan
       char_lstm] [--quick] [--runs-dir DIR] [--vae-epochs 5] [--gan-epochs 5]
       [--gan-images 9600] [--classifier-epochs 3] [--lstm-epochs 3] [--lstm-chars 600000]

Internal: python bench/generative.py --classify RUN (SAMPLES.npy | GRID.png)... prints the
classifier run's mean top-class probability and predicted classes for each file.
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from imdb_dense import measure

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "bench"
CONFIGS = HERE / "configs"
# dlrun's default holdout for the VAE and the classifier: MNIST's first 10,000 images
HOLDOUT = 10_000
RECOGNIZABLE = 0.8
# characters of the prompt `dlrun generate` continues, taken from the validation text
PROMPT_CHARS = 40
GENERATED_CHARS = 400
WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")

DIFFERENCES = {
    "vae": [
        "the example's encoder has a Dense(16, relu) between Flatten and z_mean/z_log_var; "
        "dlrun's conv body goes from Flatten straight to them",
        "the example's last decoder layer is a Conv2DTranspose(1, 3), dlrun's a Conv2D(1, 3) "
        "(same shape and cost)",
        "the example trains on all 70,000 images for 30 epochs; both sides here train on the "
        "same 50,000 for the same epochs, and validate on the same 10,000 (the example has "
        "no test_step: book_vae.py adds one, scoring from z_mean as dlrun does)",
    ],
    "dcgan": [
        "both train the discriminator on one concatenated batch of 64 real and 64 fake "
        "images with 0.05 label noise; the guide labels the fake ones 1, dlrun the real ones",
        "both validate each epoch on the same held-out images and draw 64 samples after "
        "each epoch, inside the timed fit; the guide's GAN does neither, so bench/book_dcgan.py "
        "adds a test_step and keras.io's DCGAN GANMonitor (64 PNGs; dlrun draws one grid)",
        "the guide trains 100 batches of all 70,000 images; both sides here train whole "
        "epochs over the same images",
    ],
    "char_lstm": [
        "the example one-hot encodes each window (bool (windows, 40, characters)); dlrun "
        "reads character ids through an Embedding of the same width: the LSTM sees the "
        "same input size, dlrun's data is 40 bytes a window instead of 40 x characters",
        "the example samples 400 characters at 4 temperatures after every epoch with 1,600 "
        "predict calls; both sides here sample 200 characters at 3 temperatures after every "
        "epoch, inside the timed epoch: book_char_lstm.py with the example's loop (600 "
        "predict calls), dlrun as one batch of the 3 temperatures (200 predict_on_batch "
        "calls)",
        "both sides validate each epoch on the same 10 % of the text (the example does not "
        "validate); dlrun also logs accuracy",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classify", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--pairs", nargs="*", default=["vae", "dcgan", "char_lstm"])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: check the path")
    parser.add_argument(
        "--runs-dir",
        type=Path,
        help="where the dlrun runs stay (a new temporary directory by default)",
    )
    parser.add_argument("--vae-epochs", type=int, default=5)
    parser.add_argument("--gan-epochs", type=int, default=5)
    parser.add_argument("--gan-images", type=int, default=9600)
    parser.add_argument("--classifier-epochs", type=int, default=3)
    parser.add_argument("--lstm-epochs", type=int, default=3)
    parser.add_argument("--lstm-chars", type=int, default=600_000)
    args = parser.parse_args()
    if args.classify:
        classify(Path(args.classify[0]), [Path(p) for p in args.classify[1:]])
        return
    mnist = args.datasets / "mnist" / "mnist.npz"
    imdb = args.datasets / "imdb" / "raw" / "aclImdb_train.jsonl.xz"
    if not mnist.is_file() or not imdb.is_file():
        print(f"skipped: {mnist} or {imdb} not found")
        return
    if args.quick:
        args.vae_epochs, args.gan_epochs, args.classifier_epochs, args.lstm_epochs = 2, 2, 1, 1
        args.gan_images, args.lstm_chars = 640, 40_000
    runs = args.runs_dir or Path(tempfile.mkdtemp(prefix="dlrun-generative-"))
    runs.mkdir(parents=True, exist_ok=True)
    scratch = runs / "data"
    scratch.mkdir(exist_ok=True)
    print(f"runs and data in {runs}", flush=True)
    results: dict[str, dict] = {}
    if "vae" in args.pairs:
        results["vae"] = vae(args, mnist, scratch, runs)
    if "dcgan" in args.pairs:
        results["dcgan"] = dcgan(args, mnist, scratch, runs)
    if "char_lstm" in args.pairs:
        results["char_lstm"] = char_lstm(args, imdb, scratch, runs)
    print(json.dumps(results))


# the sides


def keras_side(arguments: list) -> tuple[dict, dict]:
    """A plain-Keras script (see bench/sides.py's `keras_script`): its figures, and its
    whole JSON line."""
    wall, rss, stdout = measure([sys.executable, *map(str, arguments)])
    result = json.loads(stdout.strip().splitlines()[-1])
    side = {
        "train_samples": result["samples"],
        "epochs": result["epochs"],
        "epoch_seconds": result["fit_seconds"] / result["epochs"],
        "samples_per_s": result["samples"] * result["epochs"] / result["fit_seconds"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
    }
    if "fit_only_seconds" in result:
        side["fit_only_samples_per_s"] = (
            result["samples"] * result["epochs"] / result["fit_only_seconds"]
        )
    if "fit_includes" in result:
        side["fit_includes"] = result["fit_includes"]
    if "fit_only" in result:
        side["fit_only"] = result["fit_only"]
    return side, result


def dlrun_side(config: Path, overrides: list[str], runs: Path) -> tuple[dict, dict, Path]:
    """`dlrun train CONFIG OVERRIDES` into `runs` (kept), with an empty data cache, as
    bench/sides.py's `dlrun_train`: its figures, summary.json and run directory."""
    before = set(runs.iterdir())
    with tempfile.TemporaryDirectory() as cache:
        command = [sys.executable, "-m", "dlrun", "train", str(config), *overrides]
        command += ["--runs-dir", str(runs), "-q"]
        wall, rss, _ = measure(command, env={**os.environ, "DLRUN_CACHE_DIR": cache})
    (run,) = [p for p in runs.iterdir() if p not in before and p.is_dir()]
    summary = json.loads((run / "summary.json").read_text())
    stage = summary["stages"]["train"]
    samples = summary["workflow"]["protocol"]["train"]
    side = {
        "train_samples": samples,
        "epochs": stage["epochs_run"],
        "epoch_seconds": stage["seconds"] / stage["epochs_run"],
        "samples_per_s": samples * stage["epochs_run"] / stage["seconds"],
        "process_seconds": wall,
        "peak_rss_gb": rss,
    }
    return side, summary, run


def show(title: str, name: str, keras: dict, dlrun: dict) -> None:
    """bench/sides.py's `print_sides` table, in columns wide enough for 160,000 samples."""
    print(title)
    print(f"{'':26}{'keras':>13}{'dlrun':>13}{'dlrun/keras':>13}")
    for key, value in keras.items():
        theirs = dlrun.get(key)
        if isinstance(value, (int, float)) and isinstance(theirs, (int, float)):
            print(f"{key:26}{value:13.3f}{theirs:13.3f}{theirs / value:13.2f}")
    for side_name, side in (("keras", keras), ("dlrun", dlrun)):
        for key, value in side.items():
            if isinstance(value, str):
                print(f"{side_name} {key}: {value}")
    ratio = dlrun["samples_per_s"] / keras["samples_per_s"]
    print(f"throughput dlrun / keras: {ratio:.2f} (>= 1.0: dlrun at least as fast)")
    if "fit_only_samples_per_s" in keras:
        alone = dlrun["samples_per_s"] / keras["fit_only_samples_per_s"]
        print(f"  against {keras['fit_only']}: {alone:.2f}")
    for difference in DIFFERENCES[name]:
        print(f"  difference: {difference}")


def mnist_subset(mnist: Path, folder: Path, images: int, test: int) -> Path:
    """The first `images` training and `test` test images of mnist.npz, in Keras's layout
    (as bench/backends.py writes them)."""
    import numpy as np

    path = folder / f"mnist-{images}-{test}.npz"
    with np.load(mnist) as arrays:
        np.savez(
            path,
            x_train=arrays["x_train"][:images],
            y_train=arrays["y_train"][:images],
            x_test=arrays["x_test"][:test],
            y_test=arrays["y_test"][:test],
        )
    return path


# VAE


def vae(args: argparse.Namespace, mnist: Path, scratch: Path, runs: Path) -> dict:
    holdout = HOLDOUT
    if args.quick:
        holdout, mnist = 500, mnist_subset(mnist, scratch, 3000, 1000)
    epochs = args.vae_epochs
    keras, book = keras_side([HERE / "book_vae.py", mnist, epochs, holdout])
    overrides = [f"data.path={mnist}", f"data.validation.holdout={holdout}"]
    overrides.append(f"train.epochs={epochs}")
    dlrun, summary, run = dlrun_side(CONFIGS / "gen_vae.yaml", overrides, runs)
    keras["test_reconstruction_loss"] = book["test_reconstruction_loss"]
    test = summary["final"]["test"]
    dlrun["test_reconstruction_loss"] = test["reconstruction_loss"]
    baseline = summary["final"]["baseline"]["values"]
    (mean_image,) = baseline.values()
    title = (
        f"VAE (keras.io), MNIST: {keras['train_samples']} train / {holdout} validation, "
        f"batch 128, {epochs} epochs"
    )
    show(title, "vae", keras, dlrun)
    grid = run / "latent_grid.png"
    found = {
        "test_reconstruction_loss": test["reconstruction_loss"],
        "test_kl_loss": test.get("kl_loss"),
        "baseline_reconstruction_loss": mean_image["reconstruction_loss"],
        "beats_baseline": test["reconstruction_loss"] < mean_image["reconstruction_loss"],
        "latent_grid": str(grid) if grid.is_file() else None,
        "keras_test_reconstruction_loss": book["test_reconstruction_loss"],
    }
    print(
        f"VAE acceptance: dlrun test reconstruction loss {found['test_reconstruction_loss']:.1f} "
        f"against the mean-image baseline's {found['baseline_reconstruction_loss']:.1f} "
        f"(plain Keras: {found['keras_test_reconstruction_loss']:.1f}); latent grid: "
        f"{found['latent_grid']}",
        flush=True,
    )
    return {"keras": keras, "dlrun": dlrun, "acceptance": found, "run": str(run)}


# DCGAN


def dcgan(args: argparse.Namespace, mnist: Path, scratch: Path, runs: Path) -> dict:
    # the classifier first: the GAN's samples are scored by it
    classifier_data = mnist
    holdout = HOLDOUT
    if args.quick:
        holdout, classifier_data = 500, mnist_subset(mnist, scratch, 3000, 1000)
    overrides = [f"data.path={classifier_data}", f"data.validation.holdout={holdout}"]
    overrides.append(f"train.epochs={args.classifier_epochs}")
    classifier, summary, classifier_run = dlrun_side(
        CONFIGS / "gen_mnist_classifier.yaml", overrides, runs
    )
    accuracy = summary["final"]["test"]["accuracy"]
    print(
        f"MNIST classifier (dlrun convnet, {args.classifier_epochs} epochs): test accuracy "
        f"{accuracy:.4f}, {classifier['process_seconds']:.0f} s",
        flush=True,
    )

    gan_holdout = 640 if not args.quick else 128
    subset = mnist_subset(mnist, scratch, gan_holdout + args.gan_images, 1000)
    epochs = args.gan_epochs
    keras_samples = scratch / "keras_gan_samples.npy"
    keras, book = keras_side([HERE / "book_dcgan.py", subset, epochs, gan_holdout, keras_samples])
    overrides = [f"data.path={subset}", f"data.validation.holdout={gan_holdout}"]
    overrides.append(f"train.epochs={epochs}")
    dlrun, summary, run = dlrun_side(CONFIGS / "gen_dcgan.yaml", overrides, runs)
    title = (
        f"DCGAN (Keras guide), MNIST: {keras['train_samples']} train images, batch 64, "
        f"{epochs} epochs, both validating on {gan_holdout} and sampling each epoch"
    )
    show(title, "dcgan", keras, dlrun)

    out = scratch / "gan_samples"
    command = [sys.executable, "-m", "dlrun", "generate", str(run), "-n", "1000"]
    command += ["--seed", "1", "-o", str(out), "-q"]
    subprocess.run(command, check=True, capture_output=True, text=True)
    grids = sorted((run / "stages" / "train" / "samples").glob("epoch-*.png"))
    scored = classified(classifier_run, [out / "samples.npy", keras_samples, *grids])
    samples, theirs = scored[:2]
    per_epoch = [s["mean_top_probability"] for s in scored[2:]]
    recognizable = next((i + 1 for i, p in enumerate(per_epoch) if p >= RECOGNIZABLE), None)
    found = {
        "classifier_test_accuracy": accuracy,
        "samples": samples["count"],
        "mean_top_probability": samples["mean_top_probability"],
        "classes_present": len(set(samples["classes"])),
        "class_counts": dict(sorted(Counter(samples["classes"]).items())),
        "per_epoch_mean_top_probability": per_epoch,
        "recognizable_epoch": recognizable,
        "d_loss": summary["stages"]["train"]["train"].get("d_loss"),
        "g_loss": summary["stages"]["train"]["train"].get("g_loss"),
        "samples_png": str(run / "samples.png"),
        "keras_mean_top_probability": theirs["mean_top_probability"],
        "keras_classes_present": len(set(theirs["classes"])),
        "keras_class_counts": dict(sorted(Counter(theirs["classes"]).items())),
        "keras_d_loss": book["d_loss"],
        "keras_g_loss": book["g_loss"],
    }
    print(
        f"DCGAN acceptance: {found['samples']} generated images, mean top-class probability "
        f"{found['mean_top_probability']:.3f}, {found['classes_present']} of 10 digits "
        f"(argmax counts {found['class_counts']}); per epoch "
        f"{[round(p, 3) for p in per_epoch]}: recognizable (>= {RECOGNIZABLE}) from epoch "
        f"{recognizable}; last epoch's d_loss {found['d_loss']:.3f}, g_loss "
        f"{found['g_loss']:.3f}. The guide's GAN (plain Keras, the same seed for the "
        f"1,000 latent points): mean top-class probability "
        f"{found['keras_mean_top_probability']:.3f}, {found['keras_classes_present']} of 10 "
        f"digits ({found['keras_class_counts']}); d_loss {found['keras_d_loss']:.3f}, g_loss "
        f"{found['keras_g_loss']:.3f}",
        flush=True,
    )
    return {
        "keras": keras,
        "dlrun": dlrun,
        "classifier": classifier,
        "acceptance": found,
        "run": str(run),
        "classifier_run": str(classifier_run),
    }


def classified(classifier_run: Path, files: list[Path]) -> list[dict]:
    """`--classify` in its own process (this one does not import Keras)."""
    command = [sys.executable, __file__, "--classify", str(classifier_run), *map(str, files)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def classify(run: Path, files: list[Path]) -> None:
    """Print, for each file (an .npy of images in [0, 1], or a grid PNG that dlrun's
    `save_grid` drew), the classifier's mean top-class probability and its classes."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import numpy as np

    model = keras.saving.load_model(run / "final" / "model.keras", safe_mode=True)
    # the classifier was trained on raw 0..255 pixels times the run's scale
    scale = json.loads((run / "preprocessing.json").read_text())["scale"]
    found = []
    for file in files:
        images = np.load(file) if file.suffix == ".npy" else grid_tiles(file)
        x = np.asarray(images, dtype=np.float32).reshape(-1, 28, 28, 1) * 255.0 * scale
        probabilities = np.asarray(model.predict(x, verbose=0))
        found.append(
            {
                "file": str(file),
                "count": len(x),
                "mean_top_probability": float(probabilities.max(axis=1).mean()),
                "classes": probabilities.argmax(axis=1).tolist(),
            }
        )
    print(json.dumps(found))


def grid_tiles(path: Path, size: int = 28, gap: int = 1, scale: int = 2) -> object:
    """The tiles of a grid PNG (dlrun.contracts.pictures.save_grid: `tile` with a
    1-pixel white gap, each pixel drawn scale x scale), in [0, 1], row by row; the
    grid's trailing empty cells (white) are left out."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float32)[::scale, ::scale] / 255
    rows = (pixels.shape[0] + gap) // (size + gap)
    columns = (pixels.shape[1] + gap) // (size + gap)
    tiles = []
    for r in range(rows):
        for c in range(columns):
            top, left = r * (size + gap), c * (size + gap)
            tile = pixels[top : top + size, left : left + size]
            if tile.min() < 1.0:  # an empty cell of the last row is all white
                tiles.append(tile)
    return np.stack(tiles)


# character-level LSTM


def imdb_text(imdb_jsonl: Path, out: Path, chars: int) -> Path:
    """The first `chars` characters of the IMDB training reviews in their stored order,
    joined by a space; their HTML line breaks (`<br />`) and any newline become spaces
    (the text holds no newline then, so neither side's handling of them matters)."""
    parts, total = [], 0
    with lzma.open(imdb_jsonl, "rt", encoding="utf-8") as lines:
        for line in lines:
            text = json.loads(line)["text"].replace("<br />", " ")
            text = text.replace("\r", " ").replace("\n", " ")
            parts.append(text)
            total += len(text) + 1
            if total > chars:
                break
    path = out / f"imdb_train_{chars}.txt"
    path.write_text(" ".join(parts)[:chars], encoding="utf-8")
    return path


def portions(text: str) -> tuple[str, str]:
    """dlrun's training and validation portions of a text (data.split 0.1 / 0.1; the
    text is lowercased and one character is one token)."""
    n_val = n_test = int(len(text) * 0.1)
    train_end = len(text) - n_val - n_test
    return text[:train_end], text[train_end : train_end + n_val]


def char_lstm(args: argparse.Namespace, imdb: Path, scratch: Path, runs: Path) -> dict:
    path = imdb_text(imdb, scratch, args.lstm_chars)
    text = path.read_text(encoding="utf-8").lower()
    train_text, val_text = portions(text)
    # a prompt from the validation text: whole words, ending in a space
    start = val_text.index(" ") + 1
    prompt = val_text[start : start + PROMPT_CHARS]
    prompt = prompt[: prompt.rindex(" ") + 1]
    epochs = args.lstm_epochs
    keras, book = keras_side([HERE / "book_char_lstm.py", path, epochs, prompt, GENERATED_CHARS])
    overrides = [f"data.path={path}", f"train.epochs={epochs}"]
    # the one-hot's width: the Keras side's LSTM reads vectors of len(set(text))
    overrides.append(f"model.embedding.dim={len(set(text))}")
    dlrun, summary, run = dlrun_side(CONFIGS / "gen_char_lstm.yaml", overrides, runs)
    title = (
        f"char LSTM (keras.io), {len(text):,} characters of IMDB training reviews, windows of "
        f"40 every 3, batch 128, {epochs} epochs"
    )
    show(title, "char_lstm", keras, dlrun)

    state = json.loads((run / "preprocessing.json").read_text())
    unigram = unigram_perplexity(train_text, val_text, state["tokens"], 40, 3)
    generated = generate_text(run, prompt)
    vocabulary = set(WORD.findall(train_text))
    stage = summary["stages"]["train"]
    found = {
        "val_perplexity": math.exp(stage["val"]["loss"]),
        "unigram_val_perplexity": unigram,
        "test_perplexity": summary["final"]["test"]["perplexity"],
        "unigram_test_perplexity": summary["final"]["baseline"]["values"]["unigram"]["perplexity"],
        "keras_val_perplexity": book["val_perplexity"],
        "prompt": prompt,
        "generated": generated,
        "words_in_training_vocabulary": known_share(generated, vocabulary),
        "keras_generated": book["generated"],
        "keras_words_in_training_vocabulary": known_share(book["generated"], vocabulary),
    }
    share, words = found["words_in_training_vocabulary"]
    print(
        f"char LSTM acceptance: validation perplexity {found['val_perplexity']:.2f} against "
        f"the unigram baseline's {unigram:.2f} (test {found['test_perplexity']:.2f} against "
        f"{found['unigram_test_perplexity']:.2f}; plain Keras validation "
        f"{found['keras_val_perplexity']:.2f}); at temperature 0.2, {share:.1%} of the "
        f"{words} generated words are training words (plain Keras: "
        f"{found['keras_words_in_training_vocabulary'][0]:.1%} of "
        f"{found['keras_words_in_training_vocabulary'][1]})\n"
        f"  prompt {prompt!r}\n  dlrun: {generated!r}\n  keras: {book['generated']!r}",
        flush=True,
    )
    return {"keras": keras, "dlrun": dlrun, "acceptance": found, "run": str(run)}


def unigram_perplexity(
    train_text: str, val_text: str, tokens: list[str], length: int, step: int
) -> float:
    """dlrun's unigram baseline (token_windows.unigram_perplexity: add-one smoothed
    frequencies of the training windows' targets over the vocabulary) on the validation
    windows' targets."""
    index = {token: i for i, token in enumerate(tokens)}

    def targets(text: str) -> list[int]:
        return [index.get(text[i + length], 1) for i in range(0, len(text) - length, step)]

    counts = Counter(targets(train_text))
    total = sum(counts.values()) + len(tokens)
    evaluated = targets(val_text)
    log_p = sum(math.log((counts[t] + 1) / total) for t in evaluated)
    return math.exp(-log_p / len(evaluated))


def generate_text(run: Path, prompt: str) -> str:
    """`dlrun generate RUN --prompt PROMPT --length 400 --temperature 0.2 --seed 1`: the
    continuation (the printed sample less the prompt)."""
    command = [sys.executable, "-m", "dlrun", "generate", str(run), "--prompt", prompt]
    command += ["--length", str(GENERATED_CHARS), "--temperature", "0.2", "--seed", "1", "-q"]
    # one line a sample: the console wraps at COLUMNS
    env = {**os.environ, "COLUMNS": "100000"}
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    lines = done.stdout.splitlines()
    at = lines.index("--- temperature 0.2")
    sample = "\n".join(lines[at + 1 :])
    if not sample.startswith(prompt):
        raise SystemExit(f"dlrun generate printed no continuation of {prompt!r}:\n{done.stdout}")
    return sample[len(prompt) :]


def known_share(generated: str, vocabulary: set[str]) -> tuple[float, int]:
    """The share of the generated words (letters and inner apostrophes; the last one
    left out when the text stops inside it) found in `vocabulary`, and their number."""
    words = WORD.findall(generated)
    if words and generated[-1:].isalpha():
        words = words[:-1]
    if not words:
        return 0.0, 0
    return sum(w in vocabulary for w in words) / len(words), len(words)


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"bench/generative.py took {time.perf_counter() - started:.0f} s", file=sys.stderr)
