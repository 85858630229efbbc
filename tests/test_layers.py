"""The dependency direction of docs/layers.md: no package imports a package on its own layer or above."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from agent.config import PROJECT_ROOT

LAYERS_DOC = PROJECT_ROOT / "docs" / "layers.md"
ROOTS = ("agent", "ui")


def layer_of() -> dict[str, int]:
    """Package (``events``, ``api``, ``ui``) -> layer number, from the ```layers block of the doc."""
    block = re.search(r"```layers\n(.*?)```", LAYERS_DOC.read_text(encoding="utf-8"), re.S)
    assert block, f"{LAYERS_DOC}: no ```layers block"
    layers: dict[str, int] = {}
    for line in block.group(1).splitlines():
        number, _, rest = line.partition(" ")
        for package in rest.split(":", 1)[1].split():
            assert package not in layers, f"{LAYERS_DOC}: {package} is on two layers"
            layers[package] = int(number)
    return layers


def package_of(path: Path, base: Path) -> str:
    """The layer unit a file belongs to: ``ui``, or the first name under ``agent/``."""
    parts = path.relative_to(base).with_suffix("").parts
    return "ui" if parts[0] == "ui" else parts[1]


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, package) of every ``agent.<package>`` import in the file, wherever it is."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "agent" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
                break
    return found


def violations(layers: dict[str, int], base: Path = PROJECT_ROOT) -> list[str]:
    """Every import under ``base``/agent and ``base``/ui that the layers forbid, as ``file:line: why``."""
    problems = []
    for root in ROOTS:
        for path in sorted((base / root).rglob("*.py")):
            if path.parent == base / "agent" and path.name == "__init__.py":
                continue
            own = package_of(path, base)
            where = path.relative_to(base)
            if own not in layers:
                problems.append(f"{where}: package {own!r} is on no layer of {LAYERS_DOC.name}")
                continue
            for line, target in imported_packages(path):
                if target == own:
                    continue
                if target not in layers:
                    problems.append(f"{where}:{line}: imports agent.{target}, which is on no layer")
                elif layers[target] >= layers[own]:
                    problems.append(f"{where}:{line}: {own} (layer {layers[own]}) imports {target} "
                                    f"(layer {layers[target]})")
    return problems


def test_no_import_goes_sideways_or_up():
    assert violations(layer_of()) == []


@pytest.mark.parametrize("source, target", [
    ("evolve", "eval"), ("eval", "evolve"), ("scheduler", "api"), ("bundles", "sources"), ("ui", "cli"),
])
def test_the_imports_the_issue_found_are_forbidden(source, target):
    layers = layer_of()
    assert layers[target] >= layers[source]


def test_the_checker_catches_a_lazy_upward_import(tmp_path):
    """The walk sees imports inside functions, so a lazy upward import is caught too."""
    probe = tmp_path / "agent" / "scheduler" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("import agent.config\n\ndef f():\n    from agent.api.app import create_app\n", encoding="utf-8")
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "page.py").write_text("from agent.memory.lines import answer_line\n", encoding="utf-8")
    assert violations(layer_of(), tmp_path) == [
        "agent/scheduler/probe.py:4: scheduler (layer 13) imports api (layer 14)",
    ]
