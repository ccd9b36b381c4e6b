"""Run a matrix of cells: one measured `migrate` per (cell, repeat), one record each.

The orchestrating parent (pyperf style): it generates the project once, gets
each (Python, Django) environment, and for every run makes a fresh database,
applies the memory limiter, starts the worker (bench/worker/measure.py, the
only code inside the target environment), samples the process tree, reads
the limiter's peak, classifies the outcome and stores the record. It never
reports from memory: the summary at the end is read back from the records.

Interrupting (Ctrl-C) kills the child, removes the run's cgroup and writes no
record for the unfinished run; running the same command again skips every
(cell, repeat) that already has a record.
"""

from __future__ import annotations

import datetime
import json
import shutil
import sqlite3
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from migbench import __version__
from migbench.bench.engines.schema import snapshot
from migbench.bench.env import environments
from migbench.bench.env.environments import Environment
from migbench.bench.measure import host, limiters
from migbench.bench.measure.step import MEASURE, MEASURED, StepContext, StepResult, run_step
from migbench.bench.records import Cell, ResultStore, RunRecord, load_record
from migbench.bench.strategies import baseline, registry as strategies, validation, variants
from migbench.errors import MigbenchError
from migbench.generator import build_project, write_project
from migbench.generator.scenario import Scenario
from migbench.provenance import git_commit
from migbench.targets import resolve_line

from .options import RunOptions, generation_target

WORKER = MEASURE


class UnpreparedCells(MigbenchError):
    """Some cells could not be prepared (transformation or baseline failed); the others ran."""


@dataclass(frozen=True)
class PlannedCell:
    cell: Cell
    env: Environment


@dataclass
class Matrix:
    """The resolved matrix: cells to run, pairs skipped (with why), the shared project."""

    cells: list[PlannedCell]
    skipped: list[str]
    project: Path
    project_target: str


def plan_matrix(scenario: Scenario, options: RunOptions, on_note: Callable[[str], None] = print) -> Matrix:
    """Resolve environments (building missing ones) and the project; nothing is measured."""
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
            for strategy in options.strategies:
                why = strategies.get(strategy).unsupported(line)
                if why:
                    skipped.append("%s (skipped)" % why)
                    continue
                for memory in options.memories:
                    cells.append(PlannedCell(Cell(
                        scenario=scenario.name, scenario_sha256=scenario.sha256, strategy=strategy,
                        django_version=env.django_version, python_version=env.python_version,
                        memory_limit_bytes=memory, database=options.database,
                    ), env))
    if not cells:
        raise MigbenchError("no cell of the matrix can run here: %s" % "; ".join(skipped))
    return Matrix(cells, skipped, project, target)


def plan_with_notes(scenario: Scenario, options: RunOptions, cap: int | None, progress) -> Matrix:
    """The matrix, saying which limiter caps `cap` and why, the pairs skipped and the project.

    What `migbench run` and `migbench bisect` print before their first run.
    """
    chosen = limiters.choose(options.limiter, cap)
    progress.note("limiter      %s: %s" % (chosen.name, chosen.why))
    matrix = plan_matrix(scenario, options, on_note=progress.note)
    for reason in matrix.skipped:
        progress.note("skipped      %s" % reason)
    progress.note("project      %s (generated for Django %s)" % (matrix.project, matrix.project_target))
    return matrix


def prepare_project(scenario: Scenario, target: str, on_note: Callable[[str], None] = print) -> Path:
    """The generated project, cached by (scenario content, seed, target): same inputs, same bytes."""
    line = resolve_line(target)
    path = (environments.cache_root() / "projects"
            / ("%s-%s-seed%d-django%s" % (scenario.name, scenario.sha256[:12], scenario.generator.seed, line.line)))
    if (path / "migbench.json").is_file():
        return path
    on_note("generating %s for Django %s into %s" % (scenario.name, line.line, path))
    write_project(build_project(scenario, line), path, force=True)
    return path


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


# -- one run ---------------------------------------------------------------------------------


def run_once(planned: PlannedCell, repeat: int, project: Path, scenario: Scenario,
             options: RunOptions, command: list[str],
             on_sample: Callable[[float, int], None] | None = None,
             on_note: Callable[[str], None] = print, dev_loop: bool = False) -> RunRecord:
    """Measure one run of a strategy on fresh databases; validate it; return its record.

    The strategy's steps run one after another on one database, each under its
    own limiter; the first failure stops them (later steps would measure a
    broken database). A finished run is validated against the baseline
    (bench/validation.py); with `dev_loop`, the daily commands are then timed
    on the migrated database, and `zero` also replays its deploy flow.
    """
    cell, env = planned.cell, planned.env
    strategy = strategies.get(cell.strategy)
    line = resolve_line(env.django_version)
    manifest = json.loads((project / "migbench.json").read_text(encoding="utf-8"))
    project_apps = list(manifest.get("apps", []))
    variant = variants.ensure(project, strategy.transform, env, on_note) if strategy.transform else None
    base = (baseline.ensure(project, env, need_capture=True, on_note=on_note)
            if strategy.name in ("floor", "per-app", "backward") else baseline.load(project, env))
    specs = strategies.steps(strategy, base.app_order if base else [], project_apps)
    started_at = datetime.datetime.now(datetime.timezone.utc)
    workdir = Path(tempfile.mkdtemp(prefix="migbench-run-"))
    ctx = StepContext(
        python=env.python, projects={"variant": variant.path if variant else project, "original": project},
        databases={"main": workdir / "db.sqlite3", "deploy": workdir / "deploy.sqlite3"}, workdir=workdir,
        limiter_name=options.limiter, memory_limit_bytes=cell.memory_limit_bytes,
        timeout_s=options.timeout_s, interval_s=options.interval_s,
        ddl=base.ddl if base else None, legacy_alter_table=line.needs_sqlite_legacy_alter_table)
    results: list[StepResult] = []
    proof = dev = deploy = None
    try:
        for spec in specs:
            results.append(run_step(spec, ctx, on_sample))
            if not results[-1].ok:
                break
        if len(results) == len(specs) and all(r.ok for r in results):
            on_note("  validating: schema against the baseline, one row into every model")
            proof = _validate(strategy, ctx, project, env, project_apps, base, on_note)
            if dev_loop and strategy.dev_loop:
                on_note("  timing the daily commands: makemigrations --check, migrate --plan, test database")
                dev = {r.name: r.summary() for r in
                       (run_step(spec, ctx) for spec in strategies.dev_loop_steps(line))}
            if strategy.name == "zero":
                on_note("  deploy flow: old history migrated, rows cleared, migrate --fake, check")
                deploy = _deploy(ctx, line, project_apps)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return _record(planned, repeat, scenario, options, command, manifest, project, results, started_at,
                   line, proof, dev, deploy, variant)


def _validate(strategy, ctx: StepContext, project: Path, env: Environment, project_apps: list[str],
              base, on_note) -> dict:
    database = ctx.databases["main"]
    if strategy.validation == "emptied":
        return validation.emptied(database, base, project_apps).to_dict()
    if base is None and strategy.name == "all":
        base = baseline.adopt(project, env, database, run_id="of this run")
        result = validation.compare(snapshot(database), base)
        result.schema = "became the baseline"
    else:
        base = base or baseline.ensure(project, env, on_note=on_note)
        result = validation.compare(snapshot(database), base)
    result.rows = validation.write_rows(ctx.python, ctx.projects["original"], database, project_apps)
    result.ok = result.ok and result.rows.startswith("ok")
    return result.to_dict()


def _deploy(ctx: StepContext, line, project_apps: list[str]) -> dict:
    """Migrations zero on a database migrated with the old history: fake, then nothing to do."""
    setup, fake, check = strategies.deploy_steps(line)
    steps = [run_step(setup, ctx)]
    if steps[0].ok:
        with sqlite3.connect(str(ctx.databases["deploy"])) as connection:
            connection.execute("DELETE FROM django_migrations WHERE app IN (%s)"
                               % ",".join("?" * len(project_apps)), project_apps)
        steps.append(run_step(fake, ctx))
        if steps[-1].ok:
            steps.append(run_step(check, ctx))
    done = len(steps) == 3 and steps[-1].verdict == "nothing to do"
    return {"ok": done, "verdict": steps[-1].verdict if len(steps) == 3 else "did not run: %s failed"
            % steps[-1].name, "steps": [r.summary() for r in steps]}


def _record(planned: PlannedCell, repeat: int, scenario: Scenario, options: RunOptions,
            command: list[str], manifest: dict, project: Path, results: list[StepResult],
            started_at, line, proof: dict | None, dev: dict | None, deploy: dict | None,
            variant) -> RunRecord:
    """One record for the run: the counted steps added up (wall summed, worst peak)."""
    cell, env = planned.cell, planned.env
    failure = next((r for r in results if not r.ok), None)
    counted = [r for r in results if r.role == MEASURED]
    if failure is not None and failure.role != MEASURED:
        counted.append(failure)
    worst = max(counted, key=lambda r: r.peak_rss_bytes)
    last = failure or counted[-1]
    several = len(counted) > 1
    events, samples = _joined(counted) if several else (counted[0].events, counted[0].samples)
    notes = []
    if worst.limiter.get("caps") == "virtual":
        notes.append("RLIMIT_AS caps virtual address space, not RSS: not comparable to a cgroup cap")
    if line.needs_sqlite_legacy_alter_table:
        notes.append("SQLite >= 3.26 rewrites foreign keys on ALTER TABLE RENAME, which breaks "
                     "Django < 2.2 table rebuilds: the project's compat app sets "
                     "PRAGMA legacy_alter_table=ON on every connection")
    if env.shim:
        notes.append("Django %s ran on Python %s through migbench's compatibility shim"
                      % (env.django_version, env.python_version))
    if several:
        notes.append("%d steps: wall and CPU are their sums, peaks the worst step's (%s)"
                     % (len(counted), worst.name))
    return RunRecord(
        run_id=uuid.uuid4().hex,
        repeat=repeat,
        outcome=last.outcome if failure else "ok",
        outcome_reason=(("%s: %s" % (last.name, last.outcome_reason)) if failure and several
                        else "%d steps, each %s" % (len(counted), last.outcome_reason) if several
                        else last.outcome_reason),
        exit_code=last.exit_code,
        signal=last.signal,
        wall_s=round(sum(r.wall_s for r in counted), 4),
        cpu_user_s=round(sum(r.cpu_user_s for r in counted), 4),
        cpu_sys_s=round(sum(r.cpu_sys_s for r in counted), 4),
        peak_rss_bytes=worst.peak_rss_bytes,
        peak_rss_detail=worst.peak_rss_detail,
        limit_peak_bytes=max((r.limit_peak_bytes for r in counted if r.limit_peak_bytes), default=None),
        memory_limit_bytes=cell.memory_limit_bytes,
        limiter=worst.limiter,
        strategy=cell.strategy,
        django_version=env.django_version,
        python_version=env.python_version,
        shim=env.shim,
        database={"engine": cell.database, "fresh": True},
        scenario={"name": scenario.name, "sha256": scenario.sha256, "seed": scenario.generator.seed,
                  "source": scenario.source, **({"vary": dict(scenario.vary)} if scenario.vary else {})},
        project=_project_summary(manifest, project),
        phases=counted[0].phases if not several else _summed_phases(counted),
        failed_during=None if not failure else ("%s: %s" % (failure.name, failure.failed_during)
                                                if several else failure.failed_during),
        last_migration=last.last_migration,
        events=events,
        samples={"interval_s": options.interval_s, "t": [t for t, _ in samples],
                 "rss": [rss for _, rss in samples]},
        error=None if not failure else {"stderr_tail": failure.stderr_tail, "stdout_tail": failure.stdout_tail,
                                        "step": failure.name},
        command={"migbench": command, "child": counted[0].argv,
                 "steps": [r.command for r in results]},
        host=host.describe(),
        started_at=started_at.isoformat(timespec="seconds"),
        migbench_version=__version__,
        migbench_commit=git_commit(),
        notes=notes,
        steps=[r.summary() for r in results],
        validation=proof,
        transform=variant.report if variant else None,
        dev_loop=dev,
        deploy=deploy,
    )


def _joined(results: list[StepResult]) -> tuple[list, list]:
    """Events and samples of several steps on one clock: each step starts where the last ended."""
    events, samples, offset = [], [], 0.0
    for result in results:
        for event in result.events:
            events.append(dict(event, t=round(event["t"] + offset, 4), step=result.name))
        samples.extend([round(t + offset, 4), rss] for t, rss in result.samples)
        offset += result.wall_s
    return events, samples


def _summed_phases(results: list[StepResult]) -> dict:
    total: dict = {}
    for result in results:
        for phase, seconds in result.phases.items():
            if seconds is not None:
                total[phase] = round((total.get(phase) or 0.0) + seconds, 4)
            else:
                total.setdefault(phase, None)
    return total


def _project_summary(manifest: dict, project: Path) -> dict:
    counts = manifest.get("counts", {})
    fields = counts.get("fields", {})
    relations = counts.get("relations", {})
    scalar = sum(fields.values()) if isinstance(fields, dict) else fields
    relation_fields = sum(relations.get(k, 0) for k in ("foreign_key", "one_to_one", "many_to_many"))
    return {
        "apps": counts.get("apps", len(manifest.get("apps", []))),
        "models": counts.get("models"),
        "fields": scalar + relation_fields,
        "migrations": counts.get("migrations"),
        "django_target": manifest.get("django_target"),
        "path": str(project),
    }


# -- the matrix --------------------------------------------------------------------------------


def run_matrix(scenario: Scenario, options: RunOptions, matrix: Matrix, store: ResultStore,
               command: list[str], progress) -> list[Path]:
    """Run every (cell, repeat) without a record yet; return the paths written now.

    Repeats are interleaved (all cells once, then again) so a slow drift of
    the machine spreads over cells instead of biasing one.
    """
    _check_same_project(store, scenario, matrix.project_target)
    todo = [(planned, repeat) for repeat in range(1, options.repeat + 1) for planned in matrix.cells]
    pending = [(p, r) for p, r in todo if not store.done(p.cell, r)]
    progress.begin(total=len(todo), already=len(todo) - len(pending))
    written = []
    unusable: dict = {}  # cell -> why it cannot be prepared (a transformation or baseline failed)
    for planned, repeat in pending:
        if store.done(planned.cell, repeat):  # another migbench sharing --out did it meanwhile
            progress.skip_cell(planned.cell, repeat)
            continue
        if planned.cell in unusable:
            continue
        progress.start_cell(planned.cell, repeat)
        try:
            record = run_once(planned, repeat, matrix.project, scenario, options, command,
                              on_sample=progress.sample, on_note=progress.note,
                              dev_loop=wants_dev_loop(options))
        except MigbenchError as error:
            # Nothing was measured (the project could not be prepared for this cell):
            # no record, the other cells go on, and the run ends with the reason.
            unusable[planned.cell] = str(error)
            progress.note("cannot run %s: %s" % (planned.cell.label(), error))
            continue
        written.append(store.write(record))
        progress.end_cell(record)
    progress.finish()
    if unusable:
        raise UnpreparedCells("%d cell(s) could not be prepared, so nothing was measured for them: %s"
                            % (len(unusable), "; ".join("%s: %s" % (c.label(), why)
                                                        for c, why in unusable.items())))
    return written


def wants_dev_loop(options: RunOptions) -> bool:
    """Time the daily commands? "auto": when the matrix transforms the project, so that
    `all` gives the "before" and each transformation the "after"."""
    if options.dev_loop == "auto":
        return any(strategies.get(s).transform for s in options.strategies)
    return options.dev_loop == "on"


def _check_same_project(store: ResultStore, scenario: Scenario, target: str) -> None:
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


__all__ = ["Matrix", "PlannedCell", "UnpreparedCells", "WORKER", "plan_matrix", "prepare_project",
           "run_matrix",
           "run_once"]
