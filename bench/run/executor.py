"""Run a matrix of cells: one measured run per (cell, repeat), one record each.

The orchestrating parent (pyperf style): for every run it asks the cell's
engine for a fresh database, runs the strategy's steps (each a measured child
under its own limiter, bench/measure/step.py, around the worker that is the
only code inside the target environment), validates the result against the
baseline, times the daily commands and the strategy's deploy check when asked,
and stores the record. It never reports from memory: the summary at the end
is read back from the records. It names no strategy and no engine: what
differs between them is theirs (bench/strategies/, bench/engines/).

Interrupting (Ctrl-C) kills the child, removes the run's cgroup and writes no
record for the unfinished run; running the same command again skips every
(cell, repeat) that already has a record.
"""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from migbench.bench import strategies
from migbench.bench.env.environments import Environment
from migbench.bench.measure.occupancy import Occupancy
from migbench.bench.measure.step import StepContext, StepResult, run_step
from migbench.bench.records import ResultStore, RunRecord, load_record
from migbench.bench.strategies import baseline, daily, validation, variants
from migbench.errors import MigbenchError
from migbench.generator.scenario import Scenario
from migbench.targets import resolve_line

from . import profiling
from .jobs import Done, Job, Pool, RunContext
from .matrix import Matrix, PlannedCell, check_same_project
from .options import RunOptions
from .recording import build_record


class UnpreparedCells(MigbenchError):
    """Some cells could not be prepared (transformation or baseline failed), or some runs were lost on a
    cluster; the others ran."""


LOST = "lost"  # key of the lost runs among the unusable cells of run_matrix


def run_once(planned: PlannedCell, repeat: int, project: Path, scenario: Scenario,
             options: RunOptions, command: list[str],
             on_sample: Callable[[float, int], None] | None = None,
             on_note: Callable[[str], None] = print, dev_loop: bool = False,
             profile: str | None = None, cluster: dict | None = None) -> RunRecord | tuple[RunRecord, list]:
    """Measure one run of a strategy on fresh databases; validate it; return its record.

    The strategy's steps run one after another on one database, each under its
    own limiter; the first failure stops them (later steps would measure a
    broken database). A finished run is validated against the baseline
    (bench/strategies/validation.py); with `dev_loop`, the daily commands are then
    timed on the migrated database; last comes the strategy's own deploy check, if it has one.

    `profile` ("time" or "memory") makes it a profiled run: the measured steps run under the
    worker's profiler, nothing is validated or timed after them (the cell's unprofiled repeats
    do that), and the return value is (record, exported files) for store.write_profiled.

    The run stays registered on the machine from its fresh database to the end of its checks
    (bench/measure/occupancy.py), so its record says whether other measured runs shared the
    machine meanwhile (`concurrency`); `cluster` (the Dask worker that runs it) goes into the record.
    """
    cell, env = planned.cell, planned.env
    strategy = strategies.get(cell.strategy)
    engine = planned.database_engine
    line = resolve_line(env.django_version)
    manifest = json.loads((project / "migbench.json").read_text(encoding="utf-8"))
    project_apps = list(manifest.get("apps", []))
    # The baseline before the variant: a transformation checks its copy against the original's
    # schema, which the baseline already holds (one migrate of the original fewer per transform).
    base = (baseline.ensure(project, env, engine, need_capture=strategy.needs_capture, on_note=on_note)
            if strategy.needs_capture or strategy.transform else baseline.load(project, env, engine))
    variant = (variants.ensure(project, strategy.transform, env, on_note, engine, base.schema if base else None)
               if strategy.transform else None)
    order = strategy.order(base, project, env, engine, on_note)
    specs = strategy.steps(order.apps, project_apps)
    started_at = datetime.datetime.now(datetime.timezone.utc)
    workdir = Path(tempfile.mkdtemp(prefix="migbench-run-"))
    ctx = StepContext(
        python=env.python, projects={"variant": variant.path if variant else project, "original": project},
        databases={}, workdir=workdir, limiter_name=options.limiter, memory_limit_bytes=cell.memory_limit_bytes,
        timeout_s=options.timeout_s, interval_s=options.interval_s, ddl=base.ddl if base else None,
        profile=profile)
    results: list[StepResult] = []
    proof = dev = deploy = server_memory = None
    notes = [order.note] if order.note else []
    mark = engine.memory_mark()  # the server's own memory, from here to the end of the run
    stay = Occupancy(machine_slots=cluster["machine_slots"] if cluster else 1).enter()
    try:
        ctx.databases["main"] = engine.fresh(workdir, "main", line)
        for spec in specs:
            results.append(run_step(spec, ctx, on_sample))
            if not results[-1].ok:
                break
        if profile is None and len(results) == len(specs) and all(r.ok for r in results):
            on_note("  validating: schema against the baseline, one row into every model")
            proof = _validate(strategy, ctx, project, env, project_apps, base, on_note, manifest.get("plan"))
            if dev_loop and strategy.dev_loop:
                on_note("  timing the daily commands: makemigrations --check, migrate --plan, the test "
                        "database (with and without migrations, keepdb, from a dump)")
                timed = daily.run(ctx, env, engine, line, on_note)
                dev, notes = timed.steps, notes + timed.notes
            deploy = strategy.deploy(ctx, engine, line, project_apps, on_note)
        server_memory = mark.peak() if mark is not None else None
        record = build_record(planned, repeat, scenario, options, command, manifest, project, results, started_at,
                              line, proof, dev, deploy, variant, engine, notes, server_memory, profile)
        record.run_id, record.concurrency, record.cluster = stay.run_id, stay.observe(), cluster
        if profile is not None:
            return record, _hand_over([f for r in results for f in r.profile_files])
        return record
    finally:
        stay.leave()
        if "main" in ctx.databases:
            engine.drop(ctx.databases["main"])
        shutil.rmtree(workdir, ignore_errors=True)


def _hand_over(files: list) -> list:
    """Move a profiled run's exported files out of its workdir (removed when the run ends)."""
    if not files:
        return []
    held = Path(tempfile.mkdtemp(prefix="migbench-profile-"))
    out = []
    for kind, path in files:
        target = held / path.parent.name / path.name
        target.parent.mkdir(exist_ok=True)
        out.append((kind, Path(shutil.move(str(path), str(target)))))
    return out


def profile_cell(planned: PlannedCell, mode: str, project: Path, scenario: Scenario, options: RunOptions,
                 command: list[str], store: ResultStore, progress) -> Path:
    """The cell's profiled run of `mode`, stored under OUT/profiles/ with its exported files and its
    overhead against the cell's unprofiled runs in OUT."""
    progress.note("profiling (%s) %s" % (mode, planned.cell.label()))
    record, files = run_once(planned, 1, project, scenario, options, command, on_sample=progress.sample,
                             on_note=progress.note, profile=mode)
    return store_profile(planned, record, files, store, options, progress)


def store_profile(planned: PlannedCell, record: RunRecord, files: list, store: ResultStore, options: RunOptions,
                  progress) -> Path:
    """Store a profiled run (measured here or on a cluster worker) with its overhead; its files are
    moved under OUT/profiles/ and their temporary folder removed."""
    try:
        # the cell's own repeats only: reading every record in OUT per profiled cell is quadratic I/O
        timed = [load_record(store.path_for(planned.cell, repeat)) for repeat in range(1, options.repeat + 1)
                 if store.done(planned.cell, repeat)]
        record.profile["overhead"] = profiling.overhead(record.profile.get("wall_s") or 0.0, timed)
        path = store.write_profiled(record, files)
    finally:
        for _, leftover in files:
            shutil.rmtree(leftover.parent.parent, ignore_errors=True)
    progress.note("  %s" % profiling.describe(record.profile))
    return path


def _validate(strategy, ctx: StepContext, project: Path, env: Environment, project_apps: list[str],
              base, on_note, plan: list[str] | None = None) -> dict:
    database = ctx.databases["main"]
    engine = database.engine
    if strategy.validation == "emptied":
        return validation.emptied(database, base, project_apps, plan).to_dict()
    if base is None and strategy.adopts_baseline:
        base = baseline.adopt(project, env, database, run_id="of this run")
        result = validation.compare(engine.snapshot(database), base)
        result.schema = "became the baseline"
    else:
        base = base or baseline.ensure(project, env, engine, on_note=on_note)
        result = validation.compare(engine.snapshot(database), base)
    result.rows = validation.write_rows(ctx.python, ctx.projects["original"], database, project_apps)
    result.ok = result.ok and result.rows.startswith("ok")
    return result.to_dict()


def run_matrix(scenario: Scenario, options: RunOptions, matrix: Matrix, store: ResultStore,
               command: list[str], progress, pool: Pool | None = None) -> list[Path]:
    """Run every (cell, repeat) without a record yet; return the paths written now.

    Repeats are interleaved (all cells once, then again) so a slow drift of
    the machine spreads over cells instead of biasing one. With a `pool` (a
    cluster, bench/cluster/) the same runs go to its slots at once, and their
    records are stored here as they come back, by the same rules.
    """
    check_same_project(store, scenario, matrix.project_target, options.limiter)
    todo = [(planned, repeat) for repeat in range(1, options.repeat + 1) for planned in matrix.cells]
    pending = [(p, r) for p, r in todo if not store.done(p.cell, r)]
    progress.begin(total=len(todo), already=len(todo) - len(pending))
    unusable: dict = {}  # cell -> why it cannot be prepared (a transformation or baseline failed)
    if pool is not None:
        written = _run_on_pool(pool, pending, scenario, options, matrix, store, command, progress, unusable)
    else:
        written = _run_here(pending, scenario, options, matrix, store, command, progress, unusable)
    progress.finish()
    lost = unusable.pop(LOST, [])
    if unusable or lost:
        problems = []
        if unusable:
            problems.append("%d cell(s) could not be prepared, so nothing was measured for them: %s"
                            % (len(unusable), "; ".join("%s: %s" % (c.label(), why) for c, why in unusable.items())))
        if lost:
            problems.append("%d run(s) were lost on the cluster and left no record (the same command runs them "
                            "again): %s" % (len(lost), "; ".join(lost)))
        raise UnpreparedCells("; ".join(problems))
    return written


def _run_here(pending, scenario, options, matrix, store, command, progress, unusable) -> list[Path]:
    written: list[Path] = []
    with matrix.serving():  # a server engine's server lives as long as the matrix
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
        for mode in options.profile:  # after the timed repeats: their median is the overhead's reference
            for planned in matrix.cells:
                if planned.cell in unusable or store.profile_done(planned.cell, mode):
                    continue
                written.append(profile_cell(planned, mode, matrix.project, scenario, options, command, store,
                                            progress))
    return written


def _run_on_pool(pool: Pool, pending, scenario, options, matrix, store, command, progress,
                 unusable) -> list[Path]:
    """The matrix's runs on a pool's slots: all at once, stored as they finish; then the profiled runs."""
    context = RunContext(scenario, options, command, matrix.project_target,
                         dict(zip((e.name for e in matrix.engines), options.databases)))
    jobs = [Job(planned, repeat, wants_dev_loop(options)) for planned, repeat in pending]
    if jobs:
        progress.note("cluster      %s" % pool.describe())  # the cluster starts (or is reached) here
    written = [path for done in pool.run(jobs, context)
               for path in _store_done(done, store, progress, unusable)] if jobs else []
    profiles = [Job(planned, 1, profile=mode) for mode in options.profile for planned in matrix.cells
                if planned.cell not in unusable and not store.profile_done(planned.cell, mode)]
    if profiles and not jobs:
        progress.note("cluster      %s" % pool.describe())
    for done in pool.run(profiles, context) if profiles else ():
        if done.record is None:
            _store_done(done, store, progress, unusable)
            continue
        written.append(store_profile(done.job.planned, done.record, done.files, store, options, progress))
    return written


def _store_done(done: Done, store: ResultStore, progress, unusable: dict) -> list[Path]:
    """Store one finished job's record (not if another migbench stored that run meanwhile)."""
    cell = done.job.planned.cell
    if done.error is not None:
        unusable.setdefault(cell, done.error)
        progress.note("cannot run %s: %s" % (cell.label(), done.error))
        return []
    if done.lost is not None:
        progress.note("lost %s on %s: %s; no record kept (run the command again to retry it)"
                      % (done.job.label(), done.worker or "a worker", done.lost))
        unusable.setdefault(LOST, []).append("%s: %s" % (done.job.label(), done.lost))
        return []
    if store.done(cell, done.job.repeat):
        progress.skip_cell(cell, done.job.repeat)
        return []
    path = store.write(done.record)
    progress.end_cell(done.record)
    return [path]


def wants_dev_loop(options: RunOptions) -> bool:
    """Time the daily commands? "auto": when the matrix transforms the project, so that
    `all` gives the "before" and each transformation the "after"."""
    if options.dev_loop == "auto":
        return any(strategies.get(s).transform for s in options.strategies)
    return options.dev_loop == "on"
