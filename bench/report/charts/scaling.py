"""Scaling: wall time and peak memory against project size, log-log, with the fitted exponent.

Records that share a scenario name but differ in size (different content
hash: `migbench run` on scenario variants, or a future `migbench sweep`) make
one chart per name. A series is everything else that is held fixed: strategy,
Django, Python, cap, database. The x variable is the model count, or the
migration count when every size has the same number of models. Each series
gets a power law fitted (`stats.power_law_fit`) on its per-size medians of ok
runs; crashed runs are drawn as X and left out of the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ...records import RunRecord
from ...stats import PowerFit, power_law_fit, summarize
from .common import (MB, SERIES_COLOURS, Chart, cap_key, cap_label, fmt_s, group_by, new_figure,
                     outcome_colour, plain_log_axis, slugify, sort_outcomes, strategy_key, to_png, version_key)

QUANTITIES = (("time", "wall time (s)", lambda r: r.wall_s, 1.0),
              ("peak RSS", "peak RSS (MB)", lambda r: r.peak_rss_bytes, MB))


@dataclass(frozen=True)
class SeriesKey:
    strategy: str
    django: str
    python: str
    cap: int | None
    database: str

    def sort_key(self) -> tuple:
        return (strategy_key(self.strategy), version_key(self.django), version_key(self.python),
                cap_key(self.cap), self.database)


@dataclass
class Series:
    key: SeriesKey
    label: str
    points: dict  # quantity -> [(x, Summary)] of ok runs, x ascending
    crashes: list  # [(x, record)]
    fits: dict  # quantity -> PowerFit | None


def series_key(record: RunRecord) -> SeriesKey:
    return SeriesKey(record.strategy, record.django_version, record.python_version, record.memory_limit_bytes,
                     record.database.get("engine", ""))


def x_variable(records: list[RunRecord]) -> str | None:
    """'models' when ok runs span >= 2 model counts, else 'migrations' when they span >= 2; else None."""
    ok = [r for r in records if r.outcome == "ok"]
    for variable in ("models", "migrations"):
        if len({(r.project or {}).get(variable) for r in ok if (r.project or {}).get(variable)}) >= 2:
            return variable
    return None


def series_for(records: list[RunRecord], variable: str) -> list[Series]:
    groups = group_by(records, series_key)
    keys = sorted(groups, key=SeriesKey.sort_key)
    labels = _labels(keys)
    result = []
    for key, label in zip(keys, labels):
        group = groups[key]
        by_x = group_by([r for r in group if r.outcome == "ok" and (r.project or {}).get(variable)],
                        lambda r: r.project[variable])
        points, fits = {}, {}
        for name, _label, read, scale in QUANTITIES:
            pts = [(x, summarize([read(r) / scale for r in by_x[x]])) for x in sorted(by_x)]
            points[name] = pts
            fits[name] = power_law_fit([x for x, _ in pts], [s.median for _, s in pts])
        crashes = [(r.project.get(variable), r) for r in group
                   if r.outcome != "ok" and (r.project or {}).get(variable)]
        result.append(Series(key, label, points, crashes, fits))
    return result


def _labels(keys: list[SeriesKey]) -> list[str]:
    """Name each series by what differs between them (Django 4.2.30, py3.11.7, per-app...)."""
    parts = []
    vary = {field: len({getattr(k, field) for k in keys}) > 1
            for field in ("strategy", "django", "python", "cap", "database")}
    for key in keys:
        bits = []
        if vary["strategy"]:
            bits.append(key.strategy)
        if vary["django"] or not any(vary.values()):
            bits.append("Django %s" % key.django)
        if vary["python"]:
            bits.append("Python %s" % key.python)
        if vary["cap"]:
            bits.append("cap %s" % cap_label(key.cap) if key.cap else "no cap")
        if vary["database"]:
            bits.append(key.database)
        parts.append(" / ".join(bits))
    return parts


def build(records: list[RunRecord]) -> list[Chart]:
    charts = []
    by_name = group_by(records, lambda r: r.scenario.get("name", "?"))
    for name in sorted(by_name):
        group = by_name[name]
        variable = x_variable(group)
        if variable is None:
            continue
        series = series_for(group, variable)
        if not any(s.points["time"] for s in series):
            continue
        charts.append(_chart(name, group, variable, series))
    return charts


def _chart(name: str, group: list[RunRecord], variable: str, series: list[Series]) -> Chart:
    figure = new_figure(5.2)
    axes = figure.subplots(1, 2)
    xs_all = sorted({x for s in series for q in s.points.values() for x, _ in q} | {x for s in series
                                                                                     for x, _ in s.crashes})
    for ax, (quantity, ylabel, read, scale) in zip(axes, QUANTITIES):
        handles = []
        for index, s in enumerate(series):
            colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
            pts = s.points[quantity]
            if pts:
                xs = [x for x, _ in pts]
                ys = [summary.median for _, summary in pts]
                err = [[m.median - m.low for _, m in pts], [m.high - m.median for _, m in pts]]
                ax.errorbar(xs, ys, yerr=err, fmt="o", ms=6, color=colour, ecolor=colour, capsize=3, zorder=3)
            fit = s.fits[quantity]
            label = s.label
            if fit is not None:
                lo, hi = min(xs) / 1.1, max(xs) * 1.1  # the fit's own range: no extrapolation drawn
                line_x = [lo * (hi / lo) ** (i / 40) for i in range(41)]
                ax.plot(line_x, [fit.predict(x) for x in line_x], color=colour, lw=1.3, ls="--", zorder=2)
                label += ": %s^%.2f (R² %.2f)" % (variable, fit.exponent, fit.r2)
                end_x = max(x for x, _ in pts)
                ax.annotate("^%.2f" % fit.exponent, xy=(end_x, fit.predict(end_x)),
                            xytext=(7, 6 - 11 * (index % 4)), textcoords="offset points", fontsize=8.5,
                            color=colour, va="center", fontweight="bold")
            elif pts:
                label += ": no fit (one size)"
            else:
                label += ": no run finished"
            for x, record in s.crashes:
                ax.plot([x], [read(record) / scale], marker="X", ms=10, color=outcome_colour(record.outcome),
                        mec=colour, mew=1.2, ls="none", zorder=4)
            handles.append(Line2D([], [], color=colour, marker="o", ls="--", lw=1.3, label=label))
        ax.set_xscale("log")
        ax.set_yscale("log")
        y_values = [v for s in series for _, m in s.points[quantity] for v in (m.low, m.high)]
        y_values += [read(r) / scale for s in series for _, r in s.crashes]
        y_values = [v for v in y_values if v > 0]
        if y_values:
            y_low, y_high = min(y_values) / 1.15, max(y_values) * 1.5
            ax.set_ylim(y_low, y_high)
            plain_log_axis(ax.yaxis, y_low, y_high)
        ax.xaxis.set_major_locator(FixedLocator(xs_all))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: "%g" % v))
        ax.xaxis.set_minor_locator(NullLocator())
        lo, hi = min(xs_all), max(xs_all)
        ax.set_xlim(lo / 1.25, hi * 1.6)
        ax.set_xlabel("%s (log scale)" % variable)
        ax.set_ylabel(ylabel + ", log scale")
        ax.set_title("%s vs %s" % (ylabel.split(" (")[0], variable), fontsize=10)
        ax.grid(True, which="both", color="#e5e5e5", lw=0.5)
        crashed = sort_outcomes(r.outcome for s in series for _, r in s.crashes)
        handles += [Line2D([], [], marker="X", ms=9, ls="none", color=outcome_colour(o), mec="black", label=o +
                           " (not fitted)") for o in crashed]
        ax.legend(handles=handles, fontsize=7.5, loc="upper left", frameon=True, framealpha=0.85)
    title = "Scaling with project size: %s" % name
    figure.suptitle(title, fontsize=12, fontweight="bold")
    figure.tight_layout(rect=(0, 0, 1, 0.95))
    png = to_png(figure)
    return Chart(slug=slugify("scaling", name), kind="scaling", title=title,
                 caption=caption(series, variable), png=png)


def caption(series: list[Series], variable: str) -> str:
    repeats = max((s.n for x in series for q in x.points.values() for _, s in q), default=1)
    sentences = ["Each point is %s at one project size; dashed lines are power laws fitted on log-log axes, "
                 "whose exponent says how cost grows with %s (1 = linear, 2 = quadratic)%s." % (
                     "the median of %d repeats (whiskers min to max)" % repeats if repeats > 1 else "one run",
                     variable,
                     "; X marks crashed runs, left out of the fits" if any(s.crashes for s in series) else "")]
    fitted = [s for s in series if s.fits["time"] is not None]
    if fitted:
        fragments = []
        for index, s in enumerate(fitted[:4]):
            time_fit: PowerFit = s.fits["time"]
            text = time_fit.describe(variable, "time") if index == 0 else "%s^%.2f (R² %.2f)" % (
                variable, time_fit.exponent, time_fit.r2)
            peak_fit = s.fits["peak RSS"]
            if peak_fit is not None:
                text += ", peak RSS as %s^%.2f" % (variable, peak_fit.exponent)
            fragments.append("%s: %s" % (s.label, text) if len(series) > 1 else text)
        sentence = "; ".join(fragments)
        if len(fitted) > 4:
            exps = [s.fits["time"].exponent for s in fitted]
            sentence += "; over all %d series the time exponent ranges %.2f-%.2f" % (len(fitted), min(exps), max(exps))
        sentences.append(sentence[:1].upper() + sentence[1:] + ".")
        largest = _largest_point(series)
        if largest:
            x, label, time, peak = largest
            sentences.append("At the largest size that finished (%g %s) migrate took %s and peaked at %.0f MB%s." % (
                x, variable, fmt_s(time), peak, (" (%s, the slowest)" % label) if len(series) > 1 else ""))
    return " ".join(sentences)


def _largest_point(series: list[Series]):
    best = None
    for s in series:
        times = dict(s.points["time"])
        peaks = dict(s.points["peak RSS"])
        for x, summary in times.items():
            candidate = (x, summary.median)
            if best is None or candidate > (best[0], best[2]):
                best = (x, s.label, summary.median, peaks[x].median)
    return best

