"""Is a generated project valid on a target? Real commands in real child processes.

The checks a Django engineer would run by hand, in order, each on a fresh
SQLite database of its own:

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

import os
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..targets import DjangoLine

WRITE_ROWS = Path(__file__).parent / "worker" / "write_rows.py"


@dataclass
class Step:
    name: str
    ok: bool
    seconds: float
    output: str  # the tail of stdout+stderr, enough to see the error

    def line(self) -> str:
        return "%-28s %s %6.2fs" % (self.name, "ok  " if self.ok else "FAIL", self.seconds)


@dataclass
class Validity:
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    def failures(self) -> str:
        return "\n\n".join("%s:\n%s" % (s.name, s.output) for s in self.steps if not s.ok)


SETTINGS = "benchproject.settings"


def project_env(database: Path, settings: str = SETTINGS) -> dict[str, str]:
    """Environment of a child running a generated project: the parent's, minus anything
    that would leak into the target Python, plus the project's database and settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DJANGO_", "VIRTUAL_ENV"))}
    env["MIGBENCH_DATABASE_URL"] = "sqlite:///%s" % database
    env["DJANGO_SETTINGS_MODULE"] = settings
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the generated tree stays exactly as generated
    return env


class ProjectRunner:
    """Runs manage.py commands of one project with one interpreter and one database."""

    def __init__(self, project: Path, python: Path | str, database: Path, settings: str = SETTINGS):
        self.project = Path(project)
        self.python = str(python)
        self.database = Path(database)
        self.settings = settings

    def env(self) -> dict[str, str]:
        return project_env(self.database, self.settings)

    def run(self, name: str, args: list[str], timeout: float = 600, accept=None) -> Step:
        started = time.monotonic()
        try:
            completed = subprocess.run(
                [self.python] + args, cwd=self.project, env=self.env(), timeout=timeout,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
            )
            output, code = completed.stdout, completed.returncode
        except subprocess.TimeoutExpired as expired:
            output, code = "timed out after %ss\n%s" % (timeout, expired.stdout or ""), -1
        seconds = time.monotonic() - started
        ok = code == 0 if accept is None else accept(code, output)
        return Step(name, ok, seconds, _tail(output))

    def manage(self, name: str, *args: str, **kwargs) -> Step:
        return self.run(name, ["manage.py"] + list(args), **kwargs)


def validate_project(project: Path, python: Path | str, target: DjangoLine, apps: list[str],
                     workdir: Path, on_step=None) -> Validity:
    """Run the five checks; stop at the first failure (later steps would only echo it).

    `on_step(step)` is called as each step ends: large projects take minutes.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "validity.sqlite3"
    if database.exists():
        database.unlink()
    runner = ProjectRunner(project, python, database)
    result = Validity()

    def step(outcome: Step) -> bool:
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


def _nothing_left(database: Path, apps: list[str]) -> Step:
    started = time.monotonic()
    with sqlite3.connect(str(database)) as connection:
        marks = ",".join("?" * len(apps))
        rows = connection.execute(
            "SELECT app, name FROM django_migrations WHERE app IN (%s)" % marks, apps
        ).fetchall()
    return Step("nothing left applied", not rows, time.monotonic() - started,
                "still recorded: %s" % rows[:10] if rows else "")


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])

