# -*- coding: utf-8 -*-
"""Print a generated project's migration graph as one JSON object.

Runs INSIDE a target environment (Python 2.7 .. 3.13, Django 1.8 .. 6.x).
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
     "data_operations": {"app.name": {"RunPython": n, "RunSQL": m}}}  # non-zero only

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
    replaces, operations, data = {}, {}, {}
    for node in sorted(loader.disk_migrations):
        migration = loader.disk_migrations[node]
        key = _key(node)
        operations[key] = len(migration.operations)
        if migration.replaces:
            replaces[key] = [list(r) for r in migration.replaces]
        counts = {}
        for operation in migration.operations:
            kind = type(operation).__name__
            if kind in DATA_OPERATIONS:
                counts[kind] = counts.get(kind, 0) + 1
        if counts:
            data[key] = counts
    return {
        "ok": True,
        "django": django.get_version(),
        "apps": apps,
        "plan": [list(n) for n in plan],
        "leaves": [list(n) for n in leaves],
        "replaces": replaces,
        "operations": operations,
        "data_operations": data,
    }


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
