"""Ordered IMDB (10,000 words, maxlen 500): LSTM and Conv1D, `dlrun train` against the book.

bench/book_sequence_imdb.py is the book's listing in plain Keras; bench/configs/seq_*.yaml
the same work in dlrun. Each side is its own process, one after the other: fit throughput,
whole-process time, peak RSS and test accuracy, with the dlrun / Keras ratios. An LSTM
epoch takes minutes on two cores: --epochs trims both sides alike.

The book's Conv1D recipe (rmsprop 1e-4, 10 epochs) stops short of issue 10's 0.86 on
both sides; the same model through dlrun's workflow (bench/configs/seq_conv1d_workflow.yaml)
is run last, as what a dlrun user gets from it.

Usage: python bench/sequence_imdb.py [--datasets ../shared/datasets] [--models lstm conv1d]
       [--epochs 10] [--no-workflow]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sides import add_workflow_flag, dlrun_train, dlrun_workflow, keras_script, print_sides

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "bench" / "configs" / "seq_conv1d_workflow.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--models", nargs="*", default=["conv1d", "lstm"])
    parser.add_argument("--epochs", type=int, default=10)
    add_workflow_flag(parser, WORKFLOW.name)
    args = parser.parse_args()
    if not (args.datasets / "imdb" / "imdb.npz").is_file():
        print(f"skipped: {args.datasets}/imdb/imdb.npz not found")
        return
    results = {}
    for model in args.models:
        script = ROOT / "bench" / "book_sequence_imdb.py"
        keras_side = keras_script([script, args.datasets, model, args.epochs])
        overrides = [f"data.path={args.datasets / 'imdb' / 'imdb.npz'}"]
        overrides.append(f"train.epochs={args.epochs}")
        config = ROOT / "bench" / "configs" / f"seq_{model}.yaml"
        dlrun_side = dlrun_train(config, overrides)
        results[model] = {"keras": keras_side, "dlrun": dlrun_side}
        title = f"ordered IMDB, {model}, {args.epochs} epochs, 20k train / 5k validation"
        print_sides(title, keras_side, dlrun_side)
    if args.workflow:
        results["conv1d_workflow"] = workflow(args.datasets)
    print(json.dumps(results))


def workflow(datasets: Path) -> dict[str, float]:
    """The same Conv1D through the universal workflow: its epoch count picked on
    validation, then retrained on all 25,000 reviews."""
    found = dlrun_workflow(WORKFLOW, [f"data.path={datasets / 'imdb' / 'imdb.npz'}"])
    print(
        f"ordered IMDB, conv1d through dlrun's workflow (rmsprop 1e-3, early stopping): "
        f"test accuracy {found['test_accuracy']:.3f}; best epoch {found['best_epoch']} of "
        f"{found['epochs_run']} (val accuracy {found['val_accuracy']:.3f}), retrained on "
        f"25,000; {found['process_seconds']:.0f} s, {found['peak_rss_gb']:.2f} GB"
    )
    return found


if __name__ == "__main__":
    main()
