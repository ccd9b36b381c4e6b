"""`per-app`: `migrate <app>` for every app, the 2015 report's second workaround.

Apps are migrated in the order the full forward plan first reaches them
(dependency order, contrib apps included), read from the baseline's captured
DDL; each step is recorded, the worst one named.
"""

from __future__ import annotations

from migbench.bench.measure.step import MEASURED, StepSpec

from .base import Strategy


class PerApp(Strategy):
    def steps(self, app_order: list[str], project_apps: list[str]) -> list[StepSpec]:
        return [StepSpec("migrate %s" % app, MEASURED, ("migrate", app, "--noinput")) for app in app_order]


PER_APP = PerApp("per-app", "migrate <app> for each app, in dependency order", needs_capture=True)
