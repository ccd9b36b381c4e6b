"""Crash matrix: which Django / Python version survives which memory cap.

One chart per project (scenario + hash), strategy and database where any run
had a cap: rows are (Django, Python), columns the caps ascending with "none"
last, each cell coloured by its outcome (the shared outcome colours) with the
outcome, "2/3 ok" when repeats disagree, and the peak RSS written in it.
"""

from __future__ import annotations

from matplotlib.patches import Rectangle

from migbench.bench.records import RunRecord

from ..concurrency import times_note
from .common import (Chart, by_project, cap_key, cap_label, cell_stats, fmt_mb, fmt_s_short, group_by,
                     join_words, names_with_several_sizes, new_figure, outcome_colour, outcome_legend_handles,
                     scenario_title, slugify, sort_outcomes, text_colour_on, to_png, version_key)

MISSING_COLOUR = "#f2f2f2"


def build(records: list[RunRecord]) -> list[Chart]:
    charts = []
    several_hashes = names_with_several_sizes(records)
    groups = by_project(records)
    several_databases = len({k[2] for k in groups}) > 1
    for (scenario, strategy, database), group in groups.items():
        if not any(r.memory_limit_bytes for r in group):
            continue
        charts.append(_chart(scenario, strategy, database, group, scenario[0] in several_hashes, several_databases))
    return charts


def matrix(group: list[RunRecord]):
    """(rows, caps, {(row, cap): CellStats}); rows are (django, python) in version order."""
    cells = group_by(group, lambda r: ((r.django_version, r.python_version), r.memory_limit_bytes))
    rows = sorted({k[0] for k in cells}, key=lambda dp: (version_key(dp[0]), version_key(dp[1])))
    caps = sorted({k[1] for k in cells}, key=cap_key)
    return rows, caps, {k: cell_stats(v) for k, v in cells.items()}


def _chart(scenario: tuple, strategy: str, database: str, group: list[RunRecord], with_hash: bool,
           with_database: bool) -> Chart:
    name, sha = scenario
    rows, caps, stats = matrix(group)
    repeats = max(s.n for s in stats.values())
    height = 1.9 + 0.62 * len(rows)
    figure = new_figure(height)
    ax = figure.add_subplot(1, 1, 1)
    for ri, row in enumerate(rows):
        for ci, cap in enumerate(caps):
            cell = stats.get((row, cap))
            y = len(rows) - 1 - ri
            if cell is None:
                ax.add_patch(Rectangle((ci, y), 1, 1, facecolor=MISSING_COLOUR, edgecolor="white", lw=2))
                ax.text(ci + 0.5, y + 0.5, "not run", ha="center", va="center", fontsize=8, color="#888888")
                continue
            fill = outcome_colour(cell.outcome)
            ax.add_patch(Rectangle((ci, y), 1, 1, facecolor=fill, edgecolor="white", lw=2))
            first = cell.outcome
            if cell.outcome != "ok" and cell.failed_during:
                first += " (%s)" % _short_phase(cell.failed_during)
            if cell.note:
                first += ", " + cell.note
            second = "peak %s, %s" % (fmt_mb(cell.peak.median), fmt_s_short(cell.wall.median))
            ax.text(ci + 0.5, y + 0.5, first + "\n" + second, ha="center", va="center", fontsize=8.5,
                    color=text_colour_on(fill), fontweight="bold" if cell.outcome != "ok" else "normal")
    ax.set_xlim(0, len(caps))
    ax.set_ylim(0, len(rows))
    ax.set_xticks([i + 0.5 for i in range(len(caps))])
    ax.set_xticklabels(["no cap" if c is None else cap_label(c) for c in caps])
    ax.set_yticks([len(rows) - 1 - i + 0.5 for i in range(len(rows))])
    ax.set_yticklabels(["Django %s\nPython %s" % row for row in rows], fontsize=8.5)
    ax.set_xlabel("memory cap of the run")
    ax.xaxis.set_label_position("top")
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    handles = outcome_legend_handles(sort_outcomes(s.outcome for s in stats.values()))
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    title = scenario_title("Crash matrix", name, group, with_hash)
    title += " (%s%s)" % (strategy, ", " + database if with_database else "")
    figure.suptitle(title, fontsize=12, fontweight="bold")
    figure.tight_layout(rect=(0, 0.08 if height < 4 else 0.05, 1, 0.95))
    png = to_png(figure)
    slug = slugify("crash-matrix", name, sha[:8] if with_hash else "", strategy, database if with_database else "")
    return Chart(slug=slug, kind="crash-matrix", title=title, caption=caption(rows, caps, stats, repeats), png=png)


def _short_phase(phase: str) -> str:
    return phase if len(phase) <= 24 else phase[:23] + "…"


def caption(rows: list, caps: list, stats: dict, repeats: int) -> str:
    sentences = ["Each cell is one Django / Python pair (rows) under one memory cap (columns, no cap last), "
                 "coloured by outcome, with the peak RSS and wall time%s." % (
                     " (medians of %d repeats)" % repeats if repeats > 1 else "")]
    crashed_rows, safe_rows = [], []
    for row in rows:
        cells = [(cap, stats[(row, cap)]) for cap in caps if (row, cap) in stats]
        bad = [(cap, s) for cap, s in cells if s.outcome != "ok"]
        (crashed_rows if bad else safe_rows).append((row, cells, bad))
    fragments = []
    for row, cells, bad in crashed_rows[:3]:
        by_outcome = group_by(bad, lambda cs: cs[1].outcome)
        what = "; ".join("%s at %s%s" % (
            outcome, join_words([cap_label(c) if c else "no cap" for c, _ in items]),
            (" (during %s)" % items[0][1].failed_during) if items[0][1].failed_during else "")
            for outcome, items in by_outcome.items())
        text = "Django %s / Python %s: %s" % (row[0], row[1], what)
        ok = [(cap, s) for cap, s in cells if s.outcome == "ok"]
        if ok:
            cap, s = ok[0]
            text += ", ok %s (peak %s)" % ("only without a cap" if cap is None else "from %s" % cap_label(cap),
                                           fmt_mb(s.peak.median))
        fragments.append(text)
    if len(crashed_rows) > 3:
        fragments.append("%d more version pairs crashed somewhere" % (len(crashed_rows) - 3))
    if fragments:
        sentences.append("; ".join(fragments) + ".")
    if safe_rows:
        top = max(s.peak.median for _, cells, _ in safe_rows for _, s in cells)
        capped = [c for c in caps if c is not None]
        smallest = cap_label(capped[0]) if capped else None
        names = join_words(["Django %s / Python %s" % row for row, _, _ in safe_rows[:4]]
                           + (["%d more" % (len(safe_rows) - 4)] if len(safe_rows) > 4 else []))
        sentences.append("%s finished in every cell%s, peaking at %s at most." % (
            names, " (caps down to %s)" % smallest if smallest else "", fmt_mb(top)))
    shared = times_note([r for s in stats.values() for r in s.records if r.outcome == s.outcome], per_cell=True)
    if shared:
        sentences.append(shared)
    return " ".join(sentences)
