"""`squash` and `squash-final`: squashmigrations per app, manual porting, Django's follow-up."""

from __future__ import annotations

from dataclasses import replace

from .base import Backup, Job, Journal
from .edits import remove_replaces, rewrite_dependencies
from .graphinfo import graph_reason, last_line, used
from .porting import PortingError, port_file
from .report import AppResult


def mentioned(error: str, squashed: dict) -> list[str]:
    """Squashed apps whose tables (`<label>_...`) the error message names."""
    import re

    return sorted(app for app in squashed if re.search(r"\b%s_\w+" % re.escape(app), error))


class Squash(Job):
    """`squashmigrations --noinput <app> <last>` per project app with >= 2 migrations, in plan
    order; replaced files and `replaces` stay (Django's first step)."""

    kind = "squash"

    def apply(self) -> list[AppResult]:
        results, state = [], self.before
        self.backups: dict[str, Backup] = {}
        for app in self.labels:
            result, state = self.squash_app(app, state)
            results.append(result)
            self.tell(result)
        # Undo the apps whose squashed migration cannot migrate, or migrates to another schema; again.
        while any(r.status == "squashed" for r in results):
            failure = self.verify()
            if failure is None:
                break
            squashed = {r.app: i for i, r in enumerate(results) if r.status == "squashed"}
            if not failure.by_app:  # migrate failed
                app, name = failure.node.split(".", 1) if failure.node else (None, None)
                culprits = [app] if app in squashed and name in used(state, app) else []
            else:
                culprits = sorted(a for a in failure.by_app if a in squashed)
            if not culprits and not failure.by_app:
                # The error surfaced in a migration squash did not write (SQLite re-checks
                # every table's indexes on a later ALTER TABLE): the table it names, else
                # undoing one squashed app at a time, tells whose squash broke it.
                culprits = mentioned(failure.error, squashed) or self.isolate(squashed, failure)
            if not culprits:
                self.note("after squash, %s%s, not in a migration squash wrote"
                          % ("migrate fails in %s: " % failure.node if failure.node else "", failure.error))
                break
            for app in culprits:
                self.backups[app].restore()
            state = self.reload("the squash of " + ", ".join(culprits))
            for app in culprits:
                reason = ("the squashed migration does not migrate: " + failure.error if not failure.by_app else
                          "the squashed migration migrates to another schema: " + failure.first(app))
                results[squashed[app]] = self.result(app, "failed", reason, self.before, state)
                self.tell(results[squashed[app]])
        return results

    def isolate(self, squashed: dict, failure) -> list[str]:
        """The squashed app whose undo makes `failure` go away (tried last squashed first), or []."""
        for app in reversed(list(squashed)):
            redo = Backup([self.migrations_dir(app)], self.scratch)
            self.backups[app].restore()
            self.reload("the squash of " + app)
            again = self.verify()
            redo.restore()
            if again is None or (again.node, again.error) != (failure.node, failure.error):
                self.note("after squash, migrate fails in %s; undoing %s's squash alone changes that"
                          % (failure.node, app))
                return [app]
        return []

    def squash_app(self, app: str, state: dict) -> tuple[AppResult, dict]:
        names = used(state, app)
        if len(names) < 2:
            return self.result(app, "unchanged", "%d migration: nothing to squash" % len(names), state, state), state
        folder = self.migrations_dir(app)
        backup = Backup([folder], self.scratch)
        existing = set(self.files(app))
        step = self.manage("squashmigrations %s" % app, "squashmigrations", "--noinput", app, names[-1])

        def fail(reason: str):
            backup.restore()
            return self.result(app, "failed", reason, state, state), state

        if not step.ok:
            return fail("squashmigrations failed: " + last_line(step.output))
        created = sorted(set(self.files(app)) - existing)
        if len(created) != 1:
            return fail("squashmigrations wrote %d files, expected 1: %s" % (len(created), ", ".join(created)))
        squashed = created[0]
        try:
            ported = port_file(folder / (squashed + ".py"), self.project, self.locate)
        except PortingError as error:
            return fail("manual porting failed: %s" % error)
        after, error = self.check()
        if after is None:
            return fail(graph_reason(error, app))
        if [app, squashed] not in after["plan"]:
            return fail("the squashed migration %s.%s is not used by the loader" % (app, squashed))
        self.backups[app] = backup
        reason = "RunPython functions ported: %d" % ported if ported else ""
        return self.result(app, "squashed", reason, state, after), after


class SquashFinal(Squash):
    """`squash`, then for each squashed app the follow-up Django's docs describe: delete the
    replaced files, repoint every dependency on them (in the apps it transforms) at the squashed
    migration, and drop `replaces`. A migration of an app it cannot edit (third-party) that names
    a replaced one keeps `replaces` in place, which Django resolves that name to. A follow-up
    that breaks the graph is reverted and reported."""

    kind = "squash-final"

    def apply(self) -> list[AppResult]:
        results = super().apply()
        state = self.reload("nothing")
        for index, result in enumerate(results):
            if result.status != "squashed":
                continue
            app = result.app
            keys = [k for k in state["replaces"] if k.split(".", 1)[0] == app and k.split(".", 1)[1] in used(state, app)]
            journal, error = Journal(), ""
            outside = self.outside_references(
                state, app, [n for key in keys for a, n in state["replaces"][key] if a == app])
            try:
                for key in keys:
                    self.finalize(key, [tuple(r) for r in state["replaces"][key]], journal, keep=bool(outside))
            except PortingError as failure:
                error = "follow-up failed: %s" % failure
            after, graph_error = (None, error) if error else self.check()
            if after is None:
                journal.revert()
                reason = error or "follow-up failed: " + graph_reason(graph_error, app)
                results[index] = replace(result, status="failed", files_after=len(self.files(app)),
                                         reason=reason + " (squashed migration kept with replaces)")
            else:
                state = after
                kept = ("replaces kept: %d migration(s) of other apps name replaced ones, first %s"
                        % (len(outside), outside[0])) if outside else ""
                results[index] = replace(result, files_after=len(self.files(app)),
                                         migrations_after=len(used(after, app)), outside_dependents=outside,
                                         reason="; ".join(r for r in (result.reason, kept) if r))
            self.tell(results[index])
        return results

    def finalize(self, key: str, replaced: list[tuple[str, str]], journal: Journal, keep: bool = False) -> None:
        """Delete `replaced`, repoint what names them at `key`, and drop its `replaces` unless `keep`."""
        app, name = key.split(".", 1)
        for old_app, old_name in replaced:
            old = self.migrations_dir(old_app) / (old_name + ".py")
            if old.exists():
                journal.remove(old)
        mapping = {r: (app, name) for r in replaced}
        squashed = self.migrations_dir(app) / (name + ".py")
        for label in self.labels:
            for path in sorted(self.migrations_dir(label).glob("*.py")):
                if path.name == "__init__.py":
                    continue
                text = path.read_text(encoding="utf-8")
                if path != squashed and not any(old in text for _, old in replaced):
                    continue  # cannot name a replaced migration: no need to parse it
                new = rewrite_dependencies(text, mapping)
                if path == squashed and not keep:
                    new = remove_replaces(new)
                if new != text:
                    journal.write(path, new)
