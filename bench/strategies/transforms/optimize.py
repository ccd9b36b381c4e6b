"""`optimize` (Django >= 4.1): optimizemigration on every migration."""

from __future__ import annotations

from .base import Job
from .edits import remove_replaces
from .graphinfo import graph_reason, last_line, used
from .porting import PortingError, port_file
from .report import AppResult


class Optimize(Job):
    """`optimizemigration <app> <name>` on every migration with >= 2 operations (one operation
    cannot shrink), in plan order. When Django needs manual porting it writes
    `<name>_optimized.py` replacing `<name>`: the functions are ported into it, `replaces` is
    dropped, and it takes the original's place, as by hand. A rewrite that fails to load or to
    migrate is undone and reported in the app's reason."""

    kind = "optimize"

    def apply(self) -> list[AppResult]:
        state = self.before
        self.changed: dict[tuple[str, str], bytes] = {}  # rewritten migration -> its original bytes
        tally = {app: {"shrank": [], "ported": 0, "problems": []} for app in self.labels}
        for app in self.labels:
            for name in used(state, app):
                if state["operations"].get("%s.%s" % (app, name), 0) < 2:
                    continue
                outcome, ported, state = self.optimize_one(app, name, state)
                if outcome == "shrank":
                    tally[app]["shrank"].append(name)
                    tally[app]["ported"] += ported
                elif outcome != "same":
                    tally[app]["problems"].append(outcome)
            self.on_note("  %s: %d of %d migrations optimized" % (app, len(tally[app]["shrank"]),
                                                                 len(used(state, app))))
        while self.changed:  # undo the rewrites that cannot migrate or change the schema; again
            failure = self.verify()
            if failure is None:
                break
            if not failure.by_app:  # migrate failed
                culprits = [k for k in self.changed if "%s.%s" % k == failure.node]
                why = "the optimized migration does not migrate: " + failure.error
            else:
                culprits = [k for k in self.changed if k[0] in failure.by_app]
            if not culprits:
                self.note("after optimize, %s%s, not in a migration optimize rewrote"
                          % ("migrate fails in %s: " % failure.node if failure.node else "", failure.error))
                break
            for app, name in culprits:
                (self.migrations_dir(app) / (name + ".py")).write_bytes(self.changed.pop((app, name)))
                tally[app]["shrank"].remove(name)
                if failure.by_app:
                    why = "the optimized migrations of the app migrate to another schema: " + failure.first(app)
                tally[app]["problems"].append("%s: %s" % (name, why))
            state = self.reload("the optimization of " + ", ".join("%s.%s" % k for k in culprits))
        results = []
        for app in self.labels:
            shrank, ported, problems = tally[app]["shrank"], tally[app]["ported"], tally[app]["problems"]
            reason = []
            if ported:
                reason.append("RunPython functions ported: %d" % ported)
            if problems:
                reason.append("%d migration(s) left as they were: %s" % (len(problems), problems[0])
                              + (" (and %d more)" % (len(problems) - 1) if len(problems) > 1 else ""))
            results.append(self.result(app, "optimized" if shrank else "unchanged", "; ".join(reason),
                                       self.before, state))
        return results

    def optimize_one(self, app: str, name: str, state: dict) -> tuple[str, int, dict]:
        """("same" | "shrank" | the one-line reason it was left as it was, functions ported, graph)."""
        folder = self.migrations_dir(app)
        path = folder / (name + ".py")
        original = path.read_bytes()
        existing = set(self.files(app))
        step = self.manage("optimizemigration %s %s" % (app, name), "optimizemigration", app, name)

        def undo(outcome: str, graph: dict):
            for extra in set(self.files(app)) - existing:
                (folder / (extra + ".py")).unlink()
            path.write_bytes(original)
            return outcome, 0, graph

        def fail(reason: str):
            return undo("%s: %s" % (name, reason), state)

        if not step.ok:
            return fail("optimizemigration failed: " + last_line(step.output))
        created = sorted(set(self.files(app)) - existing)
        ported = 0
        if created:
            if created != [name + "_optimized"]:
                return fail("optimizemigration wrote unexpected files: %s" % ", ".join(created))
            written = folder / (created[0] + ".py")
            try:
                ported = port_file(written, self.project, self.locate)
                text = remove_replaces(written.read_text(encoding="utf-8"))
            except PortingError as error:
                return fail("manual porting failed: %s" % error)
            path.write_text(text, encoding="utf-8")
            written.unlink()
        elif path.read_bytes() == original:
            return "same", 0, state
        after, error = self.check()
        if after is None:
            return fail(graph_reason(error, app, "optimized"))
        key = "%s.%s" % (app, name)
        if after["operations"].get(key, 0) >= state["operations"].get(key, 0):
            return undo("same", state)  # nothing gained: keep the original text
        self.changed[(app, name)] = original
        return "shrank", ported, after
