"""The layers of docs/architecture.md, held against the code: imports point down, no cycles.

Read from the source as text (ast), nothing imported: every import of a
migbench module, at module level or inside a function, is an arrow. The
table below is the one docs/architecture.md shows; a new arrow that is not
allowed fails here with the file and line, before a reviewer has to find it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Folder on disk -> import name (pyproject.toml's package-dir mapping).
ROOTS = {"migbench": "migbench", "bench": "migbench.bench", "generator": "migbench.generator"}
# Scripts that run inside target environments: never imported by migbench itself.
NOT_IMPORTED = ("bench/measure/worker/", "bench/env/shim/migbench_django_shim.py")

FOUNDATION = ("migbench.errors", "migbench.units", "migbench.targets", "migbench.provenance")
# Package -> the packages its modules may import (besides their own package and FOUNDATION).
ALLOWED = {
    "migbench.commands": ("migbench.bench", "migbench.generator", "migbench"),
    "migbench.cli": ("migbench.commands", "migbench"),
    "migbench.__main__": ("migbench.cli",),
    "migbench.bench.run": ("migbench.bench.strategies", "migbench.bench.measure", "migbench.bench.engines",
                           "migbench.bench.env", "migbench.bench.records", "migbench.bench.analysis",
                           "migbench.bench.report", "migbench.bench.projects", "migbench.generator", "migbench"),
    "migbench.bench.report": ("migbench.bench.records", "migbench.bench.analysis"),
    # The cluster runs bench/run's runs on Dask workers; bench/run never imports it (jobs.Pool is its face).
    "migbench.bench.cluster": ("migbench.bench.run", "migbench.bench.records", "migbench.bench.measure",
                               "migbench.bench.env", "migbench.bench.engines", "migbench.generator", "migbench"),
    "migbench.bench.strategies": ("migbench.bench.measure", "migbench.bench.engines", "migbench.bench.env",
                                  "migbench.bench.records", "migbench.generator"),
    # The container and VM limiters ask bench/guests for the image or guest they run the child in.
    "migbench.bench.measure": ("migbench.bench.env", "migbench.bench.records", "migbench.bench.guests"),
    "migbench.bench.guests": ("migbench.bench.env",),
    # A real project's copy: the overlay reuses the generated settings' URL parser; Redis is
    # started the way the engines start their servers.
    "migbench.bench.projects": ("migbench.bench.env", "migbench.bench.engines", "migbench.generator"),
    # An engine names the worker script it replays DDL with: worker/__init__ holds only paths.
    "migbench.bench.engines": ("migbench.bench.env", "migbench.bench.measure.worker"),
    "migbench.bench.env": (),
    "migbench.bench.analysis": ("migbench.bench.records",),
    "migbench.bench.records": (),
    "migbench.generator": ("migbench",),  # the version it writes into the manifest
    "migbench.bench": (),
}
ALLOWED.update({name: ("migbench.errors",) for name in FOUNDATION})
# Modules over the size rule, each one concept that would only be scattered by a split.
ONE_CONCEPT = {
    "bench/measure/worker/measure.py": "one script run by path inside the target environment",
    "bench/measure/worker/write_rows.py": "one script run by path inside the target environment",
    "bench/env/environments.py": "the cached environments: build, lock, verify, list, prune",
}
MAX_LINES = 420


def modules() -> dict[str, Path]:
    found = {}
    for folder, name in ROOTS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(NOT_IMPORTED) or "testdb" in path.parts:
                continue
            parts = [name] + list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> list[tuple[str, int]]:
    """(imported migbench module, line) for every import in the file, resolved to a module name."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                candidate = module + "." + alias.name
                found.append((candidate if candidate in MODULES else module, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
    return [(m, line) for m, line in found if m == "migbench" or m.startswith("migbench.")]


def package_of(module: str) -> str:
    """The ALLOWED key a module belongs to: the longest one it is inside."""
    keys = [k for k in ALLOWED if module == k or module.startswith(k + ".")]
    return max(keys, key=len) if keys else module


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_every_arrow_points_down():
    wrong = []
    for name, path in MODULES.items():
        own = package_of(name)
        allowed = (own,) + FOUNDATION + ALLOWED.get(own, ())
        for target, line in imports(name, path):
            if target == "migbench" and own != "migbench.generator" and "migbench" not in allowed:
                wrong.append("%s:%d imports the top package" % (path.relative_to(ROOT), line))
            elif target != "migbench" and not any(inside(target, a) for a in allowed if a != "migbench"):
                wrong.append("%s:%d: %s -> %s" % (path.relative_to(ROOT), line, own, target))
    assert not wrong, "imports that docs/architecture.md does not allow:\n" + "\n".join(wrong)


def test_no_import_cycle():
    graph = {name: {t for t, _ in imports(name, path) if t in MODULES and t != name}
             for name, path in MODULES.items()}
    # A package's own __init__ importing its modules is how a package face works, not a cycle.
    for name in graph:
        graph[name] = {t for t in graph[name] if not inside(name, t)}
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, cycles


def test_every_package_says_its_job():
    for name, path in MODULES.items():
        if path.name == "__init__.py":
            docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            assert docstring and len(docstring) > 60, "%s has no docstring saying its job" % path


def test_every_package_is_installed():
    """A folder missing from pyproject's package list works in a checkout and breaks a real install."""
    listed = set(re.findall(r'^\s*"(migbench[\w.]*)",', (ROOT / "pyproject.toml").read_text(), re.M))
    packages = {name for name, path in MODULES.items() if path.name == "__init__.py"}
    assert packages - {"migbench.scenarios"} <= listed, sorted(packages - listed)


def test_modules_stay_small():
    """No module over ~400 lines unless it is one concept (ONE_CONCEPT says which and why)."""
    large = []
    for path in MODULES.values():
        relative = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_LINES and relative not in ONE_CONCEPT:
            large.append("%s: %d lines" % (relative, lines))
    assert not large, large
