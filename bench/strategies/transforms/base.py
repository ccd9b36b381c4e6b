"""What every transformation does around Django's command: the copy it works on, the
child processes, the checks after each step, and undoing a step that failed."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migbench.bench.engines import Database
from migbench.bench.engines.schema import Difference, Schema, diff
from migbench.bench.env.child import CommandResult, ProjectRunner, project_env
from migbench.bench.env.environments import Environment
from migbench.errors import MigbenchError
from migbench.targets import resolve_line

from .graphinfo import SCRATCH_ENGINE, last_line, named_from_outside, on_disk, operations, probe, used
from .layout import Layout
from .report import AppResult, TransformReport

COMMAND_TIMEOUT = 3600


class Job:
    """One transformation of the project copy `project`; subclasses implement apply()."""

    kind = ""

    def __init__(self, source: Path, project: Path, env: Environment, layout: Layout, scratch: Path, on_note,
                 engine=None, baseline: Schema | None = None):
        self.source, self.project, self.env, self.on_note = source, project, env, on_note
        self.layout, labels = layout, layout.labels
        self.engine = engine or SCRATCH_ENGINE  # where the copy must migrate and match the original
        # The original's schema on that engine: given by the caller when it has it (the run's
        # cached baseline), else migrated once here when first needed.
        self._baseline: Schema | None | bool = baseline if baseline is not None else False
        self.line = resolve_line(env.django_version)
        self.scratch = scratch
        self.runner = ProjectRunner(project, env.python, SCRATCH_ENGINE.fresh(scratch, "scratch", self.line))
        self.wall = 0.0
        self.notes: list[str] = []
        self.losses: list[dict] = []
        for label in labels:
            if not self.migrations_dir(label).is_dir():
                raise MigbenchError("%s has no migrations directory for app %r (%s); prepare the project again"
                                    % (project, label, layout.dirs[label]))
        if layout.left_alone:
            self.note("own apps without migrations, left alone: " + ", ".join(layout.left_alone))
        before, error = probe(project, env)
        if before is None:
            raise MigbenchError("the migrations of %s do not load on Django %s: %s"
                                % (project, env.django_version, error))
        self.before = before
        ordered = [a for a in before["apps"] if a in labels]  # plan order first
        self.labels = ordered + [a for a in labels if a not in ordered]

    def apply(self) -> list[AppResult]:
        raise NotImplementedError

    def run(self) -> TransformReport:
        self.on_note("transform %s on %s: Django %s / Python %s" % (
            self.kind, self.project.name, self.env.django_version, self.env.python_version))
        apps = self.apply()
        counts: dict[str, int] = {}
        for result in apps:
            counts[result.status] = counts.get(result.status, 0) + 1
        self.note("%s: %s of %d apps" % (self.kind, ", ".join(
            "%d %s" % (n, status) for status, n in sorted(counts.items())), len(apps)))
        return TransformReport(
            self.kind, self.env.django_version, self.env.python_version, round(self.wall, 3), apps,
            sum(a.migrations_before for a in apps), sum(a.migrations_after for a in apps), self.notes,
            self.losses)

    # -- helpers --
    def migrations_dir(self, app: str) -> Path:
        return self.layout.folder(self.project, app)

    def files(self, app: str) -> list[str]:
        """The app's migration files, as Django's loader sees them (names starting with _ or ~ are not)."""
        return sorted(p.stem for p in self.migrations_dir(app).glob("*.py") if p.name[0] not in "_~")

    def locate(self, module: str) -> Path | None:
        """The file of a migration module an own app's squashed file names (Django's porting comment):
        through the app's migrations module (MIGRATION_MODULES, a src/ layout), else from the root."""
        package, _, name = module.rpartition(".")
        for app, known in self.before.get("modules", {}).items():
            if known == package and app in self.layout.dirs:
                return self.migrations_dir(app) / (name + ".py")
        return None

    def outside_references(self, state: dict, app: str, names) -> list[str]:
        return named_from_outside(state, self.labels, app, names)

    def manage(self, what: str, *args: str) -> CommandResult:
        """A transforming command: its time counts in wall_s."""
        step = self.runner.manage(what, *args, timeout=COMMAND_TIMEOUT)
        self.wall += step.seconds
        return step

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.on_note(text)

    def tell(self, result: AppResult) -> None:
        self.on_note("  %s: %s %s" % (result.app, result.status, result.reason))

    def result(self, app: str, status: str, reason: str, before: dict, after: dict) -> AppResult:
        used_before, used_after = used(before, app), used(after, app)
        return AppResult(app, status, reason, len(used_before), len(used_after),
                         operations(before, app, used_before), operations(after, app, used_after),
                         files_before=len(on_disk(before, app)), files_after=len(self.files(app)))

    # -- checks --
    def check(self) -> tuple[dict | None, str]:
        """The whole project loads on the target and its plan has no cycle: (graph info, "") or (None, error)."""
        return probe(self.project, self.env)

    def reload(self, undone: str) -> dict:
        """The graph after undoing `undone`, which must load again."""
        state, error = self.check()
        if state is None:
            raise MigbenchError("undoing %s left %s unloadable: %s" % (undone, self.project, error))
        return state

    def verify(self) -> Failure | None:
        """Migrate the copy from empty and compare its schema with the original's; None if both hold.

        What the graph check cannot see: a squashed or optimized migration runs in one
        schema editor, and SQL Django defers to its end (a CreateModel's unique_together
        and Meta.indexes) is not there yet for a later AlterUniqueTogether or RemoveIndex of
        the same migration; Django 1.8-1.11 on SQLite drop the deferred indexes of an M2M
        table when a later operation of the same migration rebuilds its model's table.
        """
        database = self.engine.fresh(self.scratch, "migrate-check", self.line)
        try:
            ok, node, error = _migrate(self.project, self.env, database)
            if not ok:
                return Failure(node, error, {})
            baseline = self.baseline()
            if baseline is None:
                return None
            differences = diff(baseline, self.engine.snapshot(database))
        finally:
            self.engine.drop(database)
        if not differences:
            return None
        by_app: dict[str, list[Difference]] = {}
        for difference in differences:
            by_app.setdefault(self.app_of(difference), []).append(difference)
        return Failure(None, "%d schema difference(s) with the original, first: %s"
                       % (len(differences), differences[0].line()), by_app)

    def baseline(self) -> Schema | None:
        """The original project's schema after migrate from empty (once; None if it does not migrate)."""
        if self._baseline is False:
            database = self.engine.fresh(self.scratch, "baseline", self.line)
            try:
                ok, node, error = _migrate(self.source, self.env, database)
                self._baseline = self.engine.snapshot(database) if ok else None
            finally:
                self.engine.drop(database)
            if not ok:
                self.note("the original project does not migrate from empty on Django %s (%s: %s): "
                          "schemas are not compared" % (self.env.django_version, node, error))
        return self._baseline

    def app_of(self, difference: Difference) -> str | None:
        """The project app whose table a schema difference is about (longest `label_` prefix)."""
        table = re.sub(r"^(table|column|primary key|foreign key|index on|unique constraint on|check on) ", "",
                       difference.object)
        table = re.split(r"[.( ]", table, 1)[0]
        owners = [label for label in self.labels if table.startswith(label + "_")]
        return max(owners, key=len) if owners else None

    def makemigrations_clean(self) -> CommandResult:
        """makemigrations finds no changes in the transformed apps (before 1.10, which lacks --check:
        the dry run says so). Third-party apps are not asked: their pending changes are not ours."""
        if self.line.has_makemigrations_check:
            return self.runner.manage("makemigrations --check", "makemigrations", "--check", "--dry-run",
                                      *self.labels)
        return self.runner.manage("makemigrations --dry-run", "makemigrations", "--dry-run", *self.labels,
                                  accept=lambda code, out: code == 0 and "No changes detected" in out)


@dataclass
class Failure:
    """Why the transformed copy does not migrate to the original's schema."""

    node: str | None  # "app.name" migrate failed in, if it failed while applying one
    error: str  # one line
    by_app: dict[str | None, list[Difference]]  # it migrated; schema differences by the app owning the table

    def first(self, app: str) -> str:
        found = self.by_app[app]
        return "%s (%d difference(s))" % (found[0].line(), len(found))


def _migrate(project: Path, env: Environment, database: Database) -> tuple[bool, str | None, str]:
    """manage.py migrate on a fresh database: (ok, "app.name" it failed in or None, last error line)."""
    try:
        done = subprocess.run([str(env.python), "manage.py", "migrate", "--noinput"],
                              cwd=project, env=project_env(database), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace", timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False, None, "migrate timed out after %ss" % COMMAND_TIMEOUT
    if done.returncode == 0:
        return True, None, ""
    applying = re.findall(r"Applying (\S+?)\.\.\.", done.stdout)
    return False, (applying[-1] if applying else None), last_line(done.stdout)


class Backup:
    """Whole directories copied aside; restore() puts them back exactly (bytes and mtimes)."""

    def __init__(self, folders, scratch: Path):
        self.root = Path(tempfile.mkdtemp(prefix="backup-", dir=scratch))
        self.folders = []
        for index, folder in enumerate(folders):
            shutil.copytree(folder, self.root / str(index), symlinks=True)
            self.folders.append(folder)

    def restore(self) -> None:
        for index, folder in enumerate(self.folders):
            shutil.rmtree(folder)
            shutil.copytree(self.root / str(index), folder, symlinks=True)


class Journal:
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
