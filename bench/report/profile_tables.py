"""The tables of a profiled run (profiles.py picks the run): where its time and memory went.

Per profiled cell and mode: the stages (exclusive seconds and share of the
profiled wall, with the time the stage was anywhere on the stack), the stage
timer's Django landmarks, the top functions by cumulative time (cProfile),
the slowest migrations, and in memory mode where the kept tracemalloc
snapshot's bytes were allocated: sites, Django functions, modules, landmarks.
Figures are one profiled run's (no repeats: no ±). No side effects.
"""

from __future__ import annotations

from typing import Sequence

from .profiles import UNATTRIBUTED, ProfiledCell, seconds_text, stage_rows
from .tables import Table

MB = 2**20
FUNCTIONS = 15
MIGRATIONS = 10
MEMORY_ROWS = 10


def cell_tables(pc: ProfiledCell) -> list[Table]:
    """Every table of one profiled run, in reading order; the empty ones left out."""
    tables = [stage_table(pc), landmark_table(pc), function_table(pc), migration_table(pc)]
    tables += memory_tables(pc)
    return [t for t in tables if t is not None]


def report_tables(cells: Sequence[ProfiledCell]) -> list[Table]:
    return [table for pc in cells for table in cell_tables(pc)]


def stage_table(pc: ProfiledCell) -> Table:
    """Where the time goes: each stage's exclusive seconds and share of the profiled wall."""
    wall = pc.wall()
    inclusive = pc.profile.get("inclusive") or {}
    rows = []
    for key, label, seconds in stage_rows(pc.profile):
        with_nested = inclusive.get(key)
        rows.append((label, seconds_text(seconds), _share(seconds, wall),
                     seconds_text(with_nested) if isinstance(with_nested, (int, float)) and key != UNATTRIBUTED
                     else "-"))
    rows.append(("wall (the profiled run, as the supervisor saw it)", seconds_text(wall), _share(wall, wall), "-"))
    return Table("where the time goes: %s" % pc.label(), ("stage", "seconds", "share of wall", "on the stack s"),
                 rows, frozenset({1, 2, 3}),
                 note="seconds are exclusive: a moment counts once, for the innermost stage on the stack (SQL "
                      "run by a RunPython function is SQL), so they add up to the wall; on the stack = seconds "
                      "with the stage anywhere on the stack; one profiled run, slowed by its profiler")


def landmark_table(pc: ProfiledCell, count: int = FUNCTIONS) -> Table | None:
    """The Django functions the stage timer wraps, by cumulative seconds."""
    landmarks = pc.profile.get("landmarks")
    if not isinstance(landmarks, dict) or not landmarks:
        return None
    items = [(name, v) for name, v in landmarks.items() if isinstance(v, dict)]
    items.sort(key=lambda item: -_num(item[1].get("cum_s")))
    rows = [(name, str(v.get("calls", "-")), seconds_text(_num(v.get("own_s"))), seconds_text(_num(v.get("cum_s"))),
             _share(_num(v.get("cum_s")), pc.wall())) for name, v in items[:count]]
    return Table("Django landmarks (the stage timer's): %s" % pc.label(),
                 ("function", "calls", "own s", "cumulative s", "cumulative share of wall"), rows,
                 frozenset({1, 2, 3, 4}), note="own = with no other landmark inside; cumulative = from call to return")


def function_table(pc: ProfiledCell, count: int = FUNCTIONS) -> Table | None:
    """cProfile's top functions by cumulative time, with their own time (time mode only)."""
    functions = pc.profile.get("functions") or {}
    ranked = [f for f in functions.get("by_cumulative") or [] if isinstance(f, dict)]
    if not ranked:
        return None
    total = _num(functions.get("total_s"))
    rows = []
    for rank, entry in enumerate(ranked[:count], start=1):
        calls, primitive = entry.get("calls"), entry.get("primitive_calls")
        calls_text = "%s/%s" % (calls, primitive) if primitive not in (None, calls) else str(calls)
        rows.append((str(rank), str(entry.get("function", "?")), calls_text, seconds_text(_num(entry.get("own_s"))),
                     seconds_text(_num(entry.get("cum_s"))), _share(_num(entry.get("cum_s")), total)))
    return Table("top %d functions by cumulative time (cProfile): %s" % (len(rows), pc.label()),
                 ("#", "function", "calls", "own s", "cumulative s", "share of profile"), rows,
                 frozenset({0, 2, 3, 4, 5}),
                 note="calls = total/primitive when they differ (recursion); share = of cProfile's total (%s s); "
                      "the whole table is in the exported .pstats file" % seconds_text(total))


def migration_table(pc: ProfiledCell, count: int = MIGRATIONS) -> Table | None:
    """The slowest migrations of the profiled run (its events: start to success)."""
    migrations = [m for m in pc.profile.get("migrations") or [] if isinstance(m, (list, tuple)) and len(m) >= 2]
    if not migrations:
        return None
    total = sum(_num(m[1]) for m in migrations)
    ordered = sorted(enumerate(migrations, start=1), key=lambda item: -_num(item[1][1]))
    rows = []
    for rank, (position, entry) in enumerate(ordered[:count], start=1):
        growth = entry[2] if len(entry) > 2 and isinstance(entry[2], (int, float)) else None
        rows.append((str(rank), str(entry[0]), str(position), seconds_text(_num(entry[1])),
                     _share(_num(entry[1]), total), "-" if growth is None else "%+.1f" % (growth / MB)))
    return Table("%d slowest migrations of the profiled run: %s" % (len(rows), pc.label()),
                 ("#", "migration", "applied as", "seconds", "share", "RSS growth MB"), rows,
                 frozenset({0, 2, 3, 4, 5}),
                 note="%d migrations took %s s of the profiled run's %s s; share = of the time inside migrations; "
                      "applied as = its place in the run's order; times are slowed by the profiler" % (
                          len(migrations), seconds_text(total), seconds_text(pc.wall())))


def memory_tables(pc: ProfiledCell, count: int = MEMORY_ROWS) -> list[Table]:
    """Where the kept snapshot's bytes were allocated (memory mode): sites, Django functions, modules, landmarks."""
    memory = pc.profile.get("memory")
    if not isinstance(memory, dict):
        return []
    total = _num(memory.get("snapshot_traced_bytes"))
    note = ("tracemalloc: peak traced %s MB; the snapshot kept (the largest of %s, %s frames deep) holds %s MB, "
            "taken at %s; share = of that snapshot" % (
                _mb(memory.get("peak_traced_bytes")), memory.get("snapshots", "?"), memory.get("frames", "?"),
                _mb(total), memory.get("at") or "?"))
    specs = (("sites", "top allocation sites", ("site", "function"), "allocated at (file:line, its function)"),
             ("functions", "Django functions allocating", ("function",),
              "grouped by the innermost Django frame of each allocation's traceback"),
             ("modules", "modules allocating", ("module",), "grouped by the allocating frame's module"),
             ("landmarks", "landmarks allocating", ("function",),
              "grouped by the innermost stage-timer landmark on the traceback; (none) = outside every landmark"))
    tables = []
    for key, title, names, what in specs:
        entries = [e for e in memory.get(key) or [] if isinstance(e, dict)][:count]
        if not entries:
            continue
        rows = [tuple(str(e.get(n) or "?") for n in names) + (
            _mb(e.get("bytes")), _share(_num(e.get("bytes")), total), str(e.get("blocks", "-"))) for e in entries]
        columns = names + ("MB", "share", "blocks")
        tables.append(Table("%s: %s" % (title, pc.label()), columns, rows,
                            frozenset(range(len(names), len(columns))),
                            note=what if tables else "%s; %s" % (what, note)))
    return tables


def _share(value: float, total: float) -> str:
    return "%.0f%%" % (100 * value / total) if total > 0 else "-"


def _mb(value) -> str:
    return "%.1f" % (_num(value) / MB) if isinstance(value, (int, float)) else "?"


def _num(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
