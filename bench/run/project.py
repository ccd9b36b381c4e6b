"""The matrix of a real project: the user's copy, the user's environment, every engine and strategy.

A real project is measured like a scenario's project (same executor, records,
reports) with three differences decided here: the project is migbench's copy of
the user's tree (bench/projects), there is one environment, the user's own (its
Django and Python are the project's; nothing is installed into it, so a missing
database driver is one line naming what to install), and the "scenario" that
names the records is the project: its name and the digest of its files.

Side effects: copies the project into the cache and runs the user's interpreter on it.
"""

from __future__ import annotations

import json
import subprocess
from typing import Callable

from migbench.bench.engines import Engine
from migbench.bench.projects import Prepared
from migbench.bench.projects.inspect import UserEnvironment
from migbench.errors import MigbenchError
from migbench.generator.scenario import GeneratorParams, Scenario
from migbench.targets import resolve_line

from .matrix import Matrix, PlannedCell, strategy_cells
from .options import RunOptions

# The DB-API modules Django's backends import, per engine, in Django's order of preference.
DRIVERS = {"postgresql": ("psycopg", "psycopg2"), "mariadb": ("MySQLdb",), "mysql": ("MySQLdb",)}
_PROBE = ("import importlib, json, sys\nfor m in %r:\n try:\n  importlib.import_module(m)\n except Exception:\n"
          "  continue\n try:\n  from importlib.metadata import version, packages_distributions\n"
          "  d = (packages_distributions().get(m) or [m])[0]; v = version(d)\n except Exception:\n  d, v = m, ''\n"
          " print(json.dumps({'module': m, 'package': d, 'version': v})); sys.exit(0)\nsys.exit(1)")


def scenario_of(prepared: Prepared) -> Scenario:
    """The scenario-shaped identity of a real project: records are named by it."""
    return Scenario(name=prepared.source.name, description="your project %s" % prepared.source.tree,
                    generator=GeneratorParams(), run={}, source="project %s" % prepared.source.tree,
                    sha256=prepared.sha256)


def plan_project(prepared: Prepared, options: RunOptions, chosen: list[Engine],
                 on_note: Callable[[str], None] = print) -> Matrix:
    """Cells (engine x strategy x cap) on the user's environment; a cell nothing can run is skipped with why."""
    env = prepared.env
    line = resolve_line(env.django_version)
    scenario = scenario_of(prepared)
    on_note("environment  yours: Django %s / Python %s: %s" % (env.django_version, env.python_version, env.python))
    cells: list[PlannedCell] = []
    skipped: list[str] = []
    for engine in chosen:
        why = engine.unsupported(line)
        if why:
            skipped.append("Django %s on %s: %s (skipped)" % (line.line, engine.name, why))
            continue
        cells += strategy_cells(scenario, options, env, engine, user_driver(env, engine), line, skipped)
    if not cells:
        raise MigbenchError("no cell can run on your project here: %s" % "; ".join(skipped))
    return Matrix(cells, list(dict.fromkeys(skipped)), prepared.path, env.django_version, chosen)


def user_driver(env: UserEnvironment, engine: Engine) -> dict | None:
    """The driver the user's environment already has for `engine` (the record names it), or one line."""
    modules = DRIVERS.get(engine.name)
    if not modules:
        return None
    done = subprocess.run([str(env.python), "-B", "-c", _PROBE % (modules,)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True, timeout=120)
    if done.returncode != 0:
        raise MigbenchError("--database %s: your environment (%s) has no %s driver (%s); install one there, e.g. "
                            "`%s -m pip install %s` (migbench never installs into your environment)" % (
                                engine.name, env.python, engine.name, " or ".join(modules), env.python,
                                "psycopg2-binary" if engine.name == "postgresql" else "mysqlclient"))
    found = json.loads(done.stdout.strip().splitlines()[-1])
    found["requirement"] = "(your environment)"
    return found
