"""The house rules of imports: floors import downwards only, the emulator stays apart from the operator, the dev
tools stay out of the operator's runtime, and no module imports itself in a circle.

Imports are read from the source (ast), at module level, so a lazy import inside a function (how the CLI reaches
the dev tools) does not count. Imports under ``if TYPE_CHECKING:`` count for circles (a circle of types is still
two modules that cannot be understood apart) but not for what loads at run time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = {"sagemaker_operator": ROOT / "operator" / "sagemaker_operator",
           "sagemaker_emulator": ROOT / "operator" / "sagemaker_emulator", "bench": ROOT / "bench"}
DEV_TOOLS = ("sagemaker_operator.dev",)

# (importing modules' prefix, forbidden prefix, why)
RULES = [
    ("sagemaker_emulator", "sagemaker_operator", "the emulator stands in for AWS: it never knows the operator"),
    ("sagemaker_operator.api", "sagemaker_operator.aws", "the API (kinds, schemas, rules) is pure declaration"),
    ("sagemaker_operator.api", "sagemaker_operator.reconcile", "the API (kinds, schemas, rules) is pure declaration"),
    ("sagemaker_operator.reconcile", "sagemaker_operator.plugin", "reconcile serves the plugin, not the reverse"),
    *(("sagemaker_operator.reconcile", tool, "the dev tools are not part of reconciling") for tool in DEV_TOOLS),
    *(("sagemaker_operator.aws", tool, "the dev tools are not part of the AWS layer") for tool in DEV_TOOLS),
    ("bench", "tests", "the benchmark is usable without the test suite"),
]


def _module_name(package: str, folder: Path, path: Path) -> str:
    parts = [package, *path.relative_to(folder).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _module_level_imports(tree: ast.Module, module: str, is_package: bool, *, typing: bool = False
                          ) -> Iterator[str]:
    """Absolute names of what a module imports at module level (``typing``: also for type checking only)."""
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If):
            if typing or not _is_type_checking(node):
                pending += node.body + node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            yield prefix
            yield from (f"{prefix}.{alias.name}" for alias in node.names)


def import_graph(*, typing: bool = False) -> dict[str, set[str]]:
    """module -> the project modules it imports at load time (``typing``: or for type checking)."""
    modules: dict[str, tuple[Path, bool]] = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            modules[_module_name(package, folder, path)] = (path, path.name == "__init__.py")
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in modules.items():
        imported = _module_level_imports(ast.parse(path.read_text()), name, is_package, typing=typing)
        graph[name] = {target for target in imported if target in modules and target != name}
    return graph


GRAPH = import_graph()


@pytest.mark.parametrize(("importer", "forbidden", "why"), RULES, ids=lambda value: str(value)[:40])
def test_floors(importer: str, forbidden: str, why: str) -> None:
    broken = sorted(f"{module} imports {target}" for module, targets in GRAPH.items()
                    if module == importer or module.startswith(f"{importer}.")
                    for target in targets if target == forbidden or target.startswith(f"{forbidden}."))
    bench_on_tests = [] if importer != "bench" else [
        str(path.relative_to(ROOT)) for path in SOURCES["bench"].rglob("*.py")
        if any(target == "tests" or target.startswith("tests.")
               for target in _module_level_imports(ast.parse(path.read_text()), "bench", False))]
    assert not broken and not bench_on_tests, f"{why}: {broken or bench_on_tests}"


def test_no_import_circles() -> None:
    graph = import_graph(typing=True)
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(graph.get(module, ())):
            if target in path:
                circle = [*path[path.index(target):], target]
                if sorted(circle[:-1]) not in [sorted(c[:-1]) for c in circles]:
                    circles.append(circle)
            elif len(path) < 30:
                visit(target, [*path, target])

    for module in sorted(graph):
        visit(module, [module])
    # A package's __init__ re-exporting its modules is not a circle of logic.
    circles = [c for c in circles if not any(m.count(".") < n.count(".") and n.startswith(f"{m}.")
                                             for m in c for n in c)]
    assert not circles, "\n".join(" -> ".join(c) for c in circles)


def test_running_the_operator_loads_no_dev_tool() -> None:
    """What `sagemaker-operator run` loads (the CLI, the kopf handlers) never pulls in the dev stack."""
    probe = ("import sys, sagemaker_operator.cli, sagemaker_operator.handlers; "
             "print(sorted(m for m in sys.modules if m.startswith('sagemaker_operator.dev.') "
             "or m == 'sagemaker_operator.dev'))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
