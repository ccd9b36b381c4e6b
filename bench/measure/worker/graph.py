# -*- coding: utf-8 -*-
"""Print a project's migration graph (a generated project or a real one) as one JSON object.

Runs INSIDE a target environment (Python 2.7 .. 3.13, Django 1.7 .. 6.x).
Stdlib + Django only: no f-strings, no annotations, no keyword-only arguments.

Usage (cwd = the project, environment = bench/env/child.py project_env(a scratch database))::

    python graph.py --project DIR --settings benchproject.settings

The loader is built without a database connection (``MigrationLoader(None)``),
so every squashed migration replaces the migrations it names, exactly as on a
fresh database. The full forward plan over all leaf nodes is computed the way
``migrate`` does it (leaves in sorted order, each leaf's forwards plan, first
appearance wins); computing it raises on a dependency cycle on every Django
line. Output, one line on stdout, exit status 0::

    {"ok": true, "django": "5.2.8",
     "apps": [labels in order of first appearance in the plan],
     "plan": [[app, name], ...],
     "leaves": [[app, name], ...],
     "replaces": {"app.name": [[app, name], ...]},      # squashed migrations on disk
     "operations": {"app.name": n},                     # every migration on disk
     "data_operations": {"app.name": {"RunPython": n, "RunSQL": m}},  # non-zero only
     "data": {"app.name": [{"operation": "RunPython", "name": "forwards",
                            "reversible": true, "elidable": false}, ...]},
     "references": {"app.name": [[other_app, name], ...]},  # cross-app dependencies and run_before
     "modules": {"app": "its.migrations.module"}}

``data`` lists each RunPython and RunSQL (also inside SeparateDatabaseAndState's
database operations): the function's name, or the first line of the SQL;
``reversible`` is Django's own (a reverse was given, ``noop`` included).
``references`` names, per migration on disk, the migrations of *other* apps it
depends on or must run before (``__first__``/``__latest__`` left out): what
breaks when a transformation deletes a migration another app names.

On any error: ``{"ok": false, "error": "<ExceptionClass>: <one line>"}``, exit 1.
"""
from __future__ import absolute_import, print_function, unicode_literals

import argparse
import json
import os
import sys

DATA_OPERATIONS = ("RunPython", "RunSQL")


def _text(exc):
    try:
        text = "%s" % (exc,)
    except Exception:  # Python 2: non-ASCII byte-string message
        try:
            text = str(exc).decode("utf-8", "replace")
        except Exception:
            text = repr(exc)
    return " ".join(text.split())


def _key(node):
    return "%s.%s" % (node[0], node[1])


def describe(project, settings_module):
    sys.path.insert(0, os.path.abspath(project))
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from django.apps import apps as registry
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    graph = loader.graph
    leaves = sorted(graph.leaf_nodes())
    plan, seen = [], set()
    for leaf in leaves:
        for node in graph.forwards_plan(leaf):
            if node not in seen:
                seen.add(node)
                plan.append(node)
    apps = []
    for app, _ in plan:
        if app not in apps:
            apps.append(app)
    replaces, operations, counted, data, references = {}, {}, {}, {}, {}
    for node in sorted(loader.disk_migrations):
        migration = loader.disk_migrations[node]
        key = _key(node)
        operations[key] = len(migration.operations)
        if migration.replaces:
            replaces[key] = [list(r) for r in migration.replaces]
        found = [_data(operation) for operation in _database_operations(migration.operations)]
        found = [entry for entry in found if entry is not None]
        if found:
            data[key] = found
            counts = {}
            for entry in found:
                counts[entry["operation"]] = counts.get(entry["operation"], 0) + 1
            counted[key] = counts
        named = [list(n) for n in list(migration.dependencies) + list(getattr(migration, "run_before", []))
                 if n[0] != node[0] and n[1] not in ("__first__", "__latest__")]
        if named:
            references[key] = named
    modules = {}
    for config in registry.get_app_configs():
        module = loader.migrations_module(config.label)
        module = module[0] if isinstance(module, tuple) else module  # (name, explicit) from 1.11
        if module:
            modules[config.label] = module
    return {
        "ok": True,
        "django": django.get_version(),
        "apps": apps,
        "plan": [list(n) for n in plan],
        "leaves": [list(n) for n in leaves],
        "replaces": replaces,
        "operations": operations,
        "data_operations": counted,
        "data": data,
        "references": references,
        "modules": modules,
    }


def _database_operations(operations):
    """The operations in order, SeparateDatabaseAndState's database operations in its place."""
    for operation in operations:
        inner = getattr(operation, "database_operations", None)
        if inner is not None:
            for nested in _database_operations(inner):
                yield nested
        else:
            yield operation


def _data(operation):
    """A RunPython or RunSQL as a dict (what zero drops); None for any other operation."""
    kind = type(operation).__name__
    if kind not in DATA_OPERATIONS:
        return None
    if kind == "RunPython":
        code = operation.code
        name = getattr(code, "__qualname__", None) or getattr(code, "__name__", None) or type(code).__name__
    else:
        name = _first_line(operation.sql)
    return {"operation": kind, "name": "%s" % (name,), "reversible": bool(operation.reversible),
            "elidable": bool(getattr(operation, "elidable", False))}


def _first_line(sql):
    """The first non-empty line of a RunSQL's SQL (a string, or a list of strings or (sql, params))."""
    while isinstance(sql, (list, tuple)) and sql:
        sql = sql[0]
    if isinstance(sql, (list, tuple)):
        return ""
    for line in ("%s" % (sql,)).splitlines():
        if line.strip():
            line = " ".join(line.split())
            return line if len(line) <= 120 else line[:117] + "..."
    return ""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", required=True, help="directory put at sys.path[0]")
    parser.add_argument("--settings", required=True, help="DJANGO_SETTINGS_MODULE")
    args = parser.parse_args(argv)
    stdout = sys.stdout
    sys.stdout = sys.stderr  # whatever Django or the project prints must not corrupt the JSON
    try:
        result = describe(args.project, args.settings)
    except Exception as exc:
        result = {"ok": False, "error": "%s: %s" % (type(exc).__name__, _text(exc))}
    finally:
        sys.stdout = stdout
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
