"""`report.md`: what a person reads first about a run, with the plots it links.

`write_report(run)` writes `report.md` at the top of the run directory: the
headline test result, the stage table with verdicts (summary.json), the learning
curves (any PNGs the workflow wrote under the run), a confusion matrix for
classification and a predicted-vs-true scatter for regression (both drawn here
as PNGs), the resolved config and the provenance. It reads well on its own and
works for any run state: what is missing is left out, and a plot that cannot be
drawn is named with the reason instead of failing the run.

Example:

```python
path = write_report(Run.open("runs/20261122-101500-imdb-a1b2c3"))   # runs/.../report.md
```
"""

from __future__ import annotations

import math
import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

from dlrun.runs.catalog import RunInfo, artifacts, format_duration, load_run, stage_table, stages
from dlrun.runs.rundir import PREDICTIONS, REPORT, Run, read_json, write_text
from dlrun.tasks import head_for, metric_name

VISUALS = "visuals"  # what `dlrun show --activations/--filters/--heatmap/--augmented` drew
CONFUSION_PNG = "confusion_matrix.png"
SCATTER_PNG = "predicted_vs_true.png"
# What each file is for, so the report's file list explains the run directory.
_FILE_ROLES = {
    "config.yaml": "resolved config; `dlrun train` it to reproduce the run",
    "meta.json": "status, command, seed, versions, git commit, times",
    "summary.json": "per-stage and final metrics, baseline, verdicts",
    "preprocessing.json": "preprocessing fitted on the training split (predict reuses it)",
    "final/model.keras": "the final model (`dlrun evaluate`, `predict`, `export` use it)",
    "final/metrics.json": "test metrics of the final model",
    PREDICTIONS: "true and predicted test targets",
}


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table; pipes inside cells are escaped."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(r) for r in rows)])


def write_report(run: Run | Path, *, status: str | None = None) -> Path:
    """Draw the run's plots and write its report.md; returns the report's path.

    `status` is the one the run gets once its report is there: a job writes the report
    before it marks the run completed, so that "completed" promises a report.
    """
    path = run.path if isinstance(run, Run) else Path(run)
    info = load_run(path)
    if status is not None:
        # the problem was judged for the state the run is leaving: while "running", the
        # job's own pid reads as a process that is gone
        info = replace(info, status=status, problem=None)
    test = _test_metrics(info)
    sections = [_headline(info, test), _stages(info)]
    sections.append(_learning_curves(info))
    if info.task in ("binary", "multiclass"):
        sections.append(_confusion(path, test))
    elif info.task == "regression" and (path / PREDICTIONS).is_file():
        sections.append(_regression(path))
    sections += [
        _generated(info),
        _visuals(path),
        _config(path),
        _provenance(info),
        _files(path),
    ]
    report = path / REPORT
    write_text(report, "\n\n".join(s for s in sections if s).rstrip() + "\n")
    return report


def _test_metrics(info: RunInfo) -> dict[str, Any]:
    final = info.summary.get("final")
    if isinstance(final, dict) and isinstance(final.get("test"), dict):
        return final["test"]
    metrics_file = info.path / "final" / "metrics.json"
    if metrics_file.is_file():
        try:
            metrics = read_json(metrics_file)
        except (OSError, ValueError):
            return {}
        return metrics if isinstance(metrics, dict) else {}
    return {}


def _headline(info: RunInfo, test: dict[str, Any]) -> str:
    lines = [f"# {info.name}: {info.status}", ""]
    config = info.config
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    what = f"{info.task or 'unknown'} task" + (
        f" on `{data['source']}`" if data.get("source") else ""
    )
    if model.get("kind"):
        what += f", model `{model['kind']}`"
    took = ""
    if info.duration is not None:
        took = f", took {format_duration(info.duration)}"
    lines.append(f"{what}. Run `{info.id}`, started {info.started or 'unknown'}{took}.")
    if info.problem:
        lines += ["", f"**Problem:** {info.problem}"]
    numbers = {k: v for k, v in test.items() if isinstance(v, float)}
    if numbers:
        primary = _primary_metric(info, numbers)
        others = ", ".join(f"{k} {v:.4f}" for k, v in numbers.items() if k != primary)
        final = info.summary.get("final") if isinstance(info.summary.get("final"), dict) else {}
        source = final.get("stage") or final.get("from")
        said = f"; final model from stage `{source}`" if source else ""
        if members := _ensemble(final):
            said = f"; final model: ensemble of {len(members)}: " + ", ".join(
                f"`{m['stage']}`" for m in members
            )
        lines += [
            "",
            f"**Test {primary}: {numbers[primary]:.4f}**"
            + (f" ({others})" if others else "")
            + (f" on {test['samples']} samples" if isinstance(test.get("samples"), int) else "")
            + said
            + ". The test split was used once, for this number only.",
        ]
        judged = final.get("baseline")
        if isinstance(judged, dict) and isinstance(judged.get("verdict"), str):
            # a model that loses to common sense on test must say so as plainly as its score
            if judged.get("beaten"):
                lines += ["", f"On the test split the final model {judged['verdict']}."]
            else:
                lines += ["", f"**Warning: the final model {judged['verdict']}.**"]
    elif info.status != "completed":
        lines += ["", "No test result: the run did not complete."]
    return "\n".join(lines)


def _primary_metric(info: RunInfo, numbers: dict[str, float]) -> str:
    train = info.config.get("train") if isinstance(info.config.get("train"), dict) else {}
    given = train.get("metrics") if isinstance(train.get("metrics"), list) else None
    # a metric with parameters is a mapping: the report knows it by the name it logs
    wanted = [
        metric_name(m)
        for m in given or []
        if isinstance(m, str) or (isinstance(m, dict) and isinstance(m.get("name"), str))
    ]
    if not wanted and info.task in ("binary", "multiclass", "multilabel", "regression"):
        wanted = head_for(info.task).metrics
    for name in wanted or []:
        if name in numbers:
            return name
    return next((k for k in numbers if k != "loss"), next(iter(numbers)))


def _stages(info: RunInfo) -> str:
    columns, rows = stage_table(info.summary)
    if not rows:
        return ""
    text = ["## Stages", "", markdown_table(columns, rows)]
    final = info.summary.get("final") if isinstance(info.summary.get("final"), dict) else {}
    members = _ensemble(final)
    if members and final.get("mode") == "retrain":
        named = ", ".join(f"`{m['stage']}` ({m.get('epochs', '?')} epochs)" for m in members)
        samples = f" ({final['samples']} samples)" if final.get("samples") else ""
        models = final.get("models")
        copies = (  # workflow.final_models: each member retrained that many times
            f" {models // len(members)} times"
            if isinstance(models, int) and models > len(members)
            else ""
        )
        text += [
            "",
            f"Final model: ensemble of {len(members)}: {named}, each retrained{copies} on "
            f"train+validation{samples} for that many epochs; its output is the mean of "
            "theirs. Evaluated on the test split once.",
        ]
    elif members and final.get("mode") == "keep_best":
        named = ", ".join(f"`{m['stage']}` (epoch {m.get('epochs', '?')})" for m in members)
        text += [
            "",
            f"Final model: ensemble of {len(members)}: {named}, each stage's best "
            "checkpoint; its output is the mean of theirs. Tested once.",
        ]
    elif final.get("mode") == "retrain" and final.get("stage"):
        samples = f" ({final['samples']} samples)" if final.get("samples") else ""
        text += [
            "",
            f"Final model: stage `{final['stage']}` retrained on train+validation{samples} "
            f"for {final.get('epochs', '?')} epochs, then evaluated on the test split once.",
        ]
    elif final.get("mode") == "keep_best" and final.get("stage"):
        text += ["", f"Final model: stage `{final['stage']}`'s best checkpoint, tested once."]
    return "\n".join(text)


def _ensemble(final: dict[str, Any]) -> list[dict[str, Any]]:
    """The members of an ensemble final model (workflow.final.ensemble), else []."""
    members = final.get("members")
    if not isinstance(members, list):
        return []
    return [m for m in members if isinstance(m, dict) and isinstance(m.get("stage"), str)]


def _learning_curves(info: RunInfo) -> str:
    """Link the PNGs the training wrote (dlrun.report.plots): the overlay, each stage's,
    any others."""
    path = info.path
    named: list[tuple[str, str]] = []
    plots = info.summary.get("plots")
    if isinstance(plots, dict) and isinstance(plots.get("overlay"), str):
        named.append((plots["overlay"], "Validation curves of every stage"))
    for name, stage in stages(info.summary).items():
        if isinstance(stage.get("plot"), str):
            model = f" ({stage['model']})" if isinstance(stage.get("model"), str) else ""
            named.append((stage["plot"], f"Stage {name}{model}"))
    mine = {CONFUSION_PNG, SCATTER_PNG, *(rel for rel, _ in named)}
    others = [p for p in sorted(path.glob("*.png")) if p.name not in mine]
    others += sorted(path.glob("stages/**/*.png"))
    named += [(p.relative_to(path).as_posix(), p.stem.replace("_", " ")) for p in others]
    named = [(rel, title) for rel, title in named if (path / rel).is_file()]
    if not named:
        return ""
    lines = ["## Learning curves", ""]
    for rel, title in named:
        lines += [f"**{title}**", "", f"![{title}]({rel})", ""]
    return "\n".join(lines).rstrip()


# The pictures the generative contracts draw of the final model, in the order shown.
GENERATED = {
    "samples": "Samples from a fixed batch of latent points",
    "reconstructions": "Test images (top) and their reconstructions (bottom)",
    "latent_grid": "Images decoded from a grid of latent points",
    "latent_scatter": "Test images in latent space",
}


def _generated(info: RunInfo) -> str:
    """What a generative run's final model makes: its pictures, or its last samples of
    text; a GAN's numbers come with the warning that they do not measure its samples."""
    plots = info.summary.get("plots") if isinstance(info.summary.get("plots"), dict) else {}
    lines = []
    for key, title in GENERATED.items():
        if isinstance(plots.get(key), str) and (info.path / plots[key]).is_file():
            lines += [f"**{title}**", "", f"![{title}]({plots[key]})", ""]
    if info.task == "gan":
        lines.insert(
            0,
            "A GAN's losses and its discriminator's accuracy say how the two networks are "
            "matched, not how good the samples are: judge them by the pictures.\n",
        )
    if info.task == "language_model":
        lines += _perplexities(info.summary)
    text = _last_text_samples(info.path)
    if text:
        lines += ["Samples after the last epoch (`samples.txt`):", "", "```", text, "```"]
    return "\n".join(["## What the model makes", "", *lines]).rstrip() if lines else ""


def _perplexities(summary: dict[str, Any]) -> list[str]:
    """A language model's perplexity (exp of its crossentropy) on validation and test,
    each beside the unigram baseline's where it was computed."""
    final = summary.get("final") if isinstance(summary.get("final"), dict) else {}
    stage = summary.get("stages", {}).get(final.get("stage") or summary.get("chosen") or "", {})
    said = []
    validation = stage.get("val", {}).get("loss") if isinstance(stage, dict) else None
    unigram = summary.get("baseline", {}).get("values", {}).get("unigram", {})
    if isinstance(validation, float):
        said.append(f"validation {math.exp(validation):.4g}" + _versus(unigram))
    test = final.get("test", {}) if isinstance(final.get("test"), dict) else {}
    if isinstance(test.get("perplexity"), float):
        on_test = final.get("baseline", {}).get("values", {}).get("unigram", {})
        said.append(f"test {test['perplexity']:.4g}" + _versus(on_test))
    return [f"Perplexity: {'; '.join(said)}.", ""] if said else []


def _versus(unigram: Any) -> str:
    value = unigram.get("perplexity") if isinstance(unigram, dict) else None
    return f" (the unigram baseline's: {value:.4g})" if isinstance(value, float) else ""


def _last_text_samples(path: Path) -> str:
    """The last epoch's text samples of the run's last fit."""
    found = sorted(path.glob("stages/**/samples.txt"), key=lambda p: p.stat().st_mtime)
    if not found:
        return ""
    return found[-1].read_text(encoding="utf-8").strip().split("## epoch ")[-1].strip()


def _visuals(path: Path) -> str:
    """Link the PNGs `dlrun show` drew of the final model (activations, filters, ...)."""
    drawn = sorted((path / VISUALS).glob("*.png"))
    if not drawn:
        return ""
    lines = ["## What the model learned", ""]
    for png in drawn:
        title = png.stem.replace("_", " ")
        lines += [f"**{title}**", "", f"![{title}]({VISUALS}/{png.name})", ""]
    return "\n".join(lines).rstrip()


def _confusion(path: Path, test: dict[str, Any]) -> str:
    matrix = test.get("confusion_matrix")
    if not isinstance(matrix, list) or not matrix:
        return ""
    names = class_names(path, len(matrix))
    lines = ["## Confusion matrix", "", "Rows: true class; columns: predicted (test split).", ""]
    try:
        _plot_confusion(matrix, names, path / CONFUSION_PNG)
        lines += [f"![Confusion matrix]({CONFUSION_PNG})", ""]
    except Exception as exc:  # noqa: BLE001 - a plot must never fail the run
        lines += [f"(plot not drawn: {type(exc).__name__}: {exc})", ""]
    if len(matrix) <= 12:
        rows = [[f"**{n}**", *(str(v) for v in row)] for n, row in zip(names, matrix, strict=False)]
        lines.append(markdown_table(["true \\ predicted", *names], rows))
    return "\n".join(lines).rstrip()


def class_names(path: Path, n: int) -> list[str]:
    """The run's class names (preprocessing.json), or 0..n-1 when it has none."""
    try:
        names = read_json(path / "preprocessing.json").get("class_names")
    except (OSError, ValueError, AttributeError):
        names = None
    if isinstance(names, list) and len(names) == n:
        return [str(x) for x in names]
    return [str(i) for i in range(n)]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window, works without a display
    import matplotlib.pyplot as plt

    return plt


def _plot_confusion(matrix: list[list[int]], names: list[str], target: Path) -> None:
    import numpy as np

    plt = _pyplot()
    counts = np.asarray(matrix)
    size = min(12.0, 2.5 + 0.45 * len(names))
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ticks = range(len(names))
    ax.set_xticks(ticks, labels=names, rotation=90 if len(names) > 10 else 0)
    ax.set_yticks(ticks, labels=names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    accuracy = counts.trace() / max(counts.sum(), 1)
    ax.set_title(f"Confusion matrix (test accuracy {accuracy:.3f})")
    if len(names) <= 20:
        threshold = counts.max() / 2 if counts.size else 0
        for i in ticks:
            for j in ticks:
                color = "white" if counts[i, j] > threshold else "black"
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=color, fontsize=8)
    fig.tight_layout()
    _save(fig, target)


def _save(fig: Any, target: Path) -> None:
    from dlrun.runs.rundir import save_with

    plt = _pyplot()
    try:
        save_with(target, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    finally:
        plt.close(fig)


def _regression(path: Path) -> str:
    lines = ["## Predicted vs true", ""]
    try:
        truth, predicted = _read_predictions(path / PREDICTIONS)
        _plot_scatter(truth, predicted, path / SCATTER_PNG)
        lines += [
            f"![Predicted vs true]({SCATTER_PNG})",
            "",
            f"Each point is a test sample; the values are in `{PREDICTIONS}`.",
        ]
    except Exception as exc:  # noqa: BLE001 - a plot must never fail the run
        lines.append(f"(plot not drawn: {type(exc).__name__}: {exc})")
    return "\n".join(lines)


def _read_predictions(source: Path) -> tuple[Any, Any]:
    """True and predicted test targets, as the final evaluation wrote them."""
    import numpy as np

    table = np.loadtxt(source, delimiter=",", skiprows=1, ndmin=2)
    width = table.shape[1] // 2
    return table[:, :width], table[:, width:]


def _plot_scatter(truth: Any, predicted: Any, target: Path) -> None:
    import numpy as np

    plt = _pyplot()
    t, p = truth.reshape(-1), predicted.reshape(-1)
    mae = float(np.mean(np.abs(t - p)))
    low, high = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.scatter(t, p, s=12, alpha=0.6)
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1, label="perfect")
    ax.set_xlabel("true value")
    ax.set_ylabel("predicted value")
    ax.set_title(f"Predicted vs true on the test split (MAE {mae:.3g})")
    ax.legend(loc="upper left")
    fig.tight_layout()
    _save(fig, target)


def _config(path: Path) -> str:
    try:
        text = (path / "config.yaml").read_text(encoding="utf-8")
    except OSError:
        return ""
    return "\n".join(
        [
            "## Configuration",
            "",
            "The resolved config (includes, overrides and defaults applied); "
            "`dlrun train config.yaml` reproduces the run.",
            "",
            "```yaml",
            text.rstrip(),
            "```",
        ]
    )


def _provenance(info: RunInfo) -> str:
    meta = info.meta
    if not meta:
        return ""
    lines = ["## Provenance", ""]
    command = meta.get("command")
    if isinstance(command, list):
        lines.append(f"- command: `{shlex.join(str(c) for c in command)}`")
    for key in ("seed", "git_commit", "host", "started", "finished"):
        if meta.get(key) is not None:
            lines.append(f"- {key.replace('_', ' ')}: `{meta[key]}`")
    versions = meta.get("versions")
    if isinstance(versions, dict):
        lines.append("- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return "\n".join(lines)


def _files(path: Path) -> str:
    lines = ["## Files", ""]
    for rel, _ in artifacts(path):
        role = _FILE_ROLES.get(rel)
        if rel != REPORT:
            lines.append(f"- `{rel}`" + (f": {role}" if role else ""))
    return "\n".join(lines)
