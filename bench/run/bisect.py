"""Find the smallest memory cap under which a command finishes, by a search over real runs.

The 2015 advice was "give the VM 2 GB". The real number depends on the Django
version and the schema, and it is not the uncapped peak RSS: a capped process
can finish below its uncapped peak (the kernel reclaims page cache, the
allocator returns memory under pressure) or need more (the cap charges page
cache and every process of the tree). So the answer comes from runs under
the cap itself. This module is the search alone, independent of Django: a
*probe* runs something under a cap and says what happened (bench/run/probes.py
has the real probes: a `migbench run` record, or any command).

The search (docs/bisect.md):
1. The caps live on a **grid**: cap_i = low + i * tolerance, rounded down to
   whole MiB, for i = 0..n with n = ceil((high - low) / tolerance), cap_0 =
   low and cap_n = high exactly. The answer is the smallest grid cap that
   passes, so it does not depend on the order of the probes: a serial search,
   one probing several caps per round on a cluster, and one started from a
   guess all give the same answer and the same bracket (the grid cap below it).
2. The start. Without a prior, `high` first (if it fails the answer is "more
   than HIGH"), then `low` (if it passes the answer is "LOW or less"). With a
   prior (the cell's uncapped peak RSS, usually within a few percent of the
   answer) the first probe is the smallest grid cap at or above it, and the
   search gallops away from it (1, 2, 4, 8... grid steps, down while only
   passes are known, up while only failures are), reaching `low` or `high`
   only when the prior was far off: a good prior brackets the answer in two
   or three runs instead of ten.
3. Once a failing and a passing cap are known, split the bracket: k grid
   caps evenly inside it per round (`width`, one per cluster worker; 1 is a
   binary search), until the two ends are adjacent grid caps.
4. Confirm, because memory is not perfectly deterministic: a repeat at the
   answer and a repeat one step below it, at the bracket's failing end (a run
   further down would only fail more surely and prove nothing). A repeat at
   the answer that fails makes the answer noisy: the search moves up a grid
   step at a time (at most `widen` steps, never above `high`) to the first
   cap that passes twice, and that cap is the answer; none within the bound:
   no answer ("uncertain"). A pass one step below is reported as a
   disagreement and the answer stays (one pass where a run failed is noise,
   not a lower answer). A round of several probes can also see a pass below a
   failure before the confirmation: the search goes on from the highest
   failing cap and the lowest passing cap above it, and the answer is noisy.

Only `ok`, `oom-killed`, `segfault` and `memory-error` are memory verdicts. An
`error` or `timeout` stops the search with its reason (after the round it was
part of): bisecting a broken project would produce a number that means nothing.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from migbench.bench.records import NEEDS_MORE
from migbench.units import format_size, mib as megabytes

MiB = 2**20

# Statuses of a bisection: only "answered" has an answer.
ANSWERED, HIGH_FAILS, STOPPED, UNCERTAIN = "answered", "high-fails", "stopped", "uncertain"


@dataclass(frozen=True)
class Probe:
    """One run at one cap. `purpose` is set by the search (high, low, start, gallop, bisect, repeat,
    below, widen)."""

    cap: int
    outcome: str
    peak_rss_bytes: int | None
    wall_s: float
    repeat: int = 1
    reason: str = ""
    purpose: str = ""
    limit_peak_bytes: int | None = None  # what the limiter charged (cgroup), if it can tell
    source: str | None = None  # the record file this probe is, if any
    reused: bool = False  # read back from an earlier invocation, not run now

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def verdict(self) -> bool:
        """True when the outcome says something about memory (ok, or too small)."""
        return self.ok or self.outcome in NEEDS_MORE

    def line(self) -> str:
        charged = " (limiter %s)" % megabytes(self.limit_peak_bytes) if self.limit_peak_bytes else ""
        return "%-7s %-6s r%d  %-12s peak %s%s  %6.1fs%s" % (
            self.purpose, size(self.cap), self.repeat, self.outcome, megabytes(self.peak_rss_bytes), charged,
            self.wall_s, "  (recorded earlier)" if self.reused else "")


@dataclass
class Bisection:
    """What a bisection found; `lines()` is its terminal form."""

    low: int
    high: int
    tolerance: int
    probes: list[Probe] = field(default_factory=list)
    status: str = ANSWERED
    answer: int | None = None
    bracket: tuple[int | None, int | None] = (None, None)  # (highest failing, lowest passing)
    confirmation: str | None = None  # "confirmed", "noisy" or None (not reached)
    detail: str = ""  # one line: the confirmation's evidence, or why there is no answer
    uncapped_peak_bytes: int | None = None
    notes: list[str] = field(default_factory=list)
    width: int = 1  # probes per round
    prior_bytes: int | None = None  # where the search started (the uncapped peak), None: from high and low
    rounds: int = 0  # rounds run, the confirmation's included
    probes_to_bracket: int | None = None  # probes before the confirmation began; None: no bracket

    @property
    def answered(self) -> bool:
        return self.status == ANSWERED

    def summary(self) -> str:
        """The one-line result, e.g. "minimal cap: 104M (bracket 96M-104M, tolerance 8M); ..."."""
        if self.status == HIGH_FAILS:
            failed = next((p for p in self.probes if p.cap == self.high and not p.ok), None)
            text = "no answer: fails even at --high %s (%s); needs more than %s" % (
                size(self.high), failed.outcome if failed else "failed", size(self.high))
        elif self.status == STOPPED:
            text = "no answer: stopped, %s" % self.detail
        elif self.status == UNCERTAIN:
            text = "no answer: %s" % self.detail
        else:
            failing, passing = self.bracket
            bracket = ("ok already at --low %s: the minimum is %s or less" % (size(passing), size(passing))
                       if failing is None else "bracket %s-%s" % (size(failing), size(passing)))
            text = "minimal cap: %s (%s, tolerance %s)" % (size(self.answer), bracket, size(self.tolerance))
        if self.uncapped_peak_bytes:
            text += "; uncapped peak %s" % megabytes(self.uncapped_peak_bytes)
            if self.answer:
                text += " (cap/peak %.2f)" % (self.answer / self.uncapped_peak_bytes)
        if self.prior_bytes is not None:
            text += "; started at the uncapped peak"
            if self.prior_bytes != self.uncapped_peak_bytes:
                text += " %s" % megabytes(self.prior_bytes)
        if self.width > 1:
            text += "; width %d: %d probes in %d rounds" % (self.width, len(self.probes), self.rounds)
        if self.status == ANSWERED:
            text += "; %s: %s" % ("confirmed" if self.confirmation == "confirmed" else "the answer is noisy",
                                  self.detail)
        return text

    def lines(self) -> list[str]:
        return [p.line() for p in self.probes] + [self.summary()] + ["note: %s" % n for n in self.notes]

    def to_dict(self) -> dict:
        return {
            "status": self.status, "answer_bytes": self.answer,
            "bracket_bytes": list(self.bracket), "low_bytes": self.low, "high_bytes": self.high,
            "tolerance_bytes": self.tolerance, "confirmation": self.confirmation, "detail": self.detail,
            "uncapped_peak_bytes": self.uncapped_peak_bytes, "summary": self.summary(), "notes": self.notes,
            "width": self.width, "prior_bytes": self.prior_bytes, "rounds": self.rounds,
            "probes_to_bracket": self.probes_to_bracket,
            "probes": [dataclasses.asdict(p) for p in self.probes],
        }


class _Stop(Exception):
    """An error or timeout: not a memory verdict, so the search ends here."""


class _HighFails(Exception):
    """`high` failed: the answer is "more than HIGH"."""


class Grid:
    """The caps a search may probe: low + i * tolerance rounded down to whole MiB, i = 0..n
    (cap 0 is low and cap n is high exactly); computed on demand, never listed."""

    def __init__(self, low: int, high: int, tolerance: int):
        self.low, self.high, self.tolerance = low, high, tolerance
        self.n = -(-(high - low) // tolerance)  # ceil

    def __getitem__(self, index: int) -> int:
        if not 0 <= index <= self.n:
            raise IndexError(index)
        if index == 0:
            return self.low
        if index == self.n:
            return self.high
        return (self.low + index * self.tolerance) // MiB * MiB

    def at_or_above(self, value: int) -> int:
        """The smallest index whose cap is >= value (n when none is)."""
        lo, hi = 0, self.n
        while lo < hi:
            middle = (lo + hi) // 2
            lo, hi = (lo, middle) if self[middle] >= value else (middle + 1, hi)
        return lo


def bisect_cap(probe: Callable[[int, int], Probe], low: int, high: int, tolerance: int, *,
               widen: int = 4, on_probe: Callable[[Probe], None] | None = None, width: int = 1,
               prior: int | None = None,
               run_round: Callable[[list[tuple[int, int]]], list[Probe]] | None = None) -> Bisection:
    """Search the grid of [low, high] for the smallest cap at which a probe is ok (module doc).

    `probe(cap, repeat)` runs once; `run_round(requests)` runs a round of (cap, repeat) requests at
    once (on a cluster) and returns their probes in request order, by default `probe` one after the
    other. Repeats are numbered per cap over the whole search (1, 2, ...), so no two requests share
    one. `width` is the number of probes per round; `prior` (bytes, the uncapped peak RSS) is where
    the search starts, None: from `high` and `low`. `on_probe` sees each probe after its round.
    """
    if not 0 < low < high or tolerance < MiB:
        raise ValueError("need 0 < low < high and a tolerance of 1 MiB or more, got %r, %r, %r"
                         % (low, high, tolerance))
    if width < 1:
        raise ValueError("need a width of 1 or more, got %r" % width)
    if run_round is None:
        def run_round(requests):
            return [probe(cap, repeat) for cap, repeat in requests]
    result = Bisection(low, high, tolerance, width=width, prior_bytes=prior)
    search = _Search(result, Grid(low, high, tolerance), run_round, on_probe, width, prior)
    try:
        failing, passing = search.bracket()
        result.probes_to_bracket = len(result.probes)
        result.answer = search.grid[passing]
        result.bracket = (None if failing is None else search.grid[failing], result.answer)
        search.confirm(failing, passing, widen)
    except _HighFails:
        result.status = HIGH_FAILS
    except _Stop as stop:
        result.status, result.answer, result.detail = STOPPED, None, str(stop)
    return result


class _Search:
    """One bisection's state: the grid, the outcomes of the search so far (by grid index), the rounds."""

    def __init__(self, result: Bisection, grid: Grid, run_round, on_probe, width: int, prior: int | None):
        self.result, self.grid, self.run_round, self.on_probe = result, grid, run_round, on_probe
        self.width = width
        self.start = None if prior is None else min(grid.at_or_above(prior), grid.n)
        self.known: dict[int, bool] = {}  # grid index -> ok, for the search's probes (one each)

    def round(self, requests: list[tuple[int, str]]) -> list[Probe]:
        """Run (cap, purpose) requests as one round; stop after it when one was not a memory verdict."""
        counts = Counter(p.cap for p in self.result.probes)
        asked = []
        for cap, _ in requests:
            counts[cap] += 1
            asked.append((cap, counts[cap]))
        answers = list(self.run_round(asked))
        if len(answers) != len(asked):
            raise ValueError("run_round returned %d probes for %d requests" % (len(answers), len(asked)))
        done = [dataclasses.replace(answer, purpose=purpose, cap=cap, repeat=repeat)
                for answer, (cap, purpose), (_, repeat) in zip(answers, requests, asked)]
        self.result.probes.extend(done)
        self.result.rounds += 1
        if self.on_probe is not None:
            for probe in done:
                self.on_probe(probe)
        broken = next((p for p in done if not p.verdict), None)
        if broken is not None:
            raise _Stop("%s at %s: %s%s" % (broken.outcome, size(broken.cap), broken.reason or broken.outcome,
                                             " (%s)" % broken.source if broken.source else ""))
        return done

    # -- the search: grid indices until a failing and a passing one are adjacent ---------------

    def bracket(self) -> tuple[int | None, int]:
        """(highest failing index or None when low passed, lowest passing index above it)."""
        indices = self.first()
        while True:
            for index, probe in zip(indices, self.round([(self.grid[i], self.purpose(i)) for i in indices])):
                self.known[index] = probe.ok
            failing = max((i for i, ok in self.known.items() if not ok), default=None)
            if failing == self.grid.n:
                raise _HighFails()
            passing = min((i for i, ok in self.known.items() if ok and (failing is None or i > failing)),
                          default=None)
            if passing is not None and passing - (-1 if failing is None else failing) == 1:
                return failing, passing
            indices = self.next(failing, passing)

    def first(self) -> list[int]:
        n, k = self.grid.n, self.width
        if self.start is not None:  # the prior and the k - 1 grid caps below it
            return [i for i in range(self.start, self.start - k, -1) if i >= 0]
        if k == 1:
            return [n]
        inside = [j * n // (k - 1) for j in range(1, k - 1)]  # evenly between low and high
        return list(dict.fromkeys([n, 0] + [i for i in inside if 0 < i < n]))

    def next(self, failing: int | None, passing: int | None) -> list[int]:
        n, k = self.grid.n, self.width
        if failing is not None and passing is not None:  # split the bracket into k + 1 parts
            gap = passing - failing
            if gap - 1 <= k:
                return list(range(failing + 1, passing))
            return [failing + j * gap // (k + 1) for j in range(1, k + 1)]
        if failing is None:  # only passes: down from the start, 1, 2, 4... grid steps, else to low
            wanted = [0] if self.start is None else [max(self.start - d, 0) for d in _doubling(self.start)]
            wanted = [i for i in wanted if i < passing]
        else:  # only failures: up likewise, else to high
            wanted = ([n] if self.start is None
                      else [min(self.start + d, n) for d in _doubling(n - self.start)])
            wanted = [i for i in wanted if i > failing]
        return [i for i in dict.fromkeys(wanted) if i not in self.known][:k]

    def purpose(self, index: int) -> str:
        """high, low, start (the first round from a prior), gallop (away from it), bisect (the rest)."""
        if index == self.grid.n:
            return "high"
        if index == 0:
            return "low"
        if self.start is not None and not self.known:
            return "start"
        if self.start is not None and len(set(self.known.values())) == 1:  # only passes, or only failures
            return "gallop"
        return "bisect"

    def noise(self) -> str:
        """The search's own disagreement (a pass below a failure), or "" when its outcomes are monotone."""
        lowest_ok = min((i for i, ok in self.known.items() if ok), default=None)
        highest_failing = max((i for i, ok in self.known.items() if not ok), default=None)
        if lowest_ok is None or highest_failing is None or lowest_ok > highest_failing:
            return ""
        failed = next(p for p in self.result.probes if p.cap == self.grid[highest_failing] and not p.ok)
        return "the search saw ok at %s below %s at %s" % (size(self.grid[lowest_ok]), failed.outcome,
                                                          size(failed.cap))

    # -- the confirmation -------------------------------------------------------------------

    def confirm(self, failing: int | None, passing: int, widen: int) -> None:
        """Repeat at the answer and at the bracket's failing end; widen upwards when the repeat fails."""
        result, grid = self.result, self.grid
        answer = grid[passing]
        below = None if failing is None else grid[failing]
        if below is not None and self.width > 1:
            repeat, below_probe = self.round([(answer, "repeat"), (below, "below")])
        else:
            repeat, below_probe = self.round([(answer, "repeat")])[0], None
            if repeat.ok and below is not None:
                below_probe = self.round([(below, "below")])[0]
        if repeat.ok:
            if below_probe is None:
                result.confirmation = "confirmed"
                result.detail = "ok twice at %s (nothing below --low was tried)" % size(answer)
            elif below_probe.ok:
                result.confirmation = "noisy"
                result.detail = ("ok at %s once, %s at %s once; %s stays the answer (ok twice)"
                                 % (size(below), _failure_at(result, below), size(below), size(answer)))
            else:
                result.confirmation = "confirmed"
                result.detail = "ok at %s twice, %s at %s twice" % (size(answer), below_probe.outcome,
                                                                     size(below))
            self.add_noise()
            return
        noise = "ok at %s once, %s at %s once" % (size(answer), repeat.outcome, size(answer))
        index = passing
        for _ in range(widen):
            if index >= grid.n:
                break
            index += 1
            cap = grid[index]
            if self.width > 1:
                passed = all(p.ok for p in self.round([(cap, "widen"), (cap, "repeat")]))
            else:
                passed = self.round([(cap, "widen")])[0].ok and self.round([(cap, "repeat")])[0].ok
            if passed:
                result.answer, result.bracket = cap, (_highest_failing_below(result, cap), cap)
                result.confirmation = "noisy"
                result.detail = ("%s; raised to %s, the first cap above it that passed twice"
                                 % (noise, size(cap)))
                self.add_noise()
                return
        result.status, result.answer, result.confirmation = UNCERTAIN, None, "noisy"
        result.detail = ("noisy: %s, and no cap above it up to %s passed twice (at most %d tolerance steps, "
                         "never above --high): too noisy to bisect at this tolerance; retry with a larger "
                         "--tolerance" % (noise, size(grid[index]), widen))
        self.add_noise()

    def add_noise(self) -> None:
        """A search that saw a pass below a failure makes the answer noisy, whatever the repeats said."""
        noise = self.noise()
        if noise:
            self.result.confirmation = "noisy"
            self.result.detail += "; " + noise


def _doubling(limit: int):
    """1, 2, 4, 8... up to the first value >= limit (at least 1)."""
    distance = 1
    while True:
        yield distance
        if distance >= limit:
            return
        distance *= 2


def size(value: int | None) -> str:
    """A cap's label ("1040M"): exact, so two caps of one bisection never share one."""
    return format_size(value)


def _failure_at(result: Bisection, cap: int) -> str:
    return next((p.outcome for p in result.probes if p.cap == cap and not p.ok), "failed")


def _highest_failing_below(result: Bisection, cap: int) -> int | None:
    return max((p.cap for p in result.probes if not p.ok and p.cap < cap), default=None)


__all__ = ["ANSWERED", "Bisection", "Grid", "HIGH_FAILS", "NEEDS_MORE", "Probe", "STOPPED", "UNCERTAIN",
           "bisect_cap", "size"]
