"""What a profiled run's `profile` holds: the stages, their order and names, the modes.

A profiled run (`--profile`) is an extra run of a cell, made after its timed
repeats, with the stage timer and cProfile (mode "time") or tracemalloc (mode
"memory") in the child (bench/measure/worker/profiling.py). Its record is not a
timing record: it is stored under `OUT/profiles/` and every reader keeps it out
of timing comparisons. Field meanings: docs/records.md ("Profiled runs").
No side effects.
"""

from __future__ import annotations

MODES = ("time", "memory")
DIRECTORY = "profiles"  # under a run's OUT: profiled records, and their exported files in a folder each

# The stage timer's stages, in the order a migrate passes through them; the worker's copy
# (profiling.STAGES) is kept equal by a test. Exclusive: the innermost stage on the stack wins.
STAGES = (
    ("setup", "django.setup (imports, app registry)"),
    ("checks", "system checks"),
    ("graph", "loading the graph and the plan"),
    ("state", "building and rendering states (render, reload_model, clone, state_forwards)"),
    ("schema", "schema editor producing SQL"),
    ("sql", "SQL execution (at the cursor, commits, connecting)"),
    ("python", "RunPython functions (their own code)"),
    ("signals", "pre/post-migrate signals (their own code)"),
    ("rest", "the rest (command, output, recording applied migrations)"),
)
STAGE_KEYS = tuple(key for key, _ in STAGES)
STAGE_LABELS = dict(STAGES)


def stage_label(key: str) -> str:
    return STAGE_LABELS.get(key, key)


def attributed_share(profile: dict) -> float | None:
    """How much of the profiled child's wall is accounted for: the stages, the interpreter's start-up
    before the worker's clock, and the profiler's own time (the rest is `unattributed_s`)."""
    wall = profile.get("wall_s") or 0.0
    if wall <= 0:
        return None
    return (sum((profile.get("stages") or {}).values()) + (profile.get("startup_s") or 0.0)
            + (profile.get("profiler_s") or 0.0)) / wall
