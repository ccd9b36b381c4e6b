"""The search of `migbench find` on made-up histories (bench/run/find.py): pure, no runs.

The real command on a real clone is tests/bench/env/test_sources.py's."""

from __future__ import annotations

import random

import pytest

from migbench.bench.run.find import Measured, find_first_bad

COMMITS = ["c%02d" % i for i in range(12)]


def history(slow_from: int, factor: float = 2.0, noise: float = 0.03, seed: int = 1, broken=(), calls=None):
    """measure() of a history whose commits from `slow_from` on take `factor` times longer, with noise."""
    rng = random.Random(seed)
    made: dict[str, list[float]] = {}

    def measure(commit: str, n: int) -> Measured:
        if calls is not None:
            calls.append((commit, n))
        if commit in broken:
            return Measured((), "does not import")
        base = factor if COMMITS.index(commit) >= slow_from else 1.0
        values = made.setdefault(commit, [])
        while len(values) < n:
            values.append(base * (1 + rng.gauss(0, noise)))
        return Measured(tuple(values[:n]))

    return measure


@pytest.mark.parametrize("slow_from", range(1, 12))
def test_names_the_planted_commit_wherever_it_is(slow_from):
    finding = find_first_bad(COMMITS, history(slow_from), 0.10)
    assert finding.found and finding.confident
    assert COMMITS[finding.first_bad] == COMMITS[slow_from] and finding.last_good == slow_from - 1
    assert len(finding.steps) <= 4  # log2(10 commits between the ends), rounded up


def test_a_change_under_the_threshold_is_nothing_to_find():
    finding = find_first_bad(COMMITS, history(5, factor=1.04, noise=0.005), 0.10)
    assert not finding.found and "under the threshold" in finding.reason


def test_ends_within_noise_get_more_runs_then_give_up():
    calls = []

    def measure(commit, n):  # bad is 1.2x good in every pair of runs, but each run is 1 or 2 units: noise
        calls.append((commit, n))
        scale = 1.2 if commit == COMMITS[-1] else 1.0
        return Measured(tuple(scale * (1 + i % 2) for i in range(n)))

    finding = find_first_bad(COMMITS, measure, 0.10, repeats=3, max_repeats=5)
    assert not finding.found and "within noise after 5 runs" in finding.reason
    assert max(n for _, n in calls) == 5 and {c for c, _ in calls} == {COMMITS[0], COMMITS[-1]}


def test_a_close_call_gets_more_runs_and_says_it_was_not_confident():
    calls = []
    # one commit in the middle sits exactly on the boundary (sqrt(2) ~ 1.41x): it can never be confident
    base = history(8, factor=2.0, noise=0.02, calls=calls)

    def measure(commit, n):
        got = base(commit, n)
        if commit == "c06":
            return Measured(tuple(v * 2 ** 0.5 for v in history(0, factor=1.0, noise=0.02, seed=9)(commit, n).values))
        return got

    finding = find_first_bad(COMMITS, measure, 0.10, repeats=3, max_repeats=6)
    step = next(v for v in finding.steps if v.commit == "c06")
    assert not step.confident and len(step.values) == 6 and "after 6 runs" in step.why
    assert finding.found and not finding.confident


def test_commits_that_cannot_be_measured_are_skipped_and_named_when_they_hide_the_answer():
    finding = find_first_bad(COMMITS, history(5, broken=("c04", "c05")), 0.10)
    assert finding.found
    assert COMMITS[finding.last_good] == "c03" and COMMITS[finding.first_bad] == "c06"
    assert finding.skipped_between == ["c04", "c05"]
    assert {v.commit for v in finding.steps if v.side == "skipped"} == {"c04", "c05"}


def test_an_end_that_cannot_be_measured_is_no_answer():
    finding = find_first_bad(COMMITS, history(5, broken=("c11",)), 0.10)
    assert not finding.found and "bad commit c11 cannot be measured" in finding.reason


def test_the_search_is_deterministic_given_the_values():
    """What resuming relies on: the same values, the same probes in the same order."""
    first, second = [], []
    find_first_bad(COMMITS, history(7, calls=first), 0.10)
    find_first_bad(COMMITS, history(7, calls=second), 0.10)
    assert first == second


def test_peak_memory_works_the_same_way():
    """The metric is only numbers: a peak that grew 1.3x is found like a time that did."""
    finding = find_first_bad(COMMITS, history(3, factor=1.3, noise=0.005), 0.10)
    assert COMMITS[finding.first_bad] == "c03" and finding.confident
