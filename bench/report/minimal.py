"""The smallest memory cap each cell finished under, read back from stored capped runs.

`migbench bisect` writes every probe as an ordinary run record and a summary
per cell; a report is built from records only (never from a summary, which
is derived), so the answer is recomputed here by one rule that gives the
bisection's answer on a bisection's records and still means something for
any set of capped runs (`migbench run --memory 128M,256M,512M,1G`):

- only memory verdicts count: `ok`, or too small (`oom-killed`, `segfault`,
  `memory-error`); an `error` or `timeout` says nothing about memory;
- the *failing cap* is the highest cap at which any run needed more;
- the *minimal cap* is the lowest cap above it at which every run was ok;
  none above it: the cell needs more than the failing cap; nothing failed:
  the minimal cap is the lowest cap tried, and may be lower still;
- it is *confirmed* when it passed at least twice (the bisection's repeat);
  a cap with both outcomes, or an ok run at or below the failing cap, makes
  the cell *noisy*, as in bench/run/bisect.py.

A cell is a search, and gets a row, when its capped runs were made by
`migbench bisect` (a search started at the uncapped peak can settle with two
caps: the answer and the step below it, each twice), or when it ran under at
least three different caps: one or two caps of `migbench run --memory` are a
crash matrix, not a search.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from migbench.bench.analysis.stats import summarize
from migbench.bench.records import NEEDS_MORE, RunRecord
from migbench.units import format_size

from .load import version_key

MIN_CAPS = 3


def _by_bisect(record: RunRecord) -> bool:
    """Was the run a probe of `migbench bisect` (its command says so)?"""
    argv = (record.command or {}).get("migbench") or []
    return len(argv) > 1 and argv[1] == "bisect"


@dataclass(frozen=True)
class CapSearch:
    """The capped runs of one cell (every cap) reduced to its minimal cap."""

    scenario: tuple  # (name, sha256)
    strategy: str
    django_version: str
    python_version: str
    database: str
    caps_kind: str  # what the limiter capped ("rss+swap", "virtual"...): answers only compare within a kind
    runs: tuple  # the capped records with a memory verdict, by cap then repeat
    answer: int | None  # the minimal cap, bytes
    failing: int | None  # the highest cap that failed, bytes
    uncapped_peak: float | None  # median peak RSS of the cell's ok uncapped runs, bytes
    ignored: int = 0  # capped runs without a memory verdict (error, timeout)

    @property
    def status(self) -> str:
        if self.answer is None:
            return "needs more"  # than every cap tried
        return "at most" if self.failing is None else "answered"

    def answer_label(self) -> str:
        """'62M'; '<= 128M' when nothing tried failed; '> 256M' when nothing tried passed."""
        if self.answer is None:
            return "> " + format_size(self.highest_cap)
        return ("<= " if self.failing is None else "") + format_size(self.answer)

    @property
    def caps(self) -> list[int]:
        return sorted({r.memory_limit_bytes for r in self.runs})

    def at(self, cap: int | None) -> list[RunRecord]:
        return [r for r in self.runs if r.memory_limit_bytes == cap]

    @property
    def confirmed(self) -> bool:
        return self.answer is not None and len(self.at(self.answer)) >= 2

    @property
    def noisy(self) -> bool:
        """A cap had both outcomes, or a run passed where a higher cap failed."""
        mixed = any(len({r.outcome == "ok" for r in self.at(cap)}) > 1 for cap in self.caps)
        passed_below = self.failing is not None and any(
            r.outcome == "ok" for r in self.runs if r.memory_limit_bytes < self.failing)
        return mixed or passed_below

    @property
    def highest_cap(self) -> int:
        return self.caps[-1]

    def describe_runs(self, cap: int | None) -> str:
        """'ok twice', 'oom-killed once, ok once'."""
        counts: dict[str, int] = defaultdict(int)
        for record in self.at(cap):
            counts[record.outcome] += 1
        times = {1: "once", 2: "twice"}
        return ", ".join("%s %s" % (o, times.get(n, "%d times" % n)) for o, n in sorted(counts.items()))


def is_search_probe(record: RunRecord) -> bool:
    """A capped run made by `migbench bisect` (shown by the minimal-cap chart, not as a crash-matrix column)."""
    argv = (record.command or {}).get("migbench") or []
    return record.memory_limit_bytes is not None and len(argv) > 1 and argv[1] == "bisect"


def cap_searches(records: list[RunRecord]) -> list[CapSearch]:
    """Every cell run under at least three caps, in version order."""
    by_cell = defaultdict(list)
    uncapped = defaultdict(list)
    for record in records:
        key = (_scenario(record), record.strategy, record.django_version, record.python_version,
               record.database.get("engine", ""))
        if record.memory_limit_bytes is None:
            if record.outcome == "ok":
                uncapped[key].append(record.peak_rss_bytes)
        else:
            by_cell[key + ((record.limiter or {}).get("caps") or "?",)].append(record)
    searches = []
    for key, group in by_cell.items():
        runs = sorted((r for r in group if _verdict(r)), key=lambda r: (r.memory_limit_bytes, r.repeat))
        if len({r.memory_limit_bytes for r in runs}) < MIN_CAPS and not any(_by_bisect(r) for r in runs):
            continue
        failing = max((r.memory_limit_bytes for r in runs if r.outcome != "ok"), default=None)
        above = sorted({r.memory_limit_bytes for r in runs if failing is None or r.memory_limit_bytes > failing})
        answer = next((cap for cap in above
                       if all(r.outcome == "ok" for r in runs if r.memory_limit_bytes == cap)), None)
        peaks = uncapped.get(key[:5])
        searches.append(CapSearch(key[0], key[1], key[2], key[3], key[4], key[5], tuple(runs), answer, failing,
                                  summarize(peaks).median if peaks else None, ignored=len(group) - len(runs)))
    return sorted(searches, key=_order)


def _scenario(record: RunRecord) -> tuple:
    return (record.scenario.get("name", "?"), record.scenario.get("sha256", ""))


def _verdict(record: RunRecord) -> bool:
    return record.outcome == "ok" or record.outcome in NEEDS_MORE


def _order(search: CapSearch) -> tuple:
    return (search.scenario, search.strategy, search.database, search.caps_kind,
            version_key(search.django_version), version_key(search.python_version))
