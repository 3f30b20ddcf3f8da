"""Transfer between MNIST digits through `base: run:<id>`, against the same model from scratch.

A convnet is trained on every PNG of digits 0-4 (bench/configs/mnist_pretrain.yaml).
On 100 labelled PNGs of each of digits 5-9, bench/configs/mnist_transfer.yaml then
puts its convolutional base under a new Dense 64 head: feature extraction (the
`features` stage alone, `--stage features`) and feature extraction then fine-tuning
(the whole workflow, which picks the better stage on validation), against
bench/configs/mnist_scratch.yaml, the same convnet from scratch on the same 500 images.
All are tested on every test image of digits 5-9. bench/book_mnist_transfer.py does the
same in plain Keras, on the arrays, and prints its figures alongside.

The two sides do not train alike by default: dlrun picks its epoch counts by validation
(a 10 % holdout for the pretraining, 5-fold on the 500 images) and retrains on all the
images for them, while the Keras script trains fixed epochs (5 for the pretraining, 20
on the 500) and tests the last epoch's model. So the scratch and feature-extraction
rows are run a second time with the Keras side's protocol: the pretraining and the fits
on the 500 images train for the config's fixed epochs on all the images, and the last
epoch's model is tested (no checkpoint, `workflow.final: keep_best`). A `validation/`
folder is then added beside `train/` only because dlrun logs validation metrics; no
epoch or model is chosen by it: 20 unused training images of each of digits 5-9, and
20 test images of each of digits 0-4 (whose test score the benchmark never reports).

Issue 11's plain-Keras figures at 100 labels per class: scratch 0.927, transfer 0.948
(at 20: 0.890 and 0.909);
dlrun's feature extraction must match or beat both, and fine-tuning should add to them.

Usage: python bench/mnist_transfer.py [--datasets ../shared/datasets] [--per-class 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
from imdb_dense import measure
from mnist_folders import load, write

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "bench" / "configs"
# The Keras side's protocol: the config's fixed epochs, the last epoch's model tested.
LAST_EPOCH = ["train.checkpoint=false", "workflow.final=keep_best"]
MONITORED = 20  # validation images per digit in the same-protocol runs


def dlrun(config: str, runs: Path, *args: str) -> tuple[dict, dict[str, float], Path]:
    """One `dlrun train` process: (summary.json, its measures, the run directory)."""
    before = set(runs.iterdir()) if runs.is_dir() else set()
    command = [sys.executable, "-m", "dlrun", "train", str(CONFIGS / config), *args]
    wall, rss, _ = measure([*command, "--runs-dir", str(runs), "-q"])
    (run,) = set(runs.iterdir()) - before
    summary = json.loads((run / "summary.json").read_text())
    fitted = [s for s in summary["stages"].values() if s.get("status") == "completed"]
    protocol = summary["workflow"]["protocol"]
    if protocol["kind"] == "kfold":  # k fits a stage, each on (k - 1) / k of the samples
        k = protocol["k"] * protocol["repeats"]
        samples = protocol["samples"] * (protocol["k"] - 1) / protocol["k"] * k
    else:
        samples = protocol["train"]
    seconds = sum(s["seconds"] for s in fitted)
    throughput = samples * sum(s["epochs_run"] for s in fitted) / seconds
    measures = {"samples_per_s": throughput, "process_seconds": wall, "peak_rss_gb": rss}
    return summary, measures, run


def monitored_only(
    arrays: dict[str, tuple[np.ndarray, np.ndarray]], low: Path, few: Path, per_class: int
) -> None:
    """Add the `validation/` folders of the same-protocol runs (see the module's docstring)."""
    x, y = arrays["train"]
    unused = np.ones(len(y), bool)
    for digit in range(5, 10):
        unused[np.flatnonzero(y == digit)[:per_class]] = False
    rest = {"validation": (x[unused], y[unused])}
    write(few, rest, range(5, 10), {"validation": MONITORED})
    write(low, {"validation": arrays["test"]}, range(5), {"validation": MONITORED})


def same_protocol(runs: Path, low: Path, few: Path) -> dict[str, tuple[float, dict[str, float]]]:
    """Scratch and feature extraction trained as the Keras side trains: (test accuracy,
    measures) by row name. `low` and `few` hold their `validation/` folders."""
    _, _, base = dlrun("mnist_pretrain.yaml", runs, f"data.path={low}", *LAST_EPOCH)
    # A holdout, as a config must name a protocol; the validation/ folder takes its place.
    holdout = ["data.validation.kfold=null", "data.validation.fraction=0.1"]
    on_few = [f"data.path={few}", *holdout, *LAST_EPOCH]
    scratch, scratch_measures, scratch_run = dlrun("mnist_scratch.yaml", runs, *on_few)
    features, features_measures, features_run = dlrun(
        "mnist_transfer.yaml", runs, *on_few, f"model.base=run:{base}", "--stage", "features"
    )
    for run in (base, scratch_run, features_run):
        # keep_best tests a stage's checkpoint when there is one, its last epoch otherwise
        if any(run.rglob("checkpoint.keras")):
            raise SystemExit(f"{run} kept a best-epoch checkpoint: not the Keras protocol")
    return {
        "scratch": (scratch["final"]["test"]["accuracy"], scratch_measures),
        "feature extraction": (features["final"]["test"]["accuracy"], features_measures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--per-class", type=int, default=100, help="labelled images per digit")
    args = parser.parse_args()
    if not (args.datasets / "mnist" / "mnist.npz").is_file():
        print(f"skipped: {args.datasets}/mnist/mnist.npz not found")
        return
    wall, rss, stdout = measure(
        [
            sys.executable,
            str(ROOT / "bench" / "book_mnist_transfer.py"),
            str(args.datasets),
            str(args.per_class),
        ]
    )
    book = json.loads(stdout.strip().splitlines()[-1])
    arrays = load(args.datasets)
    rows: dict[str, tuple[float, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        runs = tmp_path / "runs"
        low = write(tmp_path / "digits_0_4", arrays, range(5))
        few = write(tmp_path / "digits_5_9", arrays, range(5, 10), {"train": args.per_class})
        _, pretrain, base = dlrun("mnist_pretrain.yaml", runs, f"data.path={low}")
        on_few = [f"data.path={few}"]
        scratch, measures, _ = dlrun("mnist_scratch.yaml", runs, *on_few)
        rows["scratch"] = (scratch["final"]["test"]["accuracy"], measures)
        transfer = [*on_few, f"model.base=run:{base}"]
        features, measures, _ = dlrun("mnist_transfer.yaml", runs, *transfer, "--stage", "features")
        rows["feature extraction"] = (features["final"]["test"]["accuracy"], measures)
        walked, measures, _ = dlrun("mnist_transfer.yaml", runs, *transfer)
        chosen = walked["chosen"]
        rows[f"+ fine-tuning (chose {chosen})"] = (walked["final"]["test"]["accuracy"], measures)
        # after the runs above: they carve their own validation splits
        monitored_only(arrays, low, few, args.per_class)
        fixed = same_protocol(runs, low, few)
    stages = walked["stages"]
    print(
        f"MNIST transfer: digits 0-4 (all) -> digits 5-9 ({args.per_class} labelled per class), "
        "test on"
    )
    print("every test image of 5-9; the book's small convnet, head Dense 64")
    reference = {"scratch": book["scratch"], "feature extraction": book["transfer"]}
    print_rows("dlrun's protocol: epochs picked by validation, then retrained", rows, reference)
    print_rows(
        "the Keras side's protocol: fixed epochs on all images, the last epoch tested",
        fixed,
        reference,
    )
    val = {name: stages[name]["val"] for name in ("features", "finetune")}
    print(
        "validation at the best epoch (5-fold means): "
        + ", ".join(
            f"{n} accuracy {v['accuracy']:.3f} loss {v['loss']:.3f}" for n, v in val.items()
        )
        + "; pretraining on 0-4: "
        f"{pretrain['process_seconds']:.0f} s, {pretrain['peak_rss_gb']:.2f} GB "
        f"(plain Keras, all of its steps: {wall:.0f} s, {rss:.2f} GB)"
    )
    dlrun_figures = {k: v[0] for k, v in rows.items()}
    same = {k: v[0] for k, v in fixed.items()}
    print(json.dumps({"keras": book, "dlrun": dlrun_figures, "dlrun_keras_protocol": same}))


def print_rows(
    title: str, rows: dict[str, tuple[float, dict[str, float]]], reference: dict[str, float]
) -> None:
    """One protocol's rows: dlrun's test accuracy beside the Keras side's, and its measures."""
    print(title)
    print(f"{'':34}{'test acc':>9}{'keras':>8}{'samples/s':>11}{'process s':>11}{'RSS GB':>8}")
    for name, (accuracy, m) in rows.items():
        keras_figure = f"{reference[name]:.3f}" if name in reference else "–"
        print(
            f"{name:34}{accuracy:9.3f}{keras_figure:>8}{m['samples_per_s']:11.0f}"
            f"{m['process_seconds']:11.1f}{m['peak_rss_gb']:8.2f}"
        )


if __name__ == "__main__":
    main()
