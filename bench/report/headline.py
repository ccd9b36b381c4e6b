"""The report's first block: the answer, per project, before any detail.

A reader opens a report to learn which way to migrate their project, what
that way costs and where the time goes. So, per project (bench/report/focus.py
picks the comparison group), in this order:
- which strategy gets the database to the schema fastest, against `all`
  (plain `migrate` from empty), as a ratio of medians of ok runs; and which
  has the lowest peak, if another one. `floor` (the same SQL replayed
  without Django) is the bound no strategy reaches, and `backward` goes the
  other way (its result is an emptied database), so neither can win;
- what the winner costs, from its records: the data operations its
  transformation dropped (`transform["losses"]`, else the transformation's
  notes), apps it left as they were, schema differences with their details
  (a column type that changed), and the rest of `RunRecord.problems()`;
- the largest contributors: the slowest apps and migrations of the `all` run
  (the winner's, without one), from bench/report/attribution.py.

Times are a strategy's solo runs' when it has any, else its concurrent runs'
(measured while other runs shared the machine: concurrency.py), and a line
says when a comparison rests on concurrent timings; peaks use every ok run.

No side effects.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from migbench.bench.records import RunRecord

from .attribution import attribute
from .concurrency import CONCURRENT, SHARED, timed
from .focus import Focus, focus_groups, representative

BASELINE = "all"
BOUND = "floor"
MB = 2**20
SHOWN = 4  # losses, differences, contributors named before "and N more"


@dataclass(frozen=True)
class Headline:
    title: str  # "quick: zero is the fastest, 1.2x faster than all"
    lines: list[str] = field(default_factory=list)


def headlines(records: list[RunRecord]) -> list[Headline]:
    """One headline per project (scenario name), in name order."""
    return [headline(focus) for focus in focus_groups(records)]


def headline(focus: Focus) -> Headline:
    ok = {s: [r for r in runs if r.outcome == "ok"] for s, runs in focus.cells.items()}
    finished = {s: runs for s, runs in ok.items() if 2 * len(runs) > len(focus.cells[s])}
    times = {s: timed(runs) for s, runs in finished.items()}  # strategy -> (its solo runs, or concurrent; kind)
    wall = {s: statistics.median(r.wall_s for r in times[s][0]) for s in finished}
    peak = {s: statistics.median(r.peak_rss_bytes for r in runs) for s, runs in finished.items()}
    repeats = max(len(runs) for runs in focus.cells.values())
    lines = ["Measured on %s; %s." % (focus.where(), "medians of %d runs per strategy" % repeats
                                      if repeats > 1 else "one run per strategy")]
    project = next(iter(focus.cells.values()))[0].project if focus.cells else {}
    if project.get("kind") == "project" and project.get("own_migrations") is not None:
        lines.append("A real project: its own apps hold %s of its %s migrations (%s of %s apps); squash, "
                     "squash-final, zero and optimize change only those, backward unapplies only those." % (
                         project["own_migrations"], project.get("migrations"), project.get("own_apps"),
                         project.get("apps")))
    if len(focus.cells) < 2:
        title, more = _single(focus)
        return Headline(title, lines + more + _elsewhere(focus) + _contributors(focus))
    candidates = [s for s in wall if s != BOUND and not _emptied(finished[s])]
    best = min(candidates, key=lambda s: (wall[s], s)) if candidates else None
    shared = [s for s in finished if times[s][1] == CONCURRENT]
    if best is None:
        title = "%s: no strategy finished" % focus.scenario
    else:
        title, line = _winner(focus.scenario, best, {s: wall[s] for s in candidates}, peak,
                              {s: times[s][0] for s in finished})
        if {best, BASELINE} & set(shared):
            title += " (concurrent timings)"
        lines.append(line)
        low = min(candidates, key=lambda s: (peak[s], s))
        if peak[low] < 0.95 * peak[best]:  # a lower peak worth a line of its own
            lines.append("Lowest peak: %s at %s%s." % (low, _mb(peak[low]), _against(peak[low], peak.get(BASELINE),
                                                                                    "all's", _mb)))
        if best != BASELINE:
            lines.append(_costs(best, focus.cells[best]))
        # the other strategies that change the history: what they would cost, and for what speed
        for other in candidates:
            if other in (best, BASELINE) or not _transformed(focus.cells[other]):
                continue
            ratio = " (%.2fx all's time)" % (wall[other] / wall[BASELINE]) if wall.get(BASELINE) else ""
            lines.append(_costs(other, focus.cells[other])[:-1] + ratio + ".")
    if shared:
        lines.append(_shared_line(shared, len(finished)))
    base = wall.get(BASELINE)
    if BOUND in wall and base:
        lines.append("Floor (the same SQL replayed without Django): %s, %.2fx all: the schema's own cost; "
                     "everything above it is Django's." % (_s(wall[BOUND]), wall[BOUND] / base))
    crashed = [_crash(s, runs) for s, runs in focus.cells.items() if s not in finished]
    if crashed:
        lines.append("Did not finish: %s." % "; ".join(crashed))
    others = [(s, _problems(runs)) for s, runs in focus.cells.items() if s != best]
    others = [(s, found) for s, found in others if found]
    if others:
        lines.append("Not equivalent to all: %s." % "; ".join("%s (%s)" % (s, found[0]) for s, found in others))
    return Headline(title, lines + _elsewhere(focus) + _contributors(focus))


def _shared_line(shared: list[str], finished: int) -> str:
    """Which strategies' times rest on concurrent runs, and what that means for the comparison."""
    if finished == 1:
        return "Its time was %s (no solo run): longer than it would take alone; its peak is unaffected." % SHARED
    if len(shared) == finished:
        return ("Every time here was %s (no solo run): the strategies compare like with like, but each "
                "took longer than it would alone." % SHARED)
    return ("The times of %s rest on runs %s (no solo run): slower than alone, so their comparison with the "
            "other strategies' solo times is not like with like; their peaks are unaffected." % (
                ", ".join(shared), SHARED))


def _winner(scenario: str, best: str, wall: dict, peak: dict, runs: dict | None = None) -> tuple[str, str]:
    base = wall.get(BASELINE)
    overlap = _overlap(best, runs or {})
    if overlap:  # repeats say the gap is the machine's noise, not the strategy's
        return ("%s: no strategy is clearly faster than all" % scenario,
                "Fastest median: %s at %s against %s for all (%.2fx), but %s: the difference is within the "
                "spread of the runs; repeat on a quiet machine (--repeat) before acting on it." % (
                    best, _s(wall[best]), _s(base), wall[best] / base, overlap))
    if best == BASELINE:
        others = sorted((w, s) for s, w in wall.items() if s != BASELINE)
        title = "%s: plain migrate (all) is the fastest" % scenario
        line = "Fastest: all at %s, peak %s." % (_s(base), _mb(peak[BASELINE]))
        if others:
            line += " The next, %s, takes %.2fx its time." % (others[0][1], others[0][0] / base)
        return title, line
    if not base:
        return ("%s: %s is the fastest (no all run to compare with)" % (scenario, best),
                "Fastest: %s at %s, peak %s." % (best, _s(wall[best]), _mb(peak[best])))
    ratio = base / wall[best]
    title = "%s: %s is the fastest, %s" % (
        scenario, best, "%.1fx faster than all" % ratio if ratio >= 1.05 else "about as fast as all")
    line = "Fastest: %s at %s against %s for all (%.2fx the time); its peak %s%s." % (
        best, _s(wall[best]), _s(base), wall[best] / base, _mb(peak[best]),
        _against(peak[best], peak.get(BASELINE), "all's", _mb))
    return title, line


def _overlap(best: str, runs: dict) -> str:
    """"zero's runs 10.9-14.9 s overlap all's 12.8-19.4 s", when repeats of both overlap; else ""."""
    if best == BASELINE or len(runs.get(best, ())) < 2 or len(runs.get(BASELINE, ())) < 2:
        return ""
    mine = [r.wall_s for r in runs[best]]
    base = [r.wall_s for r in runs[BASELINE]]
    if max(mine) < min(base):
        return ""
    return "%s's runs %s-%s overlap all's %s-%s" % (best, _s(min(mine)), _s(max(mine)), _s(min(base)),
                                                    _s(max(base)))


def _single(focus: Focus) -> tuple[str, list[str]]:
    strategy, runs = next(iter(focus.cells.items()))
    ok = [r for r in runs if r.outcome == "ok"]
    if ok:
        chosen, kind = timed(ok)
        wall = statistics.median(r.wall_s for r in chosen)
        peak = statistics.median(r.peak_rss_bytes for r in ok)
        title = "%s: %s takes %s, peak %s%s" % (focus.scenario, strategy, _s(wall), _mb(peak),
                                                " (concurrent timings)" if kind == CONCURRENT else "")
        more = [] if len(ok) == len(runs) else ["Did not finish: %s." % _crash(strategy, runs)]
        if kind == CONCURRENT:
            more.append(_shared_line([strategy], 1))
        return title, more
    return "%s: %s did not finish (%s)" % (focus.scenario, strategy, _crash(strategy, runs)), []


def _costs(strategy: str, runs: list[RunRecord]) -> str:
    """What choosing `strategy` gives up, from its records."""
    facts = []
    transform = next((r.transform for r in runs if isinstance(r.transform, dict)), None) or {}
    losses = transform.get("losses")
    if isinstance(losses, list):
        if losses or transform.get("kind") == "zero":  # zero drops them by design: saying none is news
            facts.append(_losses(losses))
    else:
        notes = transform.get("notes")
        facts += [n for n in (notes if isinstance(notes, list) else []) if isinstance(n, str) and "drop" in n]
    apps = transform.get("apps")
    failed = sorted({str(a.get("app", "?")) for a in (apps if isinstance(apps, list) else [])
                     if isinstance(a, dict) and a.get("status") == "failed"})
    if failed:
        facts.append("%d apps left as they were (%s)" % (len(failed), _some(failed)))
    validated = [r.validation for r in runs if isinstance(r.validation, dict)]
    differences = next((v.get("differences") for v in validated if v.get("differences")), None)
    if differences:
        count = max(v.get("difference_count") or 0 for v in validated) or len(differences)
        facts.append("schema differs from all's in %d object%s: %s" % (
            count, "" if count == 1 else "s", _some([_difference(d) for d in differences if isinstance(d, dict)],
                                                    total=count)))
    elif any(v.get("schema") == "identical" for v in validated):
        facts.append("schema identical to all's")
    facts += _problems(runs, schema=False)
    deploys = [r.deploy for r in runs if isinstance(r.deploy, dict)]
    if deploys and deploys[0].get("ok"):
        facts.append("fake deploy on an old database: %s" % deploys[0].get("verdict"))
    return "What %s costs: %s." % (strategy, "; ".join(facts) if facts else "nothing recorded against it")


def _transformed(runs: list[RunRecord]) -> bool:
    return any(isinstance(r.transform, dict) and r.transform.get("losses") for r in runs)


def _losses(losses: list) -> str:
    """'drops 3 data operations of 2 migrations (2 RunPython, 1 RunSQL): RunPython fill in shop.0004_x, ...'."""
    items, kinds, migrations = [], {}, set()
    for loss in losses:
        if not isinstance(loss, dict):
            continue
        migration = str(loss.get("migration") or "?")
        app = loss.get("app")
        if app and "." not in migration:
            migration = "%s.%s" % (app, migration)
        operation = str(loss.get("operation") or "operation")
        kinds[operation] = kinds.get(operation, 0) + 1
        migrations.add(migration)
        name = loss.get("name")
        items.append("%s%s in %s" % (operation, " %s" % name if isinstance(name, str) and name else "", migration))
    if not items:
        return "drops no data operation"
    return "drops %d data operation%s of %d migration%s (%s): %s" % (
        len(items), "" if len(items) == 1 else "s", len(migrations), "" if len(migrations) == 1 else "s",
        ", ".join("%d %s" % (kinds[k], k) for k in sorted(kinds)), _some(items))


def _difference(difference: dict) -> str:
    text = "%s %s" % (difference.get("object", "?"), difference.get("kind", "?"))
    return text + (": %s" % difference["detail"] if difference.get("detail") else "")


def _problems(runs: list[RunRecord], schema: bool = True) -> list[str]:
    found = []
    for record in runs:
        for problem in record.problems():
            if (schema or not problem.startswith("schema differs")) and problem not in found:
                found.append(problem)
    return found


def _elsewhere(focus: Focus) -> list[str]:
    """The project's other cells (versions, caps, engines) that crashed: the crash matrix in one line."""
    cells: dict = {}
    for record in focus.others:
        cells.setdefault(record.cell(), []).append(record)
    dead = [(cell, runs) for cell, runs in cells.items() if any(r.outcome != "ok" for r in runs)]
    if not dead:
        return []
    named = ["%s on Django %s / Python %s / %s" % (_crash(c.strategy, runs), c.django_version, c.python_version,
                                                 c.database) for c, runs in dead]
    return ["Elsewhere in the matrix, %d of %d other cells did not finish: %s." % (
        len(dead), len(cells), _some(named))]


def _contributors(focus: Focus) -> list[str]:
    strategy = BASELINE if BASELINE in focus.cells else next(iter(focus.cells))
    record = representative(focus.cells[strategy])
    attribution = attribute(record)
    if not attribution.migrations:
        return []
    total = attribution.total_seconds
    apps = ["%s %s (%s)" % (a.app, _s(a.seconds), _share(a.seconds, total)) for a in attribution.apps()[:3]]
    slowest = ["%s %s (%s, RSS %+.1f MB)" % (m.migration, _s(m.seconds), _share(m.seconds, total),
                                            (m.rss_growth or 0) / MB) for m in attribution.slowest(3)]
    peak = "; its peak, %s, %s" % (_mb(attribution.peak.rss), attribution.peak.describe()) if attribution.peak else ""
    return ["Where %s's time goes (run %d): its %d migrations take %s of %s%s." % (
                strategy, record.repeat, attribution.applied, _s(total), _s(record.wall_s), peak),
            "Largest contributors: apps %s; migrations %s." % (", ".join(apps), ", ".join(slowest))]


def _emptied(runs: list[RunRecord]) -> bool:
    return any(isinstance(r.validation, dict) and r.validation.get("schema") == "emptied" for r in runs)


def _crash(strategy: str, runs: list[RunRecord]) -> str:
    dead = [r for r in runs if r.outcome != "ok"]
    first = dead[0]
    where = " during %s" % first.failed_during if first.failed_during else ""
    cap = " under %s" % first.cell().memory_label if first.memory_limit_bytes else ""
    runs_text = "" if len(dead) == len(runs) == 1 else " (all %d runs)" % len(runs) if len(dead) == len(runs) \
        else " (%d of %d runs)" % (len(dead), len(runs))
    return "%s %s%s%s%s" % (strategy, first.outcome, where, cap, runs_text)


def _against(value, base, name: str, show) -> str:
    if not base:
        return ""
    return " (%.2fx %s %s)" % (value / base, name, show(base))


def _some(items: list[str], total: int | None = None) -> str:
    total = len(items) if total is None else total
    shown = ", ".join(items[:SHOWN])
    return shown + (", and %d more" % (total - SHOWN) if total > SHOWN else "")


def _share(value: float, total: float) -> str:
    return "%.0f%%" % (100 * value / total) if total > 0 else "-"


def _s(seconds: float) -> str:
    if seconds < 0.1:
        return "%.3f s" % seconds
    return ("%.2f s" % seconds) if seconds < 10 else ("%.1f s" % seconds) if seconds < 100 else "%.0f s" % seconds


def _mb(value: float) -> str:
    return "%.1f MB" % (value / MB) if value < 10 * MB else "%.0f MB" % (value / MB)
