"""`backward`: `migrate` forward (setup, not counted), then every project app back to `zero`,
dependents first. Django #34841: unapplying re-renders far more states than applying.

Its proof is different: the project's tables are gone, everything else is as
in the baseline, and no migration of the project's apps is still recorded.
"""

from __future__ import annotations

from migbench.bench.measure.step import MEASURED, SETUP, StepSpec

from .base import MIGRATE, Strategy


class Backward(Strategy):
    def steps(self, app_order: list[str], project_apps: list[str]) -> list[StepSpec]:
        back = [app for app in reversed(app_order) if app in project_apps]
        return [StepSpec("migrate", SETUP, MIGRATE)] + [
            StepSpec("%s to zero" % app, MEASURED, ("migrate", app, "zero", "--noinput")) for app in back]


BACKWARD = Backward("backward", "migrate, then every app back to zero", validation="emptied",
                    needs_capture=True)
