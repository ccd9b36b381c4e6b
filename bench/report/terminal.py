"""What `migbench run` prints at the end: the report's tables rendered for a terminal.

Built from stored records (never from the run's memory), so a resumed matrix
shows the cells of earlier invocations too; the rows are the same as the
report's (bench/report/tables.py, costs.py): times of solo runs, and those
of runs that shared their machine with other measured runs in a table apart.
A record file that does not load is named and left out: the summary of the
run just measured always prints.

After the summary: the strategies side by side (when there are several),
then where the time went in the largest cell (its slowest apps and
migrations, bench/report/attribution.py), kept to a screenful.
"""

from __future__ import annotations

from collections import defaultdict

from migbench.bench.records import Cell, ResultStore, RunRecord

from . import costs
from .tables import cell_table, concurrent_table, problem_lines, render_text, strategy_tables

COST_APPS = 5
COST_MIGRATIONS = 10


def records_by_cell(store: ResultStore, cells: list[Cell]) -> tuple[dict[Cell, list[RunRecord]], list[str]]:
    """The stored records of `cells`, read once for every table below, and one line per file left out.

    A file in the store that does not load (damaged, edited by hand, of a newer
    format) is named and left out, and the summary goes on: the run just
    measured is never lost to an older file. It cannot be one of this matrix's
    runs: those were written whole, and a damaged file under one of their
    names was set aside as *.json.broken before its cell ran again.
    """
    wanted = set(cells)
    by_cell: dict[Cell, list[RunRecord]] = defaultdict(list)
    records, errors = store.readable()
    for record in records:
        if record.cell() in wanted:
            by_cell[record.cell()].append(record)
    return by_cell, ["left out of the summary: %s" % error for error in errors]


def summary_lines(by_cell: dict[Cell, list[RunRecord]], cells: list[Cell]) -> list[str]:
    """One row a cell (the matrix's order); then, when some runs shared their machine with other measured
    runs, their timings apart (tables.py `concurrent_table`)."""
    lines = render_text(cell_table(by_cell, cells))
    shared = concurrent_table(by_cell, cells)
    if shared:
        lines += ["", shared.title] + render_text(shared)
    return lines


def strategy_lines(by_cell: dict[Cell, list[RunRecord]], cells: list[Cell], with_costs: bool = True) -> list[str]:
    """What follows the summary: strategies side by side as ratios to `all` (when the cells hold
    several), then, with `with_costs`, where the time went (`cost_lines`); empty when neither applies."""
    blocks = [[table.title] + render_text(table) for table in strategy_tables(by_cell, cells)]
    if with_costs:
        blocks.append(cost_lines(by_cell, cells))
    lines: list[str] = []
    for block in (b for b in blocks if b):
        lines += ([""] if lines else []) + block
    return lines


def cost_lines(by_cell: dict[Cell, list[RunRecord]], cells: list[Cell]) -> list[str]:
    """The largest cell's slowest apps and migrations, with where its peak was; empty when nothing applied."""
    return costs.cost_lines(by_cell, cells, apps=COST_APPS, migrations=COST_MIGRATIONS)


def invalid_lines(by_cell: dict[Cell, list[RunRecord]]) -> list[str]:
    """One line per run whose result is not equivalent to `all` (schema, rows, deploy)."""
    return problem_lines(by_cell)
