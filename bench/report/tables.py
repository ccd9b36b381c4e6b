"""The tables of a report, as data: the terminal, Markdown and HTML render the same rows.

Every figure is the median over a cell's repeats with `±` half the range
(repeats are few and timings skewed: see bench/analysis/stats.py), computed from
stored records only. Times come from one kind of run only (concurrency.py):
the cell table's and strategy tables' from solo runs (a strategy table whose
runs are all concurrent says so), and the timings of runs measured while other
runs shared the machine are shown apart (`concurrent_table`); peaks from every run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from migbench.bench.analysis.stats import summarize
from migbench.bench.records import Cell, RunRecord, test_database_step
from migbench.units import format_size

from .attribution import applied_count
from .concurrency import CONCURRENT, SHARED, SOLO, machine_of, of_kind, preferred_kind, sharing_text, split
from .concurrency import timing_mode

MB = 2**20


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    numeric: frozenset[int] = field(default_factory=frozenset)  # right-aligned column indexes
    note: str = ""


def group_by_cell(records: list[RunRecord]) -> dict[Cell, list[RunRecord]]:
    """Records keyed by cell, in the records' order (load_results sorts them)."""
    by_cell: dict[Cell, list[RunRecord]] = defaultdict(list)
    for record in records:
        by_cell[record.cell()].append(record)
    return dict(by_cell)


def cell_table(by_cell: dict[Cell, list[RunRecord]], cells: list[Cell] | None = None) -> Table:
    """One row a cell: outcome(s), wall time, peak RSS, the limiter's peak, where crashes stopped."""
    cells = list(by_cell) if cells is None else [c for c in cells if by_cell.get(c)]
    several = len({(c.scenario, c.scenario_sha256) for c in cells}) > 1
    engines = len({c.database for c in cells}) > 1
    servers = any(_server_peak(r) for c in cells for r in by_cell[c])
    shared = any(timing_mode(r) == CONCURRENT for c in cells for r in by_cell[c])
    columns = (("scenario",) if several else ()) + ("strategy", "django", "python") + (
        ("database",) if engines else ()) + (
        "cap", "runs", "outcome", "wall s") + (("concurrent wall s",) if shared else ()) + (
        "peak MB", "limiter peak MB") + (
        ("DB server peak MB",) if servers else ()) + ("stopped in",)
    rows = []
    for cell in cells:
        records = sorted(by_cell[cell], key=lambda r: r.repeat)
        stopped = sorted({r.failed_during for r in records if r.failed_during})
        solo, concurrent = split(records)
        row = (scenario_label(cell, records[0]),) if several else ()
        rows.append(row + (
            cell.strategy, cell.django_version, cell.python_version + (" (shim)" if records[0].shim else "")) + (
            (cell.database,) if engines else ()) + (
            cell.memory_label, str(len(records)), outcomes(records),
            median_text([r.wall_s for r in solo], "%.1f")) + (
            (median_text([r.wall_s for r in concurrent], "%.1f"),) if shared else ()) + (
            median_text([r.peak_rss_bytes / MB for r in records], "%.0f"),
            median_text([r.limit_peak_bytes / MB for r in records if r.limit_peak_bytes], "%.0f")) + (
            (median_text([_server_peak(r) / MB for r in records if _server_peak(r)], "%.0f"),) if servers else ()) + (
            ", ".join(stopped),))
    numeric = frozenset(columns.index(name) for name in ("runs", "wall s", "concurrent wall s", "peak MB",
                                                         "limiter peak MB", "DB server peak MB") if name in columns)
    return Table("Runs by cell", columns, rows, numeric,
                 note="median over the cell's runs, ± half the range; limiter peak = the limiter's own peak "
             "(cgroup memory.peak / max_usage_in_bytes: includes page cache)" + (
                 "; DB server peak = the database server's own peak (sum of PSS of its processes), not in the cap"
                 if servers else "") + (
                 "; wall s = solo runs only, concurrent wall s = runs %s (slower: never mixed into wall s); "
                 "peaks from every run" % SHARED if shared else ""))


def _server_peak(record: RunRecord) -> int | None:
    return ((record.database or {}).get("server_memory") or {}).get("peak_bytes")


def scenario_label(cell: Cell, record: RunRecord) -> str:
    """Scenario name with its size: sweeps keep one name over several project sizes."""
    project = record.project or {}
    if project.get("models"):
        return "%s (%s models, %s migr.)" % (cell.scenario, project.get("models"), project.get("migrations"))
    return cell.scenario


def strategy_tables(by_cell: dict[Cell, list[RunRecord]], cells: list[Cell] | None = None) -> list[Table]:
    """Strategies side by side per (scenario, Django, Python, cap), as ratios to `all`.

    Medians of ok runs; the daily commands come from each run's dev loop
    (absent when it was not timed). None when a group holds one strategy.
    """
    cells = list(by_cell) if cells is None else [c for c in cells if c in by_cell]
    groups: dict[tuple, list[Cell]] = defaultdict(list)
    for cell in cells:
        groups[(cell.scenario, cell.scenario_sha256, cell.django_version, cell.python_version,
                cell.memory_label, cell.database)].append(cell)
    several = len({key[:2] for key in groups}) > 1
    engines = len({key[5] for key in groups}) > 1
    tables = []
    for (scenario, _, django, python, cap, database), members in groups.items():
        if len({c.strategy for c in members}) < 2:
            continue
        group = [r for c in members for r in by_cell.get(c, [])]
        kind = preferred_kind([r for r in group if r.outcome == "ok"])
        figures = {c.strategy: strategy_figures(by_cell.get(c, []), kind) for c in members}
        base = figures.get("all") or {}
        rows = []
        for cell in members:
            row = figures[cell.strategy]
            rows.append((
                cell.strategy, _fmt(row.get("applied"), "%.0f"),
                _fmt(row.get("wall"), "%.2f"), _ratio(row.get("wall"), base.get("wall")),
                _fmt(row.get("peak"), "%.0f"), _ratio(row.get("peak"), base.get("peak")),
                _fmt(row.get("testdb"), "%.2f"), _ratio(row.get("testdb"), base.get("testdb")),
                _fmt(row.get("testdb_peak"), "%.0f"), _ratio(row.get("testdb_peak"), base.get("testdb_peak")),
                _fmt(row.get("mm"), "%.2f"), _fmt(row.get("plan"), "%.2f"), row.get("checks", "-")))
        title = "strategies vs all: %sDjango %s / Python %s / %scap %s (medians of ok runs%s)" % (
            (scenario + ": ") if several else "", django, python, (database + " / ") if engines else "", cap,
            "; concurrent timings: every run %s" % SHARED if kind == CONCURRENT else "")
        left = len(of_kind([r for r in group if r.outcome == "ok"], CONCURRENT)) if kind == SOLO else 0
        tables.append(Table(title, STRATEGY_COLUMNS, rows, frozenset(range(1, 12)), note=STRATEGY_NOTE + (
            "; times (and their x all) are of solo runs: %d ok run%s %s %s left out of them (their times are "
            "in \"%s\"; the peaks include them)" % (left, "" if left == 1 else "s", SHARED,
                                                    "is" if left == 1 else "are", CONCURRENT_TITLE)
            if left else "")))
    return tables


STRATEGY_COLUMNS = ("strategy", "migrations", "migrate s", "x all", "peak MB", "x all", "test DB s", "x all",
                    "test DB peak MB", "x all", "makemigrations --check s", "migrate --plan s", "checks")
STRATEGY_NOTE = ("migrations = how many the strategy applied (unapplied, going backward); x all = the ratio to "
                 "`all`'s median; test DB = `manage.py test` creating the test database; migrate --plan is "
                 "showmigrations before Django 2.2")


CONCURRENT_TITLE = "Timings measured while other runs shared the machine"


def concurrent_table(by_cell: dict[Cell, list[RunRecord]], cells: list[Cell] | None = None) -> Table | None:
    """One row per cell with runs measured while other measured runs shared its machine: their times,
    kept apart from every solo figure; None when no run was concurrent."""
    cells = list(by_cell) if cells is None else [c for c in cells if by_cell.get(c)]
    shared = [c for c in cells if of_kind(by_cell[c], CONCURRENT)]
    if not shared:
        return None
    several = len({(c.scenario, c.scenario_sha256) for c in shared}) > 1
    engines = len({c.database for c in shared}) > 1
    alls = {_group_key(c): c for c in by_cell if c.strategy == "all"}
    columns = (("scenario",) if several else ()) + ("strategy", "django", "python") + (
        ("database",) if engines else ()) + ("cap", "runs", "outcome", "migrate s", "x all",
                                             "test DB s", "makemigrations --check s", "shared with")
    rows = []
    for cell in shared:
        records = sorted(by_cell[cell], key=lambda r: r.repeat)
        concurrent = of_kind(records, CONCURRENT)
        figures = strategy_figures(concurrent, CONCURRENT)
        base = alls.get(_group_key(cell))
        base_wall = strategy_figures(by_cell[base], CONCURRENT).get("wall") if base else None
        row = (scenario_label(cell, records[0]),) if several else ()
        rows.append(row + (cell.strategy, cell.django_version, cell.python_version) + (
            (cell.database,) if engines else ()) + (
            cell.memory_label, "%d of %d" % (len(concurrent), len(records)), outcomes(concurrent),
            median_text([r.wall_s for r in concurrent if r.outcome == "ok"], "%.2f"),
            _ratio(figures.get("wall"), base_wall), _fmt(figures.get("testdb"), "%.2f"),
            _fmt(figures.get("mm"), "%.2f"), sharing_text(concurrent)))
    numeric = frozenset(columns.index(name) for name in ("migrate s", "x all", "test DB s",
                                                         "makemigrations --check s"))
    return Table(CONCURRENT_TITLE, columns, rows, numeric, note=(
        "runs %s (cluster workers on one host, two migbench at once): slower and noisier than solo runs, so "
        "their times are in no other table's time, ratio or chart; runs = the cell's concurrent runs of all "
        "its runs; medians of ok runs (migrate s: ± half the "
        "range); x all = the ratio to `all`'s concurrent median of the same group; peaks are unaffected and "
        "use every run in the tables above" % SHARED))


def _group_key(cell: Cell) -> tuple:
    return (cell.scenario, cell.scenario_sha256, cell.django_version, cell.python_version,
            cell.memory_limit_bytes, cell.database)


def minimal_cap_table(searches: list) -> Table | None:
    """One row per searched cell (bench/report/minimal.py): the minimal cap, the bracket, the uncapped peak."""
    if not searches:
        return None
    several = len({s.scenario for s in searches}) > 1
    columns = (("scenario",) if several else ()) + (
        "strategy", "django", "python", "minimal cap", "runs there", "failed at", "runs at failed", "caps tried",
        "uncapped peak MB", "cap/peak", "note")
    rows = []
    for search in searches:
        notes = [n for n, flag in (("noisy", search.noisy), ("not confirmed", search.answer and not search.confirmed),
                                   ("%s cap" % search.caps_kind, search.caps_kind == "virtual"),
                                   ("%d error/timeout runs ignored" % search.ignored, search.ignored)) if flag]
        row = ("%s (%s)" % (search.scenario[0], search.scenario[1][:8]),) if several else ()
        rows.append(row + (
            search.strategy, search.django_version, search.python_version, search.answer_label(),
            search.describe_runs(search.answer) if search.answer else "",
            format_size(search.failing) if search.failing else "-",
            search.describe_runs(search.failing) if search.failing else "",
            str(len(search.caps)), _fmt(search.uncapped_peak and search.uncapped_peak / MB, "%.0f"),
            "%.2f" % (search.answer / search.uncapped_peak) if search.answer and search.uncapped_peak else "-",
            ", ".join(notes)))
    numeric = frozenset(columns.index(name) for name in ("caps tried", "uncapped peak MB", "cap/peak"))
    return Table("Minimal memory cap", columns, rows, numeric,
                 note="minimal cap = the lowest cap above every failing one at which all runs were ok; "
                      "confirmed when it passed twice (docs/bisect.md)")


def provenance_table(records: list[RunRecord]) -> Table:
    """Where and with what every figure was measured: one row per distinct setting."""
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for record in records:
        host = record.host or {}
        limiter = record.limiter or {}
        groups[(
            machine_of(record),
            "%s cores, %s GiB" % (host.get("cpu_count", "?"),
                                  "%.0f" % (host["ram_bytes"] / 2**30) if host.get("ram_bytes") else "?"),
            "%s %s" % (record.scenario.get("name"), str(record.scenario.get("sha256", ""))[:8]),
            "Django %s / Python %s%s" % (record.django_version, record.python_version,
                                         " (shim)" if record.shim else ""),
            "%s (%s)" % (limiter.get("name", "?"), limiter.get("caps", "?")),
            " ".join(str(v) for v in (record.database.get("engine"), record.database.get("server_version"),
                                      (record.database.get("driver") or {}).get("module"),
                                      (record.database.get("driver") or {}).get("version")) if v),
            "%s %s" % (record.migbench_version, record.migbench_commit or ""),
            timing_mode(record),
        )].append(record)
    rows = []
    for key, members in groups.items():
        dates = sorted(r.started_at[:10] for r in members)
        loads = [r.host.get("load_1m") for r in members if isinstance((r.host or {}).get("load_1m"), (int, float))]
        command = " ".join(members[0].command.get("migbench") or []) if members[0].command else ""
        rows.append(key + (
            dates[0] if dates[0] == dates[-1] else "%s..%s" % (dates[0], dates[-1]),
            "%.1f-%.1f" % (min(loads), max(loads)) if loads else "-",
            str(len(members)), command))
    return Table("Provenance", ("host", "machine", "scenario sha", "versions", "limiter", "database", "migbench",
                                "timing", "date", "load 1m", "runs", "command"), rows, frozenset({10}),
                 note="one row per distinct (host, scenario file, versions, limiter, database, migbench commit, "
                      "timing); host = hostname/machine id (the machine that measured); timing = solo, or "
                      "concurrent: %s; the command is the first run's" % SHARED)


def problem_lines(by_cell: dict[Cell, list[RunRecord]]) -> list[str]:
    """One line per run whose result is not equivalent to `all` (schema, rows, deploy)."""
    lines = []
    for cell, records in by_cell.items():
        for record in records:
            for problem in record.problems():
                lines.append("%s r%d: %s" % (cell.label(), record.repeat, problem))
    return lines


def outcomes(records: list[RunRecord]) -> str:
    names = [r.outcome for r in records]
    if len(set(names)) == 1:
        return names[0] if len(names) == 1 else "%s x%d" % (names[0], len(names))
    return ",".join(names)


def median_text(values: list[float], fmt: str) -> str:
    summary = summarize(values)
    if summary is None:
        return "-"
    text = fmt % summary.median
    if summary.n > 1:
        text += " ±" + fmt % summary.spread
    return text


def strategy_figures(records: list[RunRecord], kind: str = SOLO) -> dict:
    """Medians of one strategy cell's ok runs: migrations applied, migrate, test database,
    makemigrations --check, plan. Times (migrate, test database, the dev loop) from the ok runs
    of `kind` only ("solo" or "concurrent"); migrations applied and peaks from every ok run."""
    if not records:
        return {}
    ok = [r for r in records if r.outcome == "ok"]
    figures: dict = {"checks": _checks(records)}
    if not ok:
        figures["checks"] = outcomes(records)
        return figures
    timed = of_kind(ok, kind)
    figures["applied"] = summarize([applied_count(r.events) for r in ok]).median
    figures["peak"] = summarize([r.peak_rss_bytes / MB for r in ok]).median
    peaks = [step["peak_rss_bytes"] / MB for step in (test_database_step(r.dev_loop) for r in ok) if step]
    if peaks:
        figures["testdb_peak"] = summarize(peaks).median
    steps = {"wall": [r.wall_s for r in timed],
             "testdb": [step["wall_s"] for step in (test_database_step(r.dev_loop) for r in timed) if step],
             "mm": [r.dev_loop["makemigrations --check"]["wall_s"] for r in timed
                    if r.dev_loop and "makemigrations --check" in r.dev_loop],
             "plan": [step["wall_s"] for r in timed for name, step in (r.dev_loop or {}).items()
                      if name in ("migrate --plan", "showmigrations")]}
    for key, walls in steps.items():
        if walls:
            figures[key] = summarize(walls).median
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
        text += ", %d apps left as they were: %s" % (
            len(failed), ", ".join(failed[:4]) + (", ..." if len(failed) > 4 else ""))
    return text


def _fmt(value, fmt: str) -> str:
    return "-" if value is None else fmt % value


def _ratio(value, base) -> str:
    if value is None or not base:
        return "-"
    return "%.2f" % (value / base)


def render_text(table: Table) -> list[str]:
    """Aligned plain text for the terminal: header, rule, rows (no title)."""
    widths = [max([len(column)] + [len(row[i]) for row in table.rows]) for i, column in enumerate(table.columns)]

    def line(cells) -> str:
        parts = [(cell.rjust(width) if i in table.numeric else cell.ljust(width))
                 for i, (cell, width) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    header = line(table.columns)
    return [header, "-" * len(header)] + [line(row) for row in table.rows]
