"""Exact operation counts for one app's later migrations (`[[generator.app]] operations`).

A scenario's `[generator.history] operations` are weights: every later migration
draws its operations from them. A twin of a real project knows better: how many
AddField, RunPython... each app has. `spread` deals exactly those kinds out over
the app's later migrations (each gets at least one while there are enough), in
an order of its own seeded rng, so the history builder's draws, and with them
every scenario without app tables, stay what they were.

When a planned kind finds nothing to act on (no model without rows for a
RunPython, nothing deletable), the builder tries the kinds FALLBACKS names,
then an AddField, then a new model: the count of operations holds, their kind
may not. Pure: no side effects.
"""

from __future__ import annotations

import random
from typing import Mapping

from . import mutations
from .scenario import OPERATIONS

# What a planned kind becomes when it cannot apply, before the generic add_field/create_model.
FALLBACKS = {
    "run_python": ("load_model",),  # a RunPython that only loads the model: the cost, without rows
    "delete_model": ("alter_model_options",),
    "rename_model": ("rename_field",),
    "remove_index": ("add_index",),
    "remove_field": ("alter_field",),
    "alter_unique_together": ("add_index",),
    "run_sql": ("load_model",),
    "alter_relation": ("alter_field",),
}
LAST_RESORT = ("add_field", "create_model")
NEEDS_INDEXES = ("add_index", "remove_index")  # Meta.indexes: Django >= 1.11 (skipped before)


def spread(counts: Mapping[str, int], migrations: int, rng: random.Random) -> list[list[str]]:
    """The kinds of each of `migrations` later migrations: `counts` exactly, shuffled, every
    migration one at least while there are enough, the rest dealt at random."""
    kinds = [kind for kind in OPERATIONS for _ in range(counts.get(kind, 0))]
    rng.shuffle(kinds)
    if migrations <= 0:
        return []
    sizes = [0] * migrations
    if len(kinds) >= migrations:
        sizes = [1] * migrations
        for _ in range(len(kinds) - migrations):
            sizes[rng.randrange(migrations)] += 1
    else:
        for index in rng.sample(range(migrations), len(kinds)):
            sizes[index] = 1
    out, at = [], 0
    for size in sizes:
        out.append(kinds[at:at + size])
        at += size
    return out


def unsupported(kind: str, target) -> bool:
    """A kind the target cannot express: index operations before 1.11, RunSQL before 1.8 (1.7's
    RunSQL takes one script and always splits it with sqlparse, which Django does not require and
    migbench's environments do not install; the lists the generator writes came in 1.8)."""
    if kind in NEEDS_INDEXES:
        return not target.has_indexes
    return kind == "run_sql" and not target.has_run_sql_lists


def record(builder, app, recorder, kinds: list[str]) -> list[str]:
    """Record `kinds` on the recorder through the drawers of mutations.py, each falling back
    (FALLBACKS, then LAST_RESORT) when it cannot apply; the migration's name fragments."""
    names: list[str] = []
    for kind in kinds:
        for option in (kind,) + FALLBACKS.get(kind, ()) + LAST_RESORT:
            if unsupported(option, builder.target):
                continue
            drawer = mutations.BY_KIND.get(option) or mutations.load_model
            fragment = drawer(builder, app, recorder)
            if fragment:
                names.append(fragment)
                break
    return names


def queues(params, apps, timeline) -> dict[str, list[list[str]]]:
    """Per app label with planned operations (`params`: GeneratorParams), the kinds of each of
    its later migrations, in order; `timeline` lists the app of every later migration."""
    out = {}
    for app in apps:
        counts = params.app_params(app.index).operations
        if counts:
            rng = random.Random("%d:plan:%d" % (params.seed, app.index))
            out[app.label] = spread(counts, sum(1 for other in timeline if other is app), rng)
    return out
