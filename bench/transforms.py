"""Transformations of a generated project: squash, squash-final, migrations zero, optimize.

Each one copies the project and changes the copy with the target Django's own
commands (squashmigrations, makemigrations, optimizemigration), run in child
processes of the target environment on a scratch SQLite file, plus the manual
steps a Django engineer does by hand after them:

- `squash`: `squashmigrations` per project app (plan order, apps with >= 2
  migrations), then the "manual porting" Django asks for: the RunPython
  functions of the replaced migrations, and the module-level names they use,
  are copied into the squashed file under collision-free names
  (`insert_x_rows_1_0003`) and the operations point at the copies. The
  replaced files and `replaces` stay (Django's first step).
- `squash-final`: `squash`, then Django's follow-up: delete the replaced files,
  repoint every dependency on them at the squashed migration, drop `replaces`.
- `zero`: delete every migration of the project apps, `makemigrations` them
  again, check that `makemigrations --check` is clean. Data migrations are lost
  by design (the report says how many operations were dropped).
- `optimize` (Django >= 4.1): `optimizemigration` on every migration.

After each app the whole project is loaded again (bench/worker/graph.py: every
migration imports and the full plan has no cycle); an app whose step fails is
restored byte for byte and reported `failed` with a one-line reason, and the
next app goes on. Unusable input (unknown kind, optimize before 4.1, a project
that does not load) raises MigbenchError. See docs/transforms.md.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import MigbenchError
from ..targets import resolve_line
from .environments import Environment
from .validity import ProjectRunner, Step, project_env

TRANSFORMS = ("squash", "squash-final", "zero", "optimize")
GRAPH = Path(__file__).parent / "worker" / "graph.py"
MANIFEST = "migbench.json"
APPS_DIR = "apps"
_GRAPH_TIMEOUT = 1800
_COMMAND_TIMEOUT = 3600


# -- the report ---------------------------------------------------------------------


@dataclass
class AppResult:
    app: str
    status: str  # "squashed", "unchanged", "failed", "regenerated", "optimized"
    reason: str = ""  # one line
    migrations_before: int = 0  # migrations the loader uses
    migrations_after: int = 0
    operations_before: int | None = None
    operations_after: int | None = None
    files_before: int | None = None  # migration files on disk (a squash keeps the replaced ones)
    files_after: int | None = None


@dataclass
class TransformReport:
    kind: str
    django_version: str
    python_version: str
    wall_s: float  # seconds spent in the transforming commands (not in the checks)
    apps: list[AppResult]
    migrations_before: int
    migrations_after: int
    notes: list[str] = field(default_factory=list)

    def failed(self) -> list[AppResult]:
        return [a for a in self.apps if a.status == "failed"]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TransformReport":
        known = {f.name for f in fields(AppResult)}
        apps = [AppResult(**{k: v for k, v in a.items() if k in known}) for a in data.get("apps", [])]
        mine = {f.name for f in fields(cls)} - {"apps"}
        return cls(apps=apps, **{k: v for k, v in data.items() if k in mine})


# -- the graph worker -----------------------------------------------------------------


def graph_info(project: Path, env: Environment) -> dict:
    """bench/worker/graph.py's JSON for `project` on `env`; MigbenchError if it cannot load."""
    info, error = _graph(Path(project), env)
    if info is None:
        raise MigbenchError("the migrations of %s do not load on Django %s: %s"
                            % (project, env.django_version, error))
    return info


def _graph(project: Path, env: Environment) -> tuple[dict | None, str]:
    """(info, "") or (None, one-line error)."""
    with tempfile.TemporaryDirectory(prefix="migbench-graph-") as scratch:
        runner = ProjectRunner(project, env.python, Path(scratch) / "graph.sqlite3")
        try:
            done = subprocess.run([str(env.python), str(GRAPH), "--project", str(project),
                                   "--settings", runner.settings],
                                  cwd=project, env=runner.env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, errors="replace",
                                  timeout=_GRAPH_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None, "graph.py timed out after %ss" % _GRAPH_TIMEOUT
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    try:
        info = json.loads(lines[-1])
    except (IndexError, ValueError):
        return None, "graph.py crashed (exit %s): %s" % (done.returncode, _last_line(done.stderr))
    if not info.get("ok"):
        return None, info.get("error") or "graph.py failed"
    return info, ""


# -- entry point ----------------------------------------------------------------------


def transform(kind: str, source: Path, dest: Path, env: Environment, *, on_note=print) -> TransformReport:
    """Copy `source` to `dest` (which must not exist), transform the copy, report.

    Per-app failures are in the report; unusable input raises MigbenchError (and
    leaves no `dest`).
    """
    if kind not in TRANSFORMS:
        raise MigbenchError("unknown transformation %r; choose one of %s" % (kind, ", ".join(TRANSFORMS)))
    source, dest = Path(source), Path(dest)
    line = resolve_line(env.django_version)
    if kind == "optimize" and not line.has_optimizemigration:
        raise MigbenchError("optimizemigration needs Django >= 4.1; Django %s lacks it" % env.django_version)
    if not (source / MANIFEST).is_file():
        raise MigbenchError("%s is not a generated project (no %s); run migbench generate" % (source, MANIFEST))
    if dest.exists():
        raise MigbenchError("%s already exists; a transformation writes a new directory" % dest)
    labels = list(json.loads((source / MANIFEST).read_text(encoding="utf-8"))["apps"])
    shutil.copytree(source, dest, symlinks=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3", "migbench-transform.json"))
    try:
        with tempfile.TemporaryDirectory(prefix="migbench-transform-") as scratch:
            job = _Job(kind, dest, env, labels, Path(scratch) / "scratch.sqlite3", on_note)
            return job.run()
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


class _Job:
    def __init__(self, kind, project: Path, env: Environment, labels, database: Path, on_note):
        self.kind, self.project, self.env, self.on_note = kind, project, env, on_note
        self.line = resolve_line(env.django_version)
        self.runner = ProjectRunner(project, env.python, database)
        self.wall = 0.0
        self.notes: list[str] = []
        for label in labels:
            if not self.migrations_dir(label).is_dir():
                raise MigbenchError("%s has no migrations directory for app %r" % (project, label))
        before, error = _graph(project, env)
        if before is None:
            raise MigbenchError("the migrations of %s do not load on Django %s: %s"
                                % (project, env.django_version, error))
        self.before = before
        ordered = [a for a in before["apps"] if a in labels]
        self.labels = ordered + [a for a in labels if a not in ordered]

    # -- helpers --
    def migrations_dir(self, app: str) -> Path:
        return self.project / APPS_DIR / app / "migrations"

    def files(self, app: str) -> list[str]:
        return sorted(p.stem for p in self.migrations_dir(app).glob("*.py") if p.name != "__init__.py")

    def manage(self, what: str, *args: str) -> Step:
        step = self.runner.manage(what, *args, timeout=_COMMAND_TIMEOUT)
        self.wall += step.seconds
        return step

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.on_note(text)

    def result(self, app: str, status: str, reason: str, before: dict, after: dict) -> AppResult:
        used_before, used_after = _used(before, app), _used(after, app)
        return AppResult(app, status, reason, len(used_before), len(used_after),
                         _operations(before, app, used_before), _operations(after, app, used_after),
                         files_before=len(_on_disk(before, app)), files_after=len(self.files(app)))

    def check(self) -> tuple[dict | None, str]:
        return _graph(self.project, self.env)

    def run(self) -> TransformReport:
        started = "%s on %s: Django %s / Python %s" % (self.kind, self.project.name,
                                                      self.env.django_version, self.env.python_version)
        self.on_note("transform " + started)
        apps = {"zero": self.zero, "squash": self.squash, "squash-final": self.squash_final,
                "optimize": self.optimize}[self.kind]()
        self.summary(apps)
        return TransformReport(
            self.kind, self.env.django_version, self.env.python_version, round(self.wall, 3), apps,
            sum(a.migrations_before for a in apps), sum(a.migrations_after for a in apps), self.notes)

    # -- zero --
    def zero(self) -> list[AppResult]:
        original = self.makemigrations_clean()
        if not original.ok:
            self.note("the original migrations do not match the models on Django %s (makemigrations finds "
                      "changes: %s): the regenerated ones follow the models, so the schema will differ"
                      % (self.env.django_version, _first_change(original.output)))
        backup = _Backup(self.migrations_dir(a) for a in self.labels)
        for app in self.labels:
            for path in self.migrations_dir(app).iterdir():
                if path.name == "__pycache__":
                    shutil.rmtree(path)
                elif path.name != "__init__.py" and path.suffix in (".py", ".pyc"):
                    path.unlink()
        step = self.manage("makemigrations", "makemigrations", *self.labels)
        after, error = self.check() if step.ok else (None, "makemigrations failed: " + _last_line(step.output))
        if after is not None:
            clean = self.makemigrations_clean()
            if not clean.ok:
                after, error = None, "makemigrations still finds changes after regenerating: " + _last_line(
                    clean.output)
        if after is not None:
            ok, node, failure = self.migrate_check()
            if not ok:
                after, error = None, "the regenerated migrations do not migrate (%s): %s" % (node, failure)
        if after is None:
            backup.restore()
            self.note("zero failed, migrations restored: " + error)
            return [self.result(a, "failed", error, self.before, self.before) for a in self.labels]
        dropped = {"RunPython": 0, "RunSQL": 0}
        for key, counts in self.before.get("data_operations", {}).items():
            app, name = key.split(".", 1)
            if app in self.labels and [app, name] in self.before["plan"]:
                for kind, n in counts.items():
                    dropped[kind] = dropped.get(kind, 0) + n
        self.note("zero drops the data migrations by design: %d RunPython and %d RunSQL operations"
                  % (dropped["RunPython"], dropped["RunSQL"]))
        results = []
        for app in self.labels:
            data = sum(sum(c.values()) for k, c in self.before.get("data_operations", {}).items()
                       if k.split(".", 1)[0] == app and k.split(".", 1)[1] in _used(self.before, app))
            reason = "data operations dropped: %d" % data if data else ""
            results.append(self.result(app, "regenerated", reason, self.before, after))
        return results

    def makemigrations_clean(self) -> Step:
        if self.line.has_makemigrations_check:
            return self.runner.manage("makemigrations --check", "makemigrations", "--check", "--dry-run")
        return self.runner.manage("makemigrations --dry-run", "makemigrations", "--dry-run",
                                  accept=lambda code, out: code == 0 and "No changes detected" in out)

    # -- squash --
    def squash(self) -> list[AppResult]:
        results, state = [], self.before
        self.backups: dict[str, _Backup] = {}
        for app in self.labels:
            result, state = self.squash_app(app, state)
            results.append(result)
            self.on_note("  %s: %s %s" % (app, result.status, result.reason))
        # A squashed migration runs in one schema editor: SQL Django defers to its end (unique_together
        # indexes of CreateModel...) is not there yet for a later operation that needs it. Only a real
        # migrate shows it: undo the app whose squashed migration fails, and try again.
        while any(r.status == "squashed" for r in results):
            ok, node, error = self.migrate_check()
            if ok:
                break
            app = node.split(".", 1)[0] if node else None
            index = next((i for i, r in enumerate(results) if r.app == app and r.status == "squashed"
                          and node.split(".", 1)[1] in _used(state, app)), None)
            if index is None:
                self.note("migrate from empty fails in %s, a migration squash did not write: %s" % (node, error))
                break
            self.backups[app].restore()
            state, graph_error = self.check()
            if state is None:
                raise MigbenchError("restoring app %s left %s unloadable: %s" % (app, self.project, graph_error))
            results[index] = self.result(app, "failed", "the squashed migration does not migrate: " + error,
                                         self.before, state)
            self.on_note("  %s: %s %s" % (app, results[index].status, results[index].reason))
        return results

    def migrate_check(self) -> tuple[bool, str | None, str]:
        """migrate from an empty scratch database: (ok, "app.name" it failed in or None, last error line)."""
        database = self.runner.database.with_name("migrate-check.sqlite3")
        if database.exists():
            database.unlink()
        try:
            done = subprocess.run([str(self.env.python), "manage.py", "migrate", "--noinput"],
                                  cwd=self.project, env=project_env(database), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, errors="replace", timeout=_COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            return False, None, "migrate timed out after %ss" % _COMMAND_TIMEOUT
        if done.returncode == 0:
            return True, None, ""
        applying = re.findall(r"Applying (\S+?)\.\.\.", done.stdout)
        return False, (applying[-1] if applying else None), _last_line(done.stdout)

    def summary(self, results: list[AppResult]) -> None:
        counts = {}
        for result in results:
            counts[result.status] = counts.get(result.status, 0) + 1
        self.note("%s: %s of %d apps" % (self.kind, ", ".join(
            "%d %s" % (n, status) for status, n in sorted(counts.items())), len(results)))

    def squash_app(self, app: str, state: dict) -> tuple[AppResult, dict]:
        used = _used(state, app)
        if len(used) < 2:
            return self.result(app, "unchanged", "%d migration: nothing to squash" % len(used), state, state), state
        folder = self.migrations_dir(app)
        backup = _Backup([folder])
        existing = set(self.files(app))
        step = self.manage("squashmigrations %s" % app, "squashmigrations", "--noinput", app, used[-1])

        def fail(reason: str):
            backup.restore()
            return self.result(app, "failed", reason, state, state), state

        if not step.ok:
            return fail("squashmigrations failed: " + _last_line(step.output))
        created = sorted(set(self.files(app)) - existing)
        if len(created) != 1:
            return fail("squashmigrations wrote %d files, expected 1: %s" % (len(created), ", ".join(created)))
        squashed = created[0]
        path = folder / (squashed + ".py")
        try:
            ported = port_file(path, self.project)
        except PortingError as error:
            return fail("manual porting failed: %s" % error)
        after, error = self.check()
        if after is None:
            return fail(_graph_reason(error, app))
        if [app, squashed] not in after["plan"]:
            return fail("the squashed migration %s.%s is not used by the loader" % (app, squashed))
        reason = "RunPython functions ported: %d" % ported if ported else ""
        self.backups[app] = backup
        return self.result(app, "squashed", reason, state, after), after

    # -- squash-final --
    def squash_final(self) -> list[AppResult]:
        results = self.squash()
        state, error = self.check()
        if state is None:  # every squash was checked: this is a bug, not a per-app failure
            raise MigbenchError("squash left %s unloadable: %s" % (self.project, error))
        for index, result in enumerate(results):
            if result.status != "squashed":
                continue
            app = result.app
            squashed = [k for k in state["replaces"] if k.split(".", 1)[0] == app
                        and k.split(".", 1)[1] in _used(state, app)]
            journal = _Journal()
            error = ""
            try:
                for key in squashed:
                    self.finalize(key, [tuple(r) for r in state["replaces"][key]], journal)
            except PortingError as failure:
                error = "follow-up failed: %s" % failure
            after, graph_error = self.check() if not error else (None, error)
            if after is None:
                journal.revert()
                reason = graph_error if error else "follow-up failed: " + _graph_reason(graph_error, app)
                results[index] = AppResult(**{**asdict(result), "status": "failed",
                                              "reason": reason + " (squashed migration kept with replaces)",
                                              "files_after": len(self.files(app))})
            else:
                state = after
                results[index] = AppResult(**{**asdict(result), "files_after": len(self.files(app)),
                                              "migrations_after": len(_used(after, app))})
            self.on_note("  %s: %s %s" % (app, results[index].status, results[index].reason))
        return results

    def finalize(self, key: str, replaced: list[tuple[str, str]], journal: "_Journal") -> None:
        app, name = key.split(".", 1)
        target = (app, name)
        for old_app, old_name in replaced:
            old = self.migrations_dir(old_app) / (old_name + ".py")
            if old.exists():
                journal.remove(old)
        mapping = {r: target for r in replaced}
        squashed = self.migrations_dir(app) / (name + ".py")
        for label in self.labels:
            for path in sorted(self.migrations_dir(label).glob("*.py")):
                if path.name == "__init__.py":
                    continue
                text = path.read_text(encoding="utf-8")
                if path != squashed and not any(old in text for _, old in replaced):
                    continue  # cannot name a replaced migration: no need to parse it
                new = rewrite_dependencies(text, mapping)
                if path == squashed:
                    new = remove_replaces(new)
                if new != text:
                    journal.write(path, new)

    # -- optimize --
    def optimize(self) -> list[AppResult]:
        state = self.before
        self.changed: dict[tuple[str, str], bytes] = {}  # rewritten migration -> its original bytes
        tally = {app: {"shrank": [], "ported": 0, "problems": []} for app in self.labels}
        for app in self.labels:
            for name in _used(state, app):
                if state["operations"].get("%s.%s" % (app, name), 0) < 2:
                    continue  # one operation cannot be optimized
                outcome, state = self.optimize_one(app, name, state)
                if outcome == "shrank" or outcome.startswith("ported:"):
                    tally[app]["shrank"].append(name)
                    tally[app]["ported"] += int(outcome.split(":")[1]) if ":" in outcome else 0
                elif outcome != "same":
                    tally[app]["problems"].append(outcome)
            self.on_note("  %s: %d of %d migrations optimized" % (app, len(tally[app]["shrank"]),
                                                                 len(_used(state, app))))
        while self.changed:  # as for squash: only a real migrate shows a rewrite that cannot run
            ok, node, error = self.migrate_check()
            if ok:
                break
            key = tuple(node.split(".", 1)) if node else None
            if key not in self.changed:
                self.note("migrate from empty fails in %s, a migration optimize did not rewrite: %s" % (node, error))
                break
            app, name = key
            (self.migrations_dir(app) / (name + ".py")).write_bytes(self.changed.pop(key))
            tally[app]["shrank"].remove(name)
            tally[app]["problems"].append("%s: the optimized migration does not migrate: %s" % (name, error))
            state, graph_error = self.check()
            if state is None:
                raise MigbenchError("restoring %s left %s unloadable: %s" % (node, self.project, graph_error))
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

    def optimize_one(self, app: str, name: str, state: dict) -> tuple[str, dict]:
        """"same", "shrank", "ported:N", or the one-line reason it was left as it was."""
        folder = self.migrations_dir(app)
        path = folder / (name + ".py")
        original = path.read_bytes()
        existing = set(self.files(app))
        step = self.manage("optimizemigration %s %s" % (app, name), "optimizemigration", app, name)

        def fail(reason: str):
            for extra in set(self.files(app)) - existing:
                (folder / (extra + ".py")).unlink()
            path.write_bytes(original)
            return "%s: %s" % (name, reason), state

        if not step.ok:
            return fail("optimizemigration failed: " + _last_line(step.output))
        created = sorted(set(self.files(app)) - existing)
        ported = 0
        if created:
            # Manual porting needed: Django wrote <name>_optimized.py replacing <name>.
            # Port the functions into it and put it in place of the original, as by hand.
            if created != [name + "_optimized"]:
                return fail("optimizemigration wrote unexpected files: %s" % ", ".join(created))
            written = folder / (created[0] + ".py")
            try:
                ported = port_file(written, self.project)
                text = remove_replaces(written.read_text(encoding="utf-8"))
            except PortingError as error:
                return fail("manual porting failed: %s" % error)
            path.write_text(text, encoding="utf-8")
            written.unlink()
        elif path.read_bytes() == original:
            return "same", state
        after, error = self.check()
        if after is None:
            return fail(_graph_reason(error, app))
        key = "%s.%s" % (app, name)
        if after["operations"].get(key, 0) >= state["operations"].get(key, 0):
            return "same", after
        self.changed[(app, name)] = original
        return ("ported:%d" % ported if created else "shrank"), after


# -- graph helpers --------------------------------------------------------------------


def _used(info: dict, app: str) -> list[str]:
    """Names of `app`'s migrations the loader uses, in plan order."""
    return [name for label, name in info["plan"] if label == app]


def _on_disk(info: dict, app: str) -> list[str]:
    return [k.split(".", 1)[1] for k in info["operations"] if k.split(".", 1)[0] == app]


def _operations(info: dict, app: str, names: list[str]) -> int:
    return sum(info["operations"].get("%s.%s" % (app, name), 0) for name in names)


_CYCLE = re.compile(r"CircularDependencyError: (.*)")
_CYCLE_SHOWN = 8


def _graph_reason(error: str, app: str) -> str:
    """One line naming the cause; a dependency cycle names the other app(s) and the nodes."""
    match = _CYCLE.search(error)
    if not match:
        if "SyntaxError" in error or "ImportError" in error or "ModuleNotFoundError" in error:
            return "the squashed migration does not import: " + error
        return "the project no longer loads: " + error
    nodes = [n.strip() for n in match.group(1).split(",") if n.strip()]
    if nodes:  # Django walks sets: start the cycle at its smallest node so the line is stable
        first = nodes.index(min(nodes))
        nodes = nodes[first:] + nodes[:first]
    others = sorted({n.split(".", 1)[0] for n in nodes} - {app}) or [app]
    shown = nodes if len(nodes) <= _CYCLE_SHOWN else (
        nodes[:_CYCLE_SHOWN - 2] + ["... (%d migrations in the cycle)" % len(nodes)] + nodes[-1:])
    return "circular dependency with app%s %s: %s" % (
        "s" if len(others) > 1 else "", ", ".join("'%s'" % o for o in others), " -> ".join(shown))


def _first_change(output: str) -> str:
    """The first "~ Alter field id on x" / "- Add field" line of a makemigrations dry run."""
    for line in output.splitlines():
        if line.strip()[:2] in ("- ", "~ ", "+ "):
            return line.strip()
    return _last_line(output)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


# -- restoring --------------------------------------------------------------------------


class _Backup:
    """Whole directories, copied aside; restore() puts them back exactly (bytes and mtimes)."""

    def __init__(self, folders):
        self.root = Path(tempfile.mkdtemp(prefix="migbench-backup-"))
        self.folders = []
        for index, folder in enumerate(folders):
            shutil.copytree(folder, self.root / str(index), symlinks=True)
            self.folders.append(folder)

    def restore(self) -> None:
        for index, folder in enumerate(self.folders):
            shutil.rmtree(folder)
            shutil.copytree(self.root / str(index), folder, symlinks=True)

    def __del__(self):
        shutil.rmtree(self.root, ignore_errors=True)


class _Journal:
    """Files changed or removed one by one; revert() puts the old bytes back."""

    def __init__(self):
        self.saved: dict[Path, bytes] = {}

    def _keep(self, path: Path) -> None:
        if path not in self.saved:
            self.saved[path] = path.read_bytes()

    def write(self, path: Path, text: str) -> None:
        self._keep(path)
        path.write_bytes(text.encode("utf-8"))

    def remove(self, path: Path) -> None:
        self._keep(path)
        path.unlink()

    def revert(self) -> None:
        for path, data in self.saved.items():
            path.write_bytes(data)


# -- manual porting ------------------------------------------------------------------------


class PortingError(Exception):
    """The squashed file cannot be ported automatically (the reason is one line)."""


_PORTING_COMMENT = re.compile(
    r"\n*# Functions from the following migrations need manual copying\.\n(?:#.*\n)*?"
    r"# RunPython operations to refer to the local versions:\n((?:# .*\n)+)")


_MODULE_REFERENCE = re.compile(r"(?<![\w.])((?:[A-Za-z_]\w*\.)+\d\w*)\.[A-Za-z_]\w*")


def port_file(path: Path, project: Path) -> int:
    """Port the functions a squashed (or optimized) file references in place; return how many."""
    text = path.read_text(encoding="utf-8")
    modules = referenced_modules(text)
    if not modules:
        return 0
    sources = {}
    for module in modules:
        source = project.joinpath(*module.split(".")).with_suffix(".py")
        if not source.is_file():
            raise PortingError("the migration module %s is not at %s" % (module, source))
        sources[module] = source.read_text(encoding="utf-8")
    new, count = port_functions(text, sources)
    path.write_text(new, encoding="utf-8")
    return count


def referenced_modules(text: str) -> list[str]:
    """The migration modules Django's "need manual copying" comment lists (every line 1.8-6.0
    writes it whenever an operation refers to a function of a migration module)."""
    match = _PORTING_COMMENT.search(text)
    return sorted({line[2:].strip() for line in match.group(1).splitlines()}) if match else []


def port_functions(text: str, sources: dict[str, str]) -> tuple[str, int]:
    """Copy what `text` references in `sources` (module name -> source) into `text`.

    Every `module.name` reference is replaced by a local copy of `name`; the
    module-level definitions it needs (functions, constants, classes, imports)
    come along in source order, non-import names suffixed with the migration's
    number (`_0003`, or its whole name when two numbers clash) so copies from
    different migrations cannot collide. Returns (new text, references ported).
    """
    numbers = [m.rsplit(".", 1)[-1].split("_", 1)[0] for m in sources]
    suffixes = {}
    for module in sorted(sources):
        migration = module.rsplit(".", 1)[-1]
        number = migration.split("_", 1)[0]
        suffixes[module] = "_" + (number if numbers.count(number) == 1 else re.sub(r"\W", "_", migration))
    squashed = _Module(text, "<squashed>")
    taken = set(squashed.bindings)
    imported = {n: o for n, o in squashed.bindings.items() if isinstance(o, tuple)}
    blocks, imports, future, count = [], [], set(), 0
    for module in sorted(sources):
        pattern = re.compile(r"(?<![\w.])%s\.([A-Za-z_]\w*)" % re.escape(module))
        wanted = sorted(set(pattern.findall(text)))
        if not wanted:
            continue
        parsed = _Module(sources[module], module)
        missing = [w for w in wanted if w not in parsed.bindings]
        if missing:
            raise PortingError("%s has no top-level %s" % (module, ", ".join(missing)))
        future |= parsed.future
        needed = parsed.closure(wanted)
        for name in sorted(n for n in needed if parsed.is_import(n)):
            origin = parsed.bindings[name]
            if name in taken and not _same_binding(imported.get(name), origin):
                raise PortingError("%s imports %r, which the squashed file binds otherwise" % (module, name))
            plain = origin[1].startswith("import ") and " as " not in origin[1]
            present = _has_line(text, origin[1]) if plain else imported.get(name) == origin
            if origin[1] not in imports and not present:
                imports.append(origin[1])
            imported[name] = origin
            taken.add(name)
        renames = {}
        for name in sorted(n for n in needed if not parsed.is_import(n)):
            new = name + suffixes[module]
            while new in taken:
                new += "_"
            renames[name] = new
            taken.add(new)
        blocks.append("# Ported from %s\n%s" % (module, parsed.copy(needed, renames).rstrip("\n") + "\n"))
        text = pattern.sub(lambda m: renames.get(m.group(1), m.group(1)), text)
        count += len(wanted)
    left = [m for m in sources if re.search(r"(?<![\w.])%s\." % re.escape(m), text)]
    if left:
        raise PortingError("references left to %s" % ", ".join(left))
    text = _PORTING_COMMENT.sub(
        lambda m: "\n\n# RunPython functions ported by hand (by migbench) from:\n"
        + "".join("# %s\n" % module for module in sorted(sources)), text, count=1)
    ported = "\n".join(imports) + ("\n\n\n" if imports else "") + "\n\n".join(blocks)
    match = re.search(r"^class Migration\(", text, re.M)
    if not match:
        raise PortingError("no `class Migration(` in the squashed file")
    head = text[:match.start()].rstrip("\n")
    text = head + "\n" + ("\n" if imports else "\n\n") + ported.rstrip("\n") + "\n\n\n" + text[match.start():]
    text = _add_future(text, future - _Module(text, "").future)
    if any(ord(c) > 127 for c in text) and not re.search(r"coding[:=]", "\n".join(text.split("\n")[:2])):
        text = "# -*- coding: utf-8 -*-\n" + text
    return text, count


def _same_binding(a, b) -> bool:
    """Two imports bind a name to the same object: same line, or both `import pkg...` of one root."""
    if a is None or b is None:
        return False
    if a == b:
        return True
    plain = [x[1].startswith("import ") and " as " not in x[1] for x in (a, b)]
    return all(plain)


def _has_line(text: str, statement: str) -> bool:
    return re.search(r"^%s$" % re.escape(statement), text, re.M) is not None


def _add_future(text: str, features: set[str]) -> str:
    if not features:
        return text
    line = "from __future__ import %s\n" % ", ".join(sorted(features))
    lines = text.splitlines(keepends=True)
    at = 0
    while at < len(lines) and (lines[at].startswith("#") or not lines[at].strip()):
        at += 1
    tree = ast.parse(text)
    if tree.body and isinstance(tree.body[0], ast.Expr) and isinstance(getattr(tree.body[0], "value", None), ast.Constant) \
            and isinstance(tree.body[0].value.value, str):
        at = tree.body[0].end_lineno
    return "".join(lines[:at]) + line + "".join(lines[at:])


def _parse_lenient(source: str) -> ast.Module:
    """ast.parse; a squashed file Django left unimportable (`code=apps.x.migrations.0003_y.f`)
    is read with those references blanked out (same lines, other columns)."""
    try:
        return ast.parse(source)
    except SyntaxError:
        try:
            return ast.parse(_MODULE_REFERENCE.sub("None", source))
        except SyntaxError as error:
            raise PortingError("cannot parse the migration: %s" % error)


class _Module:
    """Top-level bindings of one module's source and what each needs."""

    def __init__(self, source: str, name: str):
        self.tree = _parse_lenient(source)
        self.lines = source.splitlines(keepends=True)
        self.name = name
        self.bindings: dict[str, object] = {}  # name -> ("import", text) or the defining statement
        self.statements: dict[str, list[ast.stmt]] = {}
        self.future: set[str] = set()
        for statement in self.tree.body:
            if isinstance(statement, ast.ImportFrom) and statement.module == "__future__":
                self.future |= {a.name for a in statement.names}
                continue
            for bound, origin in _bound(statement):
                self.bindings[bound] = origin
                self.statements.setdefault(bound, []).append(statement)

    def is_import(self, name: str) -> bool:
        return isinstance(self.bindings.get(name), tuple)

    def closure(self, wanted) -> set[str]:
        needed, todo = set(), list(wanted)
        while todo:
            name = todo.pop()
            if name in needed or name not in self.bindings:
                continue
            needed.add(name)
            if self.is_import(name):
                continue
            for statement in self.statements[name]:
                todo.extend(n for n in _free_names(statement) if n in self.bindings)
        return needed

    def import_lines(self, needed) -> list[str]:
        return [self.bindings[n][1] for n in sorted(needed) if self.is_import(n)]

    def copy(self, needed, renames: dict[str, str]) -> str:
        """The defining statements of `needed` (source order), renamed."""
        chosen = [s for s in self.tree.body
                  if not isinstance(s, (ast.Import, ast.ImportFrom))
                  and any(b in needed for b, _ in _bound(s))]
        out = []
        for statement in chosen:
            declared = {n for node in ast.walk(statement) if isinstance(node, ast.Global) for n in node.names}
            if declared & set(renames):
                raise PortingError("%s uses `global %s`" % (self.name, ", ".join(sorted(declared & set(renames)))))
            start = min([statement.lineno] + [d.lineno for d in getattr(statement, "decorator_list", [])])
            end = statement.end_lineno
            edits = []  # (line, byte column, old, new)
            for node, name in _global_refs(statement):
                if name in renames:
                    edits.append((node[0], node[1], name, renames[name]))
            chunk = [line.encode("utf-8") for line in self.lines[start - 1:end]]
            for lineno, column, old, new in sorted(edits, reverse=True):
                row = chunk[lineno - start]
                if row[column:column + len(old.encode())] != old.encode():
                    raise PortingError("cannot rename %s in %s line %d" % (old, self.name, lineno))
                chunk[lineno - start] = row[:column] + new.encode() + row[column + len(old.encode()):]
            out.append(b"".join(chunk).decode("utf-8").rstrip("\n") + "\n")
        return "\n\n".join(out)


def _bound(statement: ast.stmt):
    """(name, origin) pairs a top-level statement binds; imports carry ("import", normalised line)."""
    if isinstance(statement, ast.Import):
        for alias in statement.names:
            if alias.asname:
                yield alias.asname, ("import", "import %s as %s" % (alias.name, alias.asname))
            else:
                yield alias.name.split(".")[0], ("import", "import %s" % alias.name)
    elif isinstance(statement, ast.ImportFrom):
        module = "." * statement.level + (statement.module or "")
        for alias in statement.names:
            bound = alias.asname or alias.name
            yield bound, ("import", "from %s import %s%s" % (module, alias.name,
                                                            " as %s" % alias.asname if alias.asname else ""))
    elif isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield statement.name, statement
    else:
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                yield node.id, statement
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                yield node.name, statement


def _free_names(statement: ast.stmt) -> set[str]:
    return {name for _, name in _global_refs(statement)}


def _global_refs(statement: ast.stmt):
    """((line, byte column), name) of every module-scope name in a top-level statement:
    its own binding (def/class name included) and every use not shadowed by a local."""
    found = []

    def locals_of(function) -> set[str]:
        args = function.args
        names = {a.arg for a in args.args + args.kwonlyargs + getattr(args, "posonlyargs", [])}
        names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        if isinstance(function, ast.Lambda):
            return names
        declared = set()
        for node in ast.walk(function):
            if isinstance(node, ast.Global):
                declared |= set(node.names)
        for node in _walk_scope(function.body):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        return names - declared

    def visit(node, shadowed: set[str]) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if not shadowed and node is statement:
                found.append(((node.lineno, _def_column(node)), node.name))
            for child in getattr(node, "decorator_list", []):
                visit(child, shadowed)
            if isinstance(node, ast.ClassDef):
                for child in node.bases + node.keywords:
                    visit(child, shadowed)
                for child in node.body:
                    visit(child, shadowed)  # class bodies see module names (good enough here)
                return
            for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                visit(default, shadowed)
            inner = shadowed | locals_of(node)
            for child in node.body:
                visit(child, inner)
            return
        if isinstance(node, ast.Lambda):
            inner = shadowed | locals_of(node)
            visit(node.body, inner)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            inner = set(shadowed)
            for generator in node.generators:
                visit(generator.iter, inner)
                inner |= {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
                for condition in generator.ifs:
                    visit(condition, inner)
            for part in ("elt", "key", "value"):
                if hasattr(node, part):
                    visit(getattr(node, part), inner)
            return
        if isinstance(node, ast.Name):
            if node.id not in shadowed:
                found.append(((node.lineno, node.col_offset), node.id))
            return
        if isinstance(node, ast.Global):
            return  # renamed with the names it declares, below
        for child in ast.iter_child_nodes(node):
            visit(child, shadowed)

    visit(statement, set())
    return found


def _walk_scope(body):
    """Nodes of a function body, not descending into nested functions, lambdas or classes."""
    todo = list(body)
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        todo.extend(ast.iter_child_nodes(node))


def _def_column(node) -> int:
    """Byte column of the name in `def name(` / `class name(` on the node's first line."""
    return node.col_offset + (len("async def ") if isinstance(node, ast.AsyncFunctionDef)
                              else len("def ") if isinstance(node, ast.FunctionDef) else len("class "))


# -- squash-final follow-up: dependencies and replaces ---------------------------------------


def rewrite_dependencies(text: str, mapping: dict[tuple[str, str], tuple[str, str]]) -> str:
    """Point `dependencies` / `run_before` entries named in `mapping` at their new target."""
    try:
        tree = ast.parse(text)
    except SyntaxError as error:
        raise PortingError("cannot parse a migration: %s" % error)
    edits = []
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for statement in cls.body:
            if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name)
                    and statement.targets[0].id in ("dependencies", "run_before")
                    and isinstance(statement.value, (ast.List, ast.Tuple))):
                continue
            value = statement.value
            items, changed, seen = [], False, set()
            for element in value.elts:
                pair = _pair(element)
                if pair in mapping:
                    pair, changed = mapping[pair], True
                    piece = "('%s', '%s')" % pair
                else:
                    piece = _segment(text, element)
                if pair is not None:
                    if pair in seen:
                        changed = True
                        continue
                    seen.add(pair)
                items.append(piece)
            if not changed:
                continue
            open_, close = ("[", "]") if isinstance(value, ast.List) else ("(", ")")
            if value.lineno != value.end_lineno and items:
                indent = " " * (statement.col_offset + 4)
                body = "".join("%s%s,\n" % (indent, item) for item in items)
                new = "%s\n%s%s%s" % (open_, body, " " * statement.col_offset, close)
            else:
                new = open_ + ", ".join(items) + ("," if close == ")" and len(items) == 1 else "") + close
            edits.append((value, new))
    return _apply(text, edits)


def remove_replaces(text: str) -> str:
    """Drop the `replaces = [...]` attribute of the Migration class (and a blank line after it)."""
    tree = _parse_lenient(text)
    lines = text.splitlines(keepends=True)
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for statement in cls.body:
            if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == "replaces"):
                start, end = statement.lineno - 1, statement.end_lineno
                if end < len(lines) and not lines[end].strip() and start > 0 and not lines[start - 1].strip():
                    end += 1
                return "".join(lines[:start] + lines[end:])
    return text


def _pair(node) -> tuple[str, str] | None:
    if isinstance(node, ast.Tuple) and len(node.elts) == 2 and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return node.elts[0].value, node.elts[1].value
    return None


def _segment(text: str, node) -> str:
    return ast.get_source_segment(text, node)


def _apply(text: str, edits) -> str:
    """Replace each node's source span (byte offsets) by its new text."""
    if not edits:
        return text
    lines = [line.encode("utf-8") for line in text.splitlines(keepends=True)]
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    data = b"".join(lines)
    for node, new in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        start = offsets[node.lineno - 1] + node.col_offset
        end = offsets[node.end_lineno - 1] + node.end_col_offset
        data = data[:start] + new.encode("utf-8") + data[end:]
    return data.decode("utf-8")
