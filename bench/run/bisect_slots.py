"""The probes of a bisection and the slots they run on (bench/run/bisect.py is the search).

A *probe* is one run at one cap. *Slots* run up to `width` probes at once and
hand them back as they finish (`start`, `next`): `SerialSlots` runs them here
one at a time; bench/run/probes.py runs them on a cluster's workers. `Flight`
is one search's side of it: repeat numbers per cap (counted as started), the
probes in flight, the ones finished, and an error or a timeout stopping
everything once the probes in flight have finished (docs/bisect.md).
"""

from __future__ import annotations

import dataclasses
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable, Protocol

from migbench.bench.records import NEEDS_MORE
from migbench.units import format_size, mib as megabytes

SEARCH = ("high", "low", "start", "gallop", "bisect")  # the purposes of the search's own probes


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


class Slots(Protocol):
    """Where probes run: `start(cap, repeat)` begins one, `next()` blocks until any started one has
    finished and returns it (with its cap and repeat)."""

    def start(self, cap: int, repeat: int) -> None: ...

    def next(self) -> Probe: ...


class SerialSlots:
    """Slots run here, one probe at a time: `start` queues, `next` runs the oldest queued probe."""

    def __init__(self, probe: Callable[[int, int], Probe]):
        self.probe, self.queue = probe, deque()

    def start(self, cap: int, repeat: int) -> None:
        self.queue.append((cap, repeat))

    def next(self) -> Probe:
        cap, repeat = self.queue.popleft()
        return dataclasses.replace(self.probe(cap, repeat), cap=cap, repeat=repeat)


class Stopped(Exception):
    """An error or timeout: not a memory verdict, so the search ends here (its reason)."""


class Flight:
    """One search's probes on its slots: what is in flight, what finished, the search's own outcomes
    (`known`: grid index -> ok, one probe each), the first error."""

    def __init__(self, slots: Slots, width: int, on_probe: Callable[[Probe], None] | None, probes: list[Probe]):
        self.slots, self.width, self.on_probe, self.probes = slots, width, on_probe, probes
        self.known: dict[int, bool] = {}
        self.running: dict[tuple[int, int], tuple[int, str]] = {}  # (cap, repeat) -> (grid index, purpose)
        self.done: dict[tuple[int, int], Probe] = {}
        self.started: Counter = Counter()  # cap -> probes started at it: the next repeat number
        self.searched = 0  # the search's own probes started
        self.max_in_flight = 0
        self.error = ""  # the first error's reason

    def launch(self, index: int, cap: int, purpose: str) -> tuple[int, int]:
        """Start a probe at this cap (grid index `index`); its (cap, repeat)."""
        self.started[cap] += 1
        key = (cap, self.started[cap])
        self.running[key] = (index, purpose)
        self.searched += purpose in SEARCH
        self.max_in_flight = max(self.max_in_flight, len(self.running))
        self.slots.start(*key)
        return key

    def free(self) -> int:
        return self.width - len(self.running)

    def busy(self) -> set[int]:
        """The grid indices of the search's own probes in flight."""
        return {index for index, purpose in self.running.values() if purpose in SEARCH}

    def wait(self) -> Probe:
        """The next probe to finish; after an error or a timeout, the others in flight too, then Stopped."""
        finished = self.slots.next()
        key = (finished.cap, finished.repeat)
        if key not in self.running:
            raise ValueError("the slots returned a probe at %s r%d that is not in flight" % (size(key[0]), key[1]))
        index, purpose = self.running.pop(key)
        probe = self.done[key] = dataclasses.replace(finished, purpose=purpose)
        self.probes.append(probe)
        if self.on_probe is not None:
            self.on_probe(probe)
        if not probe.verdict:
            self.error = self.error or "%s at %s: %s%s" % (
                probe.outcome, size(probe.cap), probe.reason or probe.outcome,
                " (%s)" % probe.source if probe.source else "")
        elif purpose in SEARCH:
            self.known[index] = probe.ok
        if self.error:
            while self.running:  # real runs: recorded, but nothing new starts
                self.wait()
            raise Stopped(self.error)
        return probe

    def drain(self) -> None:
        """Wait for the probes still in flight: real runs, and evidence (docs/bisect.md)."""
        while self.running:
            self.wait()

    def extra(self, cap: int) -> Probe | bool | None:
        """The first probe at this cap beyond the search's own (a repeat, a below): None when none was
        started, True while it is in flight, else the probe."""
        repeats = [(r, p) for (c, r), p in self.done.items() if c == cap and p.purpose not in SEARCH]
        repeats += [(r, True) for (c, r), (_, purpose) in self.running.items() if c == cap and purpose not in SEARCH]
        return min(repeats, key=lambda pair: pair[0])[1] if repeats else None


def size(value: int | None) -> str:
    """A cap's label ("1040M"): exact, so two caps of one bisection never share one."""
    return format_size(value)
