"""The test-database modes teams choose between, each timed in the dev loop (`--dev-loop`).

`manage.py test` first makes a test database, and on a long history that is
the wait developers complain about. The ways out, each one `manage.py test`
of one no-op test (bench/measure/worker/testdb/) as its own measured child,
under the run's cap, on the project the strategy left:

- "test database (migrations)": Django's default, every migration applied to
  a new test database (SQLite: in memory, Django's default there);
- "test database (no migrations)": TEST["MIGRATE"] = False (Django >= 3.1):
  the tables made straight from the models, as pytest-django's
  --nomigrations does; older lines are not timed, and the record's notes say why;
- "test database (keepdb)": `test --keepdb` on a test database an earlier
  `test --keepdb` made and kept (the second run is timed: Django finds the
  database, has nothing to apply, keeps it again); Django >= 1.8, like the next;
- "test database (from dump)": the kept test database dumped once per
  (project, environment, engine) and cached (dumps.py); the step is the
  restore (made by the engine: a file copy, pg_restore, the mariadb client;
  timed in migbench's process, uncapped) plus `test --keepdb` on it. Its
  `wall_s` is both; `restore` says how long the restore took and how.

On SQLite the two kept modes use a file beside the run's database
(`--keepdb` cannot keep an in-memory database), so they pay for a file where
the first two do not: a team that keeps its SQLite test database does too.
On a server the kept test database is Django's default `<name>_test`.

The two kept modes must apply nothing: their verdict is "nothing to do", or
"applied migrations" (a kept or restored database behind the project's
history, which makes the record's checks fail).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from migbench.bench.engines import Database, Engine
from migbench.bench.env.environments import Environment
from migbench.bench.measure.step import DEV, StepContext, StepResult, StepSpec, run_step
from migbench.errors import MigbenchError
from migbench.targets import DjangoLine

from . import dumps

MIGRATIONS = "test database (migrations)"
NO_MIGRATIONS = "test database (no migrations)"
FROM_DUMP = "test database (from dump)"
KEEPDB = "test database (keepdb)"
# The record's dev_loop names of the test-database modes, in the order they are explained.
STEP_NAMES = (MIGRATIONS, NO_MIGRATIONS, FROM_DUMP, KEEPDB)
# Records made before the modes named the first one "test database".
FORMER_NAMES = {"test database": MIGRATIONS}

TEST = ("test", "migbench_testdb", "--noinput")
KEEP = TEST + ("--keepdb",)


@dataclass
class Timed:
    """What the dev loop timed: the record's `dev_loop` (name -> step summary) and notes."""

    steps: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)  # each mode not timed, and why


def migrations_step() -> StepSpec:
    return StepSpec(MIGRATIONS, DEV, TEST)


def no_migrations_unsupported(line: DjangoLine) -> str | None:
    """Why a line cannot make its test database without migrations, or None."""
    if line.at_least("3.1"):
        return None
    return ("DATABASES[...][\"TEST\"][\"MIGRATE\"] = False needs Django >= 3.1 (Django %s always migrates "
            "its test database; pytest-django's --nomigrations approximates it with MIGRATION_MODULES)"
            % line.line)


def time_modes(ctx: StepContext, env: Environment, engine: Engine, line: DjangoLine,
               on_note=print) -> Timed:
    """Time "no migrations", "keepdb" and "from dump" on the run's database (`ctx.databases["main"]`).

    The kept test database is dropped at the end, whatever happened; the dump
    stays in the cache for the next run of the same project, environment and engine.
    """
    timed = Timed()
    main = ctx.databases["main"]
    why = no_migrations_unsupported(line)
    if why:
        timed.notes.append("%s: not timed: %s" % (NO_MIGRATIONS, why))
    else:
        timed.steps[NO_MIGRATIONS] = _run(ctx, main.with_settings({"MIGBENCH_TEST_MIGRATE": "0"}),
                                          NO_MIGRATIONS, TEST).summary()
    if not line.has_keepdb:
        timed.notes += ["%s: not timed: `test --keepdb` needs Django >= 1.8 (Django %s always makes its "
                        "test database anew)" % (name, line.line) for name in (KEEPDB, FROM_DUMP)]
        return timed
    try:
        kept = engine.test_database(main)
    except NotImplementedError:
        timed.notes += ["%s: not timed: the %s engine does not say where a kept test database lives "
                        "(Engine.test_database)" % (name, engine.name) for name in (KEEPDB, FROM_DUMP)]
        return timed
    keeping = main.with_settings(engine.test_settings(main))
    try:
        first = _run(ctx, keeping, KEEPDB, KEEP)  # makes the test database and keeps it
        if not first.ok:
            timed.steps[KEEPDB] = first.summary()
            timed.notes.append("%s: not timed: the first test --keepdb, which makes the database to "
                               "dump, failed (%s)" % (FROM_DUMP, first.outcome_reason))
            return timed
        timed.steps[KEEPDB] = _judged(_run(ctx, keeping, KEEPDB, KEEP)).summary()
        _from_dump(ctx, env, engine, kept, keeping, timed, on_note)
    finally:
        engine.drop(kept)
    return timed


def _from_dump(ctx: StepContext, env: Environment, engine: Engine, kept: Database, keeping: Database,
               timed: Timed, on_note) -> None:
    """Dump the kept test database if no dump is cached, drop it, restore it, `test --keepdb`."""
    why = engine.dump_unavailable()
    if why:
        timed.notes.append("%s: not timed: %s" % (FROM_DUMP, why))
        return
    project = ctx.projects["variant"]
    try:
        dump = dumps.ensure(project, env, engine, kept)
        if dump.made_now:
            on_note("  test database dump: made from the kept test database with %s (cached)" % dump.how)
        engine.drop(kept)
        started = time.perf_counter()
        how = engine.restore(dump.path, kept)
        restore_s = time.perf_counter() - started
    except MigbenchError as error:
        timed.notes.append("%s: not timed: %s" % (FROM_DUMP, error))
        return
    result = _judged(_run(ctx, keeping, FROM_DUMP, KEEP))
    summary = result.summary()
    summary["restore"] = dict(dump.describe(), wall_s=round(restore_s, 4), restored_with=how)
    summary["wall_s"] = round(result.wall_s + restore_s, 4)
    timed.steps[FROM_DUMP] = summary


def _run(ctx: StepContext, database: Database, name: str, args: tuple[str, ...]) -> StepResult:
    """One measured `manage.py test` child whose settings fragment is `database`'s."""
    return run_step(StepSpec(name, DEV, args), replace(ctx, databases={"main": database}))


def _judged(result: StepResult) -> StepResult:
    """A kept test database must be up to date: `test --keepdb` applies nothing to it."""
    if result.ok:
        result.verdict = "nothing to do" if result.last_migration is None else "applied migrations"
    return result
