"""The migration graph of a project on a target, from bench/measure/worker/graph.py, and reading it."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

from migbench.bench import engines
from migbench.bench.env.child import ProjectRunner
from migbench.bench.env.environments import Environment
from migbench.bench.measure.worker import GRAPH
from migbench.errors import MigbenchError

TIMEOUT = 1800

# Graph reading and the transformations' own commands (makemigrations, squashmigrations) use a
# scratch SQLite file: they read and write migration files, not a schema. The check that a
# transformed copy migrates to the original's schema runs on the cell's engine (Job.engine,
# default this one), and the measured run proves equivalence again (strategies/validation.py).
SCRATCH_ENGINE = engines.get(engines.DEFAULT)


def graph_info(project: Path, env: Environment) -> dict:
    """bench/measure/worker/graph.py's JSON for `project` on `env`; MigbenchError if it cannot load."""
    info, error = probe(Path(project), env)
    if info is None:
        raise MigbenchError("the migrations of %s do not load on Django %s: %s"
                            % (project, env.django_version, error))
    return info


def probe(project: Path, env: Environment) -> tuple[dict | None, str]:
    """(info, "") or (None, one-line error)."""
    with tempfile.TemporaryDirectory(prefix="migbench-graph-") as scratch:
        runner = ProjectRunner(project, env.python, SCRATCH_ENGINE.fresh(Path(scratch), "graph"))
        try:
            done = subprocess.run([str(env.python), str(GRAPH), "--project", str(project),
                                   "--settings", runner.settings],
                                  cwd=project, env=runner.env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, errors="replace", timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return None, "graph.py timed out after %ss" % TIMEOUT
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    try:
        info = json.loads(lines[-1])
    except (IndexError, ValueError):
        return None, "graph.py crashed (exit %s): %s" % (done.returncode, last_line(done.stderr))
    if not info.get("ok"):
        return None, info.get("error") or "graph.py failed"
    return info, ""


def used(info: dict, app: str) -> list[str]:
    """Names of `app`'s migrations the loader uses, in plan order."""
    return [name for label, name in info["plan"] if label == app]


def on_disk(info: dict, app: str) -> list[str]:
    return [k.split(".", 1)[1] for k in info["operations"] if k.split(".", 1)[0] == app]


def operations(info: dict, app: str, names: list[str]) -> int:
    return sum(info["operations"].get("%s.%s" % (app, name), 0) for name in names)


def named_from_outside(info: dict, labels: list[str], app: str, names) -> list[str]:
    """"other.0002_x -> app.0003_y" for each migration of an app outside `labels` (third-party,
    contrib: not transformed, not editable) that names one of `names` of `app` (a dependency or
    run_before): what breaks when a transformation deletes those names."""
    names = set(names)
    found = []
    for key, named in sorted(info.get("references", {}).items()):
        if key.split(".", 1)[0] in labels:
            continue
        found.extend("%s -> %s.%s" % (key, other, name) for other, name in named if other == app and name in names)
    return found


_CYCLE = re.compile(r"CircularDependencyError: (.*)")
_CYCLE_SHOWN = 8


def graph_reason(error: str, app: str, what: str = "squashed") -> str:
    """One line naming why the graph no longer loads; a cycle names the other app(s) and its nodes."""
    match = _CYCLE.search(error)
    if not match:
        if "SyntaxError" in error or "ImportError" in error or "ModuleNotFoundError" in error:
            return "the %s migration does not import: %s" % (what, error)
        return "the project no longer loads: " + error
    nodes = [n.strip() for n in match.group(1).split(",") if n.strip()]
    if nodes:  # Django walks sets: start the cycle at its smallest node so the line is stable
        first = nodes.index(min(nodes))
        nodes = nodes[first:] + nodes[:first]
    others = sorted({n.split(".", 1)[0] for n in nodes} - {app}) or [app]
    shown = nodes if len(nodes) <= _CYCLE_SHOWN else (
        nodes[:_CYCLE_SHOWN - 2] + ["... (%d migrations in the cycle)" % len(nodes)] + nodes[-1:])
    return "circular dependency with app%s %s: %s" % (
        "s" if len(others) > 1 else "", ", ".join("'%s'" % o for o in others), " -> ".join(shown))


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"
