"""The ways to bring a database to the project's schema that migbench compares.

Every strategy runs on the same generated project (or a transformed copy of
it) and on a fresh database per run, and must end with the same schema as
`all`, the baseline (see bench/validation.py). What a strategy is:

- `all`: `migrate` from empty, what a fresh checkout or CI does.
- `per-app`: `migrate <app>` for every app in the order the full plan first
  reaches it (dependency order); each step recorded, the worst one named.
- `backward`: `migrate` forward (setup, not counted), then every app back to
  `zero`, dependents first. Django #34841: unapplying re-renders far more
  states than applying.
- `squash`: `squashmigrations` per app with the target Django (bench/transforms.py),
  then `migrate` from empty; apps that cannot be squashed stay as they were
  and are named in the record.
- `squash-final`: `squash` plus Django's follow-up step (replaced files
  deleted, dependencies repointed, `replaces` dropped).
- `zero`: "migrations zero": every migration deleted and regenerated with
  `makemigrations`, then `migrate` from empty; plus the deploy flow on a
  database migrated with the old history (clear its rows in
  django_migrations, `migrate --fake`, then nothing must be left to do).
- `optimize`: `optimizemigration` on every migration (Django >= 4.1).
- `floor`: the DDL a real `migrate` executes, replayed with sqlite3 alone:
  no Django, no state. The physical floor under every strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

from migbench.bench.measure.step import DEPLOY, DEV, MEASURED, SETUP, StepSpec
from migbench.errors import MigbenchError
from migbench.targets import DjangoLine


@dataclass(frozen=True)
class Strategy:
    name: str
    transform: str | None  # the bench/transforms.py kind applied to a copy of the project first
    dev_loop: bool  # does it change the project developers work with (so daily commands differ)?
    validation: str  # "schema": equal to the baseline; "emptied": the project's tables are gone
    min_django: str | None = None
    summary: str = ""

    def unsupported(self, line: DjangoLine) -> str | None:
        """Why this strategy cannot run on a Django line, or None."""
        if self.min_django and not line.at_least(self.min_django):
            return "strategy %s needs Django >= %s (Django %s lacks %s)" % (
                self.name, self.min_django, line.line,
                "optimizemigration" if self.name == "optimize" else "it")
        return None


STRATEGIES = {s.name: s for s in (
    Strategy("all", None, True, "schema", summary="migrate from empty"),
    Strategy("per-app", None, False, "schema", summary="migrate <app> for each app, in dependency order"),
    Strategy("backward", None, False, "emptied", summary="migrate, then every app back to zero"),
    Strategy("squash", "squash", True, "schema", summary="squashmigrations per app, then migrate"),
    Strategy("squash-final", "squash-final", True, "schema",
             summary="squash + delete the replaced files, drop replaces"),
    Strategy("zero", "zero", True, "schema",
             summary="delete every migration, makemigrations, migrate; plus --fake on a migrated database"),
    Strategy("optimize", "optimize", True, "schema", min_django="4.1",
             summary="optimizemigration on every migration, then migrate"),
    Strategy("floor", None, False, "schema", summary="the captured DDL replayed with sqlite3 only"),
)}
NAMES = tuple(STRATEGIES)


def get(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise MigbenchError("unknown strategy %r; available: %s" % (name, ", ".join(NAMES))) from None


def steps(strategy: Strategy, app_order: list[str], project_apps: list[str]) -> list[StepSpec]:
    """The measured steps of a strategy; `app_order` is every installed app with migrations,
    in the order the full forward plan first reaches it (contrib apps included)."""
    migrate = ("migrate", "--noinput")
    if strategy.name == "per-app":
        return [StepSpec("migrate %s" % app, MEASURED, ("migrate", app, "--noinput")) for app in app_order]
    if strategy.name == "backward":
        back = [app for app in reversed(app_order) if app in project_apps]
        return [StepSpec("migrate", SETUP, migrate)] + [
            StepSpec("%s to zero" % app, MEASURED, ("migrate", app, "zero", "--noinput")) for app in back]
    if strategy.name == "floor":
        return [StepSpec("replay DDL", MEASURED, kind="sql")]
    return [StepSpec("migrate", MEASURED, migrate)]


def dev_loop_steps(line: DjangoLine) -> list[StepSpec]:
    """What developers wait for daily, run on the migrated database the strategy left."""
    if line.has_makemigrations_check:
        makemigrations = ("makemigrations", "--check", "--dry-run")
    else:  # 1.8, 1.9: no --check; the dry run says "No changes detected"
        makemigrations = ("makemigrations", "--dry-run")
    plan = ("migrate", "--plan") if line.has_migrate_plan else ("showmigrations",)
    return [
        StepSpec("makemigrations --check", DEV, makemigrations, verdict="no-changes"),
        StepSpec("migrate --plan" if line.has_migrate_plan else "showmigrations", DEV, plan,
                 verdict="nothing-to-do"),
        StepSpec("test database", DEV, ("test", "migbench_testdb", "--noinput")),
    ]


def deploy_steps(line: DjangoLine) -> tuple[StepSpec, StepSpec, StepSpec]:
    """Migrations zero on a database migrated with the old history: (setup, fake, check).

    Between setup and fake the runner deletes the project apps' rows from
    django_migrations, as the reset's deploy does.
    """
    check = (("migrate", "--check", "--noinput") if line.at_least("4.0") else ("showmigrations",))
    return (
        StepSpec("deploy: migrate old history", SETUP, ("migrate", "--noinput"),
                 project="original", database="deploy"),
        StepSpec("deploy: migrate --fake", DEPLOY, ("migrate", "--fake", "--noinput"), database="deploy"),
        StepSpec("deploy: %s" % " ".join(check[:2]), DEPLOY, check, database="deploy",
                 verdict="nothing-to-do"),
    )
