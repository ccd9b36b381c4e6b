"""`per-app`: `migrate <app>` for every app, the 2015 report's second workaround.

The order, and the rule it follows (the record's notes say both):

- The apps go in the order the full forward plan first reaches them
  (dependency order, contrib apps included), read from the baseline's
  captured DDL; each step is recorded, the worst one named.
- Except the first step: it is the first app of that order that
  `migrate <app>` migrates BY ITSELF on an empty database, and the apps before
  it follow it. Which one that is, is Django's answer, not a list of names: it
  is tried once per baseline (unmeasured, uncapped, each try on a fresh
  database of the run's engine, apps in plan order until one succeeds) and
  cached next to the baseline.

Why the first step is special: every `migrate`, even `migrate <app>`, ends by
sending `post_migrate` for EVERY installed app (core/management/sql.py
emit_post_migrate_signal loops over `apps.get_app_configs()`). Up to Django
1.9 the handlers use the installed models, not the migrated state: auth's
`create_permissions` takes `Permission = apps.get_model('auth', 'Permission')`
from the global registry and queries `auth_permission`, so after
`migrate contenttypes` on an empty database it fails with
`no such table: auth_permission`. From 1.10 on the handlers get the migrated
state (`apps=`) and return on LookupError while auth is not migrated. So on
1.8/1.9 the first step must leave every table a handler touches: `migrate
auth` does, because auth's migrations depend on contenttypes' and the step
applies those too. Once the first step succeeded, those tables exist, and
every later `migrate <app>` applies what it depends on; a failure there is a
result, recorded as such.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from migbench.bench.env.child import SETTINGS, project_env
from migbench.bench.measure.step import MEASURED, StepSpec
from migbench.bench.measure.worker import MEASURE
from migbench.targets import resolve_line

from . import baseline
from .base import AppOrder, Strategy

_CACHE = "per_app_order.json"  # next to the baseline's files
_APPLYING = re.compile(r"Applying (\w+)\.\w+\.\.\.")


class PerApp(Strategy):
    def order(self, base, project, env, engine, on_note=print) -> AppOrder:
        if base is None or not base.app_order:
            return AppOrder([])
        found = first_alone(project, env, engine, base, on_note)
        return arrange(base.app_order, found)

    def steps(self, app_order: list[str], project_apps: list[str]) -> list[StepSpec]:
        return [StepSpec("migrate %s" % app, MEASURED, ("migrate", app, "--noinput")) for app in app_order]


def arrange(plan_order: list[str], found: dict) -> AppOrder:
    """The steps' order from the plan's and what the tries found, with the record's note."""
    first = found.get("first")
    if first is None or first not in plan_order:
        tried = "; ".join("migrate %s: %s" % (app, why) for app, why in found.get("fails", {}).items())
        return AppOrder(list(plan_order), "per-app order: %s. Rule: the full plan's order (the order it first "
                        "reaches each app), kept because no app migrates by itself on an empty database on "
                        "this line (%s)" % (", ".join(plan_order), tried or "none tried"))
    before = plan_order[:plan_order.index(first)]
    order = [first] + [app for app in plan_order if app != first]
    note = "per-app order: %s. Rule: the full plan's order (the order it first reaches each app), " % ", ".join(order)
    if not before:
        note += "whose first app, %s, migrates by itself on an empty database" % first
    else:
        fails = found.get("fails", {})
        carried = [app for app in before if app in found.get("carries", [])]
        note += ("except that the first step is the first app that migrates by itself on an empty database, "
                 "%s; %s" % (first, "; ".join("migrate %s alone fails: %s" % (app, fails.get(app, "?"))
                                                for app in before)))
        if carried:
            note += "; migrate %s also applies %s, which it depends on" % (first, ", ".join(carried))
    return AppOrder(order, note)


def first_alone(project: Path, env, engine, base, on_note=print) -> dict:
    """The first app of the plan order that `migrate <app>` migrates by itself on an empty
    database: {"first": app or None, "fails": {app: last error line} for the apps tried before,
    "carries": [other apps whose migrations its step applied]}. Cached next to the baseline,
    keyed by the baseline's fingerprint and order."""
    cache = Path(base.path) / _CACHE
    key = {"fingerprint": base.fingerprint, "app_order": list(base.app_order)}
    try:
        cached = json.loads(cache.read_text(encoding="utf-8"))
        if cached.get("key") == key:
            return cached["found"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    on_note("per-app: which app migrates by itself on an empty database first (not measured; cached)")
    found: dict = {"first": None, "fails": {}, "carries": []}
    work = Path(tempfile.mkdtemp(prefix="migbench-per-app-"))
    line = resolve_line(env.django_version)
    try:
        for index, app in enumerate(base.app_order):
            ok, output = _migrate_alone(project, env, engine, line, work, "alone%d" % index, app)
            if ok:
                applied = _APPLYING.findall(output)
                found["first"] = app
                found["carries"] = [a for a in dict.fromkeys(applied) if a != app]
                break
            lines = output.strip().splitlines()
            found["fails"][app] = lines[-1][:300] if lines else "failed"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    baseline.keep(cache, {"key": key, "found": found})
    return found


def _migrate_alone(project: Path, env, engine, line, work: Path, label: str, app: str) -> tuple[bool, str]:
    database = engine.fresh(work, label, line)
    try:
        argv = [str(env.python), str(MEASURE), "--project", str(project), "--settings", SETTINGS,
                "--", "migrate", app, "--noinput", "-v", "1"]
        done = subprocess.run(argv, cwd=project, env=project_env(database), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
        return done.returncode == 0, done.stdout
    finally:
        engine.drop(database)


PER_APP = PerApp("per-app", "migrate <app> for each app, in dependency order", needs_capture=True)
