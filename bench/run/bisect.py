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
   passes, so it does not depend on the order of the probes: serial, several
   at once on a cluster, or started from a guess, the answer and the bracket
   (the grid cap below it) are the same.
2. The start. Without a prior, `high` first (if it fails the answer is "more
   than HIGH"), then `low` (if it passes the answer is "LOW or less"). With a
   prior (the cell's uncapped peak RSS; the answer sits at or just below it)
   the first probe is the largest grid cap below it, and the search gallops
   away from it (1, 2, 4, 8... grid steps) until a failing and a passing cap
   are known.
3. Then split the bracket until its ends are adjacent grid caps.
4. Confirm, because memory is not perfectly deterministic: a repeat at the
   answer and a repeat at the bracket's failing end ("below"). A failed
   repeat at the answer makes it noisy: the search moves up a grid step at a
   time (at most `widen` steps, never above `high`) to the first cap that
   passes twice; none: no answer ("uncertain"). A pass below is reported and
   the answer stays. Any probe that passed below a failure makes it noisy.

**Slots** (bench/run/bisect_slots.py). Probes run on `width` slots (one per
cluster worker), started and collected asynchronously: when one finishes,
the free slots are refilled before waiting again. A free slot takes, in
order: (a) a narrowing probe: the gallop's next distance while an end is
unknown (but not upwards past a probe in flight, which may be the passing
end), else the middle of the lowest gap left between the known ends and the
probes in flight; (b) a speculative confirmation: the repeat at the likely
answer (the probe in flight just above the highest failure, else the lowest
pass above it), then the "below" at the failure one grid step under it;
(c) nothing. Failing runs end in seconds and passing ones take minutes: a
probe in flight that fails says so soon, and the confirmation's passes (the
critical path) start early. Width 1 is the serial search.

Only `ok`, `oom-killed`, `segfault` and `memory-error` are memory verdicts. An
`error` or `timeout` stops the search with its reason, once the probes in
flight have finished: bisecting a broken project would produce a number that
means nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from migbench.bench.records import NEEDS_MORE
from migbench.units import mib as megabytes

from .bisect_slots import SEARCH, Flight, Probe, SerialSlots, Slots, Stopped, size

MiB = 2**20

# Statuses of a bisection: only "answered" has an answer.
ANSWERED, HIGH_FAILS, STOPPED, UNCERTAIN = "answered", "high-fails", "stopped", "uncertain"


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
    width: int = 1  # slots: probes at once at most
    prior_bytes: int | None = None  # where the search started (the uncapped peak), None: from high and low
    probes_to_bracket: int | None = None  # the search's own probes (not repeats); None: no bracket
    max_in_flight: int = 0  # the most probes that were running at once

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
            text += "; width %d: %d probes, at most %d at once" % (self.width, len(self.probes), self.max_in_flight)
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
            "width": self.width, "prior_bytes": self.prior_bytes,
            "probes_to_bracket": self.probes_to_bracket, "max_in_flight": self.max_in_flight,
            "probes": [dataclasses.asdict(p) for p in self.probes],
        }


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

    def below(self, value: int) -> int:
        """The largest index whose cap is < value (0 when none is, n when all are)."""
        index = self.at_or_above(value)
        return max(index - 1, 0) if self[index] >= value else index


def bisect_cap(probe: Callable[[int, int], Probe] | None, low: int, high: int, tolerance: int, *,
               widen: int = 4, on_probe: Callable[[Probe], None] | None = None, width: int = 1,
               prior: int | None = None, slots: Slots | None = None) -> Bisection:
    """Search the grid of [low, high] for the smallest cap at which a probe is ok (module doc).

    `probe(cap, repeat)` runs once; `slots` (start/next, see Slots) run up to `width` probes at once,
    by default `SerialSlots(probe)`. Repeats are numbered per cap over the whole search (1, 2, ...,
    in the order started). `prior` (bytes, the uncapped peak RSS) is where the search starts, None:
    from `high` and `low`. `on_probe` sees each probe as it finishes.
    """
    if not 0 < low < high or tolerance < MiB:
        raise ValueError("need 0 < low < high and a tolerance of 1 MiB or more, got %r, %r, %r"
                         % (low, high, tolerance))
    if width < 1:
        raise ValueError("need a width of 1 or more, got %r" % width)
    result = Bisection(low, high, tolerance, width=width, prior_bytes=prior)
    flight = Flight(slots or SerialSlots(probe), width, on_probe, result.probes)
    search = _Search(result, Grid(low, high, tolerance), flight, width, prior)
    try:
        failing, passing = search.bracket()
        result.probes_to_bracket = flight.searched
        result.answer = search.grid[passing]
        result.bracket = (None if failing is None else search.grid[failing], result.answer)
        search.confirm(failing, passing, widen)
    except _HighFails:
        result.status = HIGH_FAILS
    except Stopped as stop:
        result.status, result.answer, result.detail = STOPPED, None, str(stop)
    result.max_in_flight = flight.max_in_flight
    return result


class _Search:
    """One bisection's state: the grid, the search's outcomes by grid index, the probes in flight."""

    def __init__(self, result: Bisection, grid: Grid, flight: Flight, width: int, prior: int | None):
        self.result, self.grid, self.flight, self.width = result, grid, flight, width
        self.start = None if prior is None else grid.below(prior)
        self.known = flight.known  # grid index -> ok, for the search's own probes (one each)

    def launch(self, index: int, purpose: str) -> tuple[int, int]:
        return self.flight.launch(index, self.grid[index], purpose)

    def extra(self, index: int) -> Probe | bool | None:
        return self.flight.extra(self.grid[index])

    # -- the search: grid indices until a failing and a passing one are adjacent ---------------

    def bracket(self) -> tuple[int | None, int]:
        """(highest failing index or None when low passed, lowest passing index above it)."""
        for index, purpose in self.first():
            self.launch(index, purpose)
        while True:
            self.flight.wait()
            failing = max((i for i, ok in self.known.items() if not ok), default=None)
            if failing == self.grid.n:
                self.flight.drain()
                raise _HighFails()
            passing = min((i for i, ok in self.known.items() if ok and (failing is None or i > failing)),
                          default=None)
            if passing is not None and passing - (-1 if failing is None else failing) == 1:
                return failing, passing
            while self.flight.free() > 0:
                choice = self.narrowing(failing, passing) or self.speculative(failing, passing)
                if choice is None:
                    break
                self.launch(*choice)
            if not self.flight.running:
                raise AssertionError("an open bracket with nothing to probe")  # never: see narrowing

    def label(self, index: int, purpose: str) -> tuple[int, str]:
        return index, {self.grid.n: "high", 0: "low"}.get(index, purpose)

    def first(self) -> list[tuple[int, str]]:
        n, k = self.grid.n, self.width
        if self.start is not None:  # the prior's cap and the k - 1 grid caps below it
            return [self.label(i, "start") for i in range(self.start, self.start - k, -1) if i >= 0]
        inside = [j * n // (k - 1) for j in range(1, k - 1)]  # evenly between low and high
        return [self.label(i, "bisect") for i in dict.fromkeys([n, 0][:k] + [i for i in inside if 0 < i < n])]

    def narrowing(self, failing: int | None, passing: int | None) -> tuple[int, str] | None:
        """The gallop's next distance while an end is unknown (not upwards past a probe in flight: it
        may be the passing end), else the middle of the lowest gap left between the known ends and the
        search's probes in flight (failures are short: one in flight that fails says so soon, and the
        gaps above it matter only then); None: no gap left."""
        n = self.grid.n
        busy = self.flight.busy()
        lo, hi = -1 if failing is None else failing, n + 1 if passing is None else passing
        inside = sorted(i for i in busy if lo < i < hi)
        wanted = []
        if failing is None and passing is not None:  # only passes: down 1, 2, 4... grid steps, else to low
            wanted = [0] if self.start is None else [max(self.start - d, 0) for d in _doubling(self.start)]
        elif failing is not None and passing is None and not inside:  # only failures: up likewise, else high
            wanted = [n] if self.start is None else [min(self.start + d, n) for d in _doubling(n - self.start)]
        gallop = [i for i in wanted if lo < i < hi and i not in self.known and i not in busy]
        if gallop:
            return self.label(gallop[0], "gallop" if self.start is not None else "bisect")
        points = ([] if failing is None else [failing]) + inside + ([] if passing is None else [passing])
        gap = next(((a, b) for a, b in zip(points, points[1:]) if b - a > 1), None)
        return None if gap is None else self.label((gap[0] + gap[1]) // 2, "bisect")

    def speculative(self, failing: int | None, passing: int | None) -> tuple[int, str] | None:
        """The repeat at the likely answer (the search's probe in flight just above the highest failure:
        the answer if it passes; else the lowest pass above it), then the below at the failure one grid
        step under it, while the confirmation still needs them; None: neither."""
        lo = -1 if failing is None else failing
        hi = self.grid.n + 1 if passing is None else passing
        candidate = min((i for i in self.flight.busy() if lo < i < hi), default=passing)
        if candidate is None:
            return None
        repeat = self.extra(candidate)
        if repeat is None:
            return candidate, "repeat"
        if failing == candidate - 1 and self.extra(failing) is None and (repeat is True or repeat.ok):
            return failing, "below"
        return None

    # -- the confirmation -------------------------------------------------------------------

    def confirm(self, failing: int | None, passing: int, widen: int) -> None:
        """Repeat at the answer and at the bracket's failing end; widen upwards when the repeat fails."""
        result, grid = self.result, self.grid
        answer = grid[passing]
        below = None if failing is None else grid[failing]
        while True:  # either may have started already (speculation); the below only while still needed
            repeat = self.extra(passing)
            below_probe = None if failing is None else self.extra(failing)
            if isinstance(repeat, Probe) and (not repeat.ok or failing is None or isinstance(below_probe, Probe)):
                break
            if repeat is None and self.flight.free():
                self.launch(passing, "repeat")
            elif failing is not None and below_probe is None and self.flight.free():
                self.launch(failing, "below")
            else:
                self.flight.wait()
        if repeat.ok:
            self.flight.drain()
            if failing is None:
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
            return self.add_noise()
        noise = "ok at %s once, %s at %s once" % (size(answer), repeat.outcome, size(answer))
        index = passing
        for _ in range(widen):
            if index >= grid.n:
                break
            index += 1
            if self.twice(index):
                self.flight.drain()
                cap = grid[index]
                result.answer, result.bracket = cap, (_highest_failing_below(result, cap), cap)
                result.confirmation = "noisy"
                result.detail = ("%s; raised to %s, the first cap above it that passed twice"
                                 % (noise, size(cap)))
                return self.add_noise()
        self.flight.drain()
        result.status, result.answer, result.confirmation = UNCERTAIN, None, "noisy"
        result.detail = ("noisy: %s, and no cap above it up to %s passed twice (at most %d tolerance steps, "
                         "never above --high): too noisy to bisect at this tolerance; retry with a larger "
                         "--tolerance" % (noise, size(grid[index]), widen))
        self.add_noise()

    def twice(self, index: int) -> bool:
        """Does grid[index] pass twice? `widen`, then its repeat once a slot is free (none after a failure)."""
        while not self.flight.free():
            self.flight.wait()
        keys = [self.launch(index, "widen")]
        while True:
            probes = [self.flight.done.get(key) for key in keys]
            if any(p is not None and not p.ok for p in probes):
                return False
            if len(keys) == 2 and all(probes):
                return True
            if len(keys) == 1 and self.flight.free():
                keys.append(self.launch(index, "repeat"))
            else:
                self.flight.wait()

    def noise(self, probes) -> str:
        """A pass below (or at) a failure among these probes, or "" when they are monotone."""
        lowest_ok = min((p.cap for p in probes if p.ok), default=None)
        failed = max((p for p in probes if p.verdict and not p.ok), key=lambda p: p.cap, default=None)
        if lowest_ok is None or failed is None or lowest_ok > failed.cap:
            return ""
        return "the search saw ok at %s below %s at %s" % (size(lowest_ok), failed.outcome, size(failed.cap))

    def add_noise(self) -> None:
        """A search that saw a pass below a failure makes the answer noisy, whatever the repeats said;
        so does any probe that contradicts a confirmed answer (one in flight when it was decided)."""
        noise = self.noise([p for p in self.result.probes if p.purpose in SEARCH])
        if not noise and self.result.confirmation == "confirmed":
            noise = self.noise(self.result.probes)
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


def _failure_at(result: Bisection, cap: int) -> str:
    return next((p.outcome for p in result.probes if p.cap == cap and not p.ok), "failed")


def _highest_failing_below(result: Bisection, cap: int) -> int | None:
    return max((p.cap for p in result.probes if not p.ok and p.cap < cap), default=None)


__all__ = ["ANSWERED", "Bisection", "Grid", "HIGH_FAILS", "NEEDS_MORE", "Probe", "STOPPED", "SerialSlots",
           "Slots", "UNCERTAIN", "bisect_cap", "size"]
