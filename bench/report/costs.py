"""Cost attribution as tables: the slowest apps and migrations of a run, for the report and the terminal.

The figures are bench/report/attribution.py's, from one run: the cell's
repeat with the median wall time (the run the memory timeline draws), since
a migration's share of one run is a fact about that run, and the medians of
different migrations over repeats would not add up to anything.
"""

from __future__ import annotations

from migbench.bench.records import Cell, RunRecord

from .attribution import Attribution, attribute
from .focus import focus_groups, largest_cell, representative
from .tables import Table, render_text

MB = 2**20
APP_COLUMNS = ("app", "migrations", "seconds", "share", "RSS growth MB", "raised peak MB")
MIGRATION_COLUMNS = ("#", "migration", "seconds", "share", "RSS growth MB", "raised peak MB")
NOTE = ("share = of the time spent inside migrations; RSS growth = the worker's RSS when the migration "
        "finished minus when it started; raised peak = how far it lifted its process's highest RSS so far")


def app_table(attribution: Attribution, title: str, count: int = 10, note: str = NOTE) -> Table:
    """The `count` slowest apps: their migrations' time and memory added up."""
    total = attribution.total_seconds
    rows = [(a.app, str(a.migrations), _seconds(a.seconds), _share(a.seconds, total), _mb(a.rss_growth, True),
             _mb(a.peak_growth)) for a in attribution.apps()[:count]]
    return Table(title, APP_COLUMNS, rows, frozenset(range(1, 6)), note=note)


def migration_table(attribution: Attribution, title: str, count: int = 20, outcome: str = "") -> Table:
    """The `count` slowest migrations; one the run died in says so."""
    total = attribution.total_seconds
    rows = []
    for rank, cost in enumerate(attribution.slowest(count), start=1):
        name = cost.migration + ("" if cost.finished else " (unfinished%s)" % (": " + outcome if outcome else ""))
        if cost.direction == "unapply":
            name += " (unapplied)"
        rows.append((str(rank), name, _seconds(cost.seconds), _share(cost.seconds, total),
                     "-" if cost.rss_growth is None else _mb(cost.rss_growth, True), _mb(cost.peak_growth)))
    return Table(title, MIGRATION_COLUMNS, rows, frozenset({0, 2, 3, 4, 5}), note=NOTE)


def summary_line(record: RunRecord, attribution: Attribution) -> str:
    """'29 migrations took 0.26 s of the run's 0.69 s; peak 48 MB while applying x.0001 (...)'."""
    text = "%d migration%s %s %s of the run's %s" % (
        attribution.applied, "" if attribution.applied == 1 else "s",
        "unapplied in" if all(m.direction == "unapply" for m in attribution.migrations) else "took",
        _seconds(attribution.total_seconds) + " s", _seconds(record.wall_s) + " s")
    unfinished = attribution.unfinished
    if unfinished is not None:
        text += "; it stopped (%s) inside %s after %s s" % (record.outcome, unfinished.migration,
                                                            _seconds(unfinished.seconds))
    if attribution.peak is not None:
        text += "; sampled peak %s MB %s" % (_mb(attribution.peak.rss), attribution.peak.describe())
    return text


def run_label(record: RunRecord, repeats: int) -> str:
    cell = record.cell()
    text = "%s, Django %s / Python %s / %s, cap %s" % (cell.strategy, cell.django_version, cell.python_version,
                                                     cell.database, cell.memory_label)
    if repeats > 1:
        text += ", run %d (the median wall time of %d)" % (record.repeat, repeats)
    return text


def report_tables(records: list[RunRecord], apps: int = 10, migrations: int = 20) -> list[Table]:
    """Per project (bench/report/focus.py), per strategy of its comparison group: the slowest apps
    (noted with how much of the run migrations were, and where it peaked) and migrations."""
    tables: list[Table] = []
    groups = focus_groups(records)
    several = len(groups) > 1
    for focus in groups:
        for repeats in focus.cells.values():
            record = representative(repeats)
            attribution = attribute(record)
            if not attribution.migrations:
                continue
            label = ("%s: " % focus.scenario if several else "") + run_label(record, len(repeats))
            tables.append(app_table(attribution, "slowest apps: %s" % label, apps,
                                    note=summary_line(record, attribution)))
            tables.append(migration_table(attribution, "%d slowest migrations: %s" % (
                min(migrations, len(attribution.migrations)), label), migrations,
                record.outcome if record.outcome != "ok" else ""))
    return tables


def cost_lines(by_cell: dict[Cell, list[RunRecord]], cells: list[Cell] | None = None, apps: int = 5,
               migrations: int = 10) -> list[str]:
    """The terminal's block: the largest cell's slowest apps and migrations; empty when nothing applied."""
    cell = largest_cell(by_cell, cells)
    if cell is None:
        return []
    repeats = sorted(by_cell[cell], key=lambda r: r.repeat)
    record = representative(repeats)
    attribution = attribute(record)
    if not attribution.migrations:
        return []
    lines = ["where the time went: %s" % run_label(record, len(repeats)),
             summary_line(record, attribution)]
    for table in (app_table(attribution, "", apps),
                  migration_table(attribution, "", migrations, record.outcome if record.outcome != "ok" else "")):
        lines += [""] + render_text(table)
    return lines


def _seconds(value: float) -> str:
    return "%.3f" % value if value < 1 else "%.2f" % value if value < 10 else "%.1f" % value


def _share(value: float, total: float) -> str:
    return "%.0f%%" % (100 * value / total) if total > 0 else "-"


def _mb(value: int, signed: bool = False) -> str:
    return ("%+.1f" if signed else "%.1f") % (value / MB)
