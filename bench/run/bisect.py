"""Find the smallest memory cap under which a command finishes, by bisection over real runs.

The 2015 advice was "give the VM 2 GB". The real number depends on the Django
version and the schema, and it is not the uncapped peak RSS: a capped process
can finish below its uncapped peak (the kernel reclaims page cache, the
allocator returns memory under pressure) or need more (the cap charges page
cache and every process of the tree). So the answer comes from runs under
the cap itself. This module is the search alone, independent of Django: a
*probe* runs something under a cap and says what happened (bench/run/probes.py
has the real probes: a `migbench run` record, or any command).

The search (docs/bisect.md):
1. `high` first: if it fails the answer is "more than HIGH" and nothing else runs;
2. `low`: if it passes the answer is "LOW or less" (the bracket is open below);
3. bisect [highest failing, lowest passing] on whole MiB until the gap is at
   most `tolerance`: the answer is the lowest passing cap;
4. confirm, because memory is not perfectly deterministic: a repeat at the
   answer and a repeat one step below it, at the bracket's failing end (the
   highest cap that failed, within a tolerance of the answer: a run further
   down would only fail more surely and prove nothing). A repeat at the answer
   that fails makes the answer noisy: the search moves up a tolerance step at
   a time (at most `widen` steps, never above `high`) to the first cap that
   passes twice, and that cap is the answer; none within the bound: no answer
   ("uncertain"). A pass one step below is reported as a disagreement and the
   answer stays (one pass where a run failed is noise, not a lower answer).

Only `ok`, `oom-killed`, `segfault` and `memory-error` are memory verdicts. An
`error` or `timeout` stops the search with its reason: bisecting a broken
project would produce a number that means nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

from migbench.bench.records import NEEDS_MORE
from migbench.units import format_size, mib as megabytes

MiB = 2**20

# Statuses of a bisection: only "answered" has an answer.
ANSWERED, HIGH_FAILS, STOPPED, UNCERTAIN = "answered", "high-fails", "stopped", "uncertain"


@dataclass(frozen=True)
class Probe:
    """One run at one cap. `purpose` is set by the search (high, low, bisect, repeat, below, widen)."""

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

    @property
    def answered(self) -> bool:
        return self.status == ANSWERED

    def summary(self) -> str:
        """The one-line result, e.g. "minimal cap: 104M (bracket 96M-104M, tolerance 8M); ..."."""
        if self.status == HIGH_FAILS:
            text = "no answer: fails even at --high %s (%s); needs more than %s" % (
                size(self.high), self.probes[0].outcome, size(self.high))
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
            "probes": [dataclasses.asdict(p) for p in self.probes],
        }


class _Stop(Exception):
    """An error or timeout: not a memory verdict, so the search ends here."""


def bisect_cap(probe: Callable[[int, int], Probe], low: int, high: int, tolerance: int, *,
               widen: int = 4, on_probe: Callable[[Probe], None] | None = None) -> Bisection:
    """Search [low, high] for the smallest cap at which `probe(cap, repeat)` is ok (module doc)."""
    if not 0 < low < high or tolerance <= 0:
        raise ValueError("need 0 < low < high and tolerance > 0, got %r, %r, %r" % (low, high, tolerance))
    result = Bisection(low, high, tolerance)

    def run(cap: int, purpose: str) -> Probe:
        repeat = 1 + sum(1 for p in result.probes if p.cap == cap)
        done = dataclasses.replace(probe(cap, repeat), purpose=purpose, cap=cap, repeat=repeat)
        result.probes.append(done)
        if on_probe is not None:
            on_probe(done)
        if not done.verdict:
            raise _Stop("%s at %s: %s%s" % (done.outcome, size(cap), done.reason or done.outcome,
                                             " (%s)" % done.source if done.source else ""))
        return done

    try:
        if not run(high, "high").ok:
            result.status = HIGH_FAILS
            return result
        if run(low, "low").ok:
            result.answer, result.bracket = low, (None, low)
        else:
            failing, passing = _narrow(run, low, high, tolerance)
            result.answer, result.bracket = passing, (failing, passing)
        _confirm(run, result, widen)
    except _Stop as stop:
        result.status, result.answer, result.detail = STOPPED, None, str(stop)
    return result


def _narrow(run, failing: int, passing: int, tolerance: int) -> tuple[int, int]:
    """Bisect until the gap is at most `tolerance`; midpoints are whole MiB."""
    while passing - failing > tolerance:
        middle = (failing + passing) // 2 // MiB * MiB
        if not failing < middle < passing:  # a gap of about 1 MiB: nothing left to split
            break
        if run(middle, "bisect").ok:
            passing = middle
        else:
            failing = middle
    return failing, passing


def _confirm(run, result: Bisection, widen: int) -> None:
    """Repeat at the answer and at the bracket's failing end; widen upwards when the repeat fails."""
    answer, step = result.answer, result.tolerance
    if run(answer, "repeat").ok:
        below = result.bracket[0]  # the highest failing cap: within one tolerance step of the answer
        if below is None:
            result.confirmation = "confirmed"
            result.detail = "ok twice at %s (nothing below --low was tried)" % size(answer)
        elif run(below, "below").ok:
            result.confirmation = "noisy"
            result.detail = ("ok at %s once, %s at %s once; %s stays the answer "
                             "(ok twice)" % (size(below), _failure_at(result, below), size(below), size(answer)))
        else:
            result.confirmation = "confirmed"
            result.detail = "ok at %s twice, %s at %s twice" % (size(answer), result.probes[-1].outcome,
                                                                 size(below))
        return
    failed = result.probes[-1]
    noise = "ok at %s once, %s at %s once" % (size(answer), failed.outcome, size(answer))
    cap = answer
    for _ in range(widen):
        if cap >= result.high:
            break
        cap = min(cap + step, result.high)
        if run(cap, "widen").ok and run(cap, "repeat").ok:
            result.answer, result.bracket = cap, (_highest_failing_below(result, cap), cap)
            result.confirmation = "noisy"
            result.detail = "%s; raised to %s, the first cap above it that passed twice" % (noise, size(cap))
            return
    result.status, result.answer, result.confirmation = UNCERTAIN, None, "noisy"
    result.detail = ("noisy: %s, and no cap above it up to %s passed twice (at most %d tolerance steps, never "
                     "above --high): too noisy to bisect at this tolerance; retry with a larger --tolerance"
                     % (noise, size(cap), widen))


def size(value: int | None) -> str:
    """A cap's label ("1040M"): exact, so two caps of one bisection never share one."""
    return format_size(value)


def _failure_at(result: Bisection, cap: int) -> str:
    return next((p.outcome for p in result.probes if p.cap == cap and not p.ok), "failed")


def _highest_failing_below(result: Bisection, cap: int) -> int | None:
    return max((p.cap for p in result.probes if not p.ok and p.cap < cap), default=None)


__all__ = ["ANSWERED", "Bisection", "HIGH_FAILS", "NEEDS_MORE", "Probe", "STOPPED", "UNCERTAIN",
           "bisect_cap", "size"]
