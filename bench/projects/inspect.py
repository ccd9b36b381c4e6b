"""What a real project is made of, asked of the user's own interpreter: its Python and Django, its apps
(own or third-party), where their migrations live, its migration plan; and the manifest that makes the
copy look like a generated project to the rest of migbench.

Side effects: runs the user's interpreter in child processes (with byte-code writing off, so its
environment is not written) on migbench's copy, against a scratch SQLite file nobody migrates.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migbench.bench.env.child import ProjectRunner
from migbench.bench.env.environments import Environment
from migbench.errors import MigbenchError

APPS_SCRIPT = Path(__file__).resolve().parent.parent / "measure" / "worker" / "apps.py"


@dataclass(frozen=True)
class UserEnvironment(Environment):
    """The user's own environment: measured as it is, never built, installed into or written."""

    @property
    def key(self) -> str:  # cache keys (baselines, variants): unique per interpreter and versions
        where = hashlib.sha256(str(self.python).encode()).hexdigest()[:8]
        return "user-py%s-django%s-%s" % (self.python_version, self.django_version, where)


def probe(python: Path) -> UserEnvironment:
    """The user's interpreter's Python and Django versions, or one line saying what is missing."""
    code = ("import json, sys\ntry:\n import django; d = django.get_version()\nexcept ImportError:\n d = None\n"
            "print(json.dumps({'python': '%d.%d.%d' % tuple(sys.version_info[:3]), 'django': d, "
            "'prefix': sys.prefix}))")
    try:
        done = subprocess.run([str(python), "-B", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=60)
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        raise MigbenchError("--python %s: does not run as a Python interpreter; give your virtualenv or its "
                            "bin/python" % python) from None
    if not found.get("django"):
        raise MigbenchError("--python %s: Django is not installed there; give the environment your project "
                            "runs in" % python)
    return UserEnvironment(path=Path(found["prefix"]), python=python, python_version=found["python"],
                           django_version=found["django"])


class ScratchSqlite:
    """A database handle on a scratch SQLite file (bench/env/child.py DatabaseLike)."""

    def __init__(self, path: Path):
        self.path = path

    def child_env(self) -> dict[str, str]:
        return {"MIGBENCH_DATABASE_URL": "sqlite:///%s" % self.path}


def apps(copy: Path, env: Environment, settings: str) -> dict:
    """The apps.py worker's answer on the copy; a project that does not even load is one line."""
    return ask(copy, env.python, APPS_SCRIPT, settings, "your project does not load with Django",
               "; fix that first or give --settings/--env")


def ask(copy: Path, python: Path, script: Path, settings: str, failed: str, fix: str = "",
        timeout: float = 600) -> dict:
    """Run a worker script that prints one JSON answer (`{"ok": ...}`) on the copy, against a scratch
    SQLite file; its answer, or MigbenchError("FAILED (error[, during where])FIX")."""
    with tempfile.TemporaryDirectory(prefix="migbench-inspect-") as scratch:
        runner = ProjectRunner(copy, python, ScratchSqlite(Path(scratch) / "inspect.sqlite3"))
        result = runner.run(script.stem, [str(script), "--project", str(copy), "--settings", settings],
                            timeout=timeout)
    for line in reversed(result.output.splitlines()):
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except ValueError:
                break
            if found.get("ok"):
                return found
            where = ", during %s" % found["where"] if found.get("where") else ""
            raise MigbenchError("%s (%s%s)%s" % (failed, found.get("error"), where, fix))
    raise MigbenchError("%s: %s%s" % (failed, (result.output.strip().splitlines() or ["no output"])[-1], fix))


def own_apps(found: dict, copy: Path, original: Path) -> tuple[list[dict], list[dict]]:
    """(own, third-party): own apps have their code and migrations inside the copy.

    An app imported from the user's own tree instead of the copy (an editable install pointing
    there) would let a strategy write into it: refused.
    """
    own, others = [], []
    copy, original = copy.resolve(), original.resolve()
    for app in found["apps"]:
        path = Path(app["path"]) if app.get("path") else None
        if path is not None and original != copy and _inside(path, original) and not _inside(path, copy):
            raise MigbenchError("app %s is imported from your tree %s, not migbench's copy (an editable install "
                                "of your project?); run migbench from an environment without it" % (app["label"],
                                                                                                    original))
        migrations = Path(app["migrations_path"]) if app.get("migrations_path") else None
        mine = path is not None and _inside(path, copy) and (migrations is None or _inside(migrations, copy))
        (own if mine else others).append(app)
    return own, others


def manifest(found: dict, copy: Path, source, own: list[dict], others: list[dict]) -> dict:
    """The copy's migbench.json: a generated project's keys where they apply, and what a real project adds."""
    plan_apps = list(dict.fromkeys(app for app, _ in found["plan"]))
    order = {label: i for i, label in enumerate(plan_apps)}
    own_sorted = sorted(own, key=lambda a: (order.get(a["label"], len(order)), a["label"]))
    migrations = {}
    for app in own_sorted:
        if app.get("migrations_path"):
            migrations[app["label"]] = str(Path(app["migrations_path"]).relative_to(copy.resolve()))
    return {
        "kind": "project",
        "apps": [a["label"] for a in own_sorted if a["migrations"]],
        "third_party_apps": [a["label"] for a in others if a["migrations"]],
        "migrations_dirs": migrations,
        "settings_module": "benchproject.settings",
        "user_settings": source.settings,
        "user_tree": str(source.tree),
        "launcher": list(source.launcher),
        "django_target": found["django"],
        "counts": {
            "apps": sum(1 for a in found["apps"] if a["migrations"]),
            "own_apps": sum(1 for a in own if a["migrations"]),
            "models": sum(a["models"] for a in found["apps"]),
            "migrations": len(found["plan"]),
            "own_migrations": sum(a["migrations"] for a in own),
        },
        "scenario": {"name": source.name},
        "plan": ["%s.%s" % (app, name) for app, name in found["plan"]],
    }


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
        return True
    except ValueError:
        return False
