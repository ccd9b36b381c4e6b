"""`migbench compare`'s stage section: where a profiled run's time went, candidate against baseline.

Its job: when both sides hold profiled runs (`migbench run --profile`,
`ResultSet.profiled`) of the same cell, pair them by PairKey and profile mode
(a time profile is never compared with a memory profile: tracemalloc slows
every stage differently), and say per stage how many times the baseline's
seconds the candidate spent there. One profiled run per side and mode: a
point ratio, no interval, and never part of the regression gate (profiled
runs are not timing records); a pair of a solo and a concurrent profiled run
(bench/records/sharing.py) is shown with a line saying it is not like with
like. Pure; text.py-style lines, no printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from migbench.bench.records import RunRecord
from migbench.bench.records.sharing import timing_mode

from ..profiles import ProfiledCell, profiled_cells, seconds_text, short_label, stage_rows
from .cells import PairKey

NO_INTERVAL = "(one profiled run per side: no interval)"


@dataclass(frozen=True)
class StagePair:
    """The profiled runs of one cell and mode on both sides."""

    key: PairKey
    mode: str
    baseline: ProfiledCell
    candidate: ProfiledCell

    def label(self) -> str:
        return "%s (%s profile)" % (self.key.label(), self.mode)


def stage_pairs(baseline: Iterable[RunRecord], candidate: Iterable[RunRecord],
                across: Iterable[str] = ()) -> list[StagePair]:
    """Profiled runs paired by (PairKey, mode), in the baseline's order; the latest run of each side."""
    sides = []
    for records in (baseline, candidate):
        side: dict[tuple, ProfiledCell] = {}
        for pc in profiled_cells(records):
            key = (PairKey.of(pc.record, across), pc.mode)
            if key not in side or pc.record.started_at > side[key].record.started_at:
                side[key] = pc
        sides.append(side)
    base, cand = sides
    return [StagePair(key, mode, pc, cand[(key, mode)]) for (key, mode), pc in base.items() if (key, mode) in cand]


def stage_changes(pair: StagePair) -> list[tuple[str, float, float, float | None]]:
    """(stage label, baseline s, candidate s, candidate / baseline or None) per stage either side spent time in."""
    base = {key: (label, seconds) for key, label, seconds in stage_rows(pair.baseline.profile)}
    cand = {key: (label, seconds) for key, label, seconds in stage_rows(pair.candidate.profile)}
    changes = []
    for key in list(base) + [k for k in cand if k not in base]:
        label, b = base.get(key, (cand.get(key, (key, 0.0))[0], 0.0))
        c = cand.get(key, (label, 0.0))[1]
        if b <= 0 and c <= 0:
            continue
        changes.append((short_label(label), b, c, c / b if b > 0 else None))
    return changes


def stage_lines(pairs: Sequence[StagePair], baseline_name: str = "baseline",
                candidate_name: str = "candidate") -> list[str]:
    """The section printed after compare's table: one line per pair, then one per stage."""
    if not pairs:
        return []
    lines = ["", "stages of the profiled runs, %s vs %s %s" % (candidate_name, baseline_name, NO_INTERVAL),
             "(profiled runs are not timing records: they are in no row above and never decide the exit status)"]
    for pair in pairs:
        b_wall, c_wall = pair.baseline.wall(), pair.candidate.wall()
        lines.append("%s: profiled wall %s s vs %s s%s" % (
            pair.label(), seconds_text(c_wall), seconds_text(b_wall),
            " (%s)" % _ratio(c_wall / b_wall) if b_wall > 0 else ""))
        kinds = (timing_mode(pair.baseline.record), timing_mode(pair.candidate.record))
        if kinds[0] != kinds[1]:
            lines.append("  (%s's profiled run was measured %s, %s's %s: its stage seconds are not like with like)"
                         % (baseline_name, kinds[0], candidate_name, kinds[1]))
        for label, b, c, ratio in stage_changes(pair):
            if ratio is None:
                lines.append("  %s spends %s s in %s, %s none" % (candidate_name, seconds_text(c), label,
                                                                   baseline_name))
            else:
                lines.append("  %s spends %s %s's time in %s (%s s vs %s s)" % (
                    candidate_name, _ratio(ratio), baseline_name, label, seconds_text(c), seconds_text(b)))
    return lines


def missing_line(baseline: Sequence[RunRecord], candidate: Sequence[RunRecord],
                 across: Iterable[str] = ()) -> list[str]:
    """One line when both sides were profiled but no cell and mode pairs (else nothing)."""
    if baseline and candidate and not stage_pairs(baseline, candidate, across):
        return ["", "stages: both sides hold profiled runs, but of no common cell and profile mode"]
    return []


def _ratio(value: float) -> str:
    return "%.2fx" % value
