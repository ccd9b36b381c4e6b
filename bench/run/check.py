"""Is a generated project valid on a target? Real commands in real child processes.

The checks a Django engineer would run by hand, in order, on one fresh
database of the engine's (SQLite unless told otherwise):

1. `manage.py check` passes;
2. `makemigrations --check --dry-run` finds no changes (migrations agree with
   models; before 1.10, which lacks --check, the dry run must say
   "No changes detected");
3. `migrate` from an empty database succeeds;
4. every app migrates back to `zero`, one after the other (last app first),
   and no migration of the project's apps is left recorded;
5. `migrate` forward again succeeds and rows can be written into every model
   (Django 1.9-1.11 on SQLite >= 3.26 can "succeed" at migrating and leave
   foreign keys pointing at dropped tables: only a write shows it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from migbench.bench import engines
from migbench.bench.engines import Database, Engine
from migbench.bench.env.child import CommandResult, ProjectRunner
from migbench.bench.measure.worker import WRITE_ROWS
from migbench.targets import DjangoLine


@dataclass
class Validity:
    steps: list[CommandResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    def failures(self) -> str:
        return "\n\n".join("%s:\n%s" % (s.name, s.output) for s in self.steps if not s.ok)


def validate_project(project: Path, python: Path | str, target: DjangoLine, apps: list[str],
                     workdir: Path, on_step=None, engine: Engine | None = None) -> Validity:
    """Run the five checks on a fresh database of `engine` (default: the embedded one); stop at
    the first failure (later steps would only echo it).

    `on_step(step)` is called as each step ends: large projects take minutes.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    engine = engine or engines.get(engines.DEFAULT)
    database = engine.fresh(workdir, "validity", target)
    try:
        return _checks(project, python, target, apps, database, on_step)
    finally:
        engine.drop(database)


def _checks(project: Path, python: Path | str, target: DjangoLine, apps: list[str], database: Database,
            on_step) -> Validity:
    runner = ProjectRunner(project, python, database)
    result = Validity()

    def step(outcome: CommandResult) -> bool:
        result.steps.append(outcome)
        if on_step is not None:
            on_step(outcome)
        return outcome.ok

    if not step(runner.manage("check", "check")):
        return result
    if target.has_makemigrations_check:
        mm = runner.manage("makemigrations --check", "makemigrations", "--check", "--dry-run")
    else:
        mm = runner.manage(
            "makemigrations --dry-run", "makemigrations", "--dry-run",
            accept=lambda code, out: code == 0 and "No changes detected" in out,
        )
    if not step(mm):
        return result
    if not step(runner.manage("migrate", "migrate", "--noinput", "-v", "0")):
        return result
    for app in reversed(apps):
        if not step(runner.manage("migrate %s zero" % app, "migrate", app, "zero", "--noinput", "-v", "0")):
            return result
    if not step(_nothing_left(database, apps)):
        return result
    # Forward again after the round trip, then write: rows go in last because a
    # backward AlterField/RemoveField may rightly refuse rows a probe left behind.
    if not step(runner.manage("migrate again", "migrate", "--noinput", "-v", "0")):
        return result
    step(runner.run("write rows", [str(WRITE_ROWS), "--project", str(project),
                                   "--settings", runner.settings, "--apps", ",".join(apps)]))
    return result


def _nothing_left(database: Database, apps: list[str]) -> CommandResult:
    started = time.monotonic()
    rows = database.engine.recorded_migrations(database, apps)
    return CommandResult("nothing left applied", not rows, time.monotonic() - started,
                         "still recorded: %s" % rows[:10] if rows else "")
