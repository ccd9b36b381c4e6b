"""`rollback`: `migrate` forward (setup), then ONE migration unapplied, then re-applied.

Django #34841 (about 6,000 migrations, 4.1/4.2): unapplying one migration took
10 minutes where applying it took 20 s. After unapplying, the executor rebuilds
the post-migration state by mutating every applied migration that comes after
the unapplied one in the full plan, and before the fix it did so on a state
whose apps were rendered, so each mutation re-rendered models (first line with
the fix: 5.1, `del state.apps` in `MigrationExecutor._migrate_all_backwards`).
So the cost grows with the migrations that come AFTER the one rolled back.

Which migration: the project's leaf migration that no other migration depends
on (so `migrate <app> <previous>` unapplies it alone) that comes earliest in the full
forward plan, i.e. with the most migrations after it; asked of Django's own
loader in the cell's environment (bench/measure/worker/graph.py). The measured
step is the unapply; the re-apply that follows is timed as its forward
counterpart (role `counterpart`: in the record's steps, not in its wall), and
leaves the database at the full schema, which is validated like `all`'s.
"""

from __future__ import annotations

import json
from pathlib import Path

from migbench.bench.measure.step import COUNTERPART, MEASURED, SETUP, StepSpec

from .base import MIGRATE, AppOrder, Strategy


class Rollback(Strategy):
    def order(self, base, project, env, engine, on_note=print) -> AppOrder:
        from .transforms.graphinfo import graph_info, used

        info = graph_info(Path(project), env)
        own = set(json.loads((Path(project) / "migbench.json").read_text(encoding="utf-8")).get("apps", []))
        plan = [tuple(step) for step in info["plan"]]
        position = {step: index for index, step in enumerate(plan)}
        # Django's leaves are the last migration of each app; one another app's migration depends on
        # (or runs before) would be unapplied with it: those are not rolled back alone.
        named = {(app, name) for refs in info.get("references", {}).values() for app, name in refs}
        leaves = [tuple(leaf) for leaf in info["leaves"]
                  if leaf[0] in own and tuple(leaf) in position and tuple(leaf) not in named]
        if not leaves:
            return AppOrder([], "rollback: no migration of the project's own is a leaf that nothing depends on")
        app, name = min(leaves, key=position.get)
        names = used(info, app)
        previous = names[names.index(name) - 1] if names.index(name) > 0 else "zero"
        after = len(plan) - position[(app, name)] - 1
        return AppOrder([app, previous, name], "rollback: %s.%s, the project's leaf migration earliest in the full "
                        "plan (%d of the plan's %d migrations come after it), unapplied with `migrate %s %s`, then "
                        "re-applied (its forward counterpart, timed apart, not counted)"
                        % (app, name, after, len(plan), app, previous))

    def steps(self, app_order: list[str], project_apps: list[str]) -> list[StepSpec]:
        if len(app_order) != 3:
            return [StepSpec("migrate", MEASURED, MIGRATE)]  # nothing to roll back: say so by failing validation
        app, previous, name = app_order
        return [StepSpec("migrate", SETUP, MIGRATE),
                StepSpec("unapply %s.%s" % (app, name), MEASURED, ("migrate", app, previous, "--noinput")),
                StepSpec("re-apply %s.%s" % (app, name), COUNTERPART, MIGRATE)]


ROLLBACK = Rollback("rollback", "migrate, then unapply one migration (the leaf with the most after it) and "
                    "re-apply it")
