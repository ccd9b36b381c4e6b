"""`floor`: the DDL a real `migrate` executes, replayed by the engine's own client alone: no
Django, no state. The physical floor under every strategy.

The statements are the baseline's, captured during its reference `migrate`
(bench/measure/worker/capture_ddl.py) rather than with sqlmigrate on an empty
database, which cannot introspect the constraints AlterUniqueTogether drops.
"""

from __future__ import annotations

from migbench.bench.measure.step import MEASURED, StepSpec

from .base import Strategy


class Floor(Strategy):
    def steps(self, app_order: list[str], project_apps: list[str]) -> list[StepSpec]:
        return [StepSpec("replay DDL", MEASURED, kind="sql")]


FLOOR = Floor("floor", "the captured DDL replayed by the database's own client, no Django",
              needs_capture=True)
