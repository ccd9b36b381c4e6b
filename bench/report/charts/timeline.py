"""Memory timeline: RSS over time per run, phases shaded, the cap, the crash point.

The picture of the 2015 bug: Django 1.8 renders every model state before it
applies anything (one long magenta band where memory climbs to the cap and the
run is killed), 1.9 renders on demand (no band, a flat line).

One figure per scenario name, one subplot per cell (its median-wall repeat),
at most MAX_PANELS subplots per figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from migbench.bench.records import RunRecord, events as run_timeline

from .common import (DEFAULT_PHASE_ALPHA, MB, PHASE_ALPHA, PHASE_COLOURS, PHASE_ORDER, Chart, cap_label,
                     cell_sort_key, downsample_max, fixed_margins, fmt_mb, fmt_s, group_by, new_figure,
                     outcome_colour, project_size, representative, slugify, to_png, varying)

MAX_PANELS = 12
LEGEND_COLUMNS = 5
LINE_COLOUR = "#08306b"
CAP_COLOUR = "#b30000"


@dataclass(frozen=True)
class Span:
    phase: str  # one of PHASE_ORDER
    start: float
    stop: float
    step: str | None = None


@dataclass(frozen=True)
class StepMark:
    name: str
    t: float  # where the step's child was spawned, on the record's clock


_PHASE_MARKS = ("render_start", "apply_start", "unapply_start", "post_migrate_start", "end")


def split_steps(events: Sequence[dict]) -> list[tuple[str | None, list[dict]]]:
    """Consecutive runs of events with the same `step` (one child each)."""
    groups: list[tuple[str | None, list[dict]]] = []
    for event in events:
        step = event.get("step")
        if not groups or groups[-1][0] != step or (event.get("event") == "start" and groups[-1][1]):
            groups.append((step, []))
        groups[-1][1].append(event)
    return groups


def phase_spans(events: Sequence[dict], end: float) -> list[Span]:
    """The phase bands of a run, per step for multi-step strategies.

    Each step's phases end at the next step's spawn (or `end` for the last):
    an unterminated phase (a child killed while rendering) runs to there.
    """
    groups = split_steps([e for e in events if "t" in e and "event" in e])
    spans: list[Span] = []
    for index, (step, group) in enumerate(groups):
        group_end = _group_start(groups[index + 1][1]) if index + 1 < len(groups) else end
        group_end = max(group_end, group[-1]["t"])
        spans.extend(_group_spans(group, group_end, step))
    return spans


def step_marks(record: RunRecord) -> list[StepMark]:
    """Where each step began, when the record has more than one step's events."""
    groups = split_steps(record.events)
    if len(groups) < 2:
        return []
    return [StepMark(step or "step %d" % (i + 1), _group_start(group)) for i, (step, group) in enumerate(groups)]


def _group_start(group: list[dict]) -> float:
    """Where a step begins on the record's clock: its first event (the worker's `start`)."""
    first = group[0]
    return float(first["t"])


def _group_spans(group: list[dict], end: float, step: str | None) -> list[Span]:
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for event in group:
        first.setdefault(event["event"], event["t"])
        last[event["event"]] = event["t"]
    spans: list[Span] = []

    def add(phase: str, start: float | None, stop: float | None) -> None:
        if start is None:
            return
        stop = end if stop is None else stop
        if stop > start:
            spans.append(Span(phase, float(start), float(stop), step))

    def next_mark(after: float, names: Sequence[str]) -> float | None:
        found = [e["t"] for e in group if e["event"] in names and e["t"] >= after]
        return min(found) if found else None

    if "start" in first:
        add("setup", first["start"], first.get("setup_end", next_mark(first["start"], _PHASE_MARKS)))
    if "setup_end" in first:
        add("loading", first["setup_end"], next_mark(first["setup_end"], _PHASE_MARKS))
    render_open = None
    for event in group:
        if event["event"] == "render_start":
            render_open = event["t"]
        elif event["event"] == "render_success" and render_open is not None:
            add("rendering", render_open, event["t"])
            render_open = None
    if render_open is not None:
        add("rendering", render_open, end)
    starts = [first[k] for k in ("apply_start", "unapply_start") if k in first]
    if starts:
        finished = [last[k] for k in ("apply_success", "unapply_success") if k in last]
        if run_timeline.failed_during(group) in ("applying", "unapplying") or not finished:
            stop = end
        else:
            stop = max(finished)
        add("applying", min(starts), stop)
    if "post_migrate_start" in first:
        add("post-migrate", first["post_migrate_start"], first.get("post_migrate_end"))
    return spans


def record_end(record: RunRecord) -> float:
    ts = record.samples.get("t") or []
    candidates = [record.wall_s or 0.0]
    if ts:
        candidates.append(ts[-1])
    if record.events:
        candidates.append(record.events[-1].get("t", 0.0))
    return max(candidates)


def rss_series(record: RunRecord):
    """(t, rss in MB), downsampled; the worker's event RSS when the record has no samples."""
    t = record.samples.get("t") or []
    rss = record.samples.get("rss") or []
    if not t or not rss:
        points = [(e["t"], e["rss"]) for e in record.events if "t" in e and e.get("rss")]
        t = [p[0] for p in points]
        rss = [p[1] for p in points]
    xs, ys = downsample_max(t, rss)
    return xs, ys / MB


def crashed(record: RunRecord) -> bool:
    return record.outcome != "ok"


def build(records: list[RunRecord]) -> list[Chart]:
    charts = []
    by_scenario = group_by(records, lambda r: r.scenario.get("name", "?"))
    for name in sorted(by_scenario):
        cells = group_by(sorted(by_scenario[name], key=cell_sort_key), lambda r: r.cell())
        chosen = [representative(repeats) for repeats in cells.values()]
        chosen = [r for r in chosen if r.samples.get("t") or any(e.get("rss") for e in r.events)]
        if not chosen:
            continue
        pages = [chosen[i:i + MAX_PANELS] for i in range(0, len(chosen), MAX_PANELS)]
        for page_no, page in enumerate(pages, start=1):
            charts.append(_chart(name, page, page_no, len(pages)))
    return charts


def _chart(name: str, page: list[RunRecord], page_no: int, pages: int) -> Chart:
    several_sizes = varying(page, project_size)
    show = dict(strategy=varying(page, lambda r: r.strategy),
                cap=varying(page, lambda r: r.memory_limit_bytes) or any(r.memory_limit_bytes for r in page),
                database=varying(page, lambda r: r.database.get("engine")))
    n = len(page)
    cols = 1 if n == 1 else 2 if n <= 8 else 3
    rows = -(-n // cols)
    height = (3.6 if n == 1 else 2.35 * rows) + 1.2
    figure = new_figure(height)
    axes = figure.subplots(rows, cols, squeeze=False)
    for index, record in enumerate(page):
        ax = axes[index // cols][index % cols]
        _panel(ax, record, several_sizes, show, compact=n > 1)
    for index in range(n, rows * cols):
        axes[index // cols][index % cols].set_visible(False)
    for index in range(n):
        ax = axes[index // cols][index % cols]
        if index // cols == rows - 1 or index + cols >= n:
            ax.set_xlabel("seconds since start")
        if index % cols == 0:
            ax.set_ylabel("RSS (MB)")
    title = "Memory over time: %s" % name
    if not several_sizes:
        models, migrations, apps = project_size(page[0])
        if models:
            title += " (%d models, %d migrations)" % (models, migrations)
    if pages > 1:
        title += " [%d/%d]" % (page_no, pages)
    figure.suptitle(title, fontsize=12, fontweight="bold")
    legend_rows = -(-_legend(figure, page) // LEGEND_COLUMNS)
    fixed_margins(figure, rows, cols, top=0.95, bottom=0.55 + 0.2 * legend_rows, left=0.75, right=0.25,
                  row_gap=0.78, col_gap=0.65)
    png = to_png(figure)
    slug = slugify("timeline", name) + ("" if page_no == 1 else "-%d" % page_no)
    return Chart(slug=slug, kind="timeline", title=title, caption=caption(page), png=png)


def _panel(ax, record: RunRecord, several_sizes: bool, show: dict, compact: bool) -> None:
    end = record_end(record)
    spans = phase_spans(record.events, end)
    for span in spans:
        ax.axvspan(span.start, span.stop, color=PHASE_COLOURS[span.phase], lw=0,
                   alpha=PHASE_ALPHA.get(span.phase, DEFAULT_PHASE_ALPHA), zorder=0)
    marks = step_marks(record)
    if marks:
        for mark in marks[1:]:
            ax.axvline(mark.t, color="#555555", lw=0.6, ls=":", zorder=1)
        if len(marks) <= 8:
            for mark in marks:
                ax.text(mark.t, 0.98, " " + _short_step(mark.name), transform=ax.get_xaxis_transform(),
                        rotation=90, va="top", ha="left", fontsize=6, color="#444444", zorder=4)
    xs, ys = rss_series(record)
    ax.plot(xs, ys, color=LINE_COLOUR, lw=1.1, zorder=3)
    top = float(ys.max()) if len(ys) else 0.0
    if record.memory_limit_bytes:
        cap_mb = record.memory_limit_bytes / MB
        ax.axhline(cap_mb, color=CAP_COLOUR, ls="--", lw=1.2, zorder=2)
        ax.text(0.005, cap_mb, " cap %s" % cap_label(record.memory_limit_bytes), color=CAP_COLOUR,
                transform=ax.get_yaxis_transform(), va="bottom", ha="left", fontsize=8, zorder=4)
        top = max(top, cap_mb)
    ax.set_ylim(0, top * 1.15 if top else 1)
    ax.set_xlim(0, max(end, float(xs[-1]) if len(xs) else 0.0) * 1.02 or 1)
    if crashed(record) and len(xs):
        x, y = float(xs[-1]), float(ys[-1])
        colour = outcome_colour(record.outcome)
        ax.plot([x], [y], marker="X", ms=11, color=colour, mec="black", mew=0.8, zorder=5)
        where = (" during %s" % record.failed_during) if record.failed_during else ""
        ax.annotate("%s%s\nat %s" % (record.outcome, where, fmt_mb(y * MB)),
                    xy=(x, y), xytext=(-8, -6), textcoords="offset points", ha="right", va="top",
                    fontsize=7.5 if compact else 9, color=colour, fontweight="bold", zorder=6,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))
    label = _panel_label(record, several_sizes, show)
    status = record.outcome if record.outcome != "ok" else "ok"
    ax.set_title("%s\n%s, %s, peak %s" % (label, status, fmt_s(record.wall_s), fmt_mb(record.peak_rss_bytes)),
                 fontsize=8.5 if compact else 10, color="black" if status == "ok" else outcome_colour(status))
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", color="#dddddd", lw=0.5, zorder=0)


def _short_step(name: str) -> str:
    return name if len(name) <= 22 else name[:21] + "…"


def _panel_label(record: RunRecord, several_sizes: bool, show: dict) -> str:
    parts = []
    if several_sizes:
        models, migrations, _apps = project_size(record)
        parts.append("%d models" % models)
    if show["strategy"]:
        parts.append(record.strategy)
    parts.append("Django %s" % record.django_version)
    parts.append("Py %s" % record.python_version)
    if show["cap"]:
        parts.append("cap %s" % cap_label(record.memory_limit_bytes))
    if show["database"]:
        parts.append(record.database.get("engine", "?"))
    return " / ".join(parts)


def _legend(figure, page: list[RunRecord]) -> int:
    phases = {s.phase for r in page for s in phase_spans(r.events, record_end(r))}
    handles = [Line2D([], [], color=LINE_COLOUR, lw=1.2, label="RSS (process tree)")]
    handles += [Patch(facecolor=PHASE_COLOURS[p], alpha=PHASE_ALPHA.get(p, DEFAULT_PHASE_ALPHA),
                      label=p + (" model states" if p == "rendering" else "")) for p in PHASE_ORDER if p in phases]
    if any(r.memory_limit_bytes for r in page):
        handles.append(Line2D([], [], color=CAP_COLOUR, ls="--", lw=1.2, label="memory cap"))
    outcomes = sorted({r.outcome for r in page if crashed(r)})
    for outcome in outcomes:
        handles.append(Line2D([], [], ls="none", marker="X", ms=9, color=outcome_colour(outcome), mec="black",
                              label=outcome))
    figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), LEGEND_COLUMNS), fontsize=8,
                  frameon=False)
    return len(handles)


def caption(page: list[RunRecord]) -> str:
    """1-3 sentences: how to read it, then the crashes and the peaks, figures from the records."""
    sentences = ["RSS of each run over time (the median-wall repeat of each cell): bands are the phases the "
                 "worker reported (%s)%s%s." % (
                     _phases_text(page),
                     ", the dashed red line is the memory cap" if any(r.memory_limit_bytes for r in page) else "",
                     ", X marks where a run died" if any(crashed(r) for r in page) else "")]
    several_sizes = varying(page, project_size)
    show_strategy = varying(page, lambda r: r.strategy)
    show_cap = varying(page, lambda r: r.memory_limit_bytes)
    show_database = varying(page, lambda r: r.database.get("engine"))

    def who(record: RunRecord) -> str:
        text = "Django %s / Python %s" % (record.django_version, record.python_version)
        if show_strategy:
            text = "%s on %s" % (record.strategy, text)
        extras = []
        if several_sizes:
            extras.append("%d models" % project_size(record)[0])
        if show_cap and not crashed(record):
            extras.append("cap %s" % cap_label(record.memory_limit_bytes) if record.memory_limit_bytes else "no cap")
        if show_database:
            extras.append(record.database.get("engine", "?"))
        return ", ".join([text] + extras)

    dead = [r for r in page if crashed(r)]
    if dead:
        items = []
        for record in dead[:3]:
            where = (", during %s" % record.failed_during) if record.failed_during else ""
            cap = ("at the %s cap " % cap_label(record.memory_limit_bytes)) if record.memory_limit_bytes else ""
            items.append("%s was %s %safter %s%s" % (who(record), _verb(record.outcome), cap,
                                                      fmt_s(record.wall_s), where))
        more = ("; %d more run%s crashed" % (len(dead) - 3, "s" if len(dead) > 4 else "")) if len(dead) > 3 else ""
        sentences.append("; ".join(items) + more + ".")
    ok = [r for r in page if not crashed(r)]
    if ok:
        low = min(ok, key=lambda r: r.peak_rss_bytes)
        high = max(ok, key=lambda r: r.peak_rss_bytes)
        slowest_render = max(ok, key=lambda r: (r.phases or {}).get("rendering") or 0.0)
        render_s = (slowest_render.phases or {}).get("rendering") or 0.0
        if len(ok) == 1:
            text = "%s finished in %s, peaking at %s" % (who(low), fmt_s(low.wall_s), fmt_mb(low.peak_rss_bytes))
        elif low is high:
            text = "The runs that finished peaked at %s" % fmt_mb(low.peak_rss_bytes)
        else:
            text = "Finished runs peaked between %s (%s) and %s (%s)" % (
                fmt_mb(low.peak_rss_bytes), who(low), fmt_mb(high.peak_rss_bytes), who(high))
        if render_s and slowest_render.wall_s and render_s >= 0.2 * slowest_render.wall_s:
            text += "; rendering alone took %s of %s for %s" % (fmt_s(render_s), fmt_s(slowest_render.wall_s),
                                                               who(slowest_render))
        sentences.append(text + ".")
    return " ".join(sentences)


def _phases_text(page: list[RunRecord]) -> str:
    """The phases these runs had; rendering named only when a run rendered model states up front
    (Django 1.8 and 1.9 going forward, every version going backward): no band, no word of it."""
    spans = [s for r in page for s in phase_spans(r.events, record_end(r))]
    present = [p for p in PHASE_ORDER if any(s.phase == p for s in spans)]
    names = [p for p in present if p != "rendering"]
    text = ", ".join(names) if names else "none recorded"
    if "rendering" in present:
        longest = max(sum(s.stop - s.start for s in phase_spans(r.events, record_end(r)) if s.phase == "rendering")
                      for r in page)
        text += "; magenta is 'Rendering model states', up to %s in one run" % (
            fmt_s(longest) if longest >= 0.01 else "under 0.01 s")
    else:
        text += "; no run here rendered model states up front"
    return text


def _verb(outcome: str) -> str:
    return {"oom-killed": "OOM-killed", "segfault": "killed by SIGSEGV", "memory-error": "stopped by MemoryError",
            "timeout": "timed out", "error": "stopped by an error"}.get(outcome, outcome)
