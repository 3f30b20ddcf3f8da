"""The `dlrun` command line: parse arguments, call one function per command, print.

Commands import their modules (and TensorFlow) only when they run, so
`dlrun --help` and `dlrun check` answer without loading TensorFlow.
Errors are printed as one paragraph on stderr with an exit code scripts can
trust (0 ok, 1 failed, 2 bad config or usage, 130 interrupted);
`DLRUN_DEBUG=1` shows the traceback as well.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from typer._click.exceptions import ClickException

from dlrun import __version__
from dlrun.console import NORMAL, QUIET, VERBOSE, Output
from dlrun.errors import EXIT_INTERRUPTED, EXIT_USAGE, DlrunError

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
Overrides = Annotated[
    list[str] | None,
    typer.Argument(help="Overrides key.path=value (values parsed as YAML).", show_default=False),
]
ExtraConfigs = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="Another config file layered on top (repeatable)."),
]
RunsDir = Annotated[
    Path | None,
    typer.Option("--runs-dir", help="Where runs are written (default: $DLRUN_RUNS_DIR or ./runs)."),
]


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
        "  dlrun train --resume runs/20261122-101500-imdb-a1b2c3"
    )
)
def train(
    config: Annotated[
        Path | None, typer.Argument(help="Experiment config (YAML).", show_default=False)
    ] = None,
    overrides: Overrides = None,
    extra: ExtraConfigs = None,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Continue an interrupted run from its last epoch."),
    ] = None,
    stage: Annotated[
        str | None,
        typer.Option("--stage", help="Run only this workflow stage (then its final test)."),
    ] = None,
    no_final: Annotated[
        bool,
        typer.Option("--no-final", help="Stop the workflow before the test split."),
    ] = False,
    runs_dir: RunsDir = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Train a config and write a run directory (config, meta, history, model, metrics)."""
    from dlrun.commands.train import train as run_train
    from dlrun.runs import default_runs_dir

    run_train(
        config,
        overrides or [],
        extra_files=extra or [],
        resume=resume,
        stage=stage,
        final=not no_final,
        runs_dir=runs_dir or default_runs_dir(),
        out=_output(quiet, verbose),
    )


@app.command(
    epilog=(
        "[bold]Examples[/]\n\n"
        "  dlrun evaluate runs/20261122-101500-imdb-a1b2c3\n\n"
        "  dlrun evaluate runs/20261122-101500-imdb-a1b2c3 --data configs/other.yaml"
    )
)
def evaluate(
    run: Annotated[Path, typer.Argument(help="A run directory.", show_default=False)],
    data: Annotated[
        Path | None,
        typer.Option("--data", help="Score the test split of this config's data instead."),
    ] = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Score a run's final model on its test split: metrics and confusion matrix."""
    from dlrun.commands.evaluate import evaluate as run_evaluate

    run_evaluate(run, data_config=data, out=_output(quiet, verbose))


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
) -> None:
    """Validate a config and print it resolved (includes, overrides and defaults applied)."""
    from dlrun.commands.check import check as run_check

    text = run_check(config, overrides or [], extra or [])
    out = _output()
    # soft_wrap: rich would fold long lines at the terminal width, breaking the YAML.
    out.result(text, markup=False, end="", soft_wrap=True)
    out.err.print(f"[green]ok:[/] {config} is valid")


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
        "  dlrun sweep configs/imdb.yaml --trials 30 --jobs 2\n\n"
        "  dlrun sweep configs/imdb.yaml --resume\n\n"
        "  dlrun sweep configs/imdb.yaml --storage postgresql://user@host/db --trials 100\n\n"
        "  dlrun sweep configs/digits.yaml sweep.sampler=random train.epochs=5\n\n"
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
    runs_dir: RunsDir = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Search the config's sweep.space with Optuna: trials as runs, a table, best.yaml."""
    from dlrun.commands.sweep import sweep as run_sweep
    from dlrun.runs import default_runs_dir

    run_sweep(
        config,
        overrides or [],
        extra_files=extra or [],
        trials=trials,
        jobs=jobs,
        resume=resume,
        storage=storage,
        name=name,
        runs_dir=runs_dir or default_runs_dir(),
        out=_output(quiet, verbose),
    )


def run(args: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (tests call this in-process)."""
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
            out.err.print(exc.hint, soft_wrap=True, markup=False)
        return exc.exit_code
    return code if isinstance(code, int) else 0


def main() -> None:
    sys.exit(run())
