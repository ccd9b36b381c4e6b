"""`zero` ("migrations zero"): delete every migration of the project's own apps and make them again.

What it loses is listed before anything is deleted: every RunPython and RunSQL of
the migrations the loader uses (a squashed migration's, not its replaced files'),
read from the loaded graph (bench/measure/worker/graph.py), into the report's
`losses`. Third-party migrations that name a deleted migration (an oscar-style
fork: the project's app keeps the third-party history's names) would no longer
load, not even for makemigrations; so such an app first gets a stub `0001_initial`
that `replaces` its old migrations (Django's loader resolves those names to it),
makemigrations writes the app's models after it, and that first generated
migration then becomes the new `0001_initial`, `replaces` kept.
"""

from __future__ import annotations

import shutil

from .base import Backup, Job
from .edits import add_replaces, rewrite_dependencies
from .graphinfo import last_line, on_disk, used
from .porting import PortingError
from .report import AppResult


class Zero(Job):
    kind = "zero"

    def apply(self) -> list[AppResult]:
        original = self.makemigrations_clean()
        if not original.ok:
            self.note("the original migrations do not match the models on Django %s (makemigrations finds "
                      "changes: %s): the regenerated ones follow the models, so the schema will differ"
                      % (self.env.django_version, _first_change(original.output)))
        losses = dropped(self.before, self.labels)
        outside = {app: self.outside_references(self.before, app, on_disk(self.before, app)) for app in self.labels}
        backup = Backup((self.migrations_dir(a) for a in self.labels), self.scratch)
        for app in self.labels:
            for path in self.migrations_dir(app).iterdir():
                if path.name == "__pycache__":
                    shutil.rmtree(path)
                elif path.suffix in (".py", ".pyc") and path.name[0] not in "_~":  # what Django loads
                    path.unlink()
        self.plant_stubs(outside)
        step = self.manage("makemigrations", "makemigrations", *self.labels)
        after, error = None, "makemigrations failed: " + last_line(step.output)
        if step.ok:
            error = self.merge_stubs(outside)
            if not error:
                after, error = self.check()
                error = error and "the regenerated migrations do not load: " + error
        if after is not None:
            clean = self.makemigrations_clean()
            if not clean.ok:
                after, error = None, ("makemigrations still finds changes after regenerating: "
                                      + last_line(clean.output))
        if after is not None:
            failure = self.verify()
            if failure is not None and not failure.by_app:
                after, error = None, "the regenerated migrations do not migrate (%s): %s" % (failure.node, failure.error)
            elif failure is not None:  # what makemigrations writes is zero: the differences are the finding
                found = [d.line() for group in failure.by_app.values() for d in group]
                self.note("the regenerated migrations migrate to another schema than the original's "
                          "(%d difference(s)): %s%s" % (len(found), "; ".join(found[:_SHOWN]),
                                                        "; and %d more" % (len(found) - _SHOWN)
                                                        if len(found) > _SHOWN else ""))
        if after is None:
            backup.restore()
            self.note("zero failed, migrations restored: " + error)
            return [self.result(a, "failed", error, self.before, self.before) for a in self.labels]
        self.losses = losses
        results = []
        for app in self.labels:
            mine = [loss for loss in losses if loss["app"] == app]
            reasons = ["data operations dropped: %d" % len(mine)] if mine else []
            if outside[app]:
                reasons.append("replaces the old migrations, which %d migration(s) of other apps name: %s"
                               % (len(outside[app]), outside[app][0]))
            result = self.result(app, "regenerated", "; ".join(reasons), self.before, after)
            result.outside_dependents = outside[app]
            results.append(result)
        self.note(losses_line(losses))
        return results

    def old_names(self, app: str) -> list[tuple[str, str]]:
        """What the new 0001_initial replaces: the app's old migrations but its own name (a
        migration cannot replace itself; a dependency on the old 0001_initial finds the new one)."""
        used_names = used(self.before, app)
        return [(app, n) for n in used_names + [n for n in on_disk(self.before, app) if n not in used_names]
                if n != STUB]

    def stamp(self, text: str, app: str, initial: bool = False) -> str:
        names = self.old_names(app)
        return add_replaces(text, names, initial=initial) if names else text

    def plant_stubs(self, outside: dict[str, list[str]]) -> None:
        """An empty `0001_initial` replacing the old migrations, in each app other apps' migrations
        name: without it the project does not load, and makemigrations refuses to run."""
        for app, named in outside.items():
            if named:
                text = _STUB if self.line.at_least("1.9") else _STUB.replace("    initial = True\n\n", "")
                (self.migrations_dir(app) / (STUB + ".py")).write_text(self.stamp(text, app), encoding="utf-8")

    def merge_stubs(self, outside: dict[str, list[str]]) -> str:
        """Each stub's place taken by the first migration makemigrations wrote after it, which
        keeps `replaces` (and `initial`); "" or why it could not."""
        mapping, moved = {}, []
        for app, named in outside.items():
            written = [n for n in self.files(app) if n != STUB]
            if not named or not written:
                continue  # no models: the empty stub is the app's whole history
            first = self.migrations_dir(app) / (written[0] + ".py")
            try:
                text = rewrite_dependencies(first.read_text(encoding="utf-8"), {(app, STUB): None})
                text = self.stamp(text, app, initial=self.line.at_least("1.9"))
            except PortingError as failure:
                return "cannot give %s's new migration the old names: %s" % (app, failure)
            (self.migrations_dir(app) / (STUB + ".py")).write_text(text, encoding="utf-8")
            first.unlink()
            mapping[(app, written[0])] = (app, STUB)
            moved.append("%s.%s" % (app, written[0]))
            self.on_note("  %s: %s becomes %s and replaces the %d old migrations (%s)"
                         % (app, written[0], STUB, len(self.old_names(app)), named[0]))
        for app in self.labels if mapping else []:
            for name in self.files(app):
                path = self.migrations_dir(app) / (name + ".py")
                try:
                    text = path.read_text(encoding="utf-8")
                    new = rewrite_dependencies(text, mapping)
                except PortingError as failure:
                    return "cannot repoint %s after renaming %s: %s" % (path.name, ", ".join(moved), failure)
                if new != text:
                    path.write_text(new, encoding="utf-8")
        return ""


STUB = "0001_initial"
_SHOWN = 6  # schema differences named in the note (the run's validation stores them all)
_STUB = """from django.db import migrations


class Migration(migrations.Migration):

    initial = True

    dependencies = []

    operations = []
"""


def dropped(info: dict, labels: list[str]) -> list[dict]:
    """Every RunPython and RunSQL of the migrations the loader uses in `labels`, in plan order:
    {"app", "migration", "operation", "name", "reversible", "elidable"}."""
    out = []
    for app, name in info["plan"]:
        if app not in labels:
            continue
        for entry in info.get("data", {}).get("%s.%s" % (app, name), []):
            out.append({"app": app, "migration": name, "operation": entry["operation"], "name": entry["name"],
                        "reversible": entry["reversible"], "elidable": entry.get("elidable", False)})
    return out


def losses_line(losses: list[dict]) -> str:
    """"zero drops 12 data operations of 10 migrations: 9 RunPython, 3 RunSQL, 2 of them elidable (...)"."""
    if not losses:
        return "zero drops no data operations: the old migrations have no RunPython or RunSQL"
    kinds = {}
    for loss in losses:
        kinds[loss["operation"]] = kinds.get(loss["operation"], 0) + 1
    elidable = sum(1 for loss in losses if loss["elidable"])
    return "zero drops %d data operations of %d migrations: %s%s (each listed in the transform's losses)" % (
        len(losses), len({(loss["app"], loss["migration"]) for loss in losses}),
        ", ".join("%d %s" % (kinds[k], k) for k in sorted(kinds)),
        ", %d of them elidable" % elidable if elidable else "")


def _first_change(output: str) -> str:
    """The first "~ Alter field id on x" / "- Add field" line of a makemigrations dry run."""
    for line in output.splitlines():
        if line.strip()[:2] in ("- ", "~ ", "+ "):
            return line.strip()
    return last_line(output)
