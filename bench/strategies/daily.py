"""The daily commands (`--dev-loop`): what developers wait for, on the database a strategy left.

Timed after a validated run, so `all` gives the "before" and each
transformation the "after": `makemigrations --check` (1.8/1.9: the dry run,
which must say "No changes detected"), `migrate --plan` (`showmigrations`
before 2.2), and the creation of the test database (`manage.py test` of one
no-op test; with zero tests Django >= 3.1 creates no test database).
"""

from __future__ import annotations

from migbench.bench.measure.step import DEV, StepSpec
from migbench.targets import DjangoLine


def dev_loop_steps(line: DjangoLine) -> list[StepSpec]:
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
