"""Solo and concurrent timings, and the machines that measured, as the report reads them.

A record's times are "solo" or "concurrent" (other measured runs shared its
machine: bench/records/sharing.py `timing_mode`; older records count as solo).
Concurrent times are slower and noisier, so no figure mixes the two kinds: a
median, a ratio, a chart or a headline takes its times from one kind only,
solo when there are solo records, and says when it rests on concurrent ones;
the concurrent timings are shown apart (tables.py `concurrent_table`). Memory
figures are unaffected (the peak is the run's own) and use every record.

Also which machines measured a set of records (`machine_of`), for the
provenance. Pure; no side effects.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

from migbench.bench.records.sharing import CONCURRENT, SOLO, machine_of, timing_mode

SHARED = "measured while other measured runs shared the machine"


def of_kind(records: Iterable, kind: str) -> list:
    """The records whose times are of `kind` ("solo" or "concurrent"), in their order."""
    return [r for r in records if timing_mode(r) == kind]


def split(records: Iterable) -> tuple[list, list]:
    """(solo records, concurrent records)."""
    records = list(records)
    return of_kind(records, SOLO), of_kind(records, CONCURRENT)


def preferred_kind(records: Iterable) -> str:
    """SOLO when any record is solo (or there is none), else CONCURRENT: the kind a figure's times use."""
    records = list(records)
    return SOLO if not records or any(timing_mode(r) == SOLO for r in records) else CONCURRENT


def timed(records: Iterable) -> tuple[list, str]:
    """The records a timing figure uses, and their kind: the solo ones, or the concurrent ones when none is solo."""
    records = list(records)
    kind = preferred_kind(records)
    return of_kind(records, kind), kind


def times_note(records: Sequence, kind: str | None = None, per_cell: bool = False) -> str:
    """One sentence for a caption or a table note when the kinds matter here, else "".

    `kind`: the kind the figure's times use (default: `preferred_kind`); `per_cell`: each cell took
    its own (solo, else concurrent), so a cell without a solo run shows concurrent times."""
    records = list(records)
    kind = kind or preferred_kind(records)
    concurrent = of_kind(records, CONCURRENT)
    if not concurrent:
        return ""
    if kind == CONCURRENT:
        return "Times are of runs %s (no solo run): slower than alone; peaks are unaffected." % SHARED
    return "Times are of solo runs: %d run%s %s %s left out of them%s (peaks include %s)." % (
        len(concurrent), "" if len(concurrent) == 1 else "s", SHARED, "is" if len(concurrent) == 1 else "are",
        ", but a cell without a solo run shows its concurrent times" if per_cell else "",
        "it" if len(concurrent) == 1 else "them")


def sharing_text(records: Sequence) -> str:
    """How much the concurrent records shared their machine, short: "1 other run, 75% of its span",
    "1-3 other runs, 40-90% of their spans"; "-" without one."""
    concurrent = [r.concurrency or {} for r in of_kind(records, CONCURRENT)]
    if not concurrent:
        return "-"
    others = [int(c.get("overlapping_runs") or 0) for c in concurrent]
    shares = [100 * (c.get("overlap_s") or 0.0) / c["span_s"] for c in concurrent if c.get("span_s")]
    text = "%s other run%s" % (_span(others, "%d"), "" if max(others) == 1 else "s")
    if shares:
        text += ", %s%% of %s" % (_span(shares, "%.0f"), "its span" if len(concurrent) == 1 else "their spans")
    return text


def _span(values: Sequence[float], fmt: str) -> str:
    low, high = fmt % min(values), fmt % max(values)
    return low if low == high else "%s-%s" % (low, high)


def machine_counts(records: Iterable) -> list[tuple[str, int]]:
    """(machine, records it measured), most records first, then by name."""
    counts = Counter(machine_of(r) for r in records)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def machine_line(records: Iterable) -> str:
    """"Measured on h/0123abcd4567 (12 records)." or, from several, each machine and a caution."""
    counts = machine_counts(records)
    if not counts:
        return ""
    named = ", ".join("%s (%d record%s)" % (name, n, "" if n == 1 else "s") for name, n in counts)
    if len(counts) == 1:
        return "Measured on one machine: %s." % named
    return ("Measured on %d machines: %s; times from different machines compare the machines as much as "
            "the code." % (len(counts), named))


__all__ = ["CONCURRENT", "SHARED", "SOLO", "machine_counts", "machine_line", "machine_of", "of_kind",
           "preferred_kind", "sharing_text", "split", "timed", "timing_mode", "times_note"]
