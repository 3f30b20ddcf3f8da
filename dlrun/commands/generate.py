"""`dlrun generate RUN`: new samples from a generative run's final model.

- A VAE or a GAN (`task: autoencoder` with a `vae`, `task: gan`): `count` images from
  latent points drawn with `seed`, written to DIR as `samples.png` (a grid) and
  `samples.npy` (the images, in [0, 1]).
- A language model: the prompt continued by `length` tokens at each temperature, printed
  one sample per temperature, as the book does. Characters (or words) of the prompt that
  the vocabulary lacks are read as [UNK], with a warning naming them.

The same `seed` gives the same samples; without one, a seed is drawn and printed, so a
sample worth keeping can be made again.

Example:

```python
generate("last", runs_dir=Path("runs"), out=Output(), count=64, seed=1, output=None)
generate("last", runs_dir=Path("runs"), out=Output(), prompt="the film", length=400,
         temperatures=[0.2, 0.5, 1.0], seed=1)
```
"""

from __future__ import annotations

import secrets
from pathlib import Path

import numpy as np
from rich.markup import escape

from dlrun.commands.evaluate import load_final_model
from dlrun.console import Output
from dlrun.contracts import contract_for
from dlrun.contracts.language_model import generate_text
from dlrun.contracts.pictures import grid_columns, save_grid
from dlrun.data.representations import load_state
from dlrun.errors import UsageError
from dlrun.runs.catalog import resolve_run
from dlrun.runs.rundir import Run, save_with
from dlrun.spec import load_config


def generate(
    run_arg: str | Path,
    *,
    runs_dir: Path,
    out: Output,
    count: int = 64,
    seed: int | None = None,
    output: Path | None = None,
    prompt: str | None = None,
    length: int = 400,
    temperatures: list[float] | None = None,
) -> Path | list[str]:
    """Generate from the run's final model: the directory images went to, or the texts."""
    run = Run.open(resolve_run(run_arg, runs_dir))
    run.final_model()
    config = load_config(run.path / "config.yaml", inputs=False).config
    contract = contract_for(config.task)
    makes = contract.generates(config)
    if makes is None:
        why = (
            "a plain autoencoder's latent space has no distribution to draw from; train "
            "model.kind: vae to generate"
            if config.task == "autoencoder"
            else "it learned to predict targets, not to make new samples"
        )
        raise UsageError(
            f"{run.path.name} is a run of task {config.task} (model {config.model.kind}), "
            f"which cannot generate: {why}.",
            hint="dlrun generate takes a language_model, a vae (task: autoencoder) or a gan run.",
        )
    if makes == "text" and prompt is None:
        raise UsageError(
            "a language model continues a prompt: give --prompt TEXT.",
            hint='dlrun generate RUN --prompt "the film was" --temperature 0.2,0.5,1.0',
        )
    if makes == "images" and prompt is not None:
        raise UsageError(f"--prompt is for language models; {run.path.name} generates images.")
    if seed is None:
        seed = secrets.randbelow(2**31)
        out.info(f"seed {seed} (give --seed {seed} to make these samples again)")
    model = load_final_model(run, out.verbose)
    if makes == "text":
        return _texts(model, run, out, prompt or "", length, temperatures or [1.0], seed)
    directory = output or run.path / "generated"
    images = np.asarray(contract.generate_images(model, count, seed))
    save_grid(directory / "samples.png", images, grid_columns(count))
    save_with(directory / "samples.npy", lambda tmp: _save_npy(tmp, images))
    out.info(f"{count} samples (seed {seed}) in {escape(str(directory))}: samples.png, samples.npy")
    return directory


def _save_npy(path: Path, images: np.ndarray) -> None:
    with open(path, "wb") as handle:  # np.save would add .npy to the temporary name
        np.save(handle, images)


def _texts(
    model: object,
    run: Run,
    out: Output,
    prompt: str,
    length: int,
    temperatures: list[float],
    seed: int,
) -> list[str]:
    state = load_state(run)
    texts, unknown = generate_text(model, state, prompt, length, temperatures, seed)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:10]) + (" ..." if len(unknown) > 10 else "")
        out.warn(
            f"the prompt holds {len(unknown)} token(s) the vocabulary lacks, read as [UNK]: {shown}"
        )
    joint = " " if state.get("level") == "word" else ""
    for temperature, text in zip(temperatures, texts, strict=True):
        out.result(f"--- temperature {temperature}\n{prompt}{joint}{text}", markup=False)
    return texts
