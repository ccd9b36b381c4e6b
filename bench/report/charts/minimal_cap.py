"""Minimal cap: the smallest memory cap under which migrate finished, per version pair.

One chart per project (scenario + hash), strategy, database and kind of cap
(a resident cap and an address-space cap answer different questions), over
the cells run under at least three caps (bench/report/minimal.py: usually a
`migbench bisect`). Each column is a (Django, Python) pair; every capped run
is a dot at its cap, coloured by outcome; the answer is a green bar, the
highest cap that failed a red one, the bracket between them shaded; a black
diamond is the uncapped peak RSS when the set holds one. The 512 MB VM of
the 2015 report is a dashed line, so "would it have fit?" reads at a glance.
"""

from __future__ import annotations

from migbench.bench.records import RunRecord
from migbench.bench.report.minimal import CapSearch, cap_searches
from migbench.units import format_size

from .common import (MB, Chart, fmt_mb, group_by, join_words, names_with_several_sizes, new_figure,
                     outcome_colour, plain_log_axis, slugify, sort_outcomes, to_png)

VM_2015_BYTES = 512 * 2**20
VM_2015_LABEL = "512 MB: the 2015 VM"
ANSWER_COLOUR, FAILING_COLOUR, BRACKET_COLOUR = "#2e9d3a", "#d62728", "#fde0dd"
HALF_WIDTH = 0.32


def build(records: list[RunRecord]) -> list[Chart]:
    searches = cap_searches(records)
    several_sizes = names_with_several_sizes(records)
    groups = group_by(searches, lambda s: (s.scenario, s.strategy, s.database, s.caps_kind))
    several_kinds = len({key[3] for key in groups}) > 1
    return [_chart(key, group, key[0][0] in several_sizes, several_kinds) for key, group in groups.items()]


def _chart(key: tuple, group: list[CapSearch], with_size: bool, with_kind: bool) -> Chart:
    (name, sha), strategy, database, kind = key
    figure = new_figure(4.8)
    ax = figure.add_subplot(1, 1, 1)
    values = [VM_2015_BYTES]
    for x, search in enumerate(group):
        values.extend(_draw(ax, x, search))
    low, high = min(values) / MB / 1.35, max(values) / MB * 1.35
    ax.axhline(VM_2015_BYTES / MB, color="#444444", ls="--", lw=1.2, zorder=1)
    ax.text(len(group) - 0.5, VM_2015_BYTES / MB, " " + VM_2015_LABEL, ha="right", va="bottom", fontsize=8,
            color="#444444")
    if high / low > 8:
        ax.set_yscale("log")
        plain_log_axis(ax.yaxis, low, high)
    ax.set_ylim(low if high / low > 8 else 0, high)
    ax.set_xlim(-0.6, len(group) - 0.4)
    ax.set_xticks(range(len(group)))
    ax.set_xticklabels(["Django %s\nPython %s" % (s.django_version, s.python_version) for s in group], fontsize=9)
    ax.set_ylabel("memory (MB): caps tried, peak RSS")
    ax.grid(axis="y", color="#e5e5e5", lw=0.6)
    ax.set_axisbelow(True)
    _legend(figure, group)
    size = ""
    models = (group[0].runs[0].project or {}).get("models")
    if with_size and models:
        size = " at %d models" % models
    other_database = database if database != "sqlite" else ""
    details = [strategy] + ([other_database] if other_database else []) + (["%s cap" % kind] if with_kind else [])
    title = "Minimal memory cap: %s%s (%s)" % (name, size, ", ".join(details))
    figure.suptitle(title, fontsize=12, fontweight="bold")
    figure.tight_layout(rect=(0, 0.13, 1, 0.95))
    slug = slugify("minimal-cap", name, sha[:8] if with_size else "", strategy, other_database,
                   kind if with_kind else "")
    return Chart(slug=slug, kind="minimal-cap", title=title, caption=caption(group), png=to_png(figure))


def _draw(ax, x: int, search: CapSearch) -> list[float]:
    """Draw one column; return the byte values it spans (for the axis limits)."""
    drawn = []
    if search.answer is not None and search.failing is not None:
        ax.fill_between([x - HALF_WIDTH, x + HALF_WIDTH], search.failing / MB, search.answer / MB,
                        color=BRACKET_COLOUR, zorder=1, lw=0)
    for cap, colour, label in ((search.answer, ANSWER_COLOUR, "needs %s"),
                               (search.failing, FAILING_COLOUR, "fails at %s")):
        if cap is None:
            continue
        ax.hlines(cap / MB, x - HALF_WIDTH, x + HALF_WIDTH, colors=colour, lw=3, zorder=3)
        above = cap == search.answer
        ax.annotate(label % format_size(cap), (x + HALF_WIDTH, cap / MB), xytext=(4, 3 if above else -3),
                    textcoords="offset points", va="bottom" if above else "top", fontsize=8.5, color=colour,
                    fontweight="bold" if above else "normal")
        drawn.append(cap)
    by_cap = group_by(search.runs, lambda r: r.memory_limit_bytes)
    for cap, runs in by_cap.items():
        for i, record in enumerate(runs):
            offset = (i - (len(runs) - 1) / 2) * 0.09 - 0.16
            ax.plot(x + offset, cap / MB, marker="o" if record.outcome == "ok" else "X", ms=6.5, ls="none",
                    color=outcome_colour(record.outcome), markeredgecolor="white", markeredgewidth=0.6, zorder=4)
        drawn.append(cap)
    if search.uncapped_peak:
        ax.plot(x + 0.16, search.uncapped_peak / MB, marker="D", ms=7, ls="none", color="black", zorder=5)
        drawn.append(search.uncapped_peak)
    return drawn


def _legend(figure, group: list[CapSearch]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o" if outcome == "ok" else "X", ls="none", ms=6.5, color=outcome_colour(outcome),
                      label="run %s" % outcome) for outcome in sort_outcomes(r.outcome for s in group for r in s.runs)]
    handles.append(Line2D([], [], color=ANSWER_COLOUR, lw=3, label="minimal cap"))
    handles.append(Line2D([], [], color=FAILING_COLOUR, lw=3, label="highest cap that failed"))
    if any(s.uncapped_peak for s in group):
        handles.append(Line2D([], [], marker="D", color="black", ls="none", label="uncapped peak RSS"))
    figure.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)


def caption(group: list[CapSearch]) -> str:
    runs = sum(len(s.runs) for s in group)
    sentences = ["The smallest memory cap under which migrate finished, per version pair, from %d capped runs "
                 "(dots: one run each at its cap, coloured by outcome)." % runs]
    sentences.extend(describe(search) for search in group)
    fits = [s for s in group if s.answer is not None and s.answer <= VM_2015_BYTES]
    misses = [s for s in group if s.answer is None or s.answer > VM_2015_BYTES]
    if fits and misses:
        sentences.append("Within the 2015 VM's 512 MB: %s; not: %s." % (
            join_words([_pair(s) for s in fits]), join_words([_pair(s) for s in misses])))
    elif fits or misses:
        sentences.append("%s the 2015 VM's 512 MB." % ("Every pair fits within" if fits else "No pair fits within"))
    return " ".join(sentences)


def describe(search: CapSearch) -> str:
    """One sentence: the answer, its bracket, how sure, against the uncapped peak."""
    if search.status == "needs more":
        text = "%s needs more than %s (every run up to it failed)" % (_pair(search), format_size(search.highest_cap))
    else:
        text = "%s needs %s" % (_pair(search), format_size(search.answer))
        if search.failing is None:
            text += " or less (nothing tried failed)"
        else:
            text += " (at it: %s; at %s: %s)" % (search.describe_runs(search.answer), format_size(search.failing),
                                                 search.describe_runs(search.failing))
        if not search.confirmed:
            text += ", not confirmed by a repeat"
    if search.noisy:
        text += "; noisy near the threshold"
    if search.uncapped_peak:
        text += "; uncapped peak RSS %s" % fmt_mb(search.uncapped_peak)
        if search.answer:
            text += " (cap/peak %.2f)" % (search.answer / search.uncapped_peak)
    return text + "."


def _pair(search: CapSearch) -> str:
    return "Django %s / Python %s" % (search.django_version, search.python_version)
