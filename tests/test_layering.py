"""The architecture as the imports show it: config/ imports nothing above it, models/ and
data/ nothing above them, and the registries and the schema agree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from dlrun.data.sources import SOURCES
from dlrun.models import MODELS
from dlrun.spec import DlrunConfig

PACKAGE = Path(__file__).resolve().parents[1] / "dlrun"

# what each layer may import from dlrun (besides itself)
ALLOWED = {
    "config": ("dlrun.config", "dlrun.errors", "dlrun.tasks"),
    "data": ("dlrun.data", "dlrun.config", "dlrun.errors", "dlrun.tasks"),
    "models": ("dlrun.models", "dlrun.data", "dlrun.config", "dlrun.errors", "dlrun.tasks"),
}


def _dlrun_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("dlrun"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("dlrun"))
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_no_import_runs_upward(layer: str) -> None:
    upward = {
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path in (PACKAGE / layer).glob("*.py")
        for module in _dlrun_imports(path)
        if not module.startswith(ALLOWED[layer])
    }
    assert not upward


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
