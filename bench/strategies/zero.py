"""`zero`: "migrations zero": every migration deleted and regenerated with `makemigrations`,
then `migrate` from empty; plus the deploy flow a team runs once on its existing databases.

The deploy flow, on a second database migrated with the *old* history: the
project apps' rows are cleared from django_migrations (through the engine),
`migrate --fake` records the new history, and then nothing may be left to do
(`migrate --check` from 4.0, `showmigrations` before, `migrate --list` on 1.7). Its verdict is stored
in the record's `deploy`. An app whose regenerated migration `replaces` its old
ones (third-party migrations name them: transforms/zero.py) keeps its rows: they
are what makes Django count the new migration as applied, and clearing them would
leave those third-party migrations applied before their dependency
(InconsistentMigrationHistory).

What zero drops (each RunPython and RunSQL) is the transformation's report,
stored in the record's `transform["losses"]`.
"""

from __future__ import annotations

import json
from pathlib import Path

from migbench.bench.measure.step import DEPLOY, SETUP, StepContext, StepSpec, run_step
from migbench.targets import DjangoLine

from .base import MIGRATE, Strategy
from .variants import REPORT


def deploy_steps(line: DjangoLine) -> tuple[StepSpec, StepSpec, StepSpec]:
    """(setup, fake, check); between setup and fake the project's rows are cleared."""
    check = (("migrate", "--check", "--noinput") if line.at_least("4.0") else line.list_migrations)
    return (
        StepSpec("deploy: migrate old history", SETUP, MIGRATE, project="original", database="deploy"),
        StepSpec("deploy: migrate --fake", DEPLOY, ("migrate", "--fake", "--noinput"), database="deploy"),
        StepSpec("deploy: %s" % " ".join(check[:2]), DEPLOY, check, database="deploy", verdict="nothing-to-do"),
    )


class Zero(Strategy):
    def deploy(self, ctx: StepContext, engine, line: DjangoLine, project_apps: list[str], on_note=print) -> dict:
        """Migrations zero on a database migrated with the old history: fake, then nothing to do."""
        on_note("  deploy flow: old history migrated, rows cleared, migrate --fake, check")
        setup, fake, check = deploy_steps(line)
        kept = replacing_apps(ctx.projects.get("variant"))
        if kept:
            on_note("  deploy flow: rows of %s kept (their new migration replaces the old ones)" % ", ".join(kept))
        database = ctx.databases[setup.database] = engine.fresh(ctx.workdir, setup.database, line)
        try:
            steps = [run_step(setup, ctx)]
            if steps[0].ok:
                engine.forget_migrations(database, [app for app in project_apps if app not in kept])
                steps.append(run_step(fake, ctx))
                if steps[-1].ok:
                    steps.append(run_step(check, ctx))
        finally:
            engine.drop(database)
        done = len(steps) == 3 and steps[-1].verdict == "nothing to do"
        return {"ok": done, "verdict": steps[-1].verdict if len(steps) == 3 else "did not run: %s failed"
                % steps[-1].name, "steps": [r.summary() for r in steps]}


def replacing_apps(variant: Path | None) -> list[str]:
    """The apps whose regenerated migration `replaces` the old ones, from the variant's report."""
    path = Path(variant) / REPORT if variant else None
    if path is None or not path.is_file():
        return []
    report = json.loads(path.read_text(encoding="utf-8"))
    return [a["app"] for a in report.get("apps", []) if a.get("outside_dependents")]


ZERO = Zero("zero", "delete every migration, makemigrations, migrate; plus --fake on a migrated database",
            transform="zero", dev_loop=True)
