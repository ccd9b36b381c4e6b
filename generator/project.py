"""A whole generated project: every file as text, then written to disk atomically.

`build_project` is pure (scenario + target in, {path: text} out); `write_project`
is the only function here that touches the disk, and it builds in a temporary
sibling directory and renames it into place, so an interrupted run leaves
either the old tree or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migbench import __version__
from migbench.errors import MigbenchError
from migbench.targets import DjangoLine

from .history import History, build_history
from .scenario import Scenario
from .summary import Summary, summarize
from .writer import APPS_PACKAGE, MigrationWriter, header, models_source

SETTINGS_PACKAGE = "benchproject"
MANIFEST = "migbench.json"


@dataclass
class Project:
    scenario: Scenario
    target: DjangoLine
    history: History
    files: dict[str, str]  # relative POSIX path -> text
    summary: Summary

    @property
    def app_labels(self) -> list[str]:
        return [app.label for app in self.history.state.apps]


def build_project(scenario: Scenario, target: DjangoLine) -> Project:
    history = build_history(scenario.generator, target)
    files: dict[str, str] = {}
    state = history.state
    files["manage.py"] = _manage_py()
    files["%s/__init__.py" % SETTINGS_PACKAGE] = ""
    files["%s/settings.py" % SETTINGS_PACKAGE] = _settings(scenario, target, [a.label for a in state.apps])
    if target.needs_sqlite_legacy_alter_table:
        files["%s/compat.py" % SETTINGS_PACKAGE] = _compat(target)
    files["%s/__init__.py" % APPS_PACKAGE] = ""
    for app in state.apps:
        root = "%s/%s" % (APPS_PACKAGE, app.label)
        files[root + "/__init__.py"] = ""
        files[root + "/models.py"] = models_source(app, state, target)
        files[root + "/migrations/__init__.py"] = ""
    for migration in history.migrations:
        path = "%s/%s/migrations/%s.py" % (APPS_PACKAGE, migration.app, migration.name)
        files[path] = MigrationWriter(migration, target).as_string()
    summary = summarize(scenario, history)
    files[MANIFEST] = _manifest(scenario, target, history, summary)
    return Project(scenario, target, history, files, summary)


# -- fixed files ----------------------------------------------------------------


def _manage_py() -> str:
    return '''#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "%s.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
''' % SETTINGS_PACKAGE


_DATABASE_FROM_URL = '''

def _database_from_url(url):
    """sqlite:///relative.db, sqlite:////absolute.db, postgres://u:p@host:5432/name,
    mysql://u@/name?host=/run/socket-dir (a Unix socket: HOST is a path, as Django reads it).

    The test database of `manage.py test` is NAME_test, so on a server engine
    it is a scratch database of the same run (migbench_..._test), never a
    name of somebody else's. The dev loop's test-database modes
    (bench/strategies/testdb.py) set two more variables: MIGBENCH_TEST_NAME (the
    test database's NAME: SQLite's file for --keepdb) and MIGBENCH_TEST_MIGRATE=0
    (TEST["MIGRATE"] = False, Django >= 3.1); unset, Django's defaults hold.
    """
    try:
        from urllib.parse import parse_qs, unquote, urlsplit
    except ImportError:  # Python 2
        from urllib import unquote
        from urlparse import parse_qs, urlsplit
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        name = url[len("sqlite:///"):] or ":memory:"
        if name != ":memory:" and not os.path.isabs(name):
            name = os.path.join(BASE_DIR, name)
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name, "TEST": _test_settings({})}
    engines = {
        "postgres": "django.db.backends." + _POSTGRES_BACKEND,
        "postgresql": "django.db.backends." + _POSTGRES_BACKEND,
        "mysql": "django.db.backends.mysql",
        "mariadb": "django.db.backends.mysql",
    }
    if parts.scheme not in engines:
        raise ValueError("MIGBENCH_DATABASE_URL: unsupported scheme %r" % parts.scheme)
    query = dict((key, values[-1]) for key, values in parse_qs(parts.query).items())
    name = unquote(parts.path.lstrip("/"))
    options, test = {}, {"NAME": name + "_test"}
    if engines[parts.scheme].endswith("mysql"):
        # The generated RunSQL is one text for every engine, its names in standard "double
        # quotes"; MySQL reads those as identifiers only with ANSI_QUOTES. Django's own SQL
        # quotes with backticks and is not affected. (The floor's replay sets the same mode.)
        options["init_command"] = "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',ANSI_QUOTES')"
        # The test database in the character set migbench makes its scratch databases with
        # (bench/engines/mariadb.py), whatever the server's default.
        test.update(CHARSET="utf8", COLLATION="utf8_general_ci")
    return {
        "ENGINE": engines[parts.scheme],
        "OPTIONS": options,
        "NAME": name,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": query.get("host") or parts.hostname or "",
        "PORT": query.get("port") or str(parts.port or ""),
        "TEST": _test_settings(test),
    }


def _test_settings(test):
    if os.environ.get("MIGBENCH_TEST_NAME"):
        test["NAME"] = os.environ["MIGBENCH_TEST_NAME"]
    if os.environ.get("MIGBENCH_TEST_MIGRATE") == "0":
        test["MIGRATE"] = False
    return test

'''

# The same parser for a real project's overlay settings (bench/projects/overlay.py).
DATABASE_FROM_URL = _DATABASE_FROM_URL


def _settings(scenario: Scenario, target: DjangoLine, labels: list[str]) -> str:
    installed = ["django.contrib.%s" % name for name in scenario.generator.contrib_apps]
    if target.needs_sqlite_legacy_alter_table:
        installed.append("%s.compat.SqliteCompatConfig" % SETTINGS_PACKAGE)
    installed += ["%s.%s" % (APPS_PACKAGE, label) for label in labels]
    lines = header(target, "settings for scenario %s" % scenario.name)
    lines += [
        "",
        "import os",
        "",
        "BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))",
        "_POSTGRES_BACKEND = %r" % ("postgresql" if target.at_least("1.9") else "postgresql_psycopg2"),
    ]
    lines.append(_DATABASE_FROM_URL)
    lines += [
        'SECRET_KEY = "migbench-generated-project-not-a-secret"',
        "DEBUG = False",
        "ALLOWED_HOSTS = []",
        "INSTALLED_APPS = [",
    ]
    lines += ["    %r," % name for name in installed]
    lines += ["]"]
    lines += ["MIDDLEWARE = []" if target.at_least("1.10") else "MIDDLEWARE_CLASSES = []"]
    lines += [
        "DATABASES = {",
        '    "default": _database_from_url(',
        '        os.environ.get("MIGBENCH_DATABASE_URL", "sqlite:///db.sqlite3")',
        "    ),",
        "}",
        "USE_TZ = False",
        "USE_I18N = False",
        "# Generated date/time fields carry fixed defaults on purpose.",
        'SILENCED_SYSTEM_CHECKS = ["fields.W161"]',
    ]
    if target.has_default_auto_field:
        lines.append('DEFAULT_AUTO_FIELD = "django.db.models.AutoField"')
    return "\n".join(lines) + "\n"


def _compat(target: DjangoLine) -> str:
    return "\n".join(header(target, "SQLite compatibility for Django < 2.2")) + '''
"""SQLite >= 3.26 rewrites foreign keys on ALTER TABLE ... RENAME, which breaks
the table rebuilds of Django < 2.2 (FKs left pointing at "<table>__old").
Asking each connection for the legacy behaviour restores what those Django
versions were written against."""
from django.apps import AppConfig
from django.db.backends.signals import connection_created


def legacy_alter_table(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        cursor = connection.connection.cursor()
        cursor.execute("PRAGMA legacy_alter_table = ON")
        cursor.close()


class SqliteCompatConfig(AppConfig):
    name = "%s"
    label = "migbench_compat"

    def ready(self):
        connection_created.connect(legacy_alter_table)
''' % SETTINGS_PACKAGE


def _manifest(scenario: Scenario, target: DjangoLine, history: History, summary: Summary) -> str:
    import faker

    document = {
        "generator": "migbench %s" % __version__,
        "faker": faker.VERSION,
        "scenario": {"name": scenario.name, "sha256": scenario.sha256},
        "seed": scenario.generator.seed,
        "django_target": target.line,
        "settings_module": "%s.settings" % SETTINGS_PACKAGE,
        "apps": [app.label for app in history.state.apps],
        "counts": summary.as_dict(),
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


# -- the one side effect ---------------------------------------------------------


def write_project(project: Project, out: str | Path, force: bool = False) -> Path:
    """Write every file under `out`, replacing it only when `force` is given."""
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise MigbenchError("%s exists and is not a directory; choose another --out" % out)
    if out.is_dir() and any(out.iterdir()) and not force:
        raise MigbenchError("%s is not empty; pass --force to replace it or choose another --out" % out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".%s.migbench-" % out.name, dir=out.parent))
    try:
        for directory in sorted({os.path.dirname(relative) for relative in project.files} - {""}):
            (staging / directory).mkdir(parents=True, exist_ok=True)
        for relative, text in sorted(project.files.items()):
            with open(staging / relative, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
        os.chmod(staging / "manage.py", 0o755)
        os.chmod(staging, 0o755)
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _swap_into_place(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    retired = Path(tempfile.mkdtemp(prefix=".%s.old-" % out.name, dir=out.parent))
    retired.rmdir()
    out.rename(retired)
    try:
        staging.rename(out)
    except BaseException:
        retired.rename(out)  # put the old tree back
        raise
    shutil.rmtree(retired, ignore_errors=True)
