"""The matrix of a run: which cells run where, on which shared project.

Planning resolves everything before the first measurement, so a bad option
or a missing interpreter is one line before anything runs: each (Python,
Django) environment is found or built (cached), pairs that cannot run here
are skipped with the reason, the project is generated once per matrix for
the oldest Django in it (the generator's operation mix is target-aware; one
project for every cell keeps the comparison fair) and cached by its inputs.

Side effects: builds environments and writes the generated project into the
cache root (`projects/`); measures nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from migbench.bench import engines, strategies
from migbench.bench.engines import Engine
from migbench.bench.env import environments
from migbench.bench.env.environments import Environment
from migbench.bench.measure import limiters
from migbench.bench.records import Cell, ResultStore, load_record
from migbench.errors import MigbenchError
from migbench.generator import build_project, write_project
from migbench.generator.scenario import Scenario
from migbench.targets import resolve_line

from .options import RunOptions, generation_target


@dataclass(frozen=True)
class PlannedCell:
    cell: Cell
    env: Environment
    engine: Engine | None = field(default=None, compare=False)  # None: the registered engine of cell.database
    driver: dict | None = field(default=None, compare=False)  # the env's driver for that engine (record)
    # (--django value, --python value) the env was asked for: a cluster worker builds its own from them
    request: tuple[str, str | None] | None = field(default=None, compare=False)

    @property
    def database_engine(self) -> Engine:
        return self.engine or engines.get(self.cell.database)


@dataclass
class Matrix:
    """The resolved matrix: cells to run, pairs skipped (with why), the shared project."""

    cells: list[PlannedCell]
    skipped: list[str]
    project: Path
    project_target: str
    engines: list[Engine] = field(default_factory=list)  # one per --database value, in its order

    @contextlib.contextmanager
    def serving(self):
        """Every engine of the matrix serving (embedded servers started) for as long as the block;
        stopped on leaving, also on errors and Ctrl-C."""
        with contextlib.ExitStack() as stack:
            for engine in self.engines or {p.database_engine.name: p.database_engine for p in self.cells}.values():
                stack.enter_context(engine.serving())
            yield self


def plan_matrix(scenario: Scenario, options: RunOptions, on_note: Callable[[str], None] = print,
                chosen: list[Engine] | None = None) -> Matrix:
    """Resolve environments (building missing ones) and the project; nothing is measured.
    `chosen`: the engines of options.databases, when the caller has already checked them."""
    chosen = chosen if chosen is not None else available_engines(options)
    target = generation_target(options.djangos, scenario.generator.django)
    project = prepare_project(scenario, target, on_note)
    cells: list[PlannedCell] = []
    skipped: list[str] = []
    for django in options.djangos:
        line = resolve_line(django)
        for python in options.pythons:
            reason = _unsupported(line, python)
            if reason:
                skipped.append(reason)
                continue
            try:
                env = _environment(django, python, on_note)
            except MigbenchError as error:  # e.g. that interpreter is not installed here
                skipped.append("Django %s on Python %s: %s" % (line.line, python or "default", error))
                continue
            for engine in chosen:
                why = engine.unsupported(line)
                if why:
                    skipped.append("Django %s on %s: %s (skipped)" % (line.line, engine.name, why))
                    continue
                try:
                    driver = install_driver(env, engine, line, on_note)
                except MigbenchError as error:
                    skipped.append("Django %s on Python %s, %s: %s" % (line.line, env.python_version, engine.name,
                                                                       error))
                    continue
                cells += [dataclasses.replace(c, request=(django, python))
                          for c in strategy_cells(scenario, options, env, engine, driver, line, skipped)]
    if not cells:
        raise MigbenchError("no cell of the matrix can run here: %s" % "; ".join(skipped))
    return Matrix(cells, _unique(skipped), project, target, chosen)


def strategy_cells(scenario: Scenario, options: RunOptions, env: Environment, engine: Engine, driver: dict | None,
                   line, skipped: list[str]) -> list[PlannedCell]:
    """The cells of one (environment, engine): every strategy the line can run x every cap; the others
    are added to `skipped` with why."""
    cells = []
    for strategy in options.strategies:
        why = strategies.get(strategy).unsupported(line)
        if why:
            skipped.append("%s (skipped)" % why)
            continue
        for memory in options.memories:
            cells.append(PlannedCell(Cell(
                scenario=scenario.name, scenario_sha256=scenario.sha256, strategy=strategy,
                django_version=env.django_version, python_version=env.python_version,
                memory_limit_bytes=memory, database=engine.name,
            ), env, engine, driver))
    return cells


def install_driver(env: Environment, engine: Engine, line, on_note: Callable[[str], None]) -> dict | None:
    """The engine's driver in `env`, installed on first use (cached in the env), as the record names it."""
    spec = engine.driver(line, tuple(int(p) for p in env.python_version.split(".")[:2]))
    if spec is None:
        return None
    marker = env.path / ("migbench-driver-%s.json" % engine.name)
    if not marker.is_file():
        on_note("installing %s into %s (%s)" % (spec.requirement, env.key, engine.name))
    return environments.ensure_driver(env, engine.name, spec.requirement, spec.module, spec.distribution,
                                      spec.system_packages)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def available_engines(options: RunOptions) -> list[Engine]:
    """The engine of every --database value, each able to run here (binaries found, a server URL
    answering), or one line naming what to install or fix."""
    chosen = [engines.get(spec) for spec in options.databases]
    for spec, engine in zip(options.databases, chosen):
        unavailable = engine.unavailable()
        if unavailable:
            raise MigbenchError(("--database: %s" if "://" in spec else "--database " + spec + ": %s") % unavailable)
    return chosen


def plan_with_notes(scenario: Scenario, options: RunOptions, cap: int | None, progress) -> Matrix:
    """The matrix, saying which limiter caps `cap` and why, the pairs skipped and the project.

    What `migbench run` and `migbench bisect` print before their first run.
    """
    databases = available_engines(options)  # a missing server or an unreachable URL: one line, before any note
    chosen = limiters.choose(options.limiter, cap)
    progress.note("limiter      %s: %s" % (chosen.name, chosen.why))
    matrix = plan_matrix(scenario, options, on_note=progress.note, chosen=databases)
    for reason in matrix.skipped:
        progress.note("skipped      %s" % reason)
    progress.note("project      %s (generated for Django %s)" % (matrix.project, matrix.project_target))
    return matrix


def prepare_project(scenario: Scenario, target: str, on_note: Callable[[str], None] = print) -> Path:
    """The generated project, cached by (scenario content, seed, target): same inputs, same bytes."""
    line = resolve_line(target)
    path = (environments.cache_root() / "projects"
            / ("%s-%s-seed%d-django%s-gen%s" % (scenario.name, scenario.sha256[:12], scenario.generator.seed,
                                                line.line, generator_digest())))
    if (path / "migbench.json").is_file():
        return path
    on_note("generating %s for Django %s into %s" % (scenario.name, line.line, path))
    # Written beside its place and renamed into it: another migbench (or test worker) making
    # the same project at the same time either wins the rename or finds ours; nobody ever
    # sees a half-written tree or has it replaced under a running child.
    staging = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    write_project(build_project(scenario, line), staging, force=True)
    try:
        os.rename(staging, path)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not (path / "migbench.json").is_file():  # a torn tree from a crash before this rule
            shutil.rmtree(path, ignore_errors=True)
            return prepare_project(scenario, target, on_note)
    return path


@functools.lru_cache(maxsize=None)
def generator_digest() -> str:
    """Digest of the generator's code: a changed generator writes a new project, never reuses one."""
    import migbench.generator as generator

    digest = hashlib.sha256()
    for path in sorted(Path(generator.__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:8]


def _unsupported(line, python: str | None) -> str | None:
    """Why a (Django, Python) pair cannot run, or None; only for pairs named by version."""
    if python is None or not python.replace(".", "").isdigit():
        return None
    if python in line.pythons or python in line.shim_pythons:
        return None
    return "Django %s does not run on Python %s (skipped)" % (line.line, python)


def _environment(django: str, python: str | None, on_note: Callable[[str], None]) -> Environment:
    """The cached environment of a pair; the first use builds it (~15 s, once)."""
    env = environments.ensure(django, python)
    on_note("environment  Django %s / Python %s%s: %s"
            % (env.django_version, env.python_version, " (shim)" if env.shim else "", env.path))
    return env


def check_same_project(store: ResultStore, scenario: Scenario, target: str, limiter: str | None = None) -> None:
    """Refuse to mix, in one --out, records of this scenario measured on another project.

    Cells are named by scenario and versions, not by seed or generation
    target, so a matrix with another --seed, or one that would generate for
    another line (a different project), must not fill the gaps of an earlier
    one: the comparison would be unfair.
    """
    if not store.root.is_dir():
        return
    for path in sorted(store.root.glob("%s--%s--*.json" % (scenario.name, scenario.sha256[:8]))):
        try:
            record = load_record(path)
        except MigbenchError:
            continue
        if record.scenario.get("seed") != scenario.generator.seed:
            raise MigbenchError(
                "%s holds %s records generated with seed %s, this run uses seed %d (cells are not "
                "named by seed); use another --out" % (store.root, scenario.name,
                                                        record.scenario.get("seed"), scenario.generator.seed))
        other = record.project.get("django_target")
        if other and other != target:
            raise MigbenchError(
                "%s holds %s records measured on the project generated for Django %s, but this "
                "matrix generates for %s; add --django %s to the matrix or use another --out"
                % (store.root, scenario.name, other, target, other))
        measured = _world((record.limiter or {}).get("name"))
        if limiter is not None and measured != _world(limiter):
            raise MigbenchError(
                "%s holds %s records measured %s, this run measures %s (cells are not named by limiter, "
                "so they would be mixed); use another --out" % (
                    store.root, scenario.name, _where(measured), _where(_world(limiter))))


def _world(limiter: str | None) -> str:
    """Where a limiter runs the child: the host (every host limiter), or a container or VM."""
    return limiter if limiter in limiters.WALLED else "host"


def _where(world: str) -> str:
    return {"host": "on the host", "vm": "in a QEMU guest (--limiter vm)"}.get(
        world, "in %s containers (--limiter %s)" % (world, world))
