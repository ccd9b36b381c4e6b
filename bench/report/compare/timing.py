"""Which runs a pair's time ratio uses, and which machines a pair's runs come from.

Its job, for `compare_cell` (cells.py): times measured while other measured
runs shared the machine ("concurrent", bench/records/sharing.py) are slower
and noisier than solo ones, so a time ratio pairs like with like: the solo ok
runs of both sides when both sides have some, else the concurrent ok runs of
both sides when both have some, else no time ratio, and a note says why. The
peak is the run's own, so the peak ratio uses every ok run. And the machines
(`machine_of`) of each side: a pair whose runs come from more than one machine
gets a note, and the command a warning line (text.py). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from migbench.bench.records import RunRecord
from migbench.bench.records.sharing import CONCURRENT, SOLO, machine_of, timing_mode

CONCURRENT_TIMINGS = "concurrent timings"
_HOW = {SOLO: "solo", CONCURRENT: "concurrently (other measured runs on its machine)"}


@dataclass(frozen=True)
class TimingChoice:
    """The ok runs of each side the time ratio uses, their kind (None: time not compared), and notes."""

    kind: str | None
    baseline: list[RunRecord]
    candidate: list[RunRecord]
    reason: str = ""  # why time was not compared, for the change column
    notes: tuple[str, ...] = ()


def choose_timing(ok_b: Sequence[RunRecord], ok_c: Sequence[RunRecord], peak_compared: bool = True) -> TimingChoice:
    """Like with like (module docstring). Without an ok run on a side, every ok run is kept (and the row
    says "no ok run")."""
    if not ok_b or not ok_c:
        return TimingChoice(SOLO, list(ok_b), list(ok_c))
    kinds = [{kind: [r for r in runs if timing_mode(r) == kind] for kind in (SOLO, CONCURRENT)}
             for runs in (ok_b, ok_c)]
    for kind in (SOLO, CONCURRENT):
        base, cand = kinds[0][kind], kinds[1][kind]
        if base and cand:
            left = len(ok_b) - len(base) + len(ok_c) - len(cand)
            notes = []
            if kind == CONCURRENT:
                notes.append("%s: times compare concurrent runs on both sides (other measured runs shared "
                             "their machines): slower and noisier than solo runs" % CONCURRENT_TIMINGS)
            if left:
                other = CONCURRENT if kind == SOLO else SOLO
                notes.append("times use the %s runs only: %d %s run%s left out of the time ratio%s" % (
                    kind, left, other, "" if left == 1 else "s", " (the peak ratio uses every run)"
                    if peak_compared else ""))
            return TimingChoice(kind, base, cand, notes=tuple(notes))
    base_kind, cand_kind = timing_mode(ok_b[0]), timing_mode(ok_c[0])
    note = "times not compared: the baseline was measured %s, the candidate %s%s" % (
        _HOW[base_kind], _HOW[cand_kind], "; peak compared" if peak_compared else "")
    return TimingChoice(None, list(ok_b), list(ok_c), reason="not compared: %s vs %s" % (base_kind, cand_kind),
                        notes=(note,))


def machines(records: Sequence[RunRecord]) -> tuple[str, ...]:
    """The machines that measured `records`, sorted."""
    return tuple(sorted({machine_of(r) for r in records}))


def machine_note(baseline: tuple[str, ...], candidate: tuple[str, ...]) -> str | None:
    """A note when a pair's runs come from more than one machine, between the sides or within one."""
    if len(set(baseline) | set(candidate)) < 2:
        return None
    where = "baseline %s, candidate %s" % (" + ".join(baseline) or "?", " + ".join(candidate) or "?")
    if baseline != candidate:
        return "measured on other machines (%s): times compare the machines as much as the code" % where
    return "measured on several machines (%s): times compare the machines as much as the code" % where


def machine_warning(pairs: Sequence[tuple[tuple[str, ...], tuple[str, ...]]]) -> str | None:
    """The line at the top of compare's output: every machine of the pairs that mix machines, with its side(s)."""
    mixed = [(b, c) for b, c in pairs if len(set(b) | set(c)) > 1]
    if not mixed:
        return None
    sides: dict[str, set] = {}
    for base, cand in mixed:
        for side, names in (("baseline", base), ("candidate", cand)):
            for name in names:
                sides.setdefault(name, set()).add(side)
    named = ", ".join("%s (%s)" % (name, " and ".join(sorted(sides[name]))) for name in sorted(sides))
    return ("warning: %d of %d cells pair runs from different machines: %s; their times compare the machines "
            "as much as the code" % (len(mixed), len(pairs), named))
