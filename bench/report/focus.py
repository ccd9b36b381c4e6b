"""Which records a headline or a cost table speaks for, when a report holds many.

A report may hold several projects (scenario names), a sweep's sizes of one
project, and a matrix of versions, caps and engines. A headline answers one
question per project, so it picks, per scenario name:
- the largest size (most migrations, then models): a sweep's smaller sizes
  are in the scaling chart;
- of that project, the comparison group (Django, Python, cap, database) with
  the most strategies that finished, then no cap (or the largest), then the
  longest `all`: the comparison the run was made for;
- of each cell, the repeat with the median wall time (`representative`), the
  same run the memory timeline draws; a solo repeat when the cell has one.

Also the strategies' reading order, shared by the charts and the tables.
No side effects.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from migbench.bench.records import Cell, RunRecord

from .concurrency import timed

# Strategies in the order a reader meets them (docs/strategies.md); others follow alphabetically.
STRATEGY_ORDER = ("all", "per-app", "backward", "rollback", "squash", "squash-final", "zero", "optimize", "floor")


def strategy_key(strategy: str) -> tuple:
    if strategy in STRATEGY_ORDER:
        return (0, STRATEGY_ORDER.index(strategy), "")
    return (1, 0, strategy)


def representative(repeats: Sequence[RunRecord]) -> RunRecord:
    """The repeat with the median wall time (the lower middle for an even count), among the solo
    repeats when there are any (concurrency.py: a concurrent run's time is not comparable)."""
    ordered = sorted(timed(repeats)[0] or repeats, key=lambda r: (r.wall_s, r.repeat))
    return ordered[(len(ordered) - 1) // 2]


@dataclass(frozen=True)
class Focus:
    """One project's comparison group: its cells by strategy (reading order), each cell's repeats."""

    scenario: str
    sizes: int  # sizes recorded under this scenario name (a sweep has several)
    cells: dict[str, list[RunRecord]]  # strategy -> repeats
    others: tuple[RunRecord, ...] = ()  # the same project's runs outside the group (other versions, caps)

    @property
    def first(self) -> RunRecord:
        return next(iter(self.cells.values()))[0]

    def where(self) -> str:
        """'Django 5.2.19 / Python 3.11.7 / sqlite, no cap' (with the size when a sweep has several)."""
        record = self.first
        cell = record.cell()
        text = "Django %s / Python %s / %s, %s" % (
            cell.django_version, cell.python_version, cell.database,
            "no cap" if cell.memory_limit_bytes is None else "cap %s" % cell.memory_label)
        project = record.project or {}
        if project.get("migrations") or project.get("models"):
            text += "; %s models, %s migrations" % (project.get("models", "?"), project.get("migrations", "?"))
            if self.sizes > 1:
                text += " (the largest of %d sizes)" % self.sizes
        return text


def focus_groups(records: Sequence[RunRecord]) -> list[Focus]:
    """One Focus per scenario name, in name order (see the module docstring for the choice)."""
    by_name: dict[str, list[RunRecord]] = defaultdict(list)
    for record in records:
        by_name[record.scenario.get("name", "?")].append(record)
    found = []
    for name in sorted(by_name):
        named = by_name[name]
        sizes = defaultdict(list)
        for record in named:
            sizes[record.scenario.get("sha256", "")].append(record)
        largest = max(sizes.values(), key=lambda rs: (_size(rs[0]), rs[0].scenario.get("sha256", "")))
        groups: dict[tuple, list[RunRecord]] = defaultdict(list)
        for record in largest:
            cell = record.cell()
            groups[(cell.django_version, cell.python_version, cell.memory_limit_bytes, cell.database)].append(record)
        chosen = max(groups.values(), key=_group_rank)
        others = tuple(r for group in groups.values() if group is not chosen for r in group)
        cells: dict[str, list[RunRecord]] = defaultdict(list)
        for record in chosen:
            cells[record.strategy].append(record)
        ordered = {s: sorted(cells[s], key=lambda r: r.repeat) for s in sorted(cells, key=strategy_key)}
        found.append(Focus(name, len(sizes), ordered, others))
    return found


def largest_cell(by_cell: dict[Cell, list[RunRecord]], cells: Sequence[Cell] | None = None) -> Cell | None:
    """The cell with the longest median wall time among those whose runs applied anything."""
    cells = list(by_cell) if cells is None else [c for c in cells if by_cell.get(c)]
    best = None
    for cell in cells:
        runs = [r for r in by_cell[cell] if any(e.get("migration") for e in r.events if isinstance(e, dict))]
        if not runs:
            continue
        wall = statistics.median(r.wall_s for r in runs)
        if best is None or wall > best[0]:
            best = (wall, cell)
    return best[1] if best else None


def _size(record: RunRecord) -> tuple:
    project = record.project or {}
    return (project.get("migrations") or 0, project.get("models") or 0)


def _group_rank(group: list[RunRecord]) -> tuple:
    finished = {r.strategy for r in group if r.outcome == "ok"}
    cap = group[0].memory_limit_bytes
    walls = [r.wall_s for r in group if r.strategy == "all" and r.outcome == "ok"]
    return (len(finished), len({r.strategy for r in group}), cap is None, cap or 0, max(walls, default=0.0))
