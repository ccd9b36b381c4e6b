"""Scaling: wall time and peak memory against project size, log-log, with the fitted exponent.

Records that share a scenario name but differ in size (different content
hash: `migbench sweep`, or `migbench run` on scenario variants) make one
chart per name. A series is everything else that is held fixed (strategy,
Django, Python, cap, database: `growth.series_of`). The fits are those of
`bench/analysis/growth.py`, the same the sweep's summary prints: a power law per
series over the per-size medians of ok runs; crashed runs are drawn as X and
left out of the fit.

The x variable: for sweep records, what the sweep varied (`growth`'s rule:
the model count when apps or models per app vary, the migration count when
migrations per app vary, both when both do); otherwise the model count, or
the migration count when every size has the same number of models. With two
variables the chart plots against models and draws the fit's prediction at
the measured sizes, one line per level of the other knob.

A one-variable series with five sizes or more also gets the fit over its
three largest sizes (`growth.fit_largest`), dotted: a fixed cost (creating
the models) bends the full-range line, and the largest sizes say how cost
grows from there on (README, "How the cost grows": 128-512 migrations).

Times (points and time fits) come from one kind of run per chart: the solo
runs, or the concurrent ones when no ok run is solo (concurrency.py); a size
without a run of that kind has no time point. Peaks use every ok run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from migbench.bench.analysis import growth
from migbench.bench.analysis.stats import Summary, summarize
from migbench.bench.records import Cell, RunRecord

from ..concurrency import CONCURRENT, of_kind, preferred_kind, times_note
from .common import (MB, SERIES_COLOURS, Chart, cap_key, fmt_s, group_by, new_figure, outcome_colour,
                     plain_log_axis, slugify, sort_outcomes, strategy_key, swept, to_png, version_key)

LINE_OVERHANG = 1.1  # a fitted line runs this factor past the first and last sizes
TAIL_SIZES = 3  # the largest sizes fitted on their own...
TAIL_MIN_SIZES = 5  # ...in a series with at least this many (so two or more are left out)
# (growth's quantity, axis label, read, scale to the axis unit)
QUANTITIES = (("time", "wall time (s)", lambda r: r.wall_s, 1.0),
              ("peak", "peak RSS (MB)", lambda r: r.peak_rss_bytes, MB))


@dataclass
class Point:
    sizes: dict  # variable -> count (median over the size's ok runs)
    level: tuple  # the other knobs' values: one fitted line per level in two-variable charts
    values: dict  # quantity -> Summary (axis units); "time" None without a run of the chart's timing kind


@dataclass
class Series:
    key: Cell  # growth.series_of: the cell without the scenario's identity
    label: str
    points: list  # [Point] of ok runs, x ascending
    crashes: list  # [(x, record)]
    fit: growth.SeriesFit | None
    tail: growth.SeriesFit | None = None  # the fit over the TAIL_SIZES largest sizes


def series_sort_key(cell: Cell) -> tuple:
    return (strategy_key(cell.strategy), version_key(cell.django_version), version_key(cell.python_version),
            cap_key(cell.memory_limit_bytes), cell.database)


def variables_for(records: list[RunRecord]) -> tuple[str, ...]:
    """What to fit against (see the module docstring); () when the records hold a single size."""
    ok = [r for r in records if r.outcome == "ok"]
    made_by_sweep = [r for r in ok if swept(r)]
    if made_by_sweep and len(made_by_sweep) == len(ok):
        axes: dict = {}
        for record in made_by_sweep:
            for name, value in record.scenario["vary"].items():
                axes.setdefault(name, set()).add(value)
        variables = fit_variables({name: sorted(values) for name, values in axes.items()})
        if variables and all(_distinct(ok, v) >= 2 for v in variables):
            return variables
    for variable in ("models", "migrations"):
        if _distinct(ok, variable) >= 2:
            return (variable,)
    return ()


def fit_variables(axes: dict) -> tuple[str, ...]:
    """The sweep's rule (bench/run/sweep.py `fit_variables`, kept in step by a test; not imported, since
    the sweep pulls in the runner): models when apps or models per app vary, migrations when
    migrations per app vary, both when both do."""
    varied = {name for name, values in axes.items() if len(values) > 1}
    return tuple(v for v, knobs in (("models", {"apps", "models"}), ("migrations", {"migrations"}))
                 if varied & knobs)


def x_variable(records: list[RunRecord]) -> str | None:
    """The variable on the x axis (the first fitted one), or None when there is no scaling to show."""
    variables = variables_for(records)
    return variables[0] if variables else None


def _distinct(records: list[RunRecord], variable: str) -> int:
    return len({(r.project or {}).get(variable) for r in records if (r.project or {}).get(variable)})


def series_for(records: list[RunRecord], variables: tuple[str, ...] | str) -> list[Series]:
    if isinstance(variables, str):
        variables = (variables,)
    x = variables[0]
    kind = preferred_kind([r for r in records if r.outcome == "ok"])
    fits = _like_with_like(growth.fit_series, records, variables, kind)
    tails = _like_with_like(growth.fit_largest, records, variables, kind, TAIL_SIZES) if len(variables) == 1 else {}
    groups = group_by(records, lambda r: growth.series_of(r.cell()))
    keys = sorted(groups, key=series_sort_key)
    result = []
    for key in keys:
        group = groups[key]
        ok = [r for r in group if r.outcome == "ok" and all((r.project or {}).get(v) for v in variables)]
        points = []
        for sha, runs in group_by(ok, lambda r: r.scenario.get("sha256", "")).items():
            sizes = {v: statistics.median(r.project[v] for r in runs) for v in variables}
            values = {q: summarize([read(r) / scale for r in (of_kind(runs, kind) if q == "time" else runs)])
                      for q, _label, read, scale in QUANTITIES}
            points.append(Point(sizes, _level(runs[0], variables), values))
        points.sort(key=lambda p: (p.sizes[x], p.level))
        crashes = [(r.project.get(x), r) for r in group if r.outcome != "ok" and (r.project or {}).get(x)]
        tail = tails.get(key) if len(points) >= TAIL_MIN_SIZES else None
        result.append(Series(key, growth.series_label(key, keys), points, crashes, fits.get(key), tail))
    return result


def _like_with_like(fit, records: list[RunRecord], variables: tuple[str, ...], kind: str, *more) -> dict:
    """`fit` (growth.fit_series or fit_largest) with the time fitted over runs of `kind` only, the peak over all."""
    fits = fit(records, variables, *more)
    if not of_kind(records, CONCURRENT):
        return fits
    timed = fit(of_kind(records, kind), variables, *more)
    return {key: replace(found, time=timed[key].time if key in timed else None) for key, found in fits.items()}


def _level(record: RunRecord, variables: tuple[str, ...]) -> tuple:
    """In a two-variable chart, the knobs other than the one moving along a line (apps)."""
    if len(variables) < 2:
        return ()
    vary = record.scenario.get("vary")
    if isinstance(vary, dict):
        return tuple(sorted((k, v) for k, v in vary.items() if k != "apps"))
    project = record.project or {}
    apps = project.get("apps") or 1
    return (("migrations per app", round(project.get("migrations", 0) / apps, 1)),)


def build(records: list[RunRecord]) -> list[Chart]:
    """One chart per scenario name and sweep design (the knobs a sweep varied).

    Two sweeps of one scenario over different knobs (`--vary apps=...`, then
    `--vary apps=16 --vary migrations=...`) are two experiments: one fit over
    both would mix designs, so each gets its chart.
    """
    charts = []
    groups = group_by(records, lambda r: (r.scenario.get("name", "?"), swept_knobs(r)))
    names = [name for name, _knobs in groups]
    for name, knobs in sorted(groups):
        group = groups[(name, knobs)]
        variables = variables_for(group)
        if not variables:
            continue
        series = series_for(group, variables)
        if not any(s.points for s in series):
            continue
        charts.append(_chart(name, variables, series, knobs if names.count(name) > 1 else None,
                             times_note([r for r in group if r.outcome == "ok"])))
    return charts


def swept_knobs(record: RunRecord) -> tuple[str, ...]:
    """The knobs the record's sweep set (`scenario.vary`), () for a record not made by a sweep."""
    return tuple(sorted(record.scenario["vary"])) if swept(record) else ()


def _growth_of(s: Series, quantity: str, tail: bool = False):
    fit = s.tail if tail else s.fit
    if fit is None:
        return None
    return fit.time if quantity == "time" else fit.peak


def tail_range(s: Series, x: str) -> tuple[float, float]:
    """The sizes the tail fit covers (its first and last)."""
    sizes = [p.sizes[x] for p in s.points[-TAIL_SIZES:]]
    return sizes[0], sizes[-1]


def _chart(name: str, variables: tuple[str, ...], series: list[Series], knobs: tuple | None = None,
           note: str = "") -> Chart:
    x = variables[0]
    figure = new_figure(5.2)
    axes = figure.subplots(1, 2)
    xs_all = sorted({p.sizes[x] for s in series for p in s.points} | {cx for s in series for cx, _ in s.crashes})
    for ax, (quantity, ylabel, read, scale) in zip(axes, QUANTITIES):
        handles = []
        for index, s in enumerate(series):
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            points = [p for p in s.points if p.values[quantity] is not None]
            if points:
                medians = [p.values[quantity].median for p in points]
                err = [[p.values[quantity].median - p.values[quantity].low for p in points],
                       [p.values[quantity].high - p.values[quantity].median for p in points]]
                ax.errorbar([p.sizes[x] for p in points], medians, yerr=err, fmt="o", ms=6, color=colour,
                            ecolor=colour, capsize=3, zorder=3)
            fit = _growth_of(s, quantity)
            label = s.label + "\n"
            if fit is not None:
                _fit_lines(ax, s, fit, x, scale, colour)
                label += "%s ~ %s (%s)" % ("time" if quantity == "time" else "peak", fit.formula(), fit.quality())
            elif s.points:
                label += "too few sizes to fit"
            else:
                label += "no run finished"
            tail = _growth_of(s, quantity, tail=True)
            if tail is not None:
                low, high = tail_range(s, x)
                _tail_line(ax, tail, x, low, high, scale, colour)
                label += "\n%g-%g %s (dotted): %s (%s)" % (low, high, x, tail.formula(), tail.quality())
            for cx, record in s.crashes:
                ax.plot([cx], [read(record) / scale], marker="X", ms=10, color=outcome_colour(record.outcome),
                        mec=colour, mew=1.2, ls="none", zorder=4)
            handles.append(Line2D([], [], color=colour, marker="o", ls="--", lw=1.3, label=label))
        crashed = sort_outcomes(r.outcome for s in series for _, r in s.crashes)
        handles += [Line2D([], [], marker="X", ms=9, ls="none", color=outcome_colour(o), mec="black",
                           label=o + " (not fitted)") for o in crashed]
        legend_lines = sum(h.get_label().count("\n") + 1 for h in handles)
        _axes(ax, quantity, ylabel, read, scale, series, xs_all, x, legend_share=min(0.06 * legend_lines, 0.6))
        ax.legend(handles=handles, fontsize=7, loc="upper left", frameon=True, framealpha=0.85)
    title = "Scaling with project size: %s" % name
    if knobs is not None:
        title += " (sweep over %s)" % ", ".join(knobs) if knobs else " (not swept)"
    figure.suptitle(title, fontsize=12, fontweight="bold")
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    png = to_png(figure)
    slug = slugify("scaling", name, *(knobs or ()), "runs" if knobs == () else "")
    return Chart(slug=slug, kind="scaling", title=title,
                 caption=" ".join(filter(None, (caption(series, variables), note))), png=png)


def _fit_lines(ax, s: Series, fit, x: str, scale: float, colour: str) -> None:
    """One variable: the power law over the measured range (no extrapolation drawn).

    Two variables: the fit's prediction at the measured sizes, joined along
    each level of the other knob (a grid sweep gives one line per level).
    """
    if len(fit.variables) == 1:
        lo = min(p.sizes[x] for p in s.points) / LINE_OVERHANG
        hi = max(p.sizes[x] for p in s.points) * LINE_OVERHANG
        line_x = [lo * (hi / lo) ** (i / 40) for i in range(41)]
        ax.plot(line_x, [fit.predict({x: v}) / scale for v in line_x], color=colour, lw=1.3, ls="--", zorder=2)
        return
    for _level_key, points in group_by(s.points, lambda p: p.level).items():
        points = sorted(points, key=lambda p: p.sizes[x])
        ax.plot([p.sizes[x] for p in points], [fit.predict(p.sizes) / scale for p in points], color=colour,
                lw=1.3, ls="--", zorder=2)


def _tail_line(ax, fit, x: str, low: float, high: float, scale: float, colour: str) -> None:
    lo, hi = low / LINE_OVERHANG, high * LINE_OVERHANG
    line_x = [lo * (hi / lo) ** (i / 20) for i in range(21)]
    ax.plot(line_x, [fit.predict({x: v}) / scale for v in line_x], color=colour, lw=1.6, ls=":", zorder=2)


def _axes(ax, quantity, ylabel, read, scale, series, xs_all, x, legend_share: float) -> None:
    """Log-log axes; the top `legend_share` of the height is left free for the legend."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    y_values = [v for s in series for p in s.points if p.values[quantity] is not None
                for v in (p.values[quantity].low, p.values[quantity].high)]
    y_values += [read(r) / scale for s in series for _, r in s.crashes]
    y_values = [v for v in y_values if v > 0]
    if y_values:
        y_low, y_top = min(y_values) / 1.15, max(y_values) * 1.15
        y_high = y_low * (y_top / y_low) ** (1 / (1 - legend_share))
        ax.set_ylim(y_low, y_high)
        plain_log_axis(ax.yaxis, y_low, y_high)
    ticks = xs_all if len(xs_all) <= 12 else None
    if ticks:
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "%g" % v))
    else:
        plain_log_axis(ax.xaxis, min(xs_all), max(xs_all))
    ax.set_xlim(min(xs_all) / 1.2, max(xs_all) * 1.25)
    ax.set_xlabel("%s (log scale)" % x)
    ax.set_ylabel(ylabel + ", log scale")
    ax.set_title("%s vs %s" % (ylabel.split(" (")[0], x), fontsize=10)
    ax.grid(True, which="both", color="#e5e5e5", lw=0.5)


def caption(series: list[Series], variables: tuple[str, ...] | str) -> str:
    if isinstance(variables, str):
        variables = (variables,)
    repeats = max((p.values["peak"].n for s in series for p in s.points), default=1)
    what = " and ".join(variables)
    sentences = ["Each point is %s at one project size; dashed lines are power laws fitted on log-log axes "
                 "(as in the sweep summary), whose exponent says how cost grows with %s "
                 "(1 = linear, 2 = quadratic)%s." % (
                     "the median of %d repeats (whiskers min to max)" % repeats if repeats > 1 else "one run",
                     what, "; X marks crashed runs, left out of the fits" if any(s.crashes for s in series) else "")]
    fitted = [s for s in series if s.fit is not None and s.fit.time is not None]
    if fitted:
        lines = [_fit_text(s, len(series) > 1) for s in fitted[:4]]
        if len(fitted) > 4:
            exponents = [s.fit.time.exponents[0] for s in fitted]
            lines.append("over all %d series the %s exponent of time ranges %.2f-%.2f" % (
                len(fitted), variables[0], min(exponents), max(exponents)))
        text = "; ".join(lines)
        sentences.append(text[:1].upper() + text[1:] + ".")
    largest = _largest_point(series, variables[0])
    if largest:
        size, label, summary, peak = largest
        sentences.append("At the largest size that finished (%g %s) migrate took %s and peaked at %.0f MB%s." % (
            size, variables[0], fmt_s(summary.median), peak.median,
            (" (%s, the slowest)" % label) if len(series) > 1 else ""))
    return " ".join(sentences)


def _fit_text(s: Series, named: bool) -> str:
    """'Django 5.2.19 / Python 3.11.7: time grows as models^1.93 (R² 0.99, 4 sizes), peak as models^0.41'."""
    time = s.fit.time
    text = "time grows as %s (%s, %d sizes)" % (time.formula(), time.quality(), time.n)
    if s.fit.peak is not None:
        text += ", peak RSS as %s" % s.fit.peak.formula()
    if s.tail is not None and s.tail.time is not None:
        x = s.tail.time.variables[0]
        low, high = tail_range(s, x)
        text += ", and time over the %d largest sizes alone (%g-%g %s, dotted) as %s (%s)" % (
            TAIL_SIZES, low, high, x, s.tail.time.formula(), s.tail.time.quality())
    return ("%s: %s" % (s.label, text)) if named else text


def _largest_point(series: list[Series], x: str):
    best = None
    for s in series:
        for p in s.points:
            time: Summary = p.values["time"]
            if time is None:
                continue
            if best is None or (p.sizes[x], time.median) > (best[0], best[2].median):
                best = (p.sizes[x], s.label, time, p.values["peak"])
    return best
