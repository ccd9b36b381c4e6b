"""The daily commands (`--dev-loop`): what developers wait for, on the database a strategy left.

Timed after a validated run, so `all` gives the "before" and each
transformation the "after": `makemigrations --check` (1.7-1.9: the dry run,
which must say "No changes detected"), `migrate --plan` (`showmigrations`
before 2.2, `migrate --list` on 1.7), and the test database in each of the ways teams make it
(testdb.py: with migrations, without, reused with --keepdb, restored from a
dump), each `manage.py test` of one no-op test (with zero tests Django >= 3.1
creates no test database).
"""

from __future__ import annotations

from migbench.bench.engines import Engine
from migbench.bench.env.environments import Environment
from migbench.bench.measure.step import DEV, StepContext, StepSpec, run_step
from migbench.targets import DjangoLine

from . import testdb
from .testdb import Timed


def dev_loop_steps(line: DjangoLine) -> list[StepSpec]:
    """The commands that need nothing but the run's database: the checks and the test database
    with migrations (the other test-database modes make and drop databases: testdb.py)."""
    if line.has_makemigrations_check:
        makemigrations = ("makemigrations", "--check", "--dry-run")
    else:  # 1.7-1.9: no --check; the dry run says "No changes detected"
        makemigrations = ("makemigrations", "--dry-run")
    # 1.7: `migrate --list`, the listing 1.8 moved to showmigrations, under the name reports know
    plan = ("migrate", "--plan") if line.has_migrate_plan else line.list_migrations
    return [
        StepSpec("makemigrations --check", DEV, makemigrations, verdict="no-changes"),
        StepSpec("migrate --plan" if line.has_migrate_plan else "showmigrations", DEV, plan,
                 verdict="nothing-to-do"),
        testdb.migrations_step(),
    ]


def run(ctx: StepContext, env: Environment, engine: Engine, line: DjangoLine, on_note=print) -> Timed:
    """Time every daily command on `ctx.databases["main"]`: the record's `dev_loop` and its notes."""
    timed = Timed({result.name: result.summary() for result in
                   (run_step(spec, ctx) for spec in dev_loop_steps(line))})
    modes = testdb.time_modes(ctx, env, engine, line, on_note)
    timed.steps.update(modes.steps)
    timed.notes += modes.notes
    return timed
