"""Running a project's `manage.py` in a child process: its environment and its result.

Every child that runs a project (the measured worker, the reference migrate,
the checks, the transformations' squashmigrations) gets its environment from
project_env(): the parent's, minus anything that would leak into the target
Python (PYTHON*, DJANGO_*, VIRTUAL_ENV), plus the project's settings module and
the settings fragment of the database the engine made for it (bench/engines).
Nothing here measures; bench/measure/ does.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass
class CommandResult:
    name: str
    ok: bool
    seconds: float
    output: str  # the tail of stdout+stderr, enough to see the error

    def line(self) -> str:
        return "%-28s %s %6.2fs" % (self.name, "ok  " if self.ok else "FAIL", self.seconds)


SETTINGS = "benchproject.settings"


class DatabaseLike(Protocol):
    """What a child needs of a database: the settings fragment (bench/engines' Database)."""

    def child_env(self) -> dict[str, str]: ...


def launcher_options(project: Path) -> list[str]:
    """The measuring worker's --script for a real project run through its launcher (its copy's
    manifest says so, bench/projects), else nothing: Django's command line is called directly."""
    try:
        manifest = json.loads((Path(project) / "migbench.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return ["--script", str(Path(project) / "manage.py")] if manifest.get("launcher") else []


def project_env(database: DatabaseLike, settings: str = SETTINGS) -> dict[str, str]:
    """Environment of a child running a generated project: the parent's, minus anything
    that would leak into the target Python, plus the project's database and settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "DJANGO_", "VIRTUAL_ENV", "MIGBENCH_TEST_"))}
    env.update(database.child_env())
    env["DJANGO_SETTINGS_MODULE"] = settings
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the generated tree stays exactly as generated
    return env


class ProjectRunner:
    """Runs manage.py commands of one project with one interpreter and one database."""

    def __init__(self, project: Path, python: Path | str, database: DatabaseLike, settings: str = SETTINGS):
        self.project = Path(project)
        self.python = str(python)
        self.database = database
        self.settings = settings

    def env(self) -> dict[str, str]:
        return project_env(self.database, self.settings)

    def run(self, name: str, args: list[str], timeout: float = 600, accept=None) -> CommandResult:
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
        return CommandResult(name, ok, seconds, tail(output))

    def manage(self, name: str, *args: str, **kwargs) -> CommandResult:
        return self.run(name, ["manage.py"] + list(args), **kwargs)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
