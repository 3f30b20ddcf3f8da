"""Imports run one way, down the layers of DESIGN.md, with no circle: checked on the source.

Every `import` and `from ... import` in dlrun/, at module level or inside a function
(lazy imports count: they are how a layer reaches up without anyone noticing), is
mapped to its layer. An import may go down or stay in its own layer, never up. `sweep`
sits above `workflow`: a trial is a job (`dlrun.workflow.job.run_job`), the one path
that `dlrun train` takes, so the workflow never knows about sweeps. And the model and
data registries agree with the schema that `dlrun.spec` builds from them.
"""

from __future__ import annotations

import ast
from pathlib import Path

from dlrun.data.sources import SOURCES
from dlrun.models import MODELS
from dlrun.spec import DlrunConfig

PACKAGE = Path(__file__).resolve().parents[1] / "dlrun"

# Top to bottom. A module's layer is its first dotted prefix found here.
LAYERS: list[tuple[str, ...]] = [
    ("dlrun.__main__",),
    ("dlrun.cli",),
    ("dlrun.commands",),
    ("dlrun.sweep",),
    ("dlrun.workflow",),
    ("dlrun.training", "dlrun.evaluation", "dlrun.generative"),
    ("dlrun.report",),
    # training contracts: the spec builds `task` from them; they reach models and data
    ("dlrun.spec", "dlrun.contracts"),
    ("dlrun.models",),
    ("dlrun.data",),
    ("dlrun.runs",),
    ("dlrun.config",),
    (
        "dlrun.tasks",
        "dlrun.objective",
        "dlrun.errors",
        "dlrun.console",
        "dlrun.tfenv",
        "dlrun.runtime",
        "dlrun",
    ),
]


def layer_of(module: str) -> tuple[int, str]:
    """(depth, the prefix that matched); deeper layers have larger depths."""
    for depth, prefixes in enumerate(LAYERS):
        for prefix in sorted(prefixes, key=len, reverse=True):
            if module == prefix or module.startswith(prefix + "."):
                return depth, prefix
    raise AssertionError(f"{module} is in no layer; add it to LAYERS")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every dlrun import in a file, relative ones resolved."""
    found = []
    package = module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else None
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("dlrun")]
        elif isinstance(node, ast.ImportFrom):
            name = node.module or ""
            if node.level:
                base = (package or module_name(path)).split(".")
                name = ".".join(base[: len(base) - node.level + 1] + ([name] if name else []))
            if name.startswith("dlrun"):
                found.append((node.lineno, name))
    return found


def test_no_import_runs_up_a_layer_or_across_siblings() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        depth, own = layer_of(source)
        for line, target in imports(path):
            target_depth, target_prefix = layer_of(target)
            where = f"{path.relative_to(PACKAGE.parent)}:{line}: {source} imports {target}"
            if target_depth < depth:
                problems.append(f"{where} (up a layer)")
    assert not problems, "\n".join(problems)


def test_the_layer_map_knows_every_module() -> None:
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))


def test_every_registered_name_is_a_member_of_the_schema() -> None:
    data = DlrunConfig.model_json_schema()["properties"]["data"]["discriminator"]["mapping"]
    assert set(data) == set(SOURCES)
    for name, source in SOURCES.items():
        assert data[name].endswith(f"/{source.config.__name__}")
    for name, kind in MODELS.items():
        config = DlrunConfig.model_validate(
            {
                "name": "t",
                "task": "binary",
                "data": {"source": "sklearn.breast_cancer"},
                "model": {"kind": "python:m.py:f" if name == "python" else name},
            }
        )
        assert type(config.model) is kind.config
