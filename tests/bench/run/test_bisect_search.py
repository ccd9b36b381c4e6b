"""The cap search's grid, its rounds of several probes and its start from a prior
(bench/run/bisect.py), against the fake probes of test_bisect.py: whatever the
width and the start, a clean threshold gives the serial search's answer, bracket
and confirmation; a noisy one is called noisy exactly when the probes disagree."""

from __future__ import annotations

import itertools

import pytest
from test_bisect import HIGH, LOW, TOL, Fake, MiB, monotonic

from migbench.bench.run.bisect import ANSWERED, HIGH_FAILS, STOPPED, UNCERTAIN, Grid, Probe, bisect_cap, size

# Below --low, on it, the edges of the grid, between grid caps, at and above --high.
THRESHOLDS = [20 * MiB, LOW, 65 * MiB, 72 * MiB, 100 * MiB + 12345, 106 * MiB, 287 * MiB, 2000 * MiB,
              4089 * MiB, 4096 * MiB - 1, 4096 * MiB, 5000 * MiB]


def outcome(result):
    """What must not depend on the width or the start."""
    return result.status, result.answer, result.bracket, result.confirmation, result.detail


def grid_answer(threshold, low=LOW, high=HIGH, tolerance=TOL):
    """The smallest grid cap at or above the threshold (None: even high fails)."""
    grid = Grid(low, high, tolerance)
    index = grid.at_or_above(threshold)
    return grid[index] if grid[index] >= threshold else None


# -- the grid ------------------------------------------------------------------------------


def test_the_grid_steps_from_low_by_the_tolerance_in_whole_mib():
    grid = Grid(LOW, HIGH, TOL)
    assert grid.n == 504 and grid[0] == LOW and grid[1] == 72 * MiB and grid[504] == HIGH
    assert grid[252] == 2080 * MiB  # the first serial midpoint, as before the grid
    odd = Grid(64 * MiB + 12345, 1000 * MiB, 8 * MiB + 1)
    caps = [odd[i] for i in range(odd.n + 1)]
    assert caps[0] == 64 * MiB + 12345 and caps[-1] == 1000 * MiB and odd.n == 117
    assert all(cap % MiB == 0 for cap in caps[1:]) and caps == sorted(set(caps))
    assert odd.at_or_above(0) == 0 and odd.at_or_above(caps[5]) == 5 and odd.at_or_above(caps[5] + 1) == 6
    assert odd.at_or_above(2000 * MiB) == odd.n
    with pytest.raises(ValueError, match="1 MiB or more"):
        bisect_cap(Fake(106 * MiB), LOW, HIGH, MiB // 2)
    with pytest.raises(ValueError, match="width"):
        bisect_cap(Fake(106 * MiB), LOW, HIGH, TOL, width=0)


def test_width_1_without_a_prior_is_the_binary_search_on_grid_indices():
    fake = Fake(287 * MiB)
    result = bisect_cap(fake, LOW, HIGH, TOL)
    grid, failing, passing, expected = Grid(LOW, HIGH, TOL), 0, 504, []
    while passing - failing > 1:
        middle = (failing + passing) // 2
        expected.append((grid[middle], 1))
        failing, passing = (failing, middle) if grid[middle] >= 287 * MiB else (middle, passing)
    assert fake.calls == [(HIGH, 1), (LOW, 1)] + expected + [(grid[passing], 2), (grid[failing], 2)]
    assert result.answer == 288 * MiB == grid_answer(287 * MiB) and result.bracket == (280 * MiB, 288 * MiB)
    assert result.rounds == len(fake.calls) and result.probes_to_bracket == len(fake.calls) - 2
    assert result.width == 1 and result.prior_bytes is None


# -- the same answer whatever the width and the start -----------------------------------


@pytest.mark.parametrize("threshold", THRESHOLDS, ids=size)
def test_every_width_and_start_gives_the_serial_answer_bracket_and_confirmation(threshold):
    serial = bisect_cap(Fake(threshold), LOW, HIGH, TOL)
    if threshold > HIGH:
        assert serial.status == HIGH_FAILS
    else:
        assert serial.status == ANSWERED and serial.confirmation == "confirmed"
        assert serial.answer == grid_answer(threshold) if threshold > LOW else serial.answer == LOW
        assert serial.bracket[0] is None if threshold <= LOW else serial.bracket[0] < threshold
    priors = [None, threshold, threshold // 2, threshold * 3, 107 * MiB, 10, 50 * 2**30]
    for width, prior in itertools.product((1, 2, 3, 5), priors):
        fake = Fake(threshold)
        result = bisect_cap(fake, LOW, HIGH, TOL, width=width, prior=prior)
        where = "width %d, prior %s: %s" % (width, prior, result.lines())
        assert outcome(result) == outcome(serial), where
        assert monotonic(result.probes) and len(set(fake.calls)) == len(fake.calls), where
        assert result.width == width and result.prior_bytes == prior
        if result.answered:
            assert result.probes_to_bracket == len(result.probes) - (1 if result.bracket[0] is None else 2)
            assert "minimal cap: %s" % size(result.answer) in result.summary()


def test_a_good_prior_brackets_the_answer_in_four_probes():
    """Prior 107 MiB (an uncapped peak), the threshold 0.94x-1.02x of it, 64M-1G at 8M."""
    prior, high = 107 * MiB, 1024 * MiB
    for step in range(17):  # 0.94, 0.945, ... 1.02
        threshold = int(prior * (0.94 + step * 0.005))
        serial = bisect_cap(Fake(threshold), LOW, high, TOL)
        for width in (1, 2, 3, 4):
            result = bisect_cap(Fake(threshold), LOW, high, TOL, width=width, prior=prior)
            assert outcome(result) == outcome(serial)
            assert result.probes_to_bracket <= 4 < serial.probes_to_bracket, (
                "threshold %s, width %d: %d probes from the prior, %d serially without one: %s"
                % (size(threshold), width, result.probes_to_bracket, serial.probes_to_bracket,
                   result.lines()))
            assert result.rounds <= result.probes_to_bracket + 2  # the confirmation: one or two rounds
            assert "started at the uncapped peak 107 MB" in result.summary()


@pytest.mark.parametrize("threshold", [106 * MiB, 287 * MiB, 2000 * MiB], ids=size)
@pytest.mark.parametrize("factor", [10, 0.1])
def test_a_wrong_prior_still_finds_the_answer(threshold, factor):
    serial = bisect_cap(Fake(threshold), LOW, HIGH, TOL)
    for width in (1, 2, 3):
        result = bisect_cap(Fake(threshold), LOW, HIGH, TOL, width=width, prior=int(threshold * factor))
        assert outcome(result) == outcome(serial) and result.answer == grid_answer(threshold), result.lines()
        # galloping: about twice the serial count at worst
        assert result.probes_to_bracket <= 2 * serial.probes_to_bracket + width, result.lines()


def test_the_gallop_from_the_prior_probes_1_2_4_8_steps_away():
    fake = Fake(287 * MiB)  # grid index 28 (288M); the prior's cap is 112M, index 6
    result = bisect_cap(fake, LOW, HIGH, TOL, prior=107 * MiB)
    indices = [(cap - LOW) // TOL for cap, _ in fake.calls[:result.probes_to_bracket]]
    assert indices[:6] == [6, 7, 8, 10, 14, 22] and indices[6] == 38  # then split (22, 38)
    assert [p.purpose for p in result.probes[:7]] == ["start"] + ["gallop"] * 6
    assert result.answer == 288 * MiB and result.bracket == (280 * MiB, 288 * MiB)
    down = Fake(70 * MiB)
    bisect_cap(down, LOW, HIGH, TOL, width=2, prior=107 * MiB)
    assert [cap // MiB for cap, _ in down.calls[:4]] == [112, 104, 96, 80]  # s, s-1; then s-2, s-4


def test_no_prior_width_2_and_more_start_with_high_low_and_even_points():
    fake = Fake(106 * MiB)
    result = bisect_cap(fake, LOW, HIGH, TOL, width=4)
    grid = Grid(LOW, HIGH, TOL)
    assert fake.calls[:4] == [(HIGH, 1), (LOW, 1), (grid[168], 1), (grid[336], 1)]
    assert [p.purpose for p in result.probes[:4]] == ["high", "low", "bisect", "bisect"]
    assert result.answer == 112 * MiB


def test_high_failing_and_low_passing_in_a_round_of_two():
    fake = Fake(5000 * MiB)
    result = bisect_cap(fake, LOW, HIGH, TOL, width=2)
    assert result.status == HIGH_FAILS and fake.calls == [(HIGH, 1), (LOW, 1)] and result.rounds == 1
    assert "no answer: fails even at --high 4G (oom-killed); needs more than 4G" in result.summary()
    fake = Fake(20 * MiB)
    result = bisect_cap(fake, LOW, HIGH, TOL, width=2)
    assert fake.calls == [(HIGH, 1), (LOW, 1), (LOW, 2)] and result.bracket == (None, LOW)
    assert "64M or less" in result.summary() and "width 2: 3 probes in 2 rounds" in result.summary()
    fake = Fake(5000 * MiB)  # from a prior: up to high, which fails
    result = bisect_cap(fake, LOW, HIGH, TOL, width=2, prior=3000 * MiB)
    assert result.status == HIGH_FAILS and fake.calls[-1] == (HIGH, 1)
    assert len(fake.calls) == 11  # the start and one below, then up 1, 2, 4 ... 256 steps (to high)
    assert "needs more than 4G" in result.summary()


# -- rounds ------------------------------------------------------------------------------


def test_run_round_gets_k_requests_per_round_and_on_probe_sees_them_after_it():
    fake, rounds, events = Fake(106 * MiB), [], []

    def run_round(requests):
        rounds.append(list(requests))
        events.append(("round", len(requests)))
        return [fake(cap, repeat) for cap, repeat in requests]

    def unused(cap, repeat):
        raise AssertionError("run_round replaces probe")

    result = bisect_cap(unused, LOW, HIGH, TOL, width=3, run_round=run_round,
                        on_probe=lambda p: events.append(("probe", p.cap, p.repeat)))
    assert rounds[0] == [(HIGH, 1), (LOW, 1), (2080 * MiB, 1)]
    search, confirmation = rounds[:-1], rounds[-1]
    assert all(len(r) == 3 for r in search[:-1]) and 1 <= len(search[-1]) <= 3
    assert confirmation == [(112 * MiB, 2), (104 * MiB, 2)]  # the repeat and the one below in one round
    assert result.rounds == len(rounds) and result.probes_to_bracket == sum(map(len, search))
    assert [(p.cap, p.repeat) for p in result.probes] == [r for round_ in rounds for r in round_]
    expected = []
    for round_ in rounds:
        expected += [("round", len(round_))] + [("probe", cap, repeat) for cap, repeat in round_]
    assert events == expected
    # fewer rounds than the serial search
    assert result.rounds < bisect_cap(Fake(106 * MiB), LOW, HIGH, TOL).rounds
    assert "width 3: %d probes in %d rounds" % (len(result.probes), result.rounds) in result.summary()
    assert result.to_dict()["rounds"] == result.rounds and result.to_dict()["width"] == 3


def test_a_widening_step_runs_both_of_its_probes_in_one_round_with_distinct_repeats():
    rounds = []

    def run_round(requests):
        rounds.append(list(requests))
        return [fake(cap, repeat) for cap, repeat in requests]

    fake = Fake(106 * MiB, script={(112 * MiB, 2): "oom-killed"})
    result = bisect_cap(fake, LOW, HIGH, TOL, width=2, run_round=run_round)
    assert result.answered and result.answer == 120 * MiB and result.confirmation == "noisy"
    assert rounds[-2] == [(112 * MiB, 2), (104 * MiB, 2)]
    first = rounds[-1][0][1]  # 120M was already probed by the search, or not
    assert rounds[-1] == [(120 * MiB, first), (120 * MiB, first + 1)]
    assert [p.purpose for p in result.probes[-2:]] == ["widen", "repeat"]
    assert "raised to 120M" in result.detail


@pytest.mark.parametrize("outcome_", ["error", "timeout"])
def test_an_error_stops_after_its_round(outcome_):
    fake = Fake(106 * MiB, script={(2080 * MiB, 1): outcome_})
    result = bisect_cap(fake, LOW, HIGH, TOL, width=3)
    assert result.status == STOPPED and result.answer is None and result.rounds == 1
    assert fake.calls == [(HIGH, 1), (LOW, 1), (2080 * MiB, 1)]  # the whole round, nothing after
    assert "%s at 2080M: fake: %s" % (outcome_, outcome_) in result.summary()
    assert result.probes_to_bracket is None


# -- disagreements inside a round -----------------------------------------------------------


def test_a_pass_below_a_failure_in_a_round_goes_on_from_the_highest_failure_and_is_noisy():
    # threshold 130M (answer 136M); a lucky pass at 104M in the first round from the prior (112M, 104M)
    fake = Fake(130 * MiB, script={(104 * MiB, 1): "ok"})
    result = bisect_cap(fake, LOW, HIGH, TOL, width=2, prior=107 * MiB)
    assert result.answered and result.answer == 136 * MiB and result.bracket == (128 * MiB, 136 * MiB)
    assert result.confirmation == "noisy" and not monotonic(result.probes)
    assert result.detail == ("ok at 136M twice, oom-killed at 128M twice; "
                             "the search saw ok at 104M below oom-killed at 128M")
    assert "the answer is noisy" in result.summary()


def test_a_failure_at_high_in_a_round_is_high_fails_even_after_a_pass_below():
    fake = Fake(106 * MiB, script={(HIGH, 1): "oom-killed"})
    result = bisect_cap(fake, LOW, HIGH, TOL, width=3)
    assert result.status == HIGH_FAILS and len(fake.calls) == 3
    assert "fails even at --high 4G (oom-killed)" in result.summary()


@pytest.mark.parametrize("width", [2, 3])
@pytest.mark.parametrize("prior", [None, 107 * MiB, 40 * MiB, 900 * MiB])
def test_noisy_thresholds_in_rounds_are_called_noisy_exactly_when_the_probes_disagree(width, prior):
    seen = {"confirmed": 0, "noisy": 0}
    for seed in range(150):
        fake = Fake(106 * MiB, noise=8 * MiB, seed=seed)
        result = bisect_cap(fake, LOW, HIGH, TOL, width=width, prior=prior)
        assert result.status in (ANSWERED, UNCERTAIN), result.lines()
        assert (result.confirmation == "noisy") == (not monotonic(result.probes)), result.lines()
        assert len(set(fake.calls)) == len(fake.calls), result.lines()  # repeats distinct per cap
        for cap in {c for c, _ in fake.calls}:
            repeats = [r for c, r in fake.calls if c == cap]
            assert repeats == list(range(1, 1 + len(repeats)))
        seen[result.confirmation] += 1
        if result.answered:
            assert any(p.ok and p.cap == result.answer for p in result.probes)
            assert result.bracket[0] is None or result.bracket[0] < result.answer
            assert ("noisy" in result.summary()) == (result.confirmation == "noisy")
    assert seen["confirmed"] and seen["noisy"]


def test_the_summary_dict_has_the_new_keys():
    result = bisect_cap(Fake(106 * MiB), LOW, HIGH, TOL, width=2, prior=107 * MiB)
    data = result.to_dict()
    assert {k: data[k] for k in ("width", "prior_bytes", "rounds", "probes_to_bracket")} == {
        "width": 2, "prior_bytes": 107 * MiB, "rounds": result.rounds,
        "probes_to_bracket": result.probes_to_bracket}
    result.uncapped_peak_bytes = 107 * MiB
    assert "uncapped peak 107 MB (cap/peak 1.05); started at the uncapped peak; width 2" in result.summary()
    assert isinstance(Probe(1, "ok", 1, 1.0).line(), str)
