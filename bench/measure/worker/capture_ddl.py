# -*- coding: utf-8 -*-
"""Run ``manage.py migrate`` and write down every statement the schema editor executes.

Runs INSIDE a target environment, like measure.py (stdlib only, Python 2.7 ..
3.13, Django 1.7 .. 6.1, on Django's SQLite, PostgreSQL or MySQL backend).
Usage (cwd = the project directory)::

    python capture_ddl.py --out FILE [--project DIR] [--settings MODULE] -- migrate --noinput

The command runs exactly as under measure.py; on top of it, every call of
``BaseDatabaseSchemaEditor.execute`` (all DDL, deferred SQL, RunSQL; not the
ORM writes of RunPython, nor the rows of django_migrations) appends one JSON
line to FILE, in execution order:

    {"migration": "app.0002_x", "atomic": true}  before each migration is applied
                                                 (Migration.atomic; true before
                                                 Django 1.10, which has none)
    {"sql": "CREATE TABLE ..."}                  parameters inlined (below)
    {"sql": "...%s...", "params": [...]}         when a value cannot be inlined

Statements before the first marker are the recorder's (django_migrations'
table).  The deferred SQL a schema editor runs as it closes (foreign keys,
indexes, PostgreSQL's LIKE indexes) comes before the next marker: it belongs
to the migration above it, and ran inside its transaction on PostgreSQL.
That is all execute_sql.py needs to rebuild the schema: the rows of
django_migrations and of RunPython are data, and the statements Django runs
outside the schema editor during migrate are catalog reads (introspection).

Parameters are inlined so that the floor sends the text Django's driver sent:
- PostgreSQL: by the driver (Django's ``compose_sql`` where it exists, else
  the driver's ``mogrify``).  From Django 4.2 on the PostgreSQL schema editor
  composes every statement itself and executes it without parameters, so
  the hook sees finished text there;
- MySQL: with the driver's ``literal``, as MySQLdb's and PyMySQL's
  ``execute`` merge them.  Not the editor's ``quote_value``: on PostgreSQL
  and MySQL it doubles ``%`` for sqlmigrate's output, which would replay a
  value holding ``%`` as ``%%``;
- SQLite: with the editor's own ``quote_value``, as ``sqlmigrate`` prints them.
Where that fails (raw binary, say), the statement keeps its parameters, and
execute_sql.py passes them to the driver as Django did.

Why not ``sqlmigrate``: it generates each migration's SQL against the database
as it is, and on an empty database the statements that introspect existing
constraints (AlterUniqueTogether dropping a unique index, for one) fail.
Capturing during one real ``migrate`` gives the statements sqlmigrate would
print at each step, each generated against the state it applies to.  This is
the DDL the `floor` strategy replays with no Python state at all.
"""

import base64
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import measure  # noqa: E402  (the worker this one extends)

USAGE = "usage: capture_ddl.py --out FILE [measure.py options] -- COMMAND [ARG ...]"


def _plain(value):
    """A JSON-able form of a parameter the editor could not quote."""
    if isinstance(value, (bytes, bytearray)) and not isinstance(value, str):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if value is None or isinstance(value, (bool, int, float)):
        return value
    try:
        if isinstance(value, long):  # noqa: F821  (Python 2)
            return value
    except NameError:
        pass
    return u"%s" % (value,)


class Capture(object):
    def __init__(self, path):
        self.handle = open(path, "w")
        self.installed = False

    def write(self, entry):
        self.handle.write(json.dumps(entry, sort_keys=True) + "\n")
        self.handle.flush()

    def install(self):
        try:
            from django.db.backends.base import schema  # Django >= 1.8
        except ImportError:
            from django.db.backends import schema  # 1.7
        from django.db.migrations import executor

        capture = self
        self.installed = True
        original_execute = schema.BaseDatabaseSchemaEditor.execute

        def execute(editor, sql, *args, **kwargs):
            params = args[0] if args else kwargs.get("params", ())
            if not getattr(editor, "collect_sql", False):
                capture.statement(editor, sql, params)
            return original_execute(editor, sql, *args, **kwargs)

        schema.BaseDatabaseSchemaEditor.execute = execute

        original_apply = executor.MigrationExecutor.apply_migration

        def apply_migration(self, *args, **kwargs):
            # (state, migration, ...) from 1.8; 1.7 passes no state: (migration, fake)
            migration = kwargs.get("migration") or [a for a in args[:2] if hasattr(a, "app_label")][0]
            capture.write({"migration": "%s.%s" % (migration.app_label, migration.name),
                           "atomic": bool(getattr(migration, "atomic", True))})
            return original_apply(self, *args, **kwargs)

        executor.MigrationExecutor.apply_migration = apply_migration

    def statement(self, editor, sql, params):
        text = u"%s" % (sql,)  # deferred SQL is a Statement object from 2.0 on
        if params is None:
            self.write({"sql": text})
            return
        try:
            self.write({"sql": _inline(editor, text, params)})
        except Exception:  # a value that cannot be inlined: keep it as a parameter
            self.write({"sql": text, "params": [_plain(p) for p in params]})


def _decoded(value):
    """Text from a driver's bytes (UTF-8 connections); raw binary raises and stays a parameter."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")
    return value


def _inline(editor, text, params):
    """`text` with `params` merged in as the connection's driver merges them on execute."""
    connection = editor.connection
    if connection.vendor == "postgresql":
        compose = getattr(connection.ops, "compose_sql", None)  # Django >= 4.2
        if compose is not None:
            return _decoded(compose(text, params))
        connection.ensure_connection()
        cursor = connection.connection.cursor()
        try:
            return _decoded(cursor.mogrify(text, tuple(params)))
        finally:
            cursor.close()
    if connection.vendor == "mysql":
        connection.ensure_connection()
        raw = connection.connection
        return text % tuple(_decoded(raw.literal(p)) for p in params)
    return text % tuple(editor.quote_value(p) for p in params)


def main(argv):
    if len(argv) < 2 or argv[0] != "--out":
        sys.stderr.write("capture_ddl.py: --out FILE comes first\n%s\n" % USAGE)
        return measure.EXIT_USAGE
    out, rest = argv[1], argv[2:]
    options, _ = measure.parse(rest)
    sys.path[0] = os.path.abspath(options["project"] or os.curdir)
    if options["settings"]:
        os.environ["DJANGO_SETTINGS_MODULE"] = options["settings"]
    capture = Capture(out)
    import django

    original_setup = django.setup

    def setup(*args, **kwargs):  # the migration modules need a ready app registry
        result = original_setup(*args, **kwargs)
        if not capture.installed:
            capture.install()
        return result

    django.setup = setup
    return measure.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
