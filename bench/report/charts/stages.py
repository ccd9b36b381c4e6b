"""Where a profiled run's time goes: one horizontal stacked bar per profiled cell and mode.

Built from `ResultSet.profiled` (the `migbench run --profile` runs), never from
timing records. One chart per project (scenario + hash): a bar per profiled
run, its profiled wall split into the stage timer's exclusive stages in the
order of bench/records/profiles.py's STAGES, one colour each, then
"unattributed" (the process's exit, outside the worker's clocks).
Seconds are the profiled run's, slowed by its profiler; a memory-mode run is
slowed far more (tracemalloc) and its bar says so.
"""

from __future__ import annotations

from matplotlib.patches import Patch

from migbench.bench.records import RunRecord

from ..profiles import PROFILER, STARTUP, UNATTRIBUTED, ProfiledCell, profiled_cells, seconds_text, short_label, stage_rows
from .common import (Chart, cell_sort_key, fmt_s_short, group_by, names_with_several_sizes,
                     new_figure, scenario_key, scenario_title, slugify, text_colour_on, to_png)

# One colour per stage; "state" takes the timeline's loud rendering colour (the 2015 story).
STAGE_COLOURS = {
    "setup": "#bdbdbd",
    "checks": "#9e9ac8",
    "graph": "#f2c94c",
    "state": "#e7298a",
    "schema": "#1f77b4",
    "sql": "#a6cee3",
    "python": "#2ca02c",
    "signals": "#cab2d6",
    "rest": "#8c8c8c",
    PROFILER: "#fdd0a2",
    STARTUP: "#d9d9d9",
    UNATTRIBUTED: "#ffffff",
}
EXTRA_COLOURS = ("#ff7f0e", "#8c564b", "#17becf", "#bcbd22")
LEGEND_COLUMNS = 4


def build(profiled: list[RunRecord]) -> list[Chart]:
    cells = profiled_cells(sorted(profiled, key=cell_sort_key))
    several = names_with_several_sizes([pc.record for pc in cells])
    charts = []
    for (name, sha), group in group_by(cells, lambda pc: scenario_key(pc.record)).items():
        charts.append(_chart(name, sha, group, name in several))
    return charts


def colour(key: str, index: int) -> str:
    return STAGE_COLOURS.get(key) or EXTRA_COLOURS[index % len(EXTRA_COLOURS)]


def bar_labels(cells: list[ProfiledCell]) -> list[str]:
    """What tells the bars apart: the axes that vary among them (Django at least), and the mode."""
    axes = (("strategy", lambda c: c.strategy), ("django", lambda c: "Django " + c.django_version),
            ("python", lambda c: "Python " + c.python_version), ("database", lambda c: c.database),
            ("cap", lambda c: "cap " + c.memory_label))
    shown = [(name, get) for name, get in axes if len({get(pc.cell) for pc in cells}) > 1]
    shown = shown or [axes[1]]
    modes = len({pc.mode for pc in cells}) > 1 or any(pc.mode != "time" for pc in cells)
    return ["%s%s" % (" / ".join(get(pc.cell) for _, get in shown), " (%s)" % pc.mode if modes else "")
            for pc in cells]


def _chart(name: str, sha: str, cells: list[ProfiledCell], with_hash: bool) -> Chart:
    labels = bar_labels(cells)
    rows = [stage_rows(pc.profile) for pc in cells]
    keys = list(dict.fromkeys(key for row in rows for key, _, _ in row))
    names = {key: label for row in rows for key, label, _ in row}
    widest = max([sum(s for _, _, s in row) for row in rows] + [pc.wall() for pc in cells] + [1e-9])
    legend_rows = (len(keys) + LEGEND_COLUMNS - 1) // LEGEND_COLUMNS
    legend_in = 0.1 + 0.19 * legend_rows
    figure = new_figure(1.45 + 0.45 * len(cells) + legend_in)
    ax = figure.subplots(1, 1)
    y_positions = list(range(len(cells)))[::-1]
    for y, pc, row in zip(y_positions, cells, rows):
        left = 0.0
        for index, (key, _label, seconds) in enumerate(row):
            if seconds <= 0:
                continue
            fill = colour(key, keys.index(key))
            ax.barh([y], [seconds], left=left, height=0.6, color=fill, edgecolor="#555555", linewidth=0.4,
                    hatch="//" if key == UNATTRIBUTED else None, zorder=2)
            if seconds >= 0.08 * widest:
                ax.text(left + seconds / 2, y, fmt_s_short(seconds), ha="center", va="center", fontsize=7,
                        color=text_colour_on(fill), zorder=3)
            left += seconds
        ax.annotate(_s(pc.wall()), xy=(max(left, pc.wall()), y), xytext=(3, 0), textcoords="offset points",
                    va="center", ha="left", fontsize=8, fontweight="bold")
    ax.set_yticks(y_positions)
    ax.set_yticklabels(labels, fontsize=8.5)
    ax.set_ylim(-0.6, len(cells) - 0.4)
    ax.set_xlim(0, widest * 1.15)
    ax.set_xlabel("seconds of the profiled run (exclusive stages: the innermost on the stack wins)", fontsize=9)
    ax.grid(axis="x", color="#dddddd", lw=0.5, zorder=0)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=8)
    handles = [Patch(facecolor=colour(k, i), edgecolor="#555555", hatch="//" if k == UNATTRIBUTED else None,
                     label="unattributed" if k == UNATTRIBUTED else short_label(names[k])) for i, k in enumerate(keys)]
    figure.legend(handles=handles, loc="lower center", ncol=LEGEND_COLUMNS, fontsize=7.5, frameon=False,
                  borderaxespad=0.2)
    first = cells[0].record
    title = scenario_title("Where profiled time goes", name, [first], with_hash)
    figure.suptitle(title, fontsize=11.5, fontweight="bold")
    figure.tight_layout(rect=(0, legend_in / figure.get_size_inches()[1], 1, 0.95))
    png = to_png(figure)
    slug = slugify("stages", name, sha[:8] if with_hash else "")
    return Chart(slug=slug, kind="stages", title=title, caption=caption(cells, labels, rows), png=png)


def _s(seconds: float) -> str:
    return seconds_text(seconds) + " s"


def caption(cells: list[ProfiledCell], labels: list[str], rows: list) -> str:
    sentences = ["Each bar is one profiled run's wall time split into exclusive stages, in seconds; "
                 "hatched: unattributed (the process's exit)"]
    facts = []
    for label, pc, row in zip(labels, cells, rows):
        stages = [(s, lab) for key, lab, s in row if key != UNATTRIBUTED]
        if not stages or pc.wall() <= 0:
            continue
        seconds, stage = max(stages)
        facts.append("%s: %s, %.0f%% (%s of %s)" % (label, short_label(stage), 100 * seconds / pc.wall(),
                                                    _s(seconds), _s(pc.wall())))
    if facts:
        sentences.append("The largest stage per bar: " + "; ".join(facts[:4]) + ("; ..." if len(facts) > 4 else ""))
    sentences.append("Profilers slow a run (tracemalloc far more than cProfile), so these runs are in no "
                     "timing comparison")
    return ". ".join(sentences) + "."
