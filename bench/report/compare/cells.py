"""Pairing, ratios and the regression gate of `migbench compare`: the pure steps.

Its job: `pair()` groups two sets of records by PairKey, `compute()` turns each
pair into a CellComparison (each side summarized, candidate/baseline ratios,
how the outcomes moved, notes), and `decide()` applies the threshold gate
(docs/compare.md). Times pair like with like, solo with solo or concurrent
with concurrent (timing.py); a time ratio that was not computed never gates.
No file is read and nothing is printed here, so the HTML report can reuse
these steps; the text table is text.py's, the command's
options and loading are command.py's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from migbench.bench.analysis.stats import Ratio, Summary, ratio_of, summarize
from migbench.bench.records import RunRecord
from migbench.units import format_size

from .timing import CONCURRENT, CONCURRENT_TIMINGS, choose_timing, machine_note, machines

METRICS = ("time", "peak")  # wall_s and peak_rss_bytes, in that order
_FIELD = {"time": "wall_s", "peak": "peak_rss_bytes"}
WORDS = {"time": ("slower", "faster"), "peak": ("larger", "smaller")}  # ratio > 1, ratio < 1


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
    size: str = ""  # a sweep's sizes ("apps=16"): one scenario at two sizes is two cells, never pooled

    @classmethod
    def of(cls, record: RunRecord, across: Iterable[str] = ()) -> "PairKey":
        """The record's key; an axis in `across` ("django", "python") is the one the sides differ
        in on purpose (--baseline-django 4.2 --candidate-django 5.2), so it is left out ("*")."""
        cell = record.cell()
        vary = (record.scenario or {}).get("vary") or {}
        size = ",".join("%s=%s" % (name, vary[name]) for name in sorted(vary)) if isinstance(vary, dict) else ""
        return cls(cell.scenario, cell.strategy, "*" if "django" in across else cell.django_version,
                   "*" if "python" in across else cell.python_version, cell.memory_limit_bytes, cell.database, size)

    def parts(self) -> list[tuple[str, str]]:
        """(compact token for a row, words for the "every cell:" line), one per axis."""
        cap = format_size(self.memory_limit_bytes)
        scenario = self.scenario + ("[%s]" % self.size if self.size else "")
        return [(scenario, "scenario " + scenario), (self.strategy, "strategy " + self.strategy),
                ("django" + self.django_version, "Django " + self.django_version) if self.django_version != "*"
                else ("django(sides)", "Django as each side selects"),
                ("py" + self.python_version, "Python " + self.python_version) if self.python_version != "*"
                else ("py(sides)", "Python as each side selects"),
                ("mem" + cap, "cap " + cap), (self.database, self.database)]

    def label(self) -> str:
        return " ".join(token for token, _ in self.parts())


@dataclass
class Pairing:
    """Records of both sides grouped by key: pairs in a stable order, and the unpaired keys."""

    pairs: list[tuple[PairKey, list[RunRecord], list[RunRecord]]]
    only_baseline: list[PairKey] = field(default_factory=list)
    only_candidate: list[PairKey] = field(default_factory=list)


def pair(baseline: Iterable[RunRecord], candidate: Iterable[RunRecord], across: Iterable[str] = ()) -> Pairing:
    """Group by PairKey (without the `across` axes); order follows the baseline's records."""
    sides: list[dict[PairKey, list[RunRecord]]] = [{}, {}]
    for side, records in zip(sides, (baseline, candidate)):
        for record in records:
            side.setdefault(PairKey.of(record, across), []).append(record)
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
    ratio: Ratio | None  # None when a side has no ok run, or (time) no like-with-like runs
    timing: str | None = None  # time only: "solo" or "concurrent", the runs the ratio used (timing.py)
    skipped: str = ""  # time only: why it was not compared ("not compared: solo vs concurrent")

    @property
    def direction(self) -> str | None:
        """'slower'/'faster' (time), 'larger'/'smaller' (peak), 'same'; None without a ratio."""
        if self.ratio is None:
            return None
        if self.ratio.ratio == 1.0:
            return "same"
        up, down = WORDS[self.metric]
        return up if self.ratio.ratio > 1.0 else down

    @property
    def noise(self) -> str:
        """Whether the change is beyond noise, in the words the table prints."""
        if self.ratio is None:
            if self.skipped:
                return self.skipped
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

    @property
    def label(self) -> str:
        """The metric's name in a row: "time (concurrent)" when the ratio compares concurrent runs."""
        return "%s (concurrent)" % self.metric if self.timing == CONCURRENT else self.metric


@dataclass(frozen=True)
class CellComparison:
    """Everything compare knows about one pair; render() prints it, decide() judges it."""

    key: PairKey
    baseline_outcomes: dict[str, int]  # outcome -> runs, "ok" first
    candidate_outcomes: dict[str, int]
    metrics: dict[str, MetricChange]  # in the order asked for
    outcome_change: str | None  # see _outcome_change
    notes: list[str]  # scenario file or machines differ, crash phase, which timings were compared
    machines: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())  # machine_of of each side's runs

    @property
    def newly_crashes(self) -> bool:
        return self.outcome_change in ("new crash", "no longer runs")


def compute(pairing: Pairing, metrics: Sequence[str] = METRICS) -> list[CellComparison]:
    return [compare_cell(key, base, cand, metrics) for key, base, cand in pairing.pairs]


def compare_cell(key: PairKey, baseline: Sequence[RunRecord], candidate: Sequence[RunRecord],
                 metrics: Sequence[str] = METRICS) -> CellComparison:
    """Ratios over the ok runs of each side; crashed runs only count in the outcomes.

    The peak ratio uses every ok run; the time ratio like with like (timing.py): solo runs of both
    sides, else concurrent runs of both sides, else no time ratio (the note says why)."""
    ok_b = [r for r in baseline if r.outcome == "ok"]
    ok_c = [r for r in candidate if r.outcome == "ok"]
    timing = choose_timing(ok_b, ok_c, "peak" in metrics)
    changes = {}
    for metric in metrics:
        runs_b, runs_c = (timing.baseline, timing.candidate) if metric == "time" else (ok_b, ok_c)
        values_b = [getattr(r, _FIELD[metric]) for r in runs_b]
        values_c = [getattr(r, _FIELD[metric]) for r in runs_c]
        timed = metric == "time"
        ratio = ratio_of(values_b, values_c) if timing.kind or not timed else None
        changes[metric] = MetricChange(metric, summarize(values_b), summarize(values_c), ratio,
                                       timing.kind if timed else None, timing.reason if timed else "")
    outcomes_b, outcomes_c = _outcomes(baseline), _outcomes(candidate)
    change = _outcome_change(outcomes_b, outcomes_c)
    notes = []
    shas_b = sorted({r.scenario["sha256"][:8] for r in baseline})
    shas_c = sorted({r.scenario["sha256"][:8] for r in candidate})
    if shas_b != shas_c:
        notes.append("scenario file differs (baseline %s, candidate %s): different projects, "
                     "apples vs oranges" % ("+".join(shas_b), "+".join(shas_c)))
    sides = (machines(baseline), machines(candidate))
    mixed = machine_note(*sides)
    if mixed:
        notes.append(mixed)
    if "time" in metrics:
        notes += timing.notes
    if change is not None:
        text = "outcome %s -> %s: %s" % (_outcome_text(outcomes_b), _outcome_text(outcomes_c), change)
        phases = sorted({r.failed_during for r in candidate if r.outcome != "ok" and r.failed_during})
        if phases and change != "fixed":
            text += " (candidate failed during %s)" % ", ".join(phases)
        notes.insert(0, text)
    return CellComparison(key, outcomes_b, outcomes_c, changes, change, notes, sides)


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
    kind = " (%s)" % CONCURRENT_TIMINGS if change.timing == CONCURRENT else ""
    if ratio.has_interval:
        if not ratio.significant:
            return None
        return "%s %.3fx > %s, beyond noise%s" % (change.metric, ratio.ratio, bound(threshold), kind)
    return "%s %.3fx > %s (single runs: point ratio only)%s" % (change.metric, ratio.ratio, bound(threshold), kind)


def bound(threshold: float) -> str:
    """The ratio a regression must exceed: 1.05 for 5%, 1.025 for 2.5%."""
    return "%.2f" % (1 + threshold) if round(threshold, 2) == threshold else "%g" % round(1 + threshold, 6)
