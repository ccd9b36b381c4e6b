"""The compact table `migbench run` ends with: one row a cell, read back from the records.

Built from stored records (never from the run's memory), so a resumed matrix
shows the cells of earlier invocations too.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from .records import Cell, ResultStore, RunRecord


def records_by_cell(store: ResultStore, cells: list[Cell]) -> dict[Cell, list[RunRecord]]:
    """The stored records of `cells`, read once for every table below."""
    wanted = set(cells)
    by_cell: dict[Cell, list[RunRecord]] = defaultdict(list)
    for record in store.records():
        if record.cell() in wanted:
            by_cell[record.cell()].append(record)
    return by_cell


def summary_lines(by_cell: dict[Cell, list[RunRecord]], cells: list[Cell]) -> list[str]:
    header = "%-13s %-9s %-9s %-7s %-24s %9s %10s %10s  %s" % (
        "strategy", "django", "python", "cap", "outcome", "wall s", "peak MB", "cg peak MB", "stopped in")
    lines = [header, "-" * len(header)]
    for cell in cells:
        records = sorted(by_cell.get(cell, []), key=lambda r: r.repeat)
        if not records:
            continue
        outcomes = _outcomes(records)
        stopped = sorted({r.failed_during for r in records if r.failed_during})
        lines.append("%-13s %-9s %-9s %-7s %-24s %9s %10s %10s  %s" % (
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


def strategy_lines(by_cell: dict[Cell, list[RunRecord]], cells: list[Cell]) -> list[str]:
    """Strategies side by side, per (Django, Python, cap), as ratios to `all`.

    Medians over repeats of ok runs; the daily commands come from each run's
    dev loop (absent when it was not timed). Empty when the cells hold only
    one strategy.
    """
    if len({c.strategy for c in cells}) < 2:
        return []
    groups: dict[tuple, list[Cell]] = defaultdict(list)
    for cell in cells:
        groups[(cell.django_version, cell.python_version, cell.memory_label)].append(cell)
    lines = []
    for (django, python, cap), members in groups.items():
        rows = {c.strategy: _strategy_figures(by_cell.get(c, [])) for c in members}
        base = rows.get("all") or {}
        lines.append("strategies vs all: Django %s / Python %s / cap %s (medians of ok runs)"
                     % (django, python, cap))
        header = "%-13s %10s %6s %8s %6s %10s %6s %9s %6s %9s %7s  %s" % (
            "strategy", "migrate s", "x all", "peak MB", "x all", "test DB s", "x all", "tdb MB",
            "x all", "mm chk s", "plan s", "checks")
        lines += [header, "-" * len(header)]
        for cell in members:
            row = rows[cell.strategy]
            lines.append("%-13s %10s %6s %8s %6s %10s %6s %9s %6s %9s %7s  %s" % (
                cell.strategy, _fmt(row.get("wall"), "%.2f"), _ratio(row.get("wall"), base.get("wall")),
                _fmt(row.get("peak"), "%.0f"), _ratio(row.get("peak"), base.get("peak")),
                _fmt(row.get("testdb"), "%.2f"), _ratio(row.get("testdb"), base.get("testdb")),
                _fmt(row.get("testdb_peak"), "%.0f"), _ratio(row.get("testdb_peak"), base.get("testdb_peak")),
                _fmt(row.get("mm"), "%.2f"), _fmt(row.get("plan"), "%.2f"), row.get("checks", "-")))
        lines.append("")
    return lines[:-1]


def invalid_lines(by_cell: dict[Cell, list[RunRecord]]) -> list[str]:
    """One line per run whose result is not equivalent to `all` (schema, rows, deploy)."""
    lines = []
    for cell, records in by_cell.items():
        for record in records:
            for problem in record.problems():
                lines.append("%s r%d: %s" % (cell.label(), record.repeat, problem))
    return lines


def _strategy_figures(records: list[RunRecord]) -> dict:
    ok = [r for r in records if r.outcome == "ok"]
    if not records:
        return {}
    figures: dict = {"checks": _checks(records)}
    if not ok:
        figures["checks"] = _outcomes(records)
        return figures
    figures["wall"] = statistics.median(r.wall_s for r in ok)
    figures["peak"] = statistics.median(r.peak_rss_bytes / 2**20 for r in ok)
    for key, name in (("testdb", "test database"), ("mm", "makemigrations --check")):
        walls = [r.dev_loop[name]["wall_s"] for r in ok if r.dev_loop and name in r.dev_loop]
        if walls:
            figures[key] = statistics.median(walls)
    peaks = [r.dev_loop["test database"]["peak_rss_bytes"] / 2**20 for r in ok
             if r.dev_loop and "test database" in r.dev_loop]
    if peaks:
        figures["testdb_peak"] = statistics.median(peaks)
    plans = [step["wall_s"] for r in ok for name, step in (r.dev_loop or {}).items()
             if name in ("migrate --plan", "showmigrations")]
    if plans:
        figures["plan"] = statistics.median(plans)
    return figures


def _checks(records: list[RunRecord]) -> str:
    validated = [r for r in records if r.validation]
    if not validated:
        return "-"
    bad = [r for r in validated if r.problems()]
    if bad:
        return "INVALID (%d of %d runs)" % (len(bad), len(records))
    schemas = sorted({"is the baseline" if r.validation.get("schema") == "became the baseline"
                      else r.validation.get("schema") for r in validated})
    text = "schema " + "/".join(schemas)
    deploys = [r.deploy for r in records if r.deploy]
    if deploys:
        text += ", fake deploy: %s" % deploys[0].get("verdict")
    failed = sorted({a["app"] for r in records if r.transform for a in r.transform.get("apps", [])
                     if a.get("status") == "failed"})
    if failed:
        text += ", apps left as they were: %s" % ", ".join(failed)
    return text


def _fmt(value, fmt: str) -> str:
    return "-" if value is None else fmt % value


def _ratio(value, base) -> str:
    if value is None or not base:
        return "-"
    return "%.2f" % (value / base)
