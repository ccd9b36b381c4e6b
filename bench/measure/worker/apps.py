# -*- coding: utf-8 -*-
"""Print a real project's installed apps and where their code and migrations live, as one JSON object.

Runs INSIDE the user's own environment (Python 2.7 .. 3.13, Django 1.7 .. 6.x).
Stdlib + Django only: no f-strings, no annotations, no keyword-only arguments.

Usage (cwd = migbench's copy of the project, environment = bench/env/child.py project_env)::

    python apps.py --project DIR --settings benchproject.settings

What the parent (bench/projects/inspect.py) needs to tell the project's own
apps from third-party ones, and to find each app's migrations on disk: an app
is the project's own when its package AND its migrations package are files
inside the copy. Nothing is migrated and no database is touched
(``MigrationLoader(None)``). Output, one line on stdout, exit status 0::

    {"ok": true, "django": "5.2.8",
     "apps": [{"label", "name", "path", "migrations_module", "migrations_path" (or null),
               "migrations": n, "models": n}],
     "plan": [[app, name], ...]}

On any error: ``{"ok": false, "error": "<ExceptionClass>: <one line>", "where": "setup|loader"}``, exit 1.
"""
from __future__ import absolute_import, print_function, unicode_literals

import json
import os
import sys


def _text(exc):
    try:
        text = "%s" % (exc,)
    except Exception:  # Python 2: non-ASCII byte-string message
        text = repr(exc)
    return " ".join(text.split())[:500]


def _package_path(module_name):
    """The directory of an importable package, or None (no module, a namespace without files)."""
    import importlib
    try:
        module = importlib.import_module(module_name)
    except Exception:
        return None
    paths = list(getattr(module, "__path__", None) or [])
    return os.path.realpath(paths[0]) if paths else None


def describe(project, settings_module):
    sys.path.insert(0, os.path.abspath(project))
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    where = "setup"
    try:
        import django
        django.setup()
        where = "loader"
        from django.apps import apps
        from django.db.migrations.loader import MigrationLoader

        loader = MigrationLoader(None, ignore_no_migrations=True)
        counts = {}
        for app_label, _name in loader.disk_migrations:
            counts[app_label] = counts.get(app_label, 0) + 1
        found = []
        for config in apps.get_app_configs():
            module = MigrationLoader.migrations_module(config.label)
            if isinstance(module, tuple):  # Django >= 1.11: (module, explicit)
                module = module[0]
            found.append({
                "label": config.label,
                "name": config.name,
                "path": os.path.realpath(config.path) if config.path else None,
                "migrations_module": module,
                "migrations_path": _package_path(module) if module else None,
                "migrations": counts.get(config.label, 0),
                "models": len(list(config.get_models(include_auto_created=False))),
            })
        plan = []
        seen = set()
        for leaf in sorted(loader.graph.leaf_nodes()):
            for node in loader.graph.forwards_plan(leaf):
                if node not in seen:
                    seen.add(node)
                    plan.append(list(node))
        return {"ok": True, "django": django.get_version(), "apps": found, "plan": plan}
    except Exception as exc:
        return {"ok": False, "error": "%s: %s" % (type(exc).__name__, _text(exc)), "where": where}


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description="print a project's apps and migrations as JSON")
    parser.add_argument("--project", required=True)
    parser.add_argument("--settings", required=True)
    args = parser.parse_args(argv)
    stdout = sys.stdout
    sys.stdout = sys.stderr  # whatever the project prints while loading must not corrupt the JSON
    try:
        result = describe(args.project, args.settings)
    finally:
        sys.stdout = stdout
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
