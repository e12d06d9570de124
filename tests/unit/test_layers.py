"""The layers point one way and no module imports itself through others (STYLE.md 12).

Every import counts, also those inside functions: a circle held together by a
function-level import is still a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("imbalance", "tasks", "flows", "cli")
# Which layers a layer may import; the core imports nothing above it.
ALLOWED = {
    "imbalance": {"imbalance"},
    "tasks": {"imbalance", "tasks"},
    "flows": {"imbalance", "tasks", "flows"},
    "cli": {"imbalance", "tasks", "flows", "cli"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, bool]]:
    """Return (project module, at top level?) for each import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    edges = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from imbalance import store` imports the module imbalance.store
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                for a in node.names
            ]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PACKAGES + ("tensorflow", "keras"):
                edges.append((name, id(node) in top))
    return edges


GRAPH = {
    module: {name for name, _ in _imports(path) if name in MODULES}
    for module, path in MODULES.items()
}


def test_each_layer_imports_only_the_layers_below_it():
    wrong = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if target.split(".")[0] not in ALLOWED[module.split(".")[0]]
    ]
    assert wrong == []


def test_task_modules_import_no_other_task_module():
    # Shared Prefect helpers live in private modules (tasks._prefect), which import no task.
    wrong = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        if module.startswith("tasks.")
        for target in targets
        if target.startswith("tasks.")
        and not target.split(".")[1].startswith("_")
        or (module.startswith("tasks._") and target.startswith("tasks."))
    ]
    assert wrong == []


def test_the_import_graph_has_no_circle():
    state: dict[str, str] = {}
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH[module]):
            if state.get(target) == "open":
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_no_module_imports_tensorflow_when_it_is_imported():
    eager = [
        f"{module} imports {name}"
        for module, path in MODULES.items()
        for name, at_top in _imports(path)
        if at_top and name.split(".")[0] in ("tensorflow", "keras")
    ]
    assert eager == []


def test_the_checks_see_a_circle_and_a_function_level_import(tmp_path):
    # The walk must find imports inside functions, or the circle test proves nothing.
    source = "def f():\n    from tasks.report import write_report\n"
    (tmp_path / "m.py").write_text(source)
    assert _imports(tmp_path / "m.py") == [("tasks.report", False)]
