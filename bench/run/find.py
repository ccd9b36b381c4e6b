"""The search of `migbench find`: which commit between a good one and a bad one made a case slower.

Pure: commits are names in history order, and `measure(commit, n)` returns at least n values of the
metric for that commit (runs are the caller's business: real ones in bench/run/find_probes.py,
made-up ones in the tests). The search decides, the caller measures.

How a commit is judged (docs/find.md says why):
- The two ends are measured first, `repeats` runs each. Their ratio (bad / good, the ratio of
  geometric means with a Welch 95% interval on the logs: analysis/stats.ratio_of) must be at least
  1 + threshold and beyond noise, or there is nothing to find. More runs are added at both ends
  while the ratio is large enough but its interval still holds 1.
- The boundary between the sides is the geometric midpoint of the two ends (sqrt(bad/good) on the
  ratio scale), as asv's `find` splits on nearness to either end: the commit named is the one that
  crossed the middle of the change, the largest single step when several commits each added part.
- A probed commit's ratio to good, with its interval, is on the bad side when the whole interval
  is above the boundary and on the good side when it is below. While it straddles the boundary,
  the commit gets one more run, up to `max_repeats`; then the point estimate decides and the
  verdict says it was not confident.
- A commit whose runs fail (a crash, a build error) is skipped, as `git bisect skip` does: the
  search takes the untried commit nearest the middle instead, and when only skipped commits are
  left between the last good and the first bad one, the answer is that range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

from migbench.bench.analysis.stats import Ratio, ratio_of


@dataclass(frozen=True)
class Measured:
    """What `measure` found for a commit: the metric of each ok run, or why it could not be measured."""

    values: tuple[float, ...] = ()
    failed: str | None = None  # a run crashed, the environment could not be built, ...


@dataclass(frozen=True)
class Verdict:
    """One commit judged: its values, its ratio to good, and the side it fell on."""

    commit: str
    index: int  # position in the history (good = 0)
    values: tuple[float, ...]
    ratio: Ratio | None  # to good; None for good itself and for a skipped commit
    side: str  # "good", "bad" or "skipped"
    confident: bool
    why: str = ""

    def line(self, unit: Callable[[float], str]) -> str:
        if self.side == "skipped":
            return "%s  skipped: %s" % (self.commit[:12], self.why)
        ratio = self.ratio
        shown = "" if ratio is None else "  %.2fx%s" % (
            ratio.ratio, " [%.2f-%.2f]" % (ratio.low, ratio.high) if ratio.has_interval else "")
        middle = sorted(self.values)[len(self.values) // 2] if self.values else float("nan")
        return "%s  %-4s %s  median %s of %d run%s%s" % (
            self.commit[:12], self.side, "" if self.confident else "(not confident)", unit(middle),
            len(self.values), "" if len(self.values) == 1 else "s", shown)


@dataclass
class Finding:
    """The answer: the last good and first bad commit, and every step that led there."""

    commits: list[str]
    threshold: float
    good: Verdict | None = None
    bad: Verdict | None = None
    boundary: float | None = None  # ratio to good splitting the sides
    steps: list[Verdict] = field(default_factory=list)  # the probed commits, in the order judged
    last_good: int | None = None
    first_bad: int | None = None
    reason: str | None = None  # why there is no answer

    @property
    def found(self) -> bool:
        return self.first_bad is not None and self.reason is None

    @property
    def skipped_between(self) -> list[str]:
        """Skipped commits between the last good and the first bad one: the culprit may be any of them too."""
        if self.last_good is None or self.first_bad is None:
            return []
        skipped = {v.index for v in self.steps if v.side == "skipped"}
        return [self.commits[i] for i in range(self.last_good + 1, self.first_bad) if i in skipped]

    @property
    def confident(self) -> bool:
        return self.found and all(v.confident for v in self.steps + [self.good, self.bad] if v is not None)


def find_first_bad(commits: Sequence[str], measure: Callable[[str, int], Measured], threshold: float,
                   repeats: int = 3, max_repeats: int = 9,
                   on_verdict: Callable[[Verdict], None] | None = None) -> Finding:
    """Bisect `commits` (good first, bad last) for the commit that made the metric larger."""
    if len(commits) < 2:
        raise ValueError("need a good and a bad commit")
    repeats = max(2, repeats)  # one run has no noise estimate: no interval, no confidence
    max_repeats = max(repeats, max_repeats)
    result = Finding(list(commits), threshold)
    good_n = bad_n = repeats
    while True:
        good, bad = measure(commits[0], good_n), measure(commits[-1], bad_n)
        for name, got in (("good", good), ("bad", bad)):
            if got.failed:
                result.reason = "the %s commit %s cannot be measured: %s" % (
                    name, commits[0 if name == "good" else -1][:12], got.failed)
                return result
        change = ratio_of(good.values, bad.values)
        big_enough = change is not None and change.ratio >= 1 + threshold
        beyond_noise = change is not None and change.has_interval and change.low > 1
        if not big_enough or beyond_noise or max(good_n, bad_n) >= max_repeats:
            break
        good_n, bad_n = good_n + 1, bad_n + 1  # large enough, not yet beyond noise: more runs at both ends
    result.good = Verdict(commits[0], 0, good.values, None, "good", True)
    result.bad = Verdict(commits[-1], len(commits) - 1, bad.values, change, "bad", bool(big_enough and beyond_noise))
    for verdict in (result.good, result.bad):
        if on_verdict:
            on_verdict(verdict)
    if not big_enough:
        result.reason = "bad is %.2fx good, under the threshold of %.0f%%: nothing to find" % (
            change.ratio if change else float("nan"), threshold * 100)
        return result
    if not beyond_noise:
        result.reason = ("bad is %.2fx good but within noise after %d runs each [%.2f-%.2f]: nothing to find "
                         "reliably; try more --repeat or a quieter machine" % (
                             change.ratio, bad_n, change.low or 0, change.high or 0))
        return result
    result.boundary = math.sqrt(change.ratio)
    low, high = 0, len(commits) - 1
    skipped: set[int] = set()
    while True:
        untried = [i for i in range(low + 1, high) if i not in skipped]
        if not untried:
            break
        middle = (low + high) / 2
        index = min(untried, key=lambda i: (abs(i - middle), i))
        verdict = _judge(commits[index], index, measure, good.values, result.boundary, repeats, max_repeats)
        result.steps.append(verdict)
        if on_verdict:
            on_verdict(verdict)
        if verdict.side == "skipped":
            skipped.add(index)
        elif verdict.side == "bad":
            high = index
        else:
            low = index
    result.last_good, result.first_bad = low, high
    return result


def _judge(commit: str, index: int, measure: Callable[[str, int], Measured], good: Sequence[float],
           boundary: float, repeats: int, max_repeats: int) -> Verdict:
    n = repeats
    while True:
        got = measure(commit, n)
        if got.failed:
            return Verdict(commit, index, got.values, None, "skipped", False, got.failed)
        ratio = ratio_of(good, got.values)
        if ratio is None:
            return Verdict(commit, index, got.values, None, "skipped", False, "no usable value")
        if ratio.has_interval and ratio.low > boundary:
            return Verdict(commit, index, got.values, ratio, "bad", True)
        if ratio.has_interval and ratio.high < boundary:
            return Verdict(commit, index, got.values, ratio, "good", True)
        if n >= max_repeats:
            side = "bad" if ratio.ratio > boundary else "good"
            return Verdict(commit, index, got.values, ratio, side, False,
                           "the interval still holds the boundary after %d runs" % n)
        n += 1
