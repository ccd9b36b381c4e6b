"""The compact table `migbench run` ends with: one row a cell, read back from the records.

Built from stored records (never from the run's memory), so a resumed matrix
shows the cells of earlier invocations too.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from .records import Cell, ResultStore, RunRecord


def summary_lines(store: ResultStore, cells: list[Cell]) -> list[str]:
    by_cell: dict[Cell, list[RunRecord]] = defaultdict(list)
    wanted = set(cells)
    for record in store.records():
        cell = record.cell()
        if cell in wanted:
            by_cell[cell].append(record)
    header = "%-8s %-9s %-9s %-7s %-24s %9s %10s %10s  %s" % (
        "strategy", "django", "python", "cap", "outcome", "wall s", "peak MB", "cg peak MB", "stopped in")
    lines = [header, "-" * len(header)]
    for cell in cells:
        records = sorted(by_cell.get(cell, []), key=lambda r: r.repeat)
        if not records:
            continue
        outcomes = _outcomes(records)
        stopped = sorted({r.failed_during for r in records if r.failed_during})
        lines.append("%-8s %-9s %-9s %-7s %-24s %9s %10s %10s  %s" % (
            cell.strategy, cell.django_version, cell.python_version, cell.memory_label, outcomes,
            _median([r.wall_s for r in records], "%.1f"),
            _median([r.peak_rss_bytes / 2**20 for r in records], "%.0f"),
            _median([r.limit_peak_bytes / 2**20 for r in records if r.limit_peak_bytes], "%.0f"),
            ", ".join(stopped)))
    return lines


def _outcomes(records: list[RunRecord]) -> str:
    names = [r.outcome for r in records]
    if len(set(names)) == 1:
        return names[0] if len(names) == 1 else "%s x%d" % (names[0], len(names))
    return ",".join(names)


def _median(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    text = fmt % statistics.median(values)
    if len(values) > 1:
        text += " ±" + fmt % ((max(values) - min(values)) / 2)
    return text
