"""What every chart shares: the Chart value, outcome and phase colours, figure -> PNG, grouping.

Figures are made with `matplotlib.figure.Figure` and rendered by
`FigureCanvasAgg` directly: no pyplot, so no global figure registry, no
backend switch, nothing to close, and charts can be built from any thread.
"""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Hashable, Iterable, Sequence, TypeVar

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from migbench.bench.analysis.stats import Summary, summarize
from migbench.bench.records import RunRecord
from migbench.bench.report.load import version_key  # noqa: F401  (the charts' version order is the loader's)
# one strategy order and one representative run for the charts, the cost tables and the headline
from migbench.bench.report.focus import STRATEGY_ORDER, representative, strategy_key  # noqa: F401
from migbench.bench.report.concurrency import timed
from migbench.units import format_size

T = TypeVar("T")

MB = float(2**20)
DPI = 100
WIDTH_IN = 9.0  # 900 px at DPI
MAX_PLOT_POINTS = 2000  # a 75-minute run holds ~190,000 samples; 900 px cannot show more


@dataclass(frozen=True)
class Chart:
    slug: str  # unique file stem within one report, [a-z0-9-] only
    kind: str  # one of charts.KINDS
    title: str
    caption: str  # what to look at, with the decisive figures from the data
    png: bytes


# One table for every chart: a reader learns it once.
OUTCOME_COLOURS = {
    "ok": "#2e9d3a",
    "oom-killed": "#d62728",
    "segfault": "#7a0c0c",
    "memory-error": "#ff8c1a",
    "timeout": "#8c8c8c",
    "error": "#7b3294",
}
UNKNOWN_OUTCOME_COLOUR = "#444444"
OUTCOME_ORDER = tuple(OUTCOME_COLOURS)

# Phases as background bands; rendering is the loud one (the 2015 story).
PHASE_COLOURS = {
    "setup": "#e3e3e3",
    "loading": "#fbe9a6",
    "rendering": "#e7298a",
    "applying": "#a6cee3",
    "post-migrate": "#cab2d6",
}
PHASE_ALPHA = {"rendering": 0.38}
DEFAULT_PHASE_ALPHA = 0.55
PHASE_ORDER = tuple(PHASE_COLOURS)

SERIES_COLOURS = ("#1f77b4", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                  "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#843c39", "#7b4173")


def outcome_colour(outcome: str) -> str:
    return OUTCOME_COLOURS.get(outcome, UNKNOWN_OUTCOME_COLOUR)


def text_colour_on(hex_colour: str) -> str:
    """Black or white, whichever reads better on the fill."""
    r, g, b = (int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return "black" if luminance > 0.45 else "white"


# -- figures ---------------------------------------------------------------------------


def new_figure(height_in: float, width_in: float = WIDTH_IN) -> Figure:
    figure = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def to_png(figure: Figure) -> bytes:
    """PNG bytes of the figure; deterministic (no software/date metadata); the figure is freed."""
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    finally:
        figure.clear()
    return buffer.getvalue()


# -- labels and numbers ----------------------------------------------------------------


def slugify(*parts: str) -> str:
    text = "-".join(str(p) for p in parts if p not in (None, ""))
    text = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return text or "chart"


def unique_slugs(slugs: Sequence[str]) -> list[str]:
    """Same order; a repeated slug gets -2, -3... (never colliding with an existing one)."""
    taken = set()
    result = []
    for slug in slugs:
        candidate, n = slug, 1
        while candidate in taken:
            n += 1
            candidate = "%s-%d" % (slug, n)
        taken.add(candidate)
        result.append(candidate)
    return result


def cap_key(limit: int | None) -> float:
    """Caps ascending, 'none' last."""
    return float("inf") if limit is None else float(limit)


def cap_label(limit: int | None) -> str:
    return format_size(limit)


def fmt_mb(value_bytes: float | None) -> str:
    if value_bytes is None:
        return "?"
    mb = value_bytes / MB
    return ("%.1f MB" % mb) if mb < 10 else ("%.0f MB" % mb)


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 1:
        return "%.2f s" % seconds
    if seconds < 10:
        return "%.1f s" % seconds
    if seconds < 600:
        return "%.0f s" % seconds
    return "%.0f s (%.0f min)" % (seconds, seconds / 60)


def fmt_s_short(seconds: float | None) -> str:
    """For text on bars: no minutes."""
    if seconds is None:
        return "?"
    if seconds < 1:
        return "%.2f s" % seconds
    return ("%.1f s" % seconds) if seconds < 10 else ("%.0f s" % seconds)


def fmt_ratio(ratio: float) -> str:
    if ratio >= 10:
        return "%.0fx" % ratio
    if ratio >= 0.095:
        return "%.2fx" % ratio if ratio < 1 else "%.1fx" % ratio
    return "%.3fx" % ratio


def describe_cell(record: RunRecord, *, django: bool = True, python: bool = True, cap: bool = True,
                  strategy: bool = False) -> str:
    parts = []
    if strategy:
        parts.append(record.strategy)
    if django:
        parts.append("Django %s" % record.django_version)
    if python:
        parts.append("Python %s" % record.python_version)
    if cap:
        parts.append("cap %s" % cap_label(record.memory_limit_bytes))
    return " / ".join(parts)


def varying(records: Iterable[RunRecord], getter: Callable[[RunRecord], Hashable]) -> bool:
    return len({getter(r) for r in records}) > 1


# -- grouping --------------------------------------------------------------------------


def group_by(items: Iterable[T], key: Callable[[T], Hashable]) -> dict:
    """Insertion-ordered groups (the caller sorts keys where order matters)."""
    groups: dict = defaultdict(list)
    for item in items:
        groups[key(item)].append(item)
    return dict(groups)


def scenario_key(record: RunRecord) -> tuple:
    """One generated project: the scenario's name and content hash."""
    return (record.scenario.get("name", "?"), record.scenario.get("sha256", ""))


def names_with_several_sizes(records: Iterable[RunRecord]) -> set[str]:
    """Scenario names recorded under more than one hash (a sweep, or files sharing a name)."""
    by_name = group_by(records, lambda r: scenario_key(r)[0])
    return {name for name, rs in by_name.items() if len({scenario_key(r)[1] for r in rs}) > 1}


def scenario_title(prefix: str, name: str, group: Sequence[RunRecord], with_size: bool) -> str:
    """'<prefix>: <scenario>', with 'at N models' when the name covers several sizes."""
    title = "%s: %s" % (prefix, name)
    models = (group[0].project or {}).get("models")
    if with_size and models:
        title += " at %d models" % models
    return title


def by_project(records: Iterable[RunRecord]) -> dict:
    """Records in cell order, grouped by project (scenario + hash), strategy and database engine."""
    return group_by(sorted(records, key=cell_sort_key),
                    lambda r: (scenario_key(r), r.strategy, r.database.get("engine", "")))


def swept(record: RunRecord) -> bool:
    """Made by `migbench sweep` at one of its sizes (the record names the knobs it set: `scenario.vary`)."""
    return isinstance(record.scenario.get("vary"), dict)


def project_size(record: RunRecord) -> tuple:
    p = record.project or {}
    return (p.get("models") or 0, p.get("migrations") or 0, p.get("apps") or 0)


def cell_sort_key(record: RunRecord) -> tuple:
    return (project_size(record), record.scenario.get("sha256", ""), strategy_key(record.strategy),
            version_key(record.django_version), version_key(record.python_version),
            cap_key(record.memory_limit_bytes), record.database.get("engine", ""))


def majority_outcome(repeats: Sequence[RunRecord]) -> tuple[str, str | None]:
    """(the outcome to colour by, a note like '2/3 ok' when repeats disagree, else None).

    Ties go to the crash: a cell that fails one run in two is not safe.
    """
    counts = Counter(r.outcome for r in repeats)
    outcome = max(counts, key=lambda o: (counts[o], o != "ok", -_outcome_rank(o)))
    note = None
    if len(counts) > 1:
        note = "%d/%d ok" % (counts.get("ok", 0), len(repeats))
    return outcome, note


def _outcome_rank(outcome: str) -> int:
    return OUTCOME_ORDER.index(outcome) if outcome in OUTCOME_ORDER else len(OUTCOME_ORDER)


def sort_outcomes(outcomes: Iterable[str]) -> list[str]:
    """Distinct outcomes in the table's order (ok first)."""
    return sorted(set(outcomes), key=lambda o: (_outcome_rank(o), o))


def outcome_legend_handles(outcomes: Iterable[str]):
    from matplotlib.patches import Patch

    return [Patch(facecolor=outcome_colour(o), edgecolor="none", label=o) for o in outcomes]


# -- samples ---------------------------------------------------------------------------


def downsample_max(t: Sequence[float], values: Sequence[float],
                   max_points: int = MAX_PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ~max_points points; each bucket of consecutive samples keeps its maximum.

    The peak of every bucket survives (so the chart's highest point is the
    run's sampled peak), at the time it was sampled; the first and last
    samples are always kept, so the line starts at spawn and ends where the
    run ended (a crash point stays where it was).
    """
    t_arr = np.asarray(t, dtype=float)
    v_arr = np.asarray(values, dtype=float)
    n = min(len(t_arr), len(v_arr))
    t_arr, v_arr = t_arr[:n], v_arr[:n]
    if n <= max_points:
        return t_arr, v_arr
    size = int(np.ceil(n / max(max_points - 2, 1)))
    starts = np.arange(0, n, size)
    # index of each bucket's max: reduceat gives the max value; argmax per bucket via padding
    full = (n // size) * size
    idx = []
    if full:
        blocks = v_arr[:full].reshape(-1, size)
        idx.append(blocks.argmax(axis=1) + starts[:full // size])
    if full < n:
        idx.append(np.array([full + int(v_arr[full:].argmax())]))
    keep = np.unique(np.concatenate(idx + [np.array([0, n - 1])]))
    return t_arr[keep], v_arr[keep]


def log_scale_wanted(values: Iterable[float], threshold: float = 30.0) -> bool:
    positive = [v for v in values if v and v > 0]
    return bool(positive) and max(positive) / min(positive) > threshold


# -- repeats of one cell ---------------------------------------------------------------


@dataclass(frozen=True)
class CellStats:
    """The repeats of one cell reduced to what a bar or a matrix cell shows.

    Figures come from the repeats that had the cell's (majority) outcome: a
    median mixing a finished run's time with a killed run's time-to-death
    means nothing; `note` ("2/3 ok") says when repeats disagreed.
    """

    records: tuple
    outcome: str
    note: str | None
    wall: Summary
    peak: Summary  # bytes

    @property
    def first(self) -> RunRecord:
        return self.records[0]

    @property
    def n(self) -> int:
        return len(self.records)

    @property
    def failed_during(self) -> str | None:
        for record in self.records:
            if record.outcome == self.outcome and record.failed_during:
                return record.failed_during
        return None


def cell_stats(repeats: Sequence[RunRecord]) -> CellStats:
    """The wall from the chosen repeats' solo runs, else their concurrent ones (never both); the peak from all."""
    outcome, note = majority_outcome(repeats)
    chosen = [r for r in repeats if r.outcome == outcome]
    return CellStats(tuple(repeats), outcome, note, summarize([r.wall_s for r in timed(chosen)[0]]),
                     summarize([r.peak_rss_bytes for r in chosen]))


def error_bar(summary: Summary, scale: float = 1.0) -> tuple[float, float]:
    """(below, above) the median, for matplotlib's yerr/xerr."""
    return ((summary.median - summary.low) / scale, (summary.high - summary.median) / scale)


def fmt_range(low: float, high: float, unit: str) -> str:
    """Values in `unit` (MB or s): "4056-8777 MB", "1418-4496 s (24-75 min)"; one value when both round alike."""
    if unit == "MB":
        one = lambda v: fmt_mb(v * MB).replace(" MB", "")  # noqa: E731
    else:
        one = lambda v: fmt_s_short(v).replace(" s", "")  # noqa: E731
    text = one(low) if one(low) == one(high) else "%s-%s" % (one(low), one(high))
    text += " " + unit
    if unit == "s" and high >= 600:
        text += " (%s min)" % ("%.0f" % (low / 60) if round(low / 60) == round(high / 60)
                               else "%.0f-%.0f" % (low / 60, high / 60))
    return text


def join_words(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def plain_log_axis(axis, low: float, high: float) -> None:
    """Ticks of a log axis as plain numbers (0.6, 1, 2, 50...) rather than 10^n, readable at any span.

    Over a wide span: 1-2-5 steps per decade; over a narrow one (less than
    4x, where 1-2-5 leaves one or two ticks) the nice linear ticks inside it.
    """
    from matplotlib.ticker import (FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter,
                                   NullLocator)

    if low <= 0 or high <= 0:
        return
    if high / low > 4:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    else:
        ticks = [t for t in MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(low, high) if t > 0]
        axis.set_major_locator(FixedLocator(ticks))
        axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: "%g" % float("%.3g" % v)))
    axis.set_minor_formatter(NullFormatter())


def fixed_margins(figure: Figure, rows: int, cols: int, *, top: float, bottom: float, left: float,
                  right: float = 0.2, row_gap: float = 0.0, col_gap: float = 0.0) -> None:
    """Subplot margins and gaps in inches (tight_layout measures every text: slow with many panels)."""
    width, height = figure.get_size_inches()
    axes_h = (height - top - bottom - (rows - 1) * row_gap) / rows
    axes_w = (width - left - right - (cols - 1) * col_gap) / cols
    figure.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                           top=1 - top / height, hspace=row_gap / axes_h if rows > 1 else 0,
                           wspace=col_gap / axes_w if cols > 1 else 0)
