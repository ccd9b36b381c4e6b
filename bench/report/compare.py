"""Compare two sets of result records cell by cell (`migbench compare`, docs/compare.md).

Like `pyperf compare_to`: runs of the same cell in a BASELINE and a CANDIDATE
set are paired, and each pair gets the candidate/baseline ratio of its wall
time and of its peak memory with a 95% interval from the repeats, so a change
can be told from noise. Four steps, the first three pure so the HTML report
can reuse them:

- `pair()`: group both sides by `PairKey` (scenario name, strategy, Django,
  Python, cap, database engine). The scenario's sha256 is not part of the key:
  a changed scenario file still pairs, and the row says the projects differ.
- `compute()`: per pair, the medians and spreads of each side and the ratios
  (`bench.stats.ratio_of`: geometric means, Welch interval on logs) over the
  `ok` runs, and how the outcomes changed.
- `decide()`: which pairs regress, and the exit status. A pair regresses when
  it newly crashes, or, with a threshold T, when a ratio exceeds 1 + T and is
  beyond noise (its interval excludes 1); with one run on each side there is
  no interval and the point ratio alone decides (the row says so). Exit status
  1 only when a threshold was given and a pair regresses.
- `render()`: the aligned text table and the summary line.
"""

from __future__ import annotations

import math
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from migbench.bench.analysis.stats import Ratio, Summary, ratio_of, summarize
from migbench.bench.records import RunRecord
from migbench.errors import MigbenchError
from migbench.units import format_size

from .load import load_results

METRICS = ("time", "peak")  # wall_s and peak_rss_bytes, in that order
_FIELD = {"time": "wall_s", "peak": "peak_rss_bytes"}
_WORDS = {"time": ("slower", "faster"), "peak": ("larger", "smaller")}  # ratio > 1, ratio < 1
_MIB = 2 ** 20


# -- pairing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PairKey:
    """What must match for two runs to be compared: a Cell without the scenario's sha256."""

    scenario: str
    strategy: str
    django_version: str
    python_version: str
    memory_limit_bytes: int | None
    database: str

    @classmethod
    def of(cls, record: RunRecord) -> "PairKey":
        cell = record.cell()
        return cls(cell.scenario, cell.strategy, cell.django_version, cell.python_version,
                   cell.memory_limit_bytes, cell.database)

    def parts(self) -> list[tuple[str, str]]:
        """(compact token for a row, words for the "every cell:" line), one per axis."""
        cap = format_size(self.memory_limit_bytes)
        return [(self.scenario, "scenario " + self.scenario), (self.strategy, "strategy " + self.strategy),
                ("django" + self.django_version, "Django " + self.django_version),
                ("py" + self.python_version, "Python " + self.python_version),
                ("mem" + cap, "cap " + cap), (self.database, self.database)]

    def label(self) -> str:
        return " ".join(token for token, _ in self.parts())


@dataclass
class Pairing:
    """Records of both sides grouped by key: pairs in a stable order, and the unpaired keys."""

    pairs: list[tuple[PairKey, list[RunRecord], list[RunRecord]]]
    only_baseline: list[PairKey] = field(default_factory=list)
    only_candidate: list[PairKey] = field(default_factory=list)


def pair(baseline: Iterable[RunRecord], candidate: Iterable[RunRecord]) -> Pairing:
    """Group by PairKey; order follows the baseline's records (load_results sorts them)."""
    sides: list[dict[PairKey, list[RunRecord]]] = [{}, {}]
    for side, records in zip(sides, (baseline, candidate)):
        for record in records:
            side.setdefault(PairKey.of(record), []).append(record)
    base, cand = sides
    return Pairing(pairs=[(key, base[key], cand[key]) for key in base if key in cand],
                   only_baseline=[key for key in base if key not in cand],
                   only_candidate=[key for key in cand if key not in base])


# -- computing -------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricChange:
    """One metric of one pair: each side's ok runs summarized, and candidate / baseline."""

    metric: str  # "time" or "peak"
    baseline: Summary | None  # None: no ok run on that side
    candidate: Summary | None
    ratio: Ratio | None  # None when a side has no ok run

    @property
    def direction(self) -> str | None:
        """'slower'/'faster' (time), 'larger'/'smaller' (peak), 'same'; None without a ratio."""
        if self.ratio is None:
            return None
        if self.ratio.ratio == 1.0:
            return "same"
        up, down = _WORDS[self.metric]
        return up if self.ratio.ratio > 1.0 else down

    @property
    def noise(self) -> str:
        """Whether the change is beyond noise, in the words the table prints."""
        if self.ratio is None:
            missing = [name for name, side in (("baseline", self.baseline), ("candidate", self.candidate))
                       if side is None]
            return "no ok run in %s" % " or ".join(missing)
        significant = self.ratio.significant
        if significant is None:
            return "no repeats: cannot tell noise"
        return "beyond noise" if significant else "within noise"

    def describe(self) -> str:
        """'slower, beyond noise'; or only the reason when there is no ratio."""
        if self.direction is None:
            return self.noise
        return "%s, %s" % (self.direction, self.noise)


@dataclass(frozen=True)
class CellComparison:
    """Everything compare knows about one pair; render() prints it, decide() judges it."""

    key: PairKey
    baseline_outcomes: dict[str, int]  # outcome -> runs, "ok" first
    candidate_outcomes: dict[str, int]
    metrics: dict[str, MetricChange]  # in the order asked for
    outcome_change: str | None  # see _outcome_change
    notes: list[str]  # scenario file or host differs, crash phase

    @property
    def newly_crashes(self) -> bool:
        return self.outcome_change in ("new crash", "no longer runs")


def compute(pairing: Pairing, metrics: Sequence[str] = METRICS) -> list[CellComparison]:
    return [compare_cell(key, base, cand, metrics) for key, base, cand in pairing.pairs]


def compare_cell(key: PairKey, baseline: Sequence[RunRecord], candidate: Sequence[RunRecord],
                 metrics: Sequence[str] = METRICS) -> CellComparison:
    """Ratios over the ok runs of each side; crashed runs only count in the outcomes."""
    ok_b = [r for r in baseline if r.outcome == "ok"]
    ok_c = [r for r in candidate if r.outcome == "ok"]
    changes = {}
    for metric in metrics:
        values_b = [getattr(r, _FIELD[metric]) for r in ok_b]
        values_c = [getattr(r, _FIELD[metric]) for r in ok_c]
        changes[metric] = MetricChange(metric, summarize(values_b), summarize(values_c),
                                       ratio_of(values_b, values_c))
    outcomes_b, outcomes_c = _outcomes(baseline), _outcomes(candidate)
    change = _outcome_change(outcomes_b, outcomes_c)
    notes = []
    shas_b = sorted({r.scenario["sha256"][:8] for r in baseline})
    shas_c = sorted({r.scenario["sha256"][:8] for r in candidate})
    if shas_b != shas_c:
        notes.append("scenario file differs (baseline %s, candidate %s): different projects, "
                     "apples vs oranges" % ("+".join(shas_b), "+".join(shas_c)))
    hosts_b = sorted({str(r.host.get("hostname", "?")) for r in baseline})
    hosts_c = sorted({str(r.host.get("hostname", "?")) for r in candidate})
    if hosts_b != hosts_c:
        notes.append("measured on other machines (baseline %s, candidate %s): times may not compare"
                     % (", ".join(hosts_b), ", ".join(hosts_c)))
    if change is not None:
        text = "outcome %s -> %s: %s" % (_outcome_text(outcomes_b), _outcome_text(outcomes_c), change)
        phases = sorted({r.failed_during for r in candidate if r.outcome != "ok" and r.failed_during})
        if phases and change != "fixed":
            text += " (candidate failed during %s)" % ", ".join(phases)
        notes.insert(0, text)
    return CellComparison(key, outcomes_b, outcomes_c, changes, change, notes)


def _outcomes(records: Sequence[RunRecord]) -> dict[str, int]:
    counts = Counter(r.outcome for r in records)
    return {name: counts[name] for name in sorted(counts, key=lambda o: (o != "ok", o))}


def _outcome_text(outcomes: dict[str, int]) -> str:
    total = sum(outcomes.values())
    return ", ".join("%s %d/%d" % (name, n, total) for name, n in outcomes.items())


def _outcome_change(base: dict[str, int], cand: dict[str, int]) -> str | None:
    """How the outcomes moved; the first two are regressions.

    - "new crash": every baseline run was ok, some candidate run was not;
    - "no longer runs": some baseline run was ok, no candidate run is;
    - "fixed": some baseline run was not ok, every candidate run is;
    - "outcome changed": the kinds of outcome differ otherwise;
    - "mixed outcomes": same kinds, but a side mixes ok and failures (flaky);
    - None: every run ok on both sides, or the same single failure on both.
    """
    crashed_b = any(name != "ok" for name in base)
    crashed_c = any(name != "ok" for name in cand)
    if not crashed_b and crashed_c:
        return "new crash"
    if "ok" in base and "ok" not in cand:
        return "no longer runs"
    if crashed_b and not crashed_c:
        return "fixed"
    if set(base) != set(cand):
        return "outcome changed"
    if len(base) > 1 or len(cand) > 1:
        return "mixed outcomes"
    return None


# -- deciding --------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """Which pairs regress (key -> reasons) and the exit status that follows."""

    threshold: float | None
    regressions: dict[PairKey, list[str]]

    @property
    def status(self) -> int:
        """1 when a threshold was given and some pair regresses; else 0 (a report only)."""
        return 1 if self.threshold is not None and self.regressions else 0


def decide(comparisons: Sequence[CellComparison], threshold: float | None) -> Decision:
    """The exit rule (docs/compare.md): a new crash, or a ratio > 1 + threshold beyond noise.

    Without a threshold only new crashes are listed (and the status stays 0).
    """
    regressions: dict[PairKey, list[str]] = {}
    for comparison in comparisons:
        reasons = []
        if comparison.newly_crashes:
            reasons.append(comparison.outcome_change)
        if threshold is not None:
            for change in comparison.metrics.values():
                reason = exceeds(change, threshold)
                if reason:
                    reasons.append(reason)
        if reasons:
            regressions[comparison.key] = reasons
    return Decision(threshold, regressions)


def exceeds(change: MetricChange, threshold: float) -> str | None:
    """Why this metric regresses beyond the threshold, or None."""
    ratio = change.ratio
    if ratio is None or not ratio.ratio > 1.0 + threshold:
        return None
    if ratio.has_interval:
        if not ratio.significant:
            return None
        return "%s %.3fx > %s, beyond noise" % (change.metric, ratio.ratio, _bound(threshold))
    return "%s %.3fx > %s (single runs: point ratio only)" % (change.metric, ratio.ratio, _bound(threshold))


# -- parsing options -------------------------------------------------------------------


def parse_threshold(text: str | None) -> float | None:
    """'5%' or '0.05' -> 0.05; None stays None. A bare number must be a fraction below 1."""
    if text is None:
        return None
    raw = text.strip()
    percent = raw.endswith("%")
    number = raw[:-1].strip() if percent else raw
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or not re.fullmatch(r"[0-9.eE+-]+", number):
        raise MigbenchError("--threshold %r is not a threshold; give a percentage like 5%% or a "
                            "fraction like 0.05" % text)
    if percent:
        return value / 100.0
    if value >= 1:
        raise MigbenchError("--threshold %s reads as a fraction (%g%%); write %s%% for a percentage, "
                            "or a fraction below 1 like 0.05" % (raw, value * 100, raw))
    return value


def parse_metrics(text: str | None) -> tuple[str, ...]:
    if text is None:
        return METRICS
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in METRICS]
    if unknown or not names:
        raise MigbenchError("--metric %r: choose from time, peak (comma-separated, e.g. time,peak)" % text)
    return tuple(name for name in METRICS if name in names)


# -- rendering -------------------------------------------------------------------------


def render(pairing: Pairing, comparisons: Sequence[CellComparison], decision: Decision,
           baseline_desc: str = "", candidate_desc: str = "") -> list[str]:
    """The report as lines: header, table (one row per metric of each cell, notes under it), summary."""
    lines = []
    if baseline_desc:
        lines.append("baseline:  %s" % baseline_desc)
    if candidate_desc:
        lines.append("candidate: %s" % candidate_desc)
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
                                                               _bound(decision.threshold)))
    lines.append("")
    header = ["cell", "ok runs", "metric", "baseline", "candidate", "ratio [95% CI]", "change"]
    rows: list[list[str] | str] = []
    for comparison in comparisons:
        first = True
        for change in comparison.metrics.values():
            runs = "%s -> %s" % (_runs(comparison.baseline_outcomes), _runs(comparison.candidate_outcomes))
            rows.append([label(comparison.key) if first else "", runs if first else "", change.metric,
                         _value(change.metric, change.baseline), _value(change.metric, change.candidate),
                         _ratio(change.ratio), change.describe()])
            first = False
        for note in comparison.notes:
            rows.append("  ! " + note)
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
    """
    label = label or (lambda key: key.label())
    counts = Counter()
    for comparison in comparisons:
        for change in comparison.metrics.values():
            if change.ratio is not None and change.ratio.significant:
                counts[change.direction] += 1
    parts = ["%d cell%s compared" % (len(comparisons), "" if len(comparisons) == 1 else "s")]
    beyond = ["%d %s" % (counts[word], word) for metric in METRICS
              if any(metric in c.metrics for c in comparisons) for word in _WORDS[metric]]
    if beyond:
        parts.append("beyond noise: " + ", ".join(beyond))
    crashes = sum(1 for c in comparisons if c.newly_crashes)
    parts.append("%d new crash%s" % (crashes, "" if crashes == 1 else "es"))
    if decision.threshold is None:
        parts.append("no --threshold: report only")
        return "; ".join(parts)
    over = "%d over the %s threshold" % (len(decision.regressions), _percent(decision.threshold))
    names = ", ".join(label(key) for key in decision.regressions)
    line = "; ".join(parts + [over + (": " + names if names else "")])
    if len(line) > 120:
        wrapped = textwrap.fill("%s: %s" % (over, names), 120, subsequent_indent="  ",
                                break_long_words=False, break_on_hyphens=False)
        line = "%s\n%s" % (wrapped, "; ".join(parts + [over]))
    return line


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


def _bound(threshold: float) -> str:
    """The ratio a regression must exceed: 1.05 for 5%, 1.025 for 2.5%."""
    return "%.2f" % (1 + threshold) if round(threshold, 2) == threshold else "%g" % round(1 + threshold, 6)


# -- the command -----------------------------------------------------------------------


def run_compare(baseline: str | Path, candidate: str | Path, threshold: str | None = None,
                metrics: str | None = None) -> tuple[list[str], int]:
    """`migbench compare`: the lines to print and the exit status (MigbenchError for bad input)."""
    limit = parse_threshold(threshold)
    chosen = parse_metrics(metrics)
    sides = []
    for name, path in (("baseline", baseline), ("candidate", candidate)):
        try:
            sides.append(load_results([path]))
        except MigbenchError as error:
            raise MigbenchError("%s: %s" % (name, error)) from None
    base, cand = sides
    pairing = pair(base.records, cand.records)
    if not pairing.pairs:
        raise MigbenchError(
            "no cell in common: baseline has %s, candidate has %s; compare runs of the same scenario, "
            "strategy, Django, Python, cap and database" % (
                _first_keys(pairing.only_baseline), _first_keys(pairing.only_candidate)))
    comparisons = compute(pairing, chosen)
    decision = decide(comparisons, limit)
    lines = render(pairing, comparisons, decision,
                   "%s (%s)" % (baseline, base.describe()), "%s (%s)" % (candidate, cand.describe()))
    return lines, decision.status


def _first_keys(keys: Sequence[PairKey]) -> str:
    text = ", ".join(key.label() for key in keys[:2])
    return text + (" and %d more" % (len(keys) - 2) if len(keys) > 2 else "")
