"""MNIST as 70,000 PNG files in class folders: `dlrun train` (image_dir) against plain Keras.

bench/mnist_folders.py writes the files once; bench/book_mnist_png.py
(`image_dataset_from_directory`, the book's small convnet) and
bench/configs/mnist_png.yaml (the same model, data and training through dlrun) then run
as processes of their own, one after the other: test accuracy, fit throughput (training
samples per second of fit), whole-process time and peak RSS, with the dlrun / Keras
ratios; with `--repeats N` the sides alternate N times and each figure is the median, as
the machine's other work otherwise falls on one side more than the other, and each
run is another draw of the initialization and shuffle (the Keras script is unseeded; dlrun
takes seed 1337, 1338, ...). Both stream the images from disk; the decoded dataset's
size, and the peak RSS of a process that only imports TensorFlow and builds the model,
show how much of each side's memory the images take.

Targets (issue 11): test accuracy >= 0.99, throughput >= 1.0x Keras, peak RSS <= 1.0x.

Last, the same model goes through dlrun's universal workflow
(bench/configs/mnist_png_workflow.yaml): what a dlrun user gets from the same data.

Usage: python bench/mnist_png.py [--datasets ../shared/datasets] [--repeats 1] [--no-workflow]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from imdb_dense import measure
from mnist_folders import load, write
from sides import add_workflow_flag, dlrun_train, dlrun_workflow, keras_script

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "bench" / "configs"
SEED = 1337  # mnist_png.yaml's
BASELINE = (
    "from dlrun.tfenv import import_keras; keras = import_keras(); "
    "from dlrun.data.inputs import InputSpec; from dlrun.models import build_model; "
    "from dlrun.models.convnet import ConvnetConfig; from dlrun.tasks import head_for; "
    "build_model(ConvnetConfig(kind='convnet', units=[64]), InputSpec((28, 28, 1)), 10, "
    "head_for('multiclass'))"
)


def run_dlrun(folders: Path, seed: int) -> dict[str, float]:
    overrides = [f"data.path={folders}", f"seed={seed}"]
    return dlrun_train(CONFIGS / "mnist_png.yaml", overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--repeats", type=int, default=1)
    add_workflow_flag(parser, "mnist_png_workflow.yaml")
    args = parser.parse_args()
    if not (args.datasets / "mnist" / "mnist.npz").is_file():
        print(f"skipped: {args.datasets}/mnist/mnist.npz not found")
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        folders = write(Path(tmp) / "mnist_png", load(args.datasets))
        written = time.perf_counter() - started
        # The Keras script is unseeded, so each of its runs is another draw; dlrun is seeded,
        # and takes another seed each repeat to be another draw too.
        keras_command = [ROOT / "bench" / "book_mnist_png.py", folders]
        rows = [
            (keras_script(keras_command), run_dlrun(folders, SEED + i)) for i in range(args.repeats)
        ]
        on = [f"data.path={folders}"]
        workflow = (
            dlrun_workflow(CONFIGS / "mnist_png_workflow.yaml", on) if args.workflow else None
        )
    keras_side = {k: statistics.median(r[0][k] for r in rows) for k in rows[0][0]}
    dlrun_side = {k: statistics.median(r[1][k] for r in rows) for k in rows[0][1]}
    _, baseline, _ = measure(
        [sys.executable, "-c", BASELINE], env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    decoded = 70_000 * 28 * 28 * 4 / 1e9  # float32, as both sides feed the model
    print(f"MNIST, 70,000 PNG files (written in {written:.0f} s): the book's small convnet,")
    print(
        "48k train / 12k validation / 10k test, rmsprop, batch 64, 5 epochs, "
        "best epoch by val_accuracy"
    )
    if args.repeats > 1:
        accuracies = {
            side: ", ".join(f"{r[i]['test_accuracy']:.4f}" for r in rows)
            for i, side in enumerate(("keras", "dlrun"))
        }
        print(
            f"medians of {args.repeats} alternating runs of each side (dlrun seeds "
            f"{SEED}..{SEED + args.repeats - 1}); test accuracy keras {accuracies['keras']}, "
            f"dlrun {accuracies['dlrun']}"
        )
    print(f"{'':18}{'keras':>10}{'dlrun':>10}{'ratio':>8}")
    for key in keras_side:
        ratio = dlrun_side[key] / keras_side[key]
        print(f"{key:18}{keras_side[key]:10.3f}{dlrun_side[key]:10.3f}{ratio:8.2f}")
    print(
        f"decoded dataset {decoded:.3f} GB (float32); a process that only imports TensorFlow "
        f"and builds the model peaks at {baseline:.3f} GB"
    )
    if workflow:
        print(
            f"through dlrun's workflow (best epoch {workflow['best_epoch']} by val_accuracy, "
            f"retrained on all 60,000): test accuracy {workflow['test_accuracy']:.4f}, "
            f"{workflow['process_seconds']:.0f} s, {workflow['peak_rss_gb']:.2f} GB"
        )
    print(
        json.dumps(
            {
                "keras": keras_side,
                "dlrun": dlrun_side,
                "workflow": workflow,
                "baseline_rss_gb": baseline,
                "runs": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
