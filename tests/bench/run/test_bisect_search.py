"""The cap search's grid, its slots (several probes at once, asynchronously, with
speculation) and its start from a prior (bench/run/bisect.py, bisect_slots.py),
against the fake probes of test_bisect.py and FakeSlots, slots on a virtual
clock: whatever the width, the start and the order probes finish in, a clean
threshold gives the serial search's answer, bracket and confirmation; a noisy
one is called noisy exactly when the probes disagree; two slots are faster."""

from __future__ import annotations

import dataclasses
import heapq
import itertools

import pytest
from test_bisect import HIGH, LOW, TOL, Fake, MiB, monotonic

from migbench.bench.run.bisect import (ANSWERED, HIGH_FAILS, STOPPED, UNCERTAIN, Grid, Probe, SerialSlots,
                                       bisect_cap, size)

# Below --low, on it, the edges of the grid, between grid caps, at and above --high.
THRESHOLDS = [20 * MiB, LOW, 65 * MiB, 72 * MiB, 100 * MiB + 12345, 106 * MiB, 287 * MiB, 2000 * MiB,
              4089 * MiB, 4096 * MiB - 1, 4096 * MiB, 5000 * MiB]
PRIOR = 107 * MiB  # segfault-2015 on Django 1.9 / Python 3.11: uncapped peak 107 MB, answer 102M


def typical(cap, outcome):
    """A run that passes takes minutes; one killed for memory, seconds."""
    return 100.0 if outcome == "ok" else 10.0


class FakeSlots:
    """Slots on a virtual clock: each probe takes `duration(cap, outcome)` seconds (`typical` by
    default); `next` returns the one that finishes first (ties: the first started) and moves the
    clock there. `most` is the most probes that were in flight at once; `events` what happened when."""

    def __init__(self, fake, duration=typical):
        self.fake, self.duration = fake, duration
        self.clock, self.running, self.started, self.most, self.events = 0.0, [], 0, 0, []

    def start(self, cap, repeat):
        probe = self.fake(cap, repeat)
        self.started += 1
        took = self.duration(cap, probe.outcome)
        heapq.heappush(self.running, (self.clock + took, self.started, dataclasses.replace(probe, wall_s=took)))
        self.most = max(self.most, len(self.running))
        self.events.append(("start", self.clock, cap, repeat))

    def next(self):
        end, _, probe = heapq.heappop(self.running)
        self.clock = end
        self.events.append(("end", end, probe.cap, probe.repeat))
        return probe


def on_clock(threshold, width, prior, low=LOW, high=HIGH, duration=typical, **fake):
    slots = FakeSlots(Fake(threshold, **fake), duration)
    result = bisect_cap(None, low, high, TOL, width=width, prior=prior, slots=slots)
    assert slots.most <= width and result.max_in_flight == slots.most and not slots.running, result.lines()
    return result, slots


def outcome(result):
    """What must not depend on the width, the start or the order probes finish in."""
    return result.status, result.answer, result.bracket, result.confirmation, result.detail


def grid_answer(threshold, low=LOW, high=HIGH, tolerance=TOL):
    """The smallest grid cap at or above the threshold (None: even high fails)."""
    grid = Grid(low, high, tolerance)
    index = grid.at_or_above(threshold)
    return grid[index] if grid[index] >= threshold else None


# -- the grid and the start ------------------------------------------------------------------


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
    assert odd.below(0) == 0 and odd.below(caps[5]) == 4 and odd.below(caps[5] + 1) == 5
    assert odd.below(2000 * MiB) == odd.n
    with pytest.raises(ValueError, match="1 MiB or more"):
        bisect_cap(Fake(106 * MiB), LOW, HIGH, MiB // 2)
    with pytest.raises(ValueError, match="width"):
        bisect_cap(Fake(106 * MiB), LOW, HIGH, TOL, width=0)


@pytest.mark.parametrize("prior, low, high, tolerance, first, answer", [
    (PRIOR, LOW, 1024 * MiB, TOL, 104 * MiB, 104 * MiB),  # segfault-2015 1.9: 107 MB peak, answer 102M
    (104 * MiB, LOW, 1024 * MiB, TOL, 96 * MiB, 104 * MiB),  # a peak on a grid cap: strictly below it
    (4058 * MiB, 3584 * MiB, 8192 * MiB, 256 * MiB, 3840 * MiB, 4096 * MiB),  # 1.8: one step above the start
    (47_000_000, 16 * MiB, 256 * MiB, TOL, 40 * MiB, 40 * MiB),  # quick: 47 MB, answer 40M
    (10, LOW, HIGH, TOL, LOW, None), (50 * 2**30, LOW, HIGH, TOL, HIGH, None),  # outside the bounds
])
def test_the_start_is_the_largest_grid_cap_below_the_prior(prior, low, high, tolerance, first, answer):
    fake = Fake(answer or 106 * MiB)
    result = bisect_cap(fake, low, high, tolerance, prior=prior)
    assert fake.calls[0] == (first, 1) and result.answer == (answer or 112 * MiB), result.lines()
    assert result.probes[0].purpose == {LOW: "low", HIGH: "high"}.get(first, "start")


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
    assert result.max_in_flight == 1 and result.probes_to_bracket == len(fake.calls) - 2
    assert result.width == 1 and result.prior_bytes is None


# -- the same answer whatever the width, the start and the order -----------------------------


@pytest.mark.parametrize("threshold", THRESHOLDS, ids=size)
def test_every_width_start_and_order_gives_the_serial_answer_bracket_and_confirmation(threshold):
    serial = bisect_cap(Fake(threshold), LOW, HIGH, TOL)
    if threshold > HIGH:
        assert serial.status == HIGH_FAILS
    else:
        assert serial.status == ANSWERED and serial.confirmation == "confirmed"
        assert serial.answer == grid_answer(threshold) if threshold > LOW else serial.answer == LOW
        assert serial.bracket[0] is None if threshold <= LOW else serial.bracket[0] < threshold
    priors = [None, threshold, threshold // 2, threshold * 3, PRIOR, 10, 50 * 2**30]
    for width, prior, clock in itertools.product((1, 2, 3, 5), priors, (False, True)):
        if clock:  # asynchronous: probes finish in the order of their (virtual) durations
            result, slots = on_clock(threshold, width, prior)
            calls = [(cap, repeat) for kind, _, cap, repeat in slots.events if kind == "start"]
        else:  # SerialSlots: they finish in the order started
            fake = Fake(threshold)
            result = bisect_cap(fake, LOW, HIGH, TOL, width=width, prior=prior)
            calls = fake.calls
        where = "width %d, prior %s, %s: %s" % (width, prior, "clock" if clock else "serial", result.lines())
        assert outcome(result) == outcome(serial), where
        assert monotonic(result.probes) and len(set(calls)) == len(calls) == len(result.probes), where
        assert result.width == width and result.prior_bytes == prior and result.max_in_flight <= width, where
        if result.answered:
            confirmations = 1 if result.bracket[0] is None else 2
            assert result.probes_to_bracket <= len(result.probes) - confirmations, where
            if width == 1:
                assert result.probes_to_bracket == len(result.probes) - confirmations, where
            assert "minimal cap: %s" % size(result.answer) in result.summary()


def test_a_good_prior_brackets_the_answer_in_four_probes():
    """Prior 107 MiB (an uncapped peak), the threshold 0.86x-1.02x of it, 64M-1G at 8M."""
    high = 1024 * MiB
    for step in range(33):  # 0.86, 0.865, ... 1.02
        threshold = int(PRIOR * (0.86 + step * 0.005))
        serial = bisect_cap(Fake(threshold), LOW, high, TOL)
        runs = [("serial", w, bisect_cap(Fake(threshold), LOW, high, TOL, width=w, prior=PRIOR)) for w in (1, 2)]
        runs += [("clock", w, on_clock(threshold, w, PRIOR, high=high)[0]) for w in (1, 2, 3, 4)]
        for kind, width, result in runs:
            assert outcome(result) == outcome(serial)
            # width 4: the first wave alone is the start and the 3 caps below it (then one above)
            assert result.probes_to_bracket <= max(4, width + 1) < serial.probes_to_bracket, (
                "threshold %s, %s width %d: %d probes from the prior, %d serially without one: %s"
                % (size(threshold), kind, width, result.probes_to_bracket, serial.probes_to_bracket,
                   result.lines()))
            assert "started at the uncapped peak 107 MB" in result.summary()


@pytest.mark.parametrize("threshold", [106 * MiB, 287 * MiB, 2000 * MiB], ids=size)
@pytest.mark.parametrize("factor", [10, 0.1])
def test_a_wrong_prior_still_finds_the_answer(threshold, factor):
    serial = bisect_cap(Fake(threshold), LOW, HIGH, TOL)
    prior = int(threshold * factor)
    alone = on_clock(threshold, 1, prior)[1].clock
    for width in (1, 2, 3):
        result, slots = on_clock(threshold, width, prior)
        assert outcome(result) == outcome(serial) and result.answer == grid_answer(threshold), result.lines()
        # galloping: about twice the serial count at worst (more with slots to fill), never slower
        assert result.probes_to_bracket <= 3 * serial.probes_to_bracket, result.lines()
        assert slots.clock <= alone, result.lines()


def test_the_gallop_from_the_prior_probes_1_2_4_8_steps_away():
    fake = Fake(287 * MiB)  # grid index 28 (288M); the prior's start is 104M, index 5
    result = bisect_cap(fake, LOW, HIGH, TOL, prior=PRIOR)
    indices = [(cap - LOW) // TOL for cap, _ in fake.calls[:result.probes_to_bracket]]
    assert indices[:7] == [5, 6, 7, 9, 13, 21, 37] and indices[7] == 29  # then split (21, 37)
    assert [p.purpose for p in result.probes[:8]] == ["start"] + ["gallop"] * 6 + ["bisect"]
    assert result.answer == 288 * MiB and result.bracket == (280 * MiB, 288 * MiB)
    down = Fake(70 * MiB)
    bisect_cap(down, LOW, HIGH, TOL, width=2, prior=PRIOR)
    assert [cap // MiB for cap, _ in down.calls[:4]] == [104, 96, 88, 72]  # s, s-1; then s-2, s-4


def test_no_prior_width_2_and_more_start_with_high_low_and_even_points():
    fake = Fake(106 * MiB)
    result = bisect_cap(fake, LOW, HIGH, TOL, width=4)
    grid = Grid(LOW, HIGH, TOL)
    assert fake.calls[:4] == [(HIGH, 1), (LOW, 1), (grid[168], 1), (grid[336], 1)]
    assert [p.purpose for p in result.probes[:4]] == ["high", "low", "bisect", "bisect"]
    assert result.answer == 112 * MiB


def test_high_failing_and_low_passing_with_two_slots():
    fake = Fake(5000 * MiB)
    result = bisect_cap(fake, LOW, HIGH, TOL, width=2)
    assert result.status == HIGH_FAILS and fake.calls == [(HIGH, 1), (LOW, 1)]  # low was in flight: recorded
    assert "no answer: fails even at --high 4G (oom-killed); needs more than 4G" in result.summary()
    fake = Fake(20 * MiB)
    result = bisect_cap(fake, LOW, HIGH, TOL, width=2)
    # while low ran, the free slot split (low, high): recorded, and it agrees
    assert fake.calls == [(HIGH, 1), (LOW, 1), (2080 * MiB, 1), (LOW, 2)] and result.bracket == (None, LOW)
    assert "64M or less" in result.summary() and "width 2: 4 probes, at most 2 at once" in result.summary()
    result, slots = on_clock(5000 * MiB, 2, 3000 * MiB)  # from a prior: up to high, which fails
    assert result.status == HIGH_FAILS and (HIGH, 1) in [(p.cap, p.repeat) for p in result.probes]
    gallop = [p.cap for p in result.probes if p.purpose in ("start", "gallop", "high")]
    assert sorted(gallop) == [(2992 + 8 * d) * MiB for d in (-1, 0, 1, 2, 4, 8, 16, 32, 64, 128)] + [HIGH]
    assert "needs more than 4G" in result.summary()


# -- slots -----------------------------------------------------------------------------------------


def test_slots_start_up_to_width_and_on_probe_sees_each_probe_as_it_finishes():
    seen = []
    slots = FakeSlots(Fake(106 * MiB))

    def unused(cap, repeat):
        raise AssertionError("the slots run the probes")

    result = bisect_cap(unused, LOW, HIGH, TOL, width=3, slots=slots, on_probe=seen.append)
    ends = [(cap, repeat) for kind, _, cap, repeat in slots.events if kind == "end"]
    assert [(p.cap, p.repeat) for p in seen] == [(p.cap, p.repeat) for p in result.probes] == ends
    assert [(cap, r) for kind, _, cap, r in slots.events[:3] if kind == "start"] == [
        (HIGH, 1), (LOW, 1), (2080 * MiB, 1)]
    in_flight = 0
    for kind, *_ in slots.events:  # never more than 3 at once, and a free slot is refilled at once
        in_flight += 1 if kind == "start" else -1
        assert 0 <= in_flight <= 3
    assert slots.most == result.max_in_flight == 3 and result.answer == 112 * MiB
    assert "width 3: %d probes, at most 3 at once" % len(result.probes) in result.summary()
    assert result.to_dict()["max_in_flight"] == 3 and "rounds" not in result.to_dict()


def test_serial_slots_run_the_oldest_started_probe_when_asked():
    fake = Fake(100 * MiB)
    slots = SerialSlots(fake)
    slots.start(96 * MiB, 1)
    slots.start(104 * MiB, 1)
    assert fake.calls == [] and slots.next().cap == 96 * MiB and slots.next().ok
    assert fake.calls == [(96 * MiB, 1), (104 * MiB, 1)]


def test_slots_returning_a_probe_never_started_is_a_programming_error():
    class Wrong:
        def start(self, cap, repeat):
            pass

        def next(self):
            return Probe(123 * MiB, "ok", None, 1.0, 7)

    with pytest.raises(ValueError, match="123M r7 that is not in flight"):
        bisect_cap(None, LOW, HIGH, TOL, slots=Wrong())


def test_the_confirmation_starts_while_the_answer_still_runs():
    """Prior 107 MiB, threshold 102 MiB: 96M fails in 10 s while 104M runs; the free slot starts the
    repeat at 104M at once, and the below at 96M when 104M has passed."""
    serial = bisect_cap(Fake(102 * MiB), LOW, 1024 * MiB, TOL, prior=PRIOR)
    result, slots = on_clock(102 * MiB, 2, PRIOR, high=1024 * MiB)
    assert outcome(result) == outcome(serial) and result.answer == 104 * MiB
    assert [e for e in slots.events if e[0] == "start"] == [
        ("start", 0.0, 104 * MiB, 1), ("start", 0.0, 96 * MiB, 1),
        ("start", 10.0, 104 * MiB, 2), ("start", 100.0, 96 * MiB, 2)]
    assert [(p.purpose, p.cap // MiB) for p in result.probes] == [
        ("start", 96), ("start", 104), ("repeat", 104), ("below", 96)]  # both end at 110 s
    assert slots.clock == 110.0 and result.probes_to_bracket == 2
    assert result.detail == "ok at 104M twice, oom-killed at 96M twice"


def test_two_slots_are_faster_than_one_on_the_critical_path():
    """The virtual wall of a bisection, one uncapped run of 100 s included (it gives the prior): two
    slots against one, ok 100 s and failures 10 s.

    From the prior the answer costs at least two passes at it and two failures one step below:
    220 s of runs, 110 s on two slots at best, which the search achieves; with the uncapped run
    (100 s, before the search, on both) that is (100 + 220) / (100 + 110) = 1.52 at most, so 1.6
    is out of reach for any schedule. From --high and --low the search itself is longer and the
    two slots gain more."""
    uncapped, ratios = 100.0, {}
    for name, prior in (("prior", PRIOR), ("no prior", None)):
        walls = {w: on_clock(102 * MiB, w, prior, high=1024 * MiB)[1].clock for w in (1, 2)}
        ratios[name] = walls, (uncapped + walls[1]) / (uncapped + walls[2]), walls[1] / walls[2]
    report = "; ".join("%s: width 1 %.0f s, width 2 %.0f s: %.3fx with the uncapped run, %.3fx without"
                       % (name, walls[1], walls[2], both, search) for name, (walls, both, search) in ratios.items())
    assert ratios["prior"][0] == {1: 220.0, 2: 110.0}, report  # the best any schedule can do
    assert ratios["prior"][1] >= 1.52 and ratios["prior"][2] >= 2.0, report
    assert ratios["no prior"][1] >= 1.6 and ratios["no prior"][2] >= 1.75, report


def test_two_or_three_slots_are_never_slower_than_one():
    for threshold, factor in itertools.product([int(x * MiB) for x in range(66, 1000, 23)],
                                               (None, 0.86, 0.94, 1.0, 1.02, 0.5, 2.0)):
        prior = None if factor is None else int(threshold / factor)
        alone = on_clock(threshold, 1, prior, high=1024 * MiB)[1].clock
        for width in (2, 3):
            result, slots = on_clock(threshold, width, prior, high=1024 * MiB)
            assert slots.clock <= alone, (width, result.lines())


def test_a_widening_step_runs_both_of_its_probes_at_once_with_distinct_repeats():
    fake_script = {(112 * MiB, 2): "oom-killed"}
    result, slots = on_clock(106 * MiB, 2, None, script=fake_script)
    assert result.answered and result.answer == 120 * MiB and result.confirmation == "noisy"
    widening = [p for p in result.probes if p.purpose in ("widen", "repeat") and p.cap == 120 * MiB]
    assert sorted(p.purpose for p in widening) == ["repeat", "widen"]
    first, second = sorted(p.repeat for p in widening)
    assert second == first + 1
    starts = {(cap, r): t for kind, t, cap, r in slots.events if kind == "start"}
    ends = {(cap, r): t for kind, t, cap, r in slots.events if kind == "end"}
    assert starts[(120 * MiB, second)] < ends[(120 * MiB, first)]  # both in flight at once
    assert "raised to 120M" in result.detail


@pytest.mark.parametrize("outcome_", ["error", "timeout"])
def test_an_error_stops_the_search_once_the_probes_in_flight_have_finished(outcome_):
    def duration(cap, result):
        return 5.0 if result == outcome_ else typical(cap, result)

    result, slots = on_clock(106 * MiB, 3, None, duration=duration, script={(2080 * MiB, 1): outcome_})
    assert result.status == STOPPED and result.answer is None and result.probes_to_bracket is None
    assert [e[2:] for e in slots.events if e[0] == "start"] == [(HIGH, 1), (LOW, 1), (2080 * MiB, 1)]
    assert len(result.probes) == 3 and result.probes[0].cap == 2080 * MiB  # the others recorded after it
    assert "%s at 2080M: fake: %s" % (outcome_, outcome_) in result.summary()
    # SerialSlots run the first wave one by one, refilling in between; nothing starts after the error
    fake = Fake(106 * MiB, script={(2080 * MiB, 1): outcome_})
    result = bisect_cap(fake, LOW, HIGH, TOL, width=3)
    assert result.status == STOPPED and result.probes[2].cap == 2080 * MiB and len(result.probes) == 5
    assert fake.calls == [(HIGH, 1), (LOW, 1), (2080 * MiB, 1), (1072 * MiB, 1), (568 * MiB, 1)]


# -- disagreements ------------------------------------------------------------------------------


def test_a_pass_below_a_failure_goes_on_from_the_highest_failure_and_is_noisy():
    # threshold 130M (answer 136M); a lucky pass at 96M in the first wave from the prior (104M, 96M)
    for clock in (False, True):
        if clock:
            result, _ = on_clock(130 * MiB, 2, PRIOR, script={(96 * MiB, 1): "ok"})
        else:
            result = bisect_cap(Fake(130 * MiB, script={(96 * MiB, 1): "ok"}), LOW, HIGH, TOL, width=2, prior=PRIOR)
        assert result.answered and result.answer == 136 * MiB and result.bracket == (128 * MiB, 136 * MiB)
        assert result.confirmation == "noisy" and not monotonic(result.probes)
        assert result.detail == ("ok at 136M twice, oom-killed at 128M twice; "
                                 "the search saw ok at 96M below oom-killed at 128M"), result.lines()
        assert "the answer is noisy" in result.summary()


def test_a_failure_at_high_is_high_fails_when_known_before_the_bracket_else_noise():
    fake = Fake(106 * MiB, script={(HIGH, 1): "oom-killed"})
    result = bisect_cap(fake, LOW, HIGH, TOL, width=3)
    assert result.status == HIGH_FAILS and len(fake.calls) == 3  # the first wave, recorded
    assert "fails even at --high 4G (oom-killed)" in result.summary()

    def slow_high(cap, result):  # the failure at high comes in last, after the answer was decided
        return 10_000.0 if cap == HIGH else typical(cap, result)

    result, _ = on_clock(106 * MiB, 3, None, duration=slow_high, script={(HIGH, 1): "oom-killed"})
    assert result.status == ANSWERED and result.answer == 112 * MiB and result.confirmation == "noisy"
    assert result.probes[-1].cap == HIGH and result.detail.endswith(
        "; the search saw ok at 112M below oom-killed at 4G"), result.lines()


@pytest.mark.parametrize("width", [2, 3])
@pytest.mark.parametrize("prior", [None, PRIOR, 40 * MiB, 900 * MiB])
def test_noisy_thresholds_are_called_noisy_exactly_when_the_probes_disagree(width, prior):
    seen = {"confirmed": 0, "noisy": 0}
    for seed, clock in itertools.product(range(120), (False, True)):
        if clock:
            result, slots = on_clock(106 * MiB, width, prior, noise=8 * MiB, seed=seed)
            calls = [(cap, r) for kind, _, cap, r in slots.events if kind == "start"]
        else:
            fake = Fake(106 * MiB, noise=8 * MiB, seed=seed)
            result = bisect_cap(fake, LOW, HIGH, TOL, width=width, prior=prior)
            calls = fake.calls
        assert result.status in (ANSWERED, UNCERTAIN), result.lines()
        assert (result.confirmation == "noisy") == (not monotonic(result.probes)), result.lines()
        assert len(set(calls)) == len(calls) == len(result.probes), result.lines()  # repeats distinct per cap
        for cap in {c for c, _ in calls}:
            repeats = [r for c, r in calls if c == cap]
            assert repeats == list(range(1, 1 + len(repeats)))  # numbered as started
        assert result.max_in_flight <= width
        seen[result.confirmation] += 1
        if result.answered:
            assert sum(p.ok and p.cap == result.answer for p in result.probes) >= 2, result.lines()
            assert result.bracket[0] is None or result.bracket[0] < result.answer
            assert ("noisy" in result.summary()) == (result.confirmation == "noisy")
    assert seen["confirmed"] and seen["noisy"]


def test_the_summary_dict_has_the_new_keys():
    result = bisect_cap(Fake(106 * MiB), LOW, HIGH, TOL, width=2, prior=PRIOR)
    data = result.to_dict()
    assert {k: data[k] for k in ("width", "prior_bytes", "max_in_flight", "probes_to_bracket")} == {
        "width": 2, "prior_bytes": PRIOR, "max_in_flight": 2, "probes_to_bracket": result.probes_to_bracket}
    result.uncapped_peak_bytes = PRIOR
    assert "uncapped peak 107 MB (cap/peak 1.05); started at the uncapped peak; width 2" in result.summary()
    assert isinstance(Probe(1, "ok", 1, 1.0).line(), str)
