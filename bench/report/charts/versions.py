"""Wall time and peak memory by Django (and Python) version, outcome on every bar.

One chart per project (scenario + hash), strategy and database with at least
two (Django, Python) pairs: two panels (wall time, peak RSS), bars grouped by
Django version, one bar per (Python, cap) combination, coloured by outcome;
bars are medians over repeats, whiskers min..max.

The sizes of a `migbench sweep` (records with `scenario.vary`) get none: the
scaling chart already draws every version at every size, and a bar chart per
size would repeat it a dozen times.
"""

from __future__ import annotations

from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from migbench.bench.records import RunRecord

from ..concurrency import times_note
from .common import (MB, CellStats, Chart, by_project, cap_key, cap_label, cell_stats, error_bar, fmt_mb,
                     fmt_range, fmt_s_short, group_by, join_words, log_scale_wanted, names_with_several_sizes,
                     new_figure, outcome_colour, outcome_legend_handles, plain_log_axis, scenario_title,
                     slugify, sort_outcomes, swept, to_png, version_key)

CAP_MARK_COLOUR = "#b30000"


def build(records: list[RunRecord]) -> list[Chart]:
    charts = []
    names_with_sizes = names_with_several_sizes(records)
    groups = by_project(records)
    several_databases = len({k[2] for k in groups}) > 1
    for (scenario, strategy, database), group in groups.items():
        pairs = {(r.django_version, r.python_version) for r in group}
        if len(pairs) < 2 or all(swept(r) for r in group):
            continue
        charts.append(_chart(scenario, strategy, database, group, scenario[0] in names_with_sizes,
                             several_databases))
    return charts


def _chart(scenario: tuple, strategy: str, database: str, group: list[RunRecord], with_hash: bool,
           with_database: bool) -> Chart:
    name, sha = scenario
    cells = {cell: cell_stats(repeats) for cell, repeats in group_by(group, lambda r: r.cell()).items()}
    djangos = sorted({c.django_version for c in cells}, key=version_key)
    combos = sorted({(c.python_version, c.memory_limit_bytes) for c in cells},
                    key=lambda pc: (version_key(pc[0]), cap_key(pc[1])))
    show_python = len({p for p, _ in combos}) > 1
    show_cap = len({m for _, m in combos}) > 1
    lookup = {(c.django_version, c.python_version, c.memory_limit_bytes): s for c, s in cells.items()}

    width = min(0.8 / max(len(combos), 1), 0.4)
    bars = []  # (x, stats, tick label, django)
    for gi, django in enumerate(djangos):
        for ci, (python, cap) in enumerate(combos):
            stats = lookup.get((django, python, cap))
            if stats is None:
                continue
            x = gi + (ci - (len(combos) - 1) / 2) * width
            tick = "\n".join(([("py" + python)] if show_python else []) + ([cap_label(cap)] if show_cap else []))
            bars.append((x, stats, tick or "Django %s" % django, django))

    figure = new_figure(7.6 if (show_python or show_cap) else 6.4)
    ax_time, ax_peak = figure.subplots(2, 1)
    repeats = max(s.n for _, s, _, _ in bars)
    _panel(ax_time, bars, width, lambda s: s.wall, 1.0, fmt_s_short, "wall time (s)")
    _panel(ax_peak, bars, width, lambda s: s.peak, MB, lambda v: fmt_mb(v * MB).replace(" MB", ""),
           "peak RSS (MB)")
    capped = [(x, s.first.memory_limit_bytes) for x, s, _, _ in bars if s.first.memory_limit_bytes]
    for x, cap in capped:
        ax_peak.plot([x - width * 0.45, x + width * 0.45], [cap / MB] * 2, color=CAP_MARK_COLOUR, lw=1.6, ls="--",
                     zorder=4)
    for ax in (ax_time, ax_peak):
        ax.set_xticks([x for x, _, _, _ in bars])
        ax.set_xticklabels([t for _, _, t, _ in bars], fontsize=7.5 if (show_python or show_cap) else 9)
        ax.set_xlim(-0.5, len(djangos) - 0.5)
        if show_python or show_cap:
            trans = blended_transform_factory(ax.transData, ax.transAxes)
            for gi, django in enumerate(djangos):
                ax.text(gi, -0.2 if (show_python and show_cap) else -0.14, "Django %s" % django, transform=trans,
                        ha="center", va="top", fontsize=9, fontweight="bold")
            for gi in range(1, len(djangos)):
                ax.axvline(gi - 0.5, color="#cccccc", lw=0.8, zorder=0)
    handles = outcome_legend_handles(sort_outcomes(s.outcome for _, s, _, _ in bars))
    if capped:
        handles.append(Line2D([], [], color=CAP_MARK_COLOUR, ls="--", lw=1.6, label="memory cap of that run"))
    ax_time.legend(handles=handles, fontsize=8, loc="upper left", frameon=False,
                   ncol=min(len(handles), 4))
    title = scenario_title("Wall time and peak memory by version", name, group, with_hash)
    title += " (%s%s)" % (strategy, ", " + database if with_database else "")
    figure.suptitle(title, fontsize=12, fontweight="bold")
    figure.tight_layout(rect=(0, 0, 1, 0.97), h_pad=2.5)
    png = to_png(figure)
    slug = slugify("versions", name, sha[:8] if with_hash else "", strategy, database if with_database else "")
    return Chart(slug=slug, kind="versions", title=title, caption=caption(list(cells.values()), repeats), png=png)


def _panel(ax, bars, width, pick, scale, fmt, ylabel) -> None:
    values = [pick(s).median / scale for _, s, _, _ in bars]
    lows = [pick(s).low / scale for _, s, _, _ in bars]
    log = log_scale_wanted(values + lows)
    for (x, stats, _tick, _django), value in zip(bars, values):
        colour = outcome_colour(stats.outcome)
        below, above = error_bar(pick(stats), scale)
        ax.bar([x], [value], width=width * 0.9, color=colour, edgecolor="black", linewidth=0.4, zorder=2,
               yerr=[[below], [above]] if stats.n > 1 else None, ecolor="black", capsize=3)
        label = fmt(value)
        if stats.outcome != "ok":
            label += "\n" + stats.outcome
        if stats.note:
            label += "\n" + stats.note
        ax.annotate(label, xy=(x, value + above), xytext=(0, 2), textcoords="offset points", ha="center",
                    va="bottom", fontsize=7, color="black" if stats.outcome == "ok" else colour,
                    fontweight="normal" if stats.outcome == "ok" else "bold", zorder=5)
    if log:
        ax.set_yscale("log")
        low = min(v for v in lows if v > 0) / 3
        high = max(v for v in values) * 6
        ax.set_ylim(low, high)
        plain_log_axis(ax.yaxis, low, high)
        ylabel += ", log scale"
    else:
        ax.set_ylim(0, max(values) * 1.3 if max(values) > 0 else 1)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="#dddddd", lw=0.5, zorder=0)
    ax.set_axisbelow(True)


def caption(cells: list[CellStats], repeats: int) -> str:
    sentences = ["Bars are %s, coloured by outcome%s; a crashed run's bar is its time and memory when it died." % (
        "medians over %d repeats (whiskers min to max)" % repeats if repeats > 1 else "single runs",
        ", dashes mark each run's memory cap" if any(s.first.memory_limit_bytes for s in cells) else "")]
    by_django = group_by(sorted(cells, key=lambda s: version_key(s.first.django_version)),
                         lambda s: s.first.django_version)
    fragments = []
    for django, stats in by_django.items():
        ok = [s for s in stats if s.outcome == "ok"]
        bad = [s for s in stats if s.outcome != "ok"]
        text = "Django %s" % django
        parts = []
        if bad:
            crashes = group_by(bad, lambda s: (s.outcome, s.first.memory_limit_bytes))
            for (outcome, cap), items in crashes.items():
                pythons = join_words(sorted({s.first.python_version for s in items}, key=version_key))
                parts.append("%s%s on Python %s" % (outcome, " under " + cap_label(cap) if cap else "", pythons))
        if ok:
            peaks = [s.peak.median for s in ok]
            walls = [s.wall.median for s in ok]
            parts.append("%s ok, peak %s, %s" % ("all" if not bad else "%d of %d" % (len(ok), len(stats)),
                                                 fmt_range(min(peaks) / MB, max(peaks) / MB, "MB"),
                                                 fmt_range(min(walls), max(walls), "s")))
        fragments.append(text + ": " + "; ".join(parts))
    if len(fragments) <= 4:
        sentences.append(". ".join(fragments) + ".")
    else:
        ok = [s for s in cells if s.outcome == "ok"]
        bad = [s for s in cells if s.outcome != "ok"]
        text = "%d of %d version combinations finished" % (len(ok), len(cells))
        if ok:
            low = min(ok, key=lambda s: s.peak.median)
            high = max(ok, key=lambda s: s.peak.median)
            text += "; peaks from %s (Django %s / Python %s) to %s (Django %s / Python %s)" % (
                fmt_mb(low.peak.median), low.first.django_version, low.first.python_version,
                fmt_mb(high.peak.median), high.first.django_version, high.first.python_version)
        if bad:
            text += "; crashed: " + ", ".join("Django %s / Python %s (%s)" % (
                s.first.django_version, s.first.python_version, s.outcome) for s in bad[:4])
        sentences.append(text + ".")
    shared = times_note([r for s in cells for r in s.records if r.outcome == s.outcome], per_cell=True)
    if shared:
        sentences.append(shared)
    return " ".join(sentences)
