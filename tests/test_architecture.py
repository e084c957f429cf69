"""The package layout's rules, read from the import statements: arrows go one way.

engine/ imports nothing of webapp/; the shared packages (figures, notation, serving) import no feature;
no package imports another package's routes; the package graph has no cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.paths import REPO

FEATURES = {"api", "gallery", "lab", "share", "training"}
SHARED = {"figures", "notation", "serving"}


def imported_modules(path: Path) -> set[str]:
    """Dotted names of the modules a file imports (relative imports resolved against its package)."""
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def package_of(module: str) -> str | None:
    """'lab' for webapp.lab.view, 'webapp' for webapp.cli, None outside webapp."""
    parts = module.split(".")
    if parts[0] != "webapp":
        return None
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (REPO / "webapp" / parts[1]).is_dir()) else "webapp"


def webapp_files() -> list[Path]:
    return sorted((REPO / "webapp").rglob("*.py"))


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in webapp_files():
        source = package_of(".".join(path.relative_to(REPO).with_suffix("").parts))
        if source == "webapp":
            continue  # create_app and the command line sit above every package
        targets = {package_of(module) for module in imported_modules(path)} - {None, "webapp", source}
        graph.setdefault(source, set()).update(targets)
    return graph


def test_every_package_of_the_design_is_there():
    assert FEATURES | SHARED <= set(package_graph())


@pytest.mark.parametrize("path", sorted((REPO / "engine").rglob("*.py")), ids=lambda p: p.name)
def test_the_engine_imports_no_webapp_flask_or_plotly(path):
    imported = {module.split(".")[0] for module in imported_modules(path)}
    assert not imported & {"webapp", "flask", "plotly", "werkzeug", "pydantic"}


def test_shared_packages_import_no_feature():
    graph = package_graph()
    for package in SHARED - {"serving"}:
        assert not graph[package] & FEATURES, package
    assert graph["serving"] <= {"api"}, "serving reads the API's limits and nothing else"


@pytest.mark.parametrize("path", webapp_files(), ids=lambda p: "/".join(p.parts[-2:]))
def test_no_package_imports_another_packages_routes(path):
    own = package_of(".".join(path.relative_to(REPO).with_suffix("").parts))
    for module in imported_modules(path):
        if module.endswith(".routes") and package_of(module) != own:
            assert own == "webapp", f"{path.name} imports {module}"  # only create_app registers blueprints


def find_cycle(graph: dict[str, set[str]]) -> tuple[str, ...] | None:
    """A cycle of the graph as the packages along it, or None."""
    done: set[str] = set()

    def visit(package: str, path: tuple[str, ...]) -> tuple[str, ...] | None:
        if package in path:
            return path[path.index(package):] + (package,)
        if package in done:
            return None
        for target in sorted(graph.get(package, ())):
            cycle = visit(target, path + (package,))
            if cycle:
                return cycle
        done.add(package)
        return None

    for package in sorted(graph):
        cycle = visit(package, ())
        if cycle:
            return cycle
    return None


def test_the_package_graph_has_no_cycle():
    assert find_cycle(package_graph()) is None


def test_the_checks_see_real_imports_and_cycles():
    """The rules above would pass on an empty graph: the reader resolves real imports, the search finds cycles."""
    graph = package_graph()
    assert {"api", "figures", "notation"} <= graph["lab"]
    assert "lab" in graph["share"] and "lab" in graph["training"]
    assert "webapp.lab.render" in imported_modules(REPO / "webapp" / "lab" / "routes.py")
    assert find_cycle({"lab": {"api"}, "api": {"figures"}, "figures": {"lab"}}) == ("api", "figures", "lab", "api")
    assert find_cycle({"lab": {"api"}, "share": {"lab", "api"}}) is None
