"""What a strategy is: a name, its measured steps, and what it needs and proves.

A strategy owns everything that is particular to it, so the run's executor
(bench/run/executor.py) never names one:
- `steps()`: the children it runs on the run's database, each a StepSpec
  (a manage.py command, or the floor's SQL replay) with a role that says what
  its time counts towards;
- `order()`: the app order `steps()` gets, and the note the record keeps
  about it (the baseline's plan order and no note, unless the strategy
  refines it: per-app);
- `transform`: the kind of transformation (bench/strategies/transforms/)
  applied to a copy of the project first, if any;
- `needs_capture`: it needs the baseline's captured DDL or app order;
- `adopts_baseline`: a finished run of it may become the baseline (a plain
  `migrate` is what the baseline is);
- `validation`: "schema" (the result equals the baseline) or "emptied" (the
  project's tables are gone, the rest untouched);
- `deploy()`: an extra check on a second database, after a validated run
  (migrations zero's deploy flow); None for the others.

Adding a strategy: one module that registers a Strategy (or a subclass that
overrides `steps` or `deploy`), imported in bench/strategies/__init__.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from migbench.bench.measure.step import MEASURED, StepSpec
from migbench.targets import DjangoLine

MIGRATE = ("migrate", "--noinput")


@dataclass(frozen=True)
class AppOrder:
    """The apps in the order `steps()` gets them, and what the record notes about it (the rule)."""

    apps: list[str]
    note: str | None = None


@dataclass(frozen=True)
class Strategy:
    name: str
    summary: str
    transform: str | None = None  # the transforms/ kind applied to a copy of the project first
    dev_loop: bool = False  # does it change the project developers work with (so daily commands differ)?
    validation: str = "schema"  # "schema": equal to the baseline; "emptied": the project's tables are gone
    needs_capture: bool = False  # needs the baseline's DDL or app order (not only its schema)
    adopts_baseline: bool = False  # its finished run's schema may become the baseline
    min_django: str | None = None
    requires: str = "it"  # what an older line lacks, for the skip message

    def unsupported(self, line: DjangoLine) -> str | None:
        """Why this strategy cannot run on a Django line, or None."""
        if self.min_django and not line.at_least(self.min_django):
            return "strategy %s needs Django >= %s (Django %s lacks %s)" % (
                self.name, self.min_django, line.line, self.requires)
        return None

    def order(self, base, project: Path, env, engine, on_note=print) -> AppOrder:
        """The app order for `steps()`: the baseline's (`base`, or None) plan order, no note.
        A strategy that must refine it (per-app: what Django migrates first by itself) may
        run children on `engine` with the environment `env` here, unmeasured."""
        return AppOrder(list(base.app_order) if base is not None else [])

    def steps(self, app_order: list[str], project_apps: list[str]) -> list[StepSpec]:
        """The steps on the run's database; `app_order` is `order().apps`: by default every
        installed app with migrations, in the order the full forward plan first reaches it
        (contrib apps included)."""
        return [StepSpec("migrate", MEASURED, MIGRATE)]

    def deploy(self, ctx, engine, line: DjangoLine, project_apps: list[str], on_note=print) -> dict | None:
        """A check after a validated run, on a database of its own (StepContext `ctx`), or None."""
        return None
