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
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import __version__
from ..errors import MigbenchError
from ..provenance import git_commit
from ..generator import build_project, write_project
from ..generator.scenario import Scenario
from ..targets import resolve_line
from . import environments, host, limiters, timeline
from .environments import Environment
from .outcome import classify
from .plan import RunOptions, generation_target
from .records import Cell, ResultStore, RunRecord, load_record
from .supervisor import supervise
from .validity import SETTINGS, project_env

WORKER = Path(__file__).parent / "worker" / "measure.py"
_TAIL_LINES = 30


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
            for memory in options.memories:
                for strategy in options.strategies:
                    cells.append(PlannedCell(Cell(
                        scenario=scenario.name, scenario_sha256=scenario.sha256, strategy=strategy,
                        django_version=env.django_version, python_version=env.python_version,
                        memory_limit_bytes=memory, database=options.database,
                    ), env))
    if not cells:
        raise MigbenchError("no cell of the matrix can run here: %s" % "; ".join(skipped))
    return Matrix(cells, skipped, project, target)


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
             on_sample: Callable[[float, int], None] | None = None) -> RunRecord:
    """Measure one `migrate` of `project` on a fresh database; return its record."""
    cell, env = planned.cell, planned.env
    manifest = json.loads((project / "migbench.json").read_text(encoding="utf-8"))
    started_at = datetime.datetime.now(datetime.timezone.utc)
    workdir = Path(tempfile.mkdtemp(prefix="migbench-run-"))
    try:
        database = workdir / "db.sqlite3"
        events_path = workdir / "events.jsonl"
        child_argv = [str(env.python), str(WORKER), "--project", str(project), "--settings", SETTINGS,
                      "--events", str(events_path), "--"] + strategy_args(cell.strategy)
        limiter = limiters.choose(options.limiter, cell.memory_limit_bytes)
        with open(workdir / "stdout.txt", "wb") as out, open(workdir / "stderr.txt", "wb") as err:
            with limiter:
                argv = limiter.command(child_argv)
                child = supervise(argv, cwd=project, env=project_env(database), stdout=out, stderr=err,
                                  preexec=limiter.preexec, timeout=options.timeout_s,
                                  interval=options.interval_s, on_sample=on_sample)
                reading = limiter.read()
                described = limiter.describe()  # while its cgroup still exists
        stdout_tail = _tail(workdir / "stdout.txt")
        stderr_tail = _tail(workdir / "stderr.txt")
        events = timeline.read_events(events_path, child.started_at)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    outcome = classify(
        exit_code=child.exit_code, signal_number=child.signal, timed_out=child.timed_out,
        oom_kills=reading.oom_kills, stderr_tail=stderr_tail,
        memory_error_event=any(e["event"] == "memory_error" for e in events),
        limit_bytes=cell.memory_limit_bytes, peak_bytes=reading.peak_bytes or child.peak_rss_bytes,
    )
    notes = []
    if limiter.caps == "virtual":
        notes.append("RLIMIT_AS caps virtual address space, not RSS: not comparable to a cgroup cap")
    if resolve_line(env.django_version).needs_sqlite_legacy_alter_table:
        notes.append("SQLite >= 3.26 rewrites foreign keys on ALTER TABLE RENAME, which breaks "
                     "Django < 2.2 table rebuilds: the project's compat app sets "
                     "PRAGMA legacy_alter_table=ON on every connection")
    if env.shim:
        notes.append("Django %s ran on Python %s through migbench's compatibility shim"
                     % (env.django_version, env.python_version))
    return RunRecord(
        run_id=uuid.uuid4().hex,
        repeat=repeat,
        outcome=outcome.name,
        outcome_reason=outcome.reason,
        exit_code=child.exit_code,
        signal=child.signal_name,
        wall_s=round(child.wall_s, 4),
        cpu_user_s=round(child.cpu_user_s, 4),
        cpu_sys_s=round(child.cpu_sys_s, 4),
        peak_rss_bytes=child.peak_rss_bytes,
        peak_rss_detail={"wait4_maxrss_bytes": child.maxrss_bytes,
                         "wait4_maxrss_trusted": child.maxrss_trusted,
                         "parent_rss_at_fork_bytes": child.parent_rss_bytes,
                         "vmhwm_bytes": child.hwm_bytes,
                         "sampled_tree_bytes": child.sampled_peak_bytes,
                         "samples": len(child.samples)},
        limit_peak_bytes=reading.peak_bytes,
        memory_limit_bytes=cell.memory_limit_bytes,
        limiter=dict(described, oom_kills=reading.oom_kills, reading=reading.details),
        strategy=cell.strategy,
        django_version=env.django_version,
        python_version=env.python_version,
        shim=env.shim,
        database={"engine": cell.database, "fresh": True},
        scenario={"name": scenario.name, "sha256": scenario.sha256, "seed": scenario.generator.seed,
                  "source": scenario.source},
        project=_project_summary(manifest, project),
        phases=timeline.phases(events, child.wall_s),
        failed_during=None if outcome.name == "ok" else timeline.failed_during(events),
        last_migration=timeline.last_migration(events),
        events=events,
        samples={"interval_s": options.interval_s, "t": [t for t, _ in child.samples],
                 "rss": [rss for _, rss in child.samples]},
        error=None if outcome.name == "ok" else {"stderr_tail": stderr_tail, "stdout_tail": stdout_tail},
        command={"migbench": command, "child": child_argv},
        host=host.describe(),
        started_at=started_at.isoformat(timespec="seconds"),
        migbench_version=__version__,
        migbench_commit=git_commit(),
        notes=notes,
    )


def strategy_args(strategy: str) -> list[str]:
    """The manage.py arguments a strategy measures."""
    if strategy == "all":
        return ["migrate", "--noinput"]
    raise MigbenchError("unknown strategy %r" % strategy)


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


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-_TAIL_LINES:])


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
    for planned, repeat in pending:
        if store.done(planned.cell, repeat):  # another migbench sharing --out did it meanwhile
            progress.skip_cell(planned.cell, repeat)
            continue
        progress.start_cell(planned.cell, repeat)
        record = run_once(planned, repeat, matrix.project, scenario, options, command,
                          on_sample=progress.sample)
        written.append(store.write(record))
        progress.end_cell(record)
    progress.finish()
    return written


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


__all__ = ["Matrix", "PlannedCell", "WORKER", "plan_matrix", "prepare_project", "run_matrix",
           "run_once", "strategy_args"]
