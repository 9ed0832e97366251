"""The package layout's rules, read from the source: no import cycle between modules, and
each package imports only the packages below it (docs/development.md, "The layout")."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: folder -> the package it installs as
PACKAGES = {
    "streams": "socialpulse.streams",
    "agents": "socialpulse.agents",
    "alerts": "socialpulse.alerts",
    "grafana": "socialpulse.grafana",
    "cli": "socialpulse.cli",
}
#: the KPI core's read API: the only worker modules the alerts package may read
KPI_CORE = {"socialpulse.agents.state", "socialpulse.agents.counters", "socialpulse.agents.minutes"}
#: package -> the packages it may import
ALLOWED = {
    "socialpulse.streams": set(),
    "socialpulse.alerts": {"socialpulse.streams", "socialpulse.agents"},  # KPI core only
    "socialpulse.agents": {"socialpulse.streams", "socialpulse.alerts"},
    "socialpulse.grafana": {"socialpulse.agents"},
    "socialpulse.cli": {
        "socialpulse.streams",
        "socialpulse.agents",
        "socialpulse.alerts",
        "socialpulse.grafana",
        "bench",  # `socialpulse bench` runs the bench/ of a source checkout
    },
}


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join((package, *parts))] = path
    return found


def imports(path: Path, known: set[str]) -> Iterator[str]:
    """Every socialpulse module ``path`` imports, anywhere in it (in functions and under
    TYPE_CHECKING too: a cycle dodged that way is still a cycle to a reader)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("socialpulse") or name == "bench" or name.startswith("bench."):
                while name not in known and "." in name:
                    name = name.rsplit(".", 1)[0]
                yield name


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {m: {n for n in imports(p, known) if n != m} for m, p in found.items()}


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_no_module_imports_itself_in_a_cycle(graph: dict[str, set[str]]) -> None:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_each_package_imports_only_the_packages_below_it(graph: dict[str, set[str]]) -> None:
    wrong = [
        f"{module} -> {target}"
        for module, targets in graph.items()
        for target in targets
        if package_of(target) != package_of(module)
        and package_of(target) not in ALLOWED[package_of(module)]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_alerts_read_only_the_kpi_core_of_the_worker(graph: dict[str, set[str]]) -> None:
    read = {
        target
        for module, targets in graph.items()
        if package_of(module) == "socialpulse.alerts"
        for target in targets
        if package_of(target) == "socialpulse.agents"
    }
    assert read <= KPI_CORE, sorted(read - KPI_CORE)


def test_the_kpi_core_imports_no_worker_runtime(graph: dict[str, set[str]]) -> None:
    # what the alerts read must not pull the worker in (Faust app, pipeline, settings)
    seen: set[str] = set()
    todo = list(KPI_CORE)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo += [t for t in graph.get(module, ()) if package_of(t) == "socialpulse.agents"]
    runtime = {"app", "pipeline", "events_reader", "settings", "batch_core", "state_log"}
    assert not {m.rsplit(".", 1)[1] for m in seen} & runtime, sorted(seen)


def test_every_code_folder_is_an_installed_package() -> None:
    """pyproject lists the packages by hand: a new sub-package left out would install
    without its modules (only the editable install would still find them)."""
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    folders = {
        ".".join((PACKAGES[init.relative_to(ROOT).parts[0]], *init.relative_to(ROOT).parts[1:-1]))
        for folder in PACKAGES
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert set(setuptools["packages"]) - data_folders(setuptools) == folders
    assert setuptools["package-dir"] == {package: folder for folder, package in PACKAGES.items()}


def data_folders(setuptools: dict[str, Any]) -> set[str]:
    """The listed packages that are folders of data (no ``__init__.py``)."""
    return {
        package
        for package in setuptools["packages"]
        if not (_folder(setuptools, package) / "__init__.py").exists()
    }


def _folder(setuptools: dict[str, Any], package: str) -> Path:
    root = next(p for p in setuptools["package-dir"] if package == p or package.startswith(p + "."))
    rest = package.removeprefix(root).strip(".").split(".") if package != root else []
    return ROOT / setuptools["package-dir"][root] / Path(*rest)


def test_package_data_lives_in_listed_packages_and_ships_whole() -> None:
    """A folder of data files inside a package (the board's page, the lexicons, the model
    heads) is listed as a package of its own, with its files as package data: a pattern
    reaching into a folder left out of ``packages`` makes setuptools warn on every install
    that a later version will not ship it. Each data package's files all match its
    patterns, so none is left out of the wheel."""
    import fnmatch
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    patterns: dict[str, list[str]] = setuptools["package-data"]
    assert not [p for ps in patterns.values() for p in ps if "/" in p]
    assert set(patterns) <= set(setuptools["packages"])
    for package in data_folders(setuptools):
        files = [f.name for f in _folder(setuptools, package).iterdir() if f.is_file()]
        shipped = [f for f in files if any(fnmatch.fnmatch(f, p) for p in patterns[package])]
        assert files and shipped == files, package
