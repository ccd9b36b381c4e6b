"""Strategies side by side: migrate time, peak memory and test-database time, as ratios to `all`.

One chart per project (scenario + hash), Django, Python, cap and database
with at least two strategies: horizontal bars (one row per strategy, in the
order all, per-app, backward, rollback, squash, squash-final, zero, optimize, floor),
medians over repeats with min..max whiskers, coloured by outcome, the value
and the ratio to `all` written at the end of each bar. The ratio is one
median over the other, as in the report's strategy table (so the number
agrees with the bars and the table beside the chart); a strategy whose runs
crashed gets no ratio, only its outcome. Times (migrate, test database) come
from one kind of run per chart: the solo runs, or the concurrent ones when no
run of the chart is solo (concurrency.py); the caption says which. Peaks from all.
"""

from __future__ import annotations

from migbench.bench.analysis.stats import summarize
from migbench.bench.records import RunRecord, test_database_step

from ..concurrency import SOLO, of_kind, preferred_kind, times_note
from .common import (MB, Chart, cap_label, cell_sort_key, fmt_mb, fmt_ratio, fmt_s, fmt_s_short, group_by,
                     majority_outcome, names_with_several_sizes, new_figure, outcome_colour,
                     outcome_legend_handles, scenario_key, scenario_title, slugify, sort_outcomes,
                     strategy_key, to_png)

BASELINE = "all"


def build(records: list[RunRecord]) -> list[Chart]:
    charts = []
    several_hashes = names_with_several_sizes(records)
    groups = group_by(sorted(records, key=cell_sort_key),
                      lambda r: (scenario_key(r), r.django_version, r.python_version, r.memory_limit_bytes,
                                 r.database.get("engine", "")))
    for key, group in groups.items():
        if len({r.strategy for r in group}) < 2:
            continue
        charts.append(_chart(key, group, key[0][0] in several_hashes))
    return charts


class Metric:
    """One panel: how to read a value from a record, its unit and formatting."""

    def __init__(self, name, label, read, scale, fmt, timing=True):
        self.name, self.label, self.read, self.scale, self.fmt = name, label, read, scale, fmt
        self.timing = timing  # a time: read from runs of one kind only (solo or concurrent)


def _test_db(field):
    def read(record: RunRecord):
        step = test_database_step(record.dev_loop)
        if not step or step.get("outcome", "ok") != "ok":
            return None
        return step.get(field)
    return read


METRICS = (
    Metric("migrate", "migrate wall time (s)", lambda r: r.wall_s, 1.0, fmt_s_short),
    Metric("peak", "migrate peak RSS (MB)", lambda r: r.peak_rss_bytes, MB,
           lambda v: fmt_mb(v * MB), timing=False),
    Metric("test database", "test database creation (s)", _test_db("wall_s"), 1.0, fmt_s_short),
)


def rows_for(group: list[RunRecord]):
    """[(strategy, [repeats])] in the strategies' reading order."""
    by_strategy = group_by(group, lambda r: r.strategy)
    return [(s, by_strategy[s]) for s in sorted(by_strategy, key=strategy_key)]


def values(repeats: list[RunRecord], metric: Metric, kind: str = SOLO) -> list[float]:
    """The metric over the repeats that had the strategy's majority outcome (None values dropped);
    a time over those of `kind` only."""
    outcome, _note = majority_outcome(repeats)
    chosen = [r for r in repeats if r.outcome == outcome]
    found = [metric.read(r) for r in (of_kind(chosen, kind) if metric.timing else chosen)]
    return [float(v) for v in found if v is not None]


def ratio_of_medians(baseline: list[float], candidate: list[float]) -> float | None:
    """median(candidate) / median(baseline); None when either is missing or the baseline is 0."""
    base, cand = summarize(baseline), summarize(candidate)
    if base is None or cand is None or base.median <= 0:
        return None
    return cand.median / base.median


def _chart(key: tuple, group: list[RunRecord], with_hash: bool) -> Chart:
    (name, sha), django, python, cap, database = key
    rows = rows_for(group)
    kind = preferred_kind([r for r in group if r.outcome == "ok"])
    metrics = [m for m in METRICS if any(values(reps, m, kind) for _, reps in rows)]
    baseline = dict(rows).get(BASELINE)
    figure = new_figure(1.6 + 0.42 * len(rows))
    axes = figure.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    labels = [s for s, _ in rows]
    y_positions = list(range(len(rows)))[::-1]
    for ax, metric in zip(axes, metrics):
        base_values = values(baseline, metric, kind) if baseline else []
        baseline_ok = bool(baseline) and majority_outcome(baseline)[0] == "ok"
        top = 0.0
        for y, (strategy, repeats) in zip(y_positions, rows):
            found = values(repeats, metric, kind)
            outcome, note = majority_outcome(repeats)
            summary = summarize(found)
            if summary is None:
                ax.text(0, y, " n/a", va="center", ha="left", fontsize=8, color="#888888")
                continue
            median = summary.median / metric.scale
            err = [[median - summary.low / metric.scale], [summary.high / metric.scale - median]]
            ax.barh([y], [median], height=0.62, color=outcome_colour(outcome), edgecolor="black", linewidth=0.4,
                    hatch="//" if strategy == BASELINE else None, xerr=err if summary.n > 1 else None,
                    ecolor="black", capsize=2.5, zorder=2)
            text = metric.fmt(median)
            ratio = None
            if strategy != BASELINE and outcome == "ok" and baseline_ok:
                ratio = ratio_of_medians(base_values, found)
            if ratio is not None:
                text += "  %s" % fmt_ratio(ratio)
            elif strategy == BASELINE and base_values:
                text += "  1x"
            if outcome != "ok":
                text += "  " + outcome
            if note:
                text += " (%s)" % note
            end = summary.high / metric.scale
            top = max(top, end)
            ax.annotate(text, xy=(end, y), xytext=(3, 0), textcoords="offset points", va="center", ha="left",
                        fontsize=7.5, color="black" if outcome == "ok" else outcome_colour(outcome),
                        fontweight="bold" if strategy == BASELINE or outcome != "ok" else "normal", zorder=5)
        ax.set_xlim(0, (top or 1) * 1.55)
        ax.set_xlabel(metric.label, fontsize=9)
        ax.grid(axis="x", color="#dddddd", lw=0.5, zorder=0)
        ax.set_axisbelow(True)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(y_positions)
    axes[0].set_yticklabels(labels, fontsize=9)
    axes[0].set_ylim(-0.6, len(rows) - 0.4)
    outcomes = sort_outcomes(majority_outcome(reps)[0] for _, reps in rows)
    if outcomes != ["ok"]:
        figure.legend(handles=outcome_legend_handles(outcomes), loc="lower center", ncol=len(outcomes),
                      fontsize=8, frameon=False)
    title = scenario_title("Strategies", name, group, with_hash)
    title += ", Django %s / Python %s%s" % (django, python, (", cap %s" % cap_label(cap)) if cap else "")
    figure.suptitle(title, fontsize=11.5, fontweight="bold")
    figure.tight_layout(rect=(0, 0.04 if outcomes != ["ok"] else 0, 1, 0.95))
    png = to_png(figure)
    slug = slugify("strategies", name, sha[:8] if with_hash else "", "django" + django, "py" + python,
                   "mem" + cap_label(cap), database)
    return Chart(slug=slug, kind="strategies", title=title, caption=caption(rows, metrics, kind), png=png)


def caption(rows, metrics, kind: str = SOLO) -> str:
    repeats = max(len(reps) for _, reps in rows)
    baseline = dict(rows).get(BASELINE)
    sentences = ["Bars are %s, coloured by outcome; the number after each value is its ratio to 'all'%s." % (
        "medians of %d repeats (whiskers min to max)" % repeats if repeats > 1 else "single runs",
        " (hatched)" if baseline else " (absent here, so no ratios)")]
    shared = times_note([r for _, reps in rows for r in reps], kind)
    if not baseline or majority_outcome(baseline)[0] != "ok":
        return " ".join([sentences[0]] + ([shared] if shared else []))
    by_name = {m.name: m for m in metrics}
    facts = []
    for name in ("migrate", "peak", "test database"):
        metric = by_name.get(name)
        if metric is None:
            continue
        base = values(baseline, metric, kind)
        if not base:
            continue
        ratios = []
        for strategy, repeats in rows:
            if strategy == BASELINE or majority_outcome(repeats)[0] != "ok":
                continue
            ratio = ratio_of_medians(base, values(repeats, metric, kind))
            if ratio is not None:
                ratios.append((ratio, strategy, summarize(values(repeats, metric, kind)).median))
        if not ratios:
            continue
        best = min(ratios)
        worst = max(ratios)
        base_median = summarize(base).median
        show = (lambda v: fmt_mb(v)) if name == "peak" else fmt_s
        what = {"migrate": "migrate", "peak": "peak RSS", "test database": "test-database creation"}[name]
        low, high = ("lowest", "highest") if name == "peak" else ("fastest", "slowest")
        if best[0] > 1:  # every other strategy is slower (or higher): no "fastest" but all
            text = "%s: 'all' %s is the %s; next %s at %s (%s)" % (what, show(base_median), low, best[1],
                                                                  show(best[2]), fmt_ratio(best[0]))
        else:
            text = "%s: 'all' %s, %s %s at %s (%s)" % (what, show(base_median), low, best[1], show(best[2]),
                                                      fmt_ratio(best[0]))
        if worst[1] != best[1] and worst[0] > 1.05:
            text += ", %s %s at %s (%s)" % (high, worst[1], show(worst[2]), fmt_ratio(worst[0]))
        facts.append(text)
    crashed = [s for s, reps in rows if majority_outcome(reps)[0] != "ok"]
    if crashed:
        facts.append("crashed: " + ", ".join(_crash(s, dict(rows)[s]) for s in crashed))
    if facts:
        sentences.append(_sentence("; ".join(facts[:2])))
    if len(facts) > 2:
        sentences.append(_sentence("; ".join(facts[2:])))
    return " ".join(sentences + ([shared] if shared else []))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _crash(strategy: str, repeats: list[RunRecord]) -> str:
    outcome, note = majority_outcome(repeats)
    died = [r for r in repeats if r.outcome == outcome]
    where = (" during %s" % died[0].failed_during) if died[0].failed_during else ""
    return "%s (%s%s, after %s%s)" % (strategy, outcome, where, fmt_s(summarize([r.wall_s for r in died]).median),
                                      ", " + note if note else "")
