"""The `dlrun` command line: parse arguments, call one function per command, print.

Commands import their modules (and TensorFlow) only when they run, so
`dlrun --help` and `dlrun check` answer without loading TensorFlow.
Errors are printed as one paragraph on stderr with an exit code scripts can
trust (0 ok, 1 failed, 2 bad config or usage, 130 interrupted);
`DLRUN_DEBUG=1` shows the traceback as well.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click.exceptions import ClickException

from dlrun import __version__
from dlrun.console import NORMAL, QUIET, VERBOSE, Output, literal, printable
from dlrun.errors import EXIT_INTERRUPTED, EXIT_USAGE, DataWarning, DlrunError, FatalError

if TYPE_CHECKING:
    from dlrun.runs.catalog import Need

app = typer.Typer(
    name="dlrun",
    help=(
        "Experiment runner for Keras 3: one YAML file describes the data, the model and the "
        "training; dlrun trains it and writes every artifact to runs/.\n\n"
        "[bold]Examples[/]\n\n"
        "  dlrun train configs/digits.yaml\n\n"
        "  dlrun train configs/imdb.yaml train.epochs=4 model.units=[32,32]\n\n"
        "  dlrun evaluate runs/20261122-101500-digits-a1b2c3\n\n"
        "  dlrun check configs/imdb.yaml"
    ),
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the results.")]
Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="Also print TensorFlow's own log lines.")
]
Force = Annotated[
    bool, typer.Option("--force", help="Overwrite the PNG and its .json if they exist.")
]
Overrides = Annotated[
    list[str] | None,
    typer.Argument(help="Overrides key.path=value (values parsed as YAML).", show_default=False),
]
ExtraConfigs = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="Another config file layered on top (repeatable)."),
]


def _runs_dir(value: Path) -> Path:
    """Make --runs-dir the runs directory for the whole command, so `base: run:<id>` in a
    config, and the sweep's workers, look for runs where this command writes them."""
    os.environ["DLRUN_RUNS_DIR"] = str(value)
    return value


RunsDir = Annotated[
    Path,
    typer.Option(
        "--runs-dir", envvar="DLRUN_RUNS_DIR", help="Where runs are written.", callback=_runs_dir
    ),
]


RunArg = Annotated[
    str,
    typer.Argument(
        help="A run: its directory, its id, a unique part of the id, or 'last' (the newest "
        "run this command can use).",
        show_default=False,
    ),
]


BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="Keras backend: tensorflow, jax or torch (default: the config's backend, else "
        "$KERAS_BACKEND, else tensorflow).",
        show_default=False,
    ),
]


def _use_backend(backend: str | None) -> None:
    """This process's runtime on `backend` (a command that loads a model file, which every
    backend reads)."""
    from dlrun.runtime import Runtime, pick_backend, use

    use(Runtime(pick_backend(backend)))


def _with_backend(overrides: list[str] | None, backend: str | None) -> list[str]:
    """`--backend X` is the override `backend=X`: the config records it."""
    return [*(overrides or []), *([f"backend={backend}"] if backend else [])]


def _run_arg(run: str, runs_dir: Path, need: Need) -> str:
    """`last` as the newest run fit for the command, with a warning that names the newer
    runs it passed over and why; any other run is left to the command to resolve."""
    if run != "last" or Path(run).is_dir():
        return run
    from dlrun.runs.catalog import last_run, skipped_text

    chosen, skipped = last_run(runs_dir, need)
    if skipped:
        _output().warn(f"'last' is {chosen.id}; passed over {skipped_text(skipped, need)}")
    return str(chosen.path)


def _output(quiet: bool = False, verbose: bool = False) -> Output:
    return Output(QUIET if quiet else VERBOSE if verbose else NORMAL)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dlrun {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = None,
) -> None:
    """Experiment runner for Keras 3."""


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun train configs/digits.yaml\n\n"
        "  dlrun train configs/imdb.yaml train.epochs=4 model.units=[32,32]\n\n"
        "  dlrun train configs/imdb.yaml data.path=../shared/datasets/imdb/imdb.npz\n\n"
        "  dlrun train --resume runs/20261122-101500-imdb-a1b2c3\n\n"
        "  dlrun train configs/digits.yaml --backend jax\n\n"
        "  dlrun train configs/digits.yaml distribute.strategy=data_parallel "
        "--backend jax --processes 2 --process-id 0 --coordinator 10.0.0.1:1234"
    )
)
def train(
    config: Annotated[
        Path | None, typer.Argument(help="Experiment config (YAML).", show_default=False)
    ] = None,
    overrides: Overrides = None,
    extra: ExtraConfigs = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Continue an interrupted run (path, id, or last) from its last epoch.",
        ),
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="Run only this workflow stage (then its final test)."),
    ] = None,
    no_final: Annotated[
        bool,
        typer.Option("--no-final", help="Stop the workflow before the test split."),
    ] = False,
    backend: BackendOption = None,
    processes: Annotated[
        int | None,
        typer.Option(
            "--processes",
            min=1,
            help="Processes training together (JAX data_parallel across hosts; default "
            "$KERAS_DISTRIBUTION_NUM_PROCESSES, else 1).",
        ),
    ] = None,
    process_id: Annotated[
        int | None,
        typer.Option(
            "--process-id",
            min=0,
            help="This process's number, 0 to --processes - 1; 0 is the chief, the only one "
            "that writes the run (default $KERAS_DISTRIBUTION_PROCESS_ID).",
        ),
    ] = None,
    coordinator: Annotated[
        str | None,
        typer.Option(
            "--coordinator",
            help="host:port of process 0's coordination service "
            "(default $KERAS_DISTRIBUTION_JOB_ADDRESSES).",
        ),
    ] = None,
    runs_dir: RunsDir = Path("runs"),
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a config and write a run directory (config, meta, history, model, metrics)."""
    from dlrun.runtime import ENV_PROCESS_ID, ENV_PROCESSES
    from dlrun.runtime.processes import in_child, supervise

    count = processes or int(os.environ.get(ENV_PROCESSES) or 1)
    if count > 1 and not in_child():
        pid = process_id if process_id is not None else int(os.environ.get(ENV_PROCESS_ID) or 0)
        code, why = supervise(sys.argv[1:], pid, count, verbose)
        if why:
            raise FatalError(
                why + ".",
                hint="Start every process again with: dlrun train --resume RUN (the chief's "
                "run; the others read it) and the same --processes/--coordinator.",
            )
        raise typer.Exit(code)
    from dlrun.commands.train import train as run_train

    run_train(
        config,
        overrides or [],
        extra_files=extra or [],
        resume=None if resume is None else _run_arg(resume, runs_dir, "resumable"),
        stage=stage,
        final=not no_final,
        backend=backend,
        processes=processes,
        process_id=process_id,
        coordinator=coordinator,
        runs_dir=runs_dir,
        out=_output(quiet, verbose),
    )


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun evaluate runs/20261122-101500-imdb-a1b2c3\n\n"
        "  dlrun evaluate last\n\n"
        "  dlrun evaluate imdb-a1b2 --data configs/other.yaml"
    )
)
def evaluate(
    run: RunArg,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Score the test split of this config's data instead."),
    ] = None,
    backend: BackendOption = None,
    runs_dir: RunsDir = Path("runs"),
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Score a run's final model on its test split: metrics and confusion matrix."""
    _use_backend(backend)
    from dlrun.commands.evaluate import evaluate as run_evaluate

    run = _run_arg(run, runs_dir, "final")
    run_evaluate(run, data_config=data, runs_dir=runs_dir, out=_output(quiet, verbose))


def _temperatures(value: str) -> list[float]:
    try:
        temperatures = [float(t) for t in value.split(",") if t.strip()]
    except ValueError:
        raise typer.BadParameter(f"'{value}' is not a list of numbers like 0.2,0.5,1.0") from None
    if not temperatures or any(not 0 < t <= 10 for t in temperatures):
        raise typer.BadParameter("temperatures are numbers above 0 (and at most 10), e.g. 0.5")
    return temperatures


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun generate last -n 64 --seed 1 -o samples/\n\n"
        '  dlrun generate runs/20261207-101500-imdb-lm-a1b2c3 --prompt "this movie was" '
        "--length 400 --temperature 0.2,0.5,1.0 --seed 1"
    )
)
def generate(
    run: RunArg,
    count: Annotated[
        int, typer.Option("-n", "--count", min=1, max=10_000, help="Images to make (vae, gan).")
    ] = 64,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed",
            min=0,
            help="The same seed makes the same samples (default: a new one).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Directory for samples.png and samples.npy (vae, gan).",
            show_default="RUN/generated",
        ),
    ] = None,
    prompt: Annotated[
        str | None,
        typer.Option("--prompt", help="Text a language model continues.", show_default=False),
    ] = None,
    length: Annotated[
        int, typer.Option("--length", min=1, max=100_000, help="Tokens to add to the prompt.")
    ] = 400,
    temperature: Annotated[
        str,
        typer.Option(
            "--temperature", help="Sampling temperatures, comma separated: one sample each."
        ),
    ] = "0.2,0.5,1.0",
    backend: BackendOption = None,
    runs_dir: RunsDir = Path("runs"),
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Make new samples with a generative run: images (vae, gan) or text (language_model)."""
    temperatures = _temperatures(temperature)
    _use_backend(backend)
    from dlrun.commands.generate import generate as run_generate

    run_generate(
        _run_arg(run, runs_dir, "final"),
        runs_dir=runs_dir,
        out=_output(quiet, verbose),
        count=count,
        seed=seed,
        output=output,
        prompt=prompt,
        length=length,
        temperatures=temperatures,
    )


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun check configs/imdb.yaml\n\n"
        "  dlrun check configs/imdb.yaml train.epochs=4 -c configs/local.yaml"
    )
)
def check(
    config: Annotated[Path, typer.Argument(help="Experiment config (YAML).", show_default=False)],
    overrides: Overrides = None,
    extra: ExtraConfigs = None,
    backend: BackendOption = None,
) -> None:
    """Validate a config and print it resolved (includes, overrides and defaults applied)."""
    from dlrun.commands.check import check as run_check

    text = run_check(config, _with_backend(overrides, backend), extra or [])
    out = _output()
    # soft_wrap: rich would fold long lines at the terminal width, breaking the YAML.
    out.result(text, markup=False, end="", soft_wrap=True)
    # soft_wrap: a long path stays one piece to copy, not folded at the width
    out.err.print(f"[green]ok:[/] {literal(config)} is valid", soft_wrap=True)


@app.command()
def schema() -> None:
    """Print the config's JSON Schema, for editors (yaml-language-server).

    Save it and put `# yaml-language-server: $schema=dlrun.schema.json` at the top of a config.
    """
    from dlrun.commands.check import json_schema

    _output().result(json_schema(), markup=False, soft_wrap=True)


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun runs\n\n"
        "  dlrun runs --sweep imdb --sort val_accuracy\n\n"
        "  dlrun runs --status failed,interrupted --name 'imdb*'\n\n"
        "  dlrun runs --format json > runs.json"
    )
)
def runs(
    runs_dir: RunsDir = Path("runs"),
    sweep: Annotated[
        str | None, typer.Option("--sweep", help="Only the trials of this sweep (name or glob).")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only runs with this status (running, completed, failed, "
            "interrupted, broken; comma-separated).",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Only runs whose name contains this (or glob).")
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help="Best first by a metric (test_accuracy, val_loss; 'accuracy' finds "
            "test_accuracy), or by started, duration, name, status. Default: newest first.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """List runs: name, status, task, key metrics, duration, when (broken runs included)."""
    from dlrun.commands.runs import runs as run_runs

    run_runs(
        runs_dir,
        out=_output(),
        name=name,
        status=status,
        sweep=sweep,
        sort=sort,
        fmt=fmt,
    )


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun show runs/20261122-101500-imdb-a1b2c3\n\n"
        "  dlrun show a1b2c3\n\n"
        "  dlrun show last --format json\n\n"
        "  dlrun show last --activations cat.jpg --layers conv_0,pool_0\n\n"
        "  dlrun show last --filters conv_2 --heatmap cat.jpg --augmented 6\n\n"
        "The drawing options write PNGs to RUN/visuals/ (linked from report.md); a "
        "pretrained base's layers are named base/<layer>."
    )
)
def show(
    run: RunArg,
    runs_dir: RunsDir = Path("runs"),
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    activations: Annotated[
        Path | None,
        typer.Option("--activations", help="Draw the layers' activations for this input."),
    ] = None,
    layers: Annotated[
        str | None,
        typer.Option(
            "--layers", help="Comma-separated layers for --activations (default: first 8)."
        ),
    ] = None,
    filters: Annotated[
        str | None,
        typer.Option("--filters", help="Draw the input patterns this layer's filters respond to."),
    ] = None,
    heatmap: Annotated[
        Path | None,
        typer.Option("--heatmap", help="Draw the class heatmap (Grad-CAM) over this image."),
    ] = None,
    augmented: Annotated[
        int | None,
        typer.Option("--augmented", min=1, help="Draw N augmented versions of a few train images."),
    ] = None,
) -> None:
    """One run in full: status, provenance, stages and verdicts, final metrics, files, config.

    With a drawing option, what the final model learned instead (PNGs in RUN/visuals/).
    """
    from dlrun.commands.show import Visuals, visualize
    from dlrun.commands.show import show as run_show

    wanted = Visuals(
        activations=activations,
        layers=[name.strip() for name in (layers or "").split(",") if name.strip()],
        filters=filters,
        heatmap=heatmap,
        augmented=augmented,
    )
    if wanted.wanted() or wanted.layers:
        visualize(_run_arg(run, runs_dir, "final"), wanted, runs_dir=runs_dir, out=_output())
    else:
        run_show(run, runs_dir=runs_dir, out=_output(), fmt=fmt)


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun compare runs/20261122-101500-imdb-a1b2c3 runs/20261122-103000-imdb-d4e5f6\n\n"
        "  dlrun compare a1b2c3 d4e5f6 --format markdown >> pr.md\n\n"
        "  dlrun compare a1b2c3 d4e5f6 --format csv"
    )
)
def compare(
    runs: Annotated[
        list[str], typer.Argument(help="Two or more runs (directories or ids).", show_default=False)
    ],
    runs_dir: RunsDir = Path("runs"),
    fmt: Annotated[str, typer.Option("--format", help="table, csv, json or markdown.")] = "table",
) -> None:
    """Runs side by side: only the config keys that differ, then every metric."""
    from dlrun.commands.compare import compare as run_compare

    run_compare(runs, runs_dir=runs_dir, out=_output(), fmt=fmt)


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun tensorboard\n\n"
        "  dlrun tensorboard runs/20261122-101500-imdb-a1b2c3 runs/20261122-103000-imdb-d4e5f6\n\n"
        "  dlrun tensorboard --port 6006"
    )
)
def tensorboard(
    runs: Annotated[
        list[str] | None,
        typer.Argument(help="Runs to show (default: every run).", show_default=False),
    ] = None,
    runs_dir: RunsDir = Path("runs"),
    port: Annotated[int, typer.Option("--port", help="Port; 0 picks a free one.")] = 0,
    verbose: Verbose = False,
) -> None:
    """Start TensorBoard (scalars, HParams) over the runs on 127.0.0.1; Ctrl-C stops it."""
    from dlrun.commands.tensorboard import tensorboard as run_tensorboard

    run_tensorboard(runs or [], runs_dir=runs_dir, port=port, out=_output(False, verbose))


@app.command(
    epilog=(
        "[bold]Input formats[/] (the run's saved preprocessing is applied first)\n\n"
        "  tabular (csv) runs: a CSV with a header and the training columns (the target column "
        "may be absent)\n\n"
        "  feature/image runs: an .npz with an array 'x' (or an .npy), raw values as in "
        "training\n\n"
        "  token-sequence runs (imdb, reuters): a text file, one sample per line, token ids "
        "separated by spaces or commas\n\n"
        "  raw-text runs (text_dir): a text file, one text per line, or --text\n\n"
        "  image-folder runs (image_dir): an image file, or a folder of them\n\n"
        "[bold]Examples[/]\n\n"
        "  dlrun predict runs/20261122-101500-houses-a1b2c3 new_houses.csv --output prices.csv\n\n"
        "  dlrun predict last digits.npz\n\n"
        '  dlrun predict last --text "A gripping film." --text "Dull and too long."'
    )
)
def predict(
    run: RunArg,
    input_file: Annotated[
        Path | None,
        typer.Argument(
            help="New inputs: .csv, .npz/.npy, .txt, or images (a file or a folder).",
            show_default=False,
        ),
    ] = None,
    text: Annotated[
        list[str] | None,
        typer.Option("--text", help="A text to classify (raw-text runs); repeat for more."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write predictions here (.csv or .npz), not stdout."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Refuse inputs the training data never held (a category never seen, an "
            "empty cell) instead of predicting them with a warning.",
        ),
    ] = False,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0.0,
            max=1.0,
            help="Binary runs: predict the positive class above this probability, instead "
            "of the run's own threshold (workflow.threshold, else 0.5).",
            show_default=False,
        ),
    ] = None,
    backend: BackendOption = None,
    runs_dir: RunsDir = Path("runs"),
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Predict new inputs with a run's final model (after the run's own preprocessing)."""
    _use_backend(backend)
    from dlrun.commands.predict import predict as run_predict

    run_predict(
        _run_arg(run, runs_dir, "final"),
        input_file,
        texts=text,
        output=output,
        runs_dir=runs_dir,
        out=_output(quiet, verbose),
        strict=strict,
        threshold=threshold,
    )


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun export runs/20261122-101500-imdb-a1b2c3\n\n"
        "  dlrun export last --output serving/imdb\n\n"
        "  dlrun export last --format onnx --output serving/digits\n\n"
        "  dlrun export last --format onnx --backend torch\n\n"
        "Runs on --backend (default $KERAS_BACKEND, else tensorflow): saved_model on "
        "tensorflow or jax, onnx on tensorflow, jax or torch."
    )
)
def export(
    run: RunArg,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help="saved_model (OUTPUT/saved_model/) or onnx (OUTPUT/model.onnx, checked with "
            "onnxruntime; pip install 'dlrun\\[onnx]'); both with a .keras copy.",
        ),
    ] = "saved_model",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Directory to write (default: RUN/export)."),
    ] = None,
    backend: BackendOption = None,
    runs_dir: RunsDir = Path("runs"),
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Export a run's final model for serving; checks the export reloads and agrees."""
    _use_backend(backend)
    from dlrun.commands.export import export as run_export

    run_export(
        _run_arg(run, runs_dir, "final"),
        fmt=fmt,
        output=output,
        runs_dir=runs_dir,
        out=_output(quiet, verbose),
    )


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun dream sky.jpg\n\n"
        "  dlrun dream sky.jpg --layers mixed4=1.0,mixed5=1.5 --octaves 4 -o sky-deep.png\n\n"
        "  dlrun dream sky.jpg --weights ~/models/inception_v3_notop.h5\n\n"
        "  dlrun dream digit.png --base run:last --layers conv_1=1.0 --octaves 1\n\n"
        "Runs under TensorFlow (tf.GradientTape), whatever $KERAS_BACKEND. Writes "
        "IMAGE-dream.png beside IMAGE (or -o), the image's size, and the settings that made "
        "it in a .json of the same name; an existing file is refused unless --force."
    )
)
def dream(
    image: Annotated[Path, typer.Argument(help="The image to dream on.", show_default=False)],
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="A keras.applications model (inception_v3, vgg19, ...) or run:<run id or "
            "path> (a run's convnet; then --layers is needed).",
        ),
    ] = "inception_v3",
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            help="The application's weights: imagenet (Keras downloads them to "
            "$KERAS_HOME/models/) or a local weights file.  \\[default: imagenet]",
            show_default=False,
        ),
    ] = None,
    layers: Annotated[
        str | None,
        typer.Option(
            "--layers",
            help="Layers to excite and their weights, LAYER=WEIGHT,... (default for "
            "inception_v3: mixed4=1.0,mixed5=1.5,mixed6=2.0,mixed7=2.5).",
            show_default=False,
        ),
    ] = None,
    octaves: Annotated[
        int, typer.Option("--octaves", min=1, help="Scales the image is processed at.")
    ] = 3,
    octave_scale: Annotated[
        float, typer.Option("--octave-scale", min=1.0, help="Size ratio between octaves.")
    ] = 1.4,
    steps: Annotated[
        int, typer.Option("--steps", min=1, help="Gradient ascent steps per octave.")
    ] = 20,
    step_size: Annotated[
        float,
        typer.Option("--step-size", min=0.0, help="Ascent step, in pixels scaled to [-1, 1]."),
    ] = 0.01,
    max_loss: Annotated[
        float,
        typer.Option("--max-loss", help="An octave's ascent stops once its loss passes this."),
    ] = 15.0,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The PNG to write (default: IMAGE-dream.png)."),
    ] = None,
    force: Force = False,
    runs_dir: RunsDir = Path("runs"),
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """DeepDream (book ch. 8): gradient ascent on an image to excite a convnet's layers."""
    from dlrun.commands.dream import dream as run_dream
    from dlrun.generative.dream import DreamSettings

    run_dream(
        image,
        base=base,
        weights=weights,
        layers=layers,
        settings=DreamSettings(
            octaves=octaves,
            octave_scale=octave_scale,
            steps=steps,
            step_size=step_size,
            max_loss=max_loss,
        ),
        output=output,
        force=force,
        runs_dir=runs_dir,
        out=_output(quiet, verbose),
    )


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun style photo.jpg starry-night.jpg\n\n"
        "  dlrun style photo.jpg starry-night.jpg --iterations 1000 --style-weight 1e-5\n\n"
        "  dlrun style photo.jpg mosaic.png --style-layers block1_conv1,block2_conv1 "
        "-o photo-mosaic.png\n\n"
        "  dlrun style digit.png stripes.png --base run:last --content-layer conv_1 "
        "--style-layers conv_0,conv_1\n\n"
        "Runs under TensorFlow (tf.GradientTape), whatever $KERAS_BACKEND. Writes "
        "CONTENT-style.png beside CONTENT (or -o), the content image's size (the style image "
        "is resized to it), and the settings and losses in a .json of the same name; an "
        "existing file is refused unless --force."
    )
)
def style(
    content: Annotated[
        Path, typer.Argument(help="The image whose content is kept.", show_default=False)
    ],
    style_image: Annotated[
        Path, typer.Argument(help="The image whose style is taken.", show_default=False)
    ],
    base: Annotated[
        str,
        typer.Option(
            "--base",
            help="A keras.applications model (vgg19, vgg16, ...) or run:<run id or path> (a "
            "run's convnet; then --content-layer and --style-layers are needed).",
        ),
    ] = "vgg19",
    weights: Annotated[
        str | None,
        typer.Option(
            "--weights",
            help="The application's weights: imagenet (Keras downloads them to "
            "$KERAS_HOME/models/) or a local weights file.  \\[default: imagenet]",
            show_default=False,
        ),
    ] = None,
    content_layer: Annotated[
        str | None,
        typer.Option(
            "--content-layer",
            help="The layer whose feature maps keep the content (default for vgg19: block5_conv2).",
            show_default=False,
        ),
    ] = None,
    style_layers: Annotated[
        str | None,
        typer.Option(
            "--style-layers",
            help="Comma-separated layers whose Gram matrices carry the style (default for "
            "vgg19: block1_conv1,...,block5_conv1).",
            show_default=False,
        ),
    ] = None,
    content_weight: Annotated[
        float, typer.Option("--content-weight", min=0.0, help="Weight of the content loss.")
    ] = 2.5e-8,
    style_weight: Annotated[
        float, typer.Option("--style-weight", min=0.0, help="Weight of the style loss.")
    ] = 1e-6,
    tv_weight: Annotated[
        float,
        typer.Option("--tv-weight", min=0.0, help="Weight of the total variation loss."),
    ] = 1e-6,
    iterations: Annotated[int, typer.Option("--iterations", min=1, help="SGD steps.")] = 100,
    learning_rate: Annotated[
        float,
        typer.Option(
            "--learning-rate",
            min=0.0,
            help="SGD's first learning rate, in pixel values 0..255; times 0.96 every 100 "
            "iterations.",
        ),
    ] = 100.0,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The PNG to write (default: CONTENT-style.png)."),
    ] = None,
    force: Force = False,
    runs_dir: RunsDir = Path("runs"),
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Neural style transfer (book ch. 8): CONTENT repainted in the style of STYLE."""
    from dlrun.commands.style import style as run_style
    from dlrun.generative.style import StyleSettings

    run_style(
        content,
        style_image,
        base=base,
        weights=weights,
        content_layer=content_layer,
        style_layers=style_layers,
        settings=StyleSettings(
            content_layer="",
            content_weight=content_weight,
            style_weight=style_weight,
            tv_weight=tv_weight,
            iterations=iterations,
            learning_rate=learning_rate,
        ),
        output=output,
        force=force,
        runs_dir=runs_dir,
        out=_output(quiet, verbose),
    )


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun sweep configs/imdb.yaml --trials 30 --jobs 2\n\n"
        "  dlrun sweep configs/imdb.yaml --resume\n\n"
        "  dlrun sweep configs/imdb.yaml --storage postgresql://user@host/db --trials 100\n\n"
        "  dlrun sweep configs/imdb.yaml sweep.sampler=random --name imdb-random\n\n"
        "The study is runs/sweeps/NAME/study.db (SQLite) unless --storage is given; each "
        "trial is a run directory runs/STAMP-NAME-tNNN-ID; the best trial's config is "
        "written to runs/sweeps/NAME/best.yaml."
    )
)
def sweep(
    config: Annotated[
        Path, typer.Argument(help="Experiment config with a sweep section.", show_default=False)
    ],
    overrides: Overrides = None,
    extra: ExtraConfigs = None,
    trials: Annotated[
        int | None,
        typer.Option("--trials", "-n", min=1, help="Trials in the study (default: sweep.trials)."),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Trials at once, one process each.")
    ] = 1,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the sweep; cut-off trials run again.")
    ] = False,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage",
            help="Optuna database URL shared by several machines, e.g. postgresql://u@host/db.",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Sweep (study) name (default: sweep.name, else name)."),
    ] = None,
    backend: BackendOption = None,
    runs_dir: RunsDir = Path("runs"),
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Search the config's sweep.space with Optuna: trials as runs, a table, best.yaml."""
    from dlrun.commands.sweep import sweep as run_sweep

    run_sweep(
        config,
        _with_backend(overrides, backend),
        extra_files=extra or [],
        trials=trials,
        jobs=jobs,
        resume=resume,
        storage=storage,
        name=name,
        runs_dir=runs_dir,
        out=_output(quiet, verbose),
    )


def run(args: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this in-process)."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning(warnings.showwarning)
        return _run(args)


def _show_warning(others: Callable[..., None]) -> Callable[..., None]:
    """Print DataWarnings as dlrun's own warnings; leave every other warning to `others`."""

    def show(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, DataWarning):
            _output().warn(str(message))
        else:
            others(message, category, *args, **kwargs)

    return show


def _run(args: list[str] | None) -> int:
    saved = os.environ.get("DLRUN_RUNS_DIR")
    try:
        code = app(args=args, prog_name="dlrun", standalone_mode=False)
    except ClickException as exc:
        exc.show()
        return exc.exit_code or EXIT_USAGE
    except typer.Abort:
        return EXIT_INTERRUPTED
    except DlrunError as exc:
        if os.environ.get("DLRUN_DEBUG"):
            raise
        out = _output()
        out.error(exc.message)
        if exc.hint:
            out.err.print(printable(exc.hint), soft_wrap=True, markup=False)
        return exc.exit_code
    finally:
        # --runs-dir sets DLRUN_RUNS_DIR for its command only: a process that runs several
        # commands (the tests, a notebook) keeps its own.
        if saved is None:
            os.environ.pop("DLRUN_RUNS_DIR", None)
        else:
            os.environ["DLRUN_RUNS_DIR"] = saved
    return code if isinstance(code, int) else 0


def main() -> None:
    # A shell starts `dlrun ... &` with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt: `kill -INT` would be lost, with no resumable stop. dlrun's
    # answer to SIGINT is the same however it was started.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(run())
