"""The text of `migbench compare`: the aligned table, one row per metric of each cell, and the summary.

Its job is layout and number formatting only: it prints CellComparisons and a
Decision that cells.py computed, and decides nothing (what regresses, and the
exit status, are cells.py's), reads no file (command.py loads the records).
"""

from __future__ import annotations

import textwrap
from collections import Counter
from typing import Sequence

from migbench.bench.analysis.stats import Ratio, Summary

from .cells import METRICS, WORDS, CellComparison, Decision, Pairing, PairKey, bound
from .timing import CONCURRENT, machine_warning

_MIB = 2 ** 20


def render(pairing: Pairing, comparisons: Sequence[CellComparison], decision: Decision,
           baseline_desc: str = "", candidate_desc: str = "") -> list[str]:
    """The report as lines: header, table (one row per metric of each cell, notes under it), summary."""
    lines = []
    if baseline_desc:
        lines.append("baseline:  %s" % baseline_desc)
    if candidate_desc:
        lines.append("candidate: %s" % candidate_desc)
    warning = machine_warning([c.machines for c in comparisons])
    if warning:
        lines += textwrap.wrap(warning, 120, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)
    keys = [c.key for c in comparisons] + pairing.only_baseline + pairing.only_candidate
    varying = [i for i in range(6) if len({k.parts()[i][0] for k in keys}) > 1] or [1]  # [1]: strategy
    common = [keys[0].parts()[i][1] for i in range(6) if i not in varying] if keys else []
    if common:
        lines.append("every cell: %s" % ", ".join(common))

    def label(key: PairKey) -> str:
        return " ".join(key.parts()[i][0] for i in varying)

    if decision.threshold is not None:
        lines.append("threshold %s: a regression is a new crash, or a ratio above %s beyond noise "
                     "(single runs: the point ratio alone)" % (_percent(decision.threshold),
                                                               bound(decision.threshold)))
    lines.append("")
    header = ["cell", "ok runs", "metric", "baseline", "candidate", "ratio [95% CI]", "change"]
    rows: list[list[str] | str] = []
    for comparison in comparisons:
        first = True
        for change in comparison.metrics.values():
            runs = "%s -> %s" % (_runs(comparison.baseline_outcomes), _runs(comparison.candidate_outcomes))
            rows.append([label(comparison.key) if first else "", runs if first else "", change.label,
                         _value(change.metric, change.baseline), _value(change.metric, change.candidate),
                         _ratio(change.ratio), change.describe()])
            first = False
        for note in comparison.notes:
            rows += textwrap.wrap("  ! " + note, 120, subsequent_indent="    ", break_long_words=False,
                                  break_on_hyphens=False)
        for reason in decision.regressions.get(comparison.key, []):
            rows.append("  REGRESSION: " + reason)
    label_width = max([len(header[0])] + [len(r[0]) for r in rows if isinstance(r, list)])
    if label_width > 20:  # long labels go on their own line, keeping rows within 120 columns
        wrapped: list[list[str] | str] = []
        for row in rows:
            if isinstance(row, list) and row[0]:
                wrapped.append(row[0])
                row = [""] + row[1:]
            wrapped.append(row)
        rows = wrapped
    widths = [max([len(header[i])] + [len(r[i]) for r in rows if isinstance(r, list)])
              for i in range(len(header))]
    lines.append(_join(header, widths))
    lines.append(_join(["-" * w for w in widths], widths))
    for row in rows:
        lines.append(row if isinstance(row, str) else _join(row, widths))
    if pairing.only_baseline or pairing.only_candidate:
        lines.append("")
    for key in pairing.only_baseline:
        lines.append("only in baseline:  %s" % key.label())
    for key in pairing.only_candidate:
        lines.append("only in candidate: %s" % key.label())
    lines.append("")
    lines.extend(summary_line(comparisons, decision, label).splitlines())
    return lines


def summary_line(comparisons: Sequence[CellComparison], decision: Decision, label=None) -> str:
    """'3 cells compared; beyond noise: 1 slower, ...; 0 new crashes; 1 over the 5% threshold: all'.

    Names of the cells over the threshold end the line; when they would push it past
    120 columns they go on lines of their own just before it.
    When some cells were timed on concurrent runs, or their times not compared (solo
    against concurrent: cells.py), a line "timings: ..." comes first.
    """
    label = label or (lambda key: key.label())
    counts = Counter()
    for comparison in comparisons:
        for change in comparison.metrics.values():
            if change.ratio is not None and change.ratio.significant:
                counts[change.direction] += 1
    parts = ["%d cell%s compared" % (len(comparisons), "" if len(comparisons) == 1 else "s")]
    beyond = ["%d %s" % (counts[word], word) for metric in METRICS
              if any(metric in c.metrics for c in comparisons) for word in WORDS[metric]]
    if beyond:
        parts.append("beyond noise: " + ", ".join(beyond))
    times = [c.metrics["time"] for c in comparisons if "time" in c.metrics]
    concurrent = sum(1 for t in times if t.timing == CONCURRENT and t.ratio is not None)
    skipped = sum(1 for t in times if t.skipped)
    kinds = ["%d cell%s on concurrent timings" % (concurrent, "" if concurrent == 1 else "s")] if concurrent else []
    if skipped:
        kinds.append("%d cell%s with times not compared (solo vs concurrent)" % (skipped, "" if skipped == 1 else "s"))
    before = "timings: %s\n" % "; ".join(kinds) if kinds else ""  # a line of its own: the summary stays short
    crashes = sum(1 for c in comparisons if c.newly_crashes)
    parts.append("%d new crash%s" % (crashes, "" if crashes == 1 else "es"))
    if decision.threshold is None:
        parts.append("no --threshold: report only")
        return before + "; ".join(parts)
    over = "%d over the %s threshold" % (len(decision.regressions), _percent(decision.threshold))
    names = ", ".join(label(key) for key in decision.regressions)
    line = "; ".join(parts + [over + (": " + names if names else "")])
    if len(line) > 120:
        wrapped = textwrap.fill("%s: %s" % (over, names), 120, subsequent_indent="  ",
                                break_long_words=False, break_on_hyphens=False)
        line = "%s\n%s" % (wrapped, "; ".join(parts + [over]))
    return before + line


def _join(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()


def _runs(outcomes: dict[str, int]) -> str:
    return "%d/%d" % (outcomes.get("ok", 0), sum(outcomes.values()))


def _value(metric: str, summary: Summary | None) -> str:
    """'5.61 s ±0.35', '75.7 MiB ±0.4' (median ± half the range); '-' without an ok run."""
    if summary is None:
        return "-"
    if metric == "time":
        digits = 2 if summary.median < 10 else 1 if summary.median < 100 else 0
        text = "%.*f s" % (digits, summary.median)
        spread = "%.*f" % (digits, summary.spread)
    else:
        unit, scale = ("GiB", 2 ** 30) if summary.median >= 2 ** 30 else ("MiB", _MIB)
        digits = 2 if unit == "GiB" else 1
        text = "%.*f %s" % (digits, summary.median / scale, unit)
        spread = "%.*f" % (digits, summary.spread / scale)
    return text if summary.n < 2 else "%s ±%s" % (text, spread)


def _ratio(ratio: Ratio | None) -> str:
    if ratio is None:
        return "-"
    # Three decimals when two would hide the change: 0.998x [0.998-0.999], not 1.00x [1.00-1.00].
    ends = (ratio.ratio,) if not ratio.has_interval else (ratio.ratio, ratio.low, ratio.high)
    hidden = len({"%.2f" % v for v in ends + (1.0,)}) < len(ends) + 1
    digits = 3 if hidden and ratio.ratio != 1.0 else 2
    if not ratio.has_interval:
        return "%.*fx" % (digits, ratio.ratio)
    return "%.*fx [%.*f-%.*f]" % (digits, ratio.ratio, digits, ratio.low, digits, ratio.high)


def _percent(threshold: float) -> str:
    return "%g%%" % round(threshold * 100, 6)
