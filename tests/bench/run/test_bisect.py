"""`migbench bisect`: the cap search (bench/run/bisect.py) against fake probes with a known
threshold, clean and noisy; then for real: a small allocator program under the
machine's limiter, and one bisection of the `quick` project through the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import subprocess
import sys

import pytest
from support import environment_or_skip

from migbench.bench.measure import limiters
from migbench.bench.records import Cell, ResultStore, load_record
from migbench.bench.report.load import load_results
from migbench.bench.run.bisect import ANSWERED, HIGH_FAILS, STOPPED, UNCERTAIN, Probe, bisect_cap, size
from migbench.bench.run.probes import SCHEMA, command_probe
from migbench.cli import main
from migbench.targets import DEFAULT_LINE

MiB = 2**20
LOW, HIGH, TOL = 64 * MiB, 4096 * MiB, 8 * MiB


class Fake:
    """A probe with a known threshold: ok at or above it, oom-killed below; records its calls.

    `noise` (bytes) makes outcomes random near the threshold: the chance of ok
    rises from 0 to 1 over threshold +- 2 * noise (logistic), from a seeded RNG.
    `script` overrides outcomes per (cap, repeat).
    """

    def __init__(self, threshold, noise=0, seed=0, script=None):
        self.threshold, self.noise, self.script = threshold, noise, script or {}
        self.random = random.Random(seed)
        self.calls = []

    def __call__(self, cap, repeat):
        self.calls.append((cap, repeat))
        if (cap, repeat) in self.script:
            outcome = self.script[(cap, repeat)]
        elif self.noise:
            chance = 1 / (1 + math.exp(-(cap - self.threshold) / (self.noise / 2)))
            outcome = "ok" if self.random.random() < chance else "oom-killed"
        else:
            outcome = "ok" if cap >= self.threshold else "oom-killed"
        return Probe(cap, outcome, min(cap, self.threshold), 1.0, repeat, "fake: %s" % outcome)


def monotonic(probes) -> bool:
    """No failure at or above a cap that passed."""
    lowest_ok = min((p.cap for p in probes if p.ok), default=None)
    return lowest_ok is None or all(p.ok or p.cap < lowest_ok for p in probes)


# -- the search, against a known threshold ----------------------------------------------


@pytest.mark.parametrize("threshold", [65 * MiB, 100 * MiB + 12345, 106 * MiB, 287 * MiB, 2000 * MiB,
                                       4096 * MiB - 1, 4096 * MiB])
def test_answer_is_within_tolerance_of_the_threshold(threshold):
    fake = Fake(threshold)
    result = bisect_cap(fake, LOW, HIGH, TOL)
    assert result.status == ANSWERED and result.answered and result.confirmation == "confirmed"
    failing, passing = result.bracket
    assert passing == result.answer and failing < threshold <= result.answer
    assert result.answer - failing <= TOL
    assert result.answer % MiB == 0 or result.answer == HIGH
    assert (result.answer - LOW) % TOL == 0 or result.answer == HIGH  # on the grid from --low
    assert "minimal cap: %s" % size(result.answer) in result.summary()
    assert "confirmed" in result.summary()


def test_probe_count_is_logarithmic_plus_confirmations():
    fake = Fake(106 * MiB)
    result = bisect_cap(fake, LOW, HIGH, TOL)
    steps = math.ceil(math.log2((HIGH - LOW) / TOL))  # 9 for 64M..4G at 8M (a grid of 504 steps)
    purposes = [p.purpose for p in result.probes]
    assert purposes[:2] == ["high", "low"] and purposes[-2:] == ["repeat", "below"]
    assert steps - 1 <= purposes.count("bisect") <= steps + 1
    assert len(fake.calls) == len(result.probes) == 2 + purposes.count("bisect") + 2
    # The confirmations are repeats at caps already probed: the answer and the failing end.
    assert fake.calls[-2] == (result.answer, 2) and fake.calls[-1] == (result.bracket[0], 2)


def test_high_failing_stops_at_once():
    fake = Fake(5000 * MiB)
    result = bisect_cap(fake, LOW, HIGH, TOL)
    assert result.status == HIGH_FAILS and not result.answered and result.answer is None
    assert fake.calls == [(HIGH, 1)]
    assert "needs more than 4G" in result.summary()


def test_ok_at_low_answers_low_with_an_open_bracket():
    fake = Fake(20 * MiB)
    result = bisect_cap(fake, LOW, HIGH, TOL)
    assert result.answered and result.answer == LOW and result.bracket == (None, LOW)
    assert fake.calls == [(HIGH, 1), (LOW, 1), (LOW, 2)]  # nothing below --low is tried
    assert "64M or less" in result.summary()


@pytest.mark.parametrize("outcome", ["error", "timeout"])
def test_error_or_timeout_stops_the_cell_with_the_reason(outcome):
    fake = Fake(106 * MiB, script={(2080 * MiB, 1): outcome})  # the first midpoint
    result = bisect_cap(fake, LOW, HIGH, TOL)
    assert result.status == STOPPED and result.answer is None and not result.answered
    assert fake.calls[-1] == (2080 * MiB, 1) and len(fake.calls) == 3  # nothing after it
    assert "%s at 2080M: fake: %s" % (outcome, outcome) in result.summary()


def clean(threshold=106 * MiB):
    """The answer and the bracket's failing end of a noiseless search (112M and 104M here: the grid
    from --low, 64M + 8M steps)."""
    result = bisect_cap(Fake(threshold), LOW, HIGH, TOL)
    return result.answer, result.bracket[0]


def test_error_during_confirmation_also_stops():
    answer, _ = clean()
    result = bisect_cap(Fake(106 * MiB, script={(answer, 2): "error"}), LOW, HIGH, TOL)
    assert result.status == STOPPED and result.answer is None


def test_a_failed_repeat_raises_the_answer_to_a_cap_that_passes_twice():
    answer, _ = clean()
    result = bisect_cap(Fake(106 * MiB, script={(answer, 2): "oom-killed"}), LOW, HIGH, TOL)
    assert result.answered and result.confirmation == "noisy"
    assert result.answer == answer + TOL and result.bracket == (answer, answer + TOL)
    assert ("ok at %s once, oom-killed at %s once" % (size(answer), size(answer)) in result.detail
            and "raised to %s" % size(answer + TOL) in result.detail)
    assert [p.purpose for p in result.probes[-2:]] == ["widen", "repeat"]


def test_a_pass_below_the_answer_is_a_disagreement_not_a_lower_answer():
    answer, failing = clean()
    result = bisect_cap(Fake(106 * MiB, script={(failing, 2): "ok"}), LOW, HIGH, TOL)
    assert result.answered and result.answer == answer and result.confirmation == "noisy"
    assert "ok at %s once, oom-killed at %s once" % (size(failing), size(failing)) in result.detail


def test_no_cap_passing_twice_within_the_widening_is_uncertain():
    def flaky(cap, repeat):  # passes once from 106M up, but twice only from 200M
        ok = cap >= 106 * MiB and (repeat == 1 or cap >= 200 * MiB)
        return Probe(cap, "ok" if ok else "segfault", cap, 1.0, repeat)

    answer, _ = clean()
    result = bisect_cap(flaky, LOW, HIGH, TOL, widen=3)
    assert result.status == UNCERTAIN and not result.answered and result.answer is None
    assert result.confirmation == "noisy" and [p.purpose for p in result.probes].count("widen") <= 3
    assert "no cap above it up to %s passed twice" % size(answer + 3 * TOL) in result.summary()


@pytest.mark.parametrize("width", [1, 2])
def test_noisy_threshold_is_reported_never_crashes(width):
    """Many seeded noisy searches: every non-monotonic set of outcomes is called noisy."""
    seen = {"confirmed": 0, "noisy": 0}
    for seed in range(300):
        fake = Fake(106 * MiB, noise=8 * MiB, seed=seed)
        result = bisect_cap(fake, LOW, HIGH, TOL, width=width)
        assert result.status in (ANSWERED, UNCERTAIN), result.lines()
        assert result.lines()  # renders
        assert (result.confirmation == "noisy") == (not monotonic(result.probes)), result.lines()
        seen[result.confirmation] += 1
        if result.answered:
            assert any(p.ok and p.cap == result.answer for p in result.probes)
            assert result.bracket[0] is None or result.bracket[0] < result.answer
            if result.confirmation == "noisy":
                assert "noisy" in result.summary()
    assert seen["confirmed"] and seen["noisy"]  # both happened: the test exercises the noise


def test_lines_show_every_probe_and_compare_with_the_uncapped_peak():
    result = bisect_cap(Fake(100 * MiB), LOW, 512 * MiB, TOL)
    result.uncapped_peak_bytes = 106 * MiB
    lines = result.lines()
    assert len(lines) == len(result.probes) + 1
    assert lines[0].startswith("high    512M   r1  ok           peak 100 MB")
    assert "uncapped peak 106 MB (cap/peak %.2f)" % (result.answer / (106 * MiB)) in lines[-1]


def test_caps_are_named_exactly_so_probes_never_share_a_record_file(tmp_path):
    cell = Cell("s", "0" * 64, "all", "1.8.19", "3.11.7", 1040 * MiB, "sqlite")
    store = ResultStore(tmp_path)
    names = {store.path_for(dataclasses.replace(cell, memory_limit_bytes=cap * MiB), 1).name
             for cap in (1024, 1040, 1072, 1536, 2080)}
    assert len(names) == 5 and any("--mem1040M--" in n for n in names) and any("--mem1.5G--" in n for n in names)
    assert store.path_for(dataclasses.replace(cell, memory_limit_bytes=None), 1).name.count("--memnone--") == 1


@pytest.mark.parametrize("argv, message", [
    (["--low", "1G", "--high", "512M"], "--low 1G must be below --high 512M"),
    (["--tolerance", "0"], "--tolerance: a bisection needs a size here"),
    (["--tolerance", "100K"], "give 1M or more"),
    (["--high", "lots"], "--high: bad memory size 'lots'"),
    (["--limiter", "none"], "--limiter none cannot cap memory"),
])
def test_unusable_options_are_one_line_exit_2(argv, message, capsys):
    assert main(["bisect", "quick"] + argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


# -- for real ------------------------------------------------------------------------


def rss_limiter_or_skip():
    """Skip (fail under CI=true) when no limiter here can cap RSS: rlimit caps address space."""
    chosen = limiters.choose("auto", 512 * MiB)
    if chosen.caps == "virtual":
        reason = "no limiter can cap RSS here (%s)" % chosen.why
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide a cgroup limiter: " + reason)
        pytest.skip(reason)


def test_real_allocator_under_the_real_limiter():
    rss_limiter_or_skip()
    allocate = "b = b'x' * (150 * 2**20); print(len(b))"  # writes every byte: all 150 MiB resident
    result = bisect_cap(command_probe([sys.executable, "-c", allocate]), 32 * MiB, 512 * MiB, 16 * MiB)
    assert result.status == ANSWERED, result.lines()
    # The threshold is the allocation plus the interpreter (~10-15 MiB resident here; allow 32),
    # and the answer lies at most one tolerance (16 MiB) above the threshold.
    assert 150 * MiB <= result.answer <= (150 + 32 + 16) * MiB, result.lines()
    assert all(p.outcome in ("ok", "oom-killed") for p in result.probes), result.lines()


@pytest.mark.e2e
def test_real_bisection_of_quick_through_the_cli(tmp_path):
    environment_or_skip(DEFAULT_LINE)
    rss_limiter_or_skip()
    argv = [sys.executable, "-m", "migbench", "bisect", "quick", "--django", DEFAULT_LINE,
            "--low", "16M", "--high", "256M", "--tolerance", "16M", "--out", str(tmp_path), "--profile",
            "--workers", "2"]  # a k-ary search on a real LocalCluster: two probes per round
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "(tolerance 16M, 2 probes at once)" in proc.stdout
    (summary_path,) = tmp_path.glob("*--bisect-16M-256M-16M.json")
    summary = json.loads(summary_path.read_text())
    assert summary["schema"] == SCHEMA and summary["limiter"]["caps"] in ("rss", "rss+swap")
    bisection = summary["bisection"]
    answer, peak = bisection["answer_bytes"], bisection["uncapped_peak_bytes"]
    assert bisection["status"] == "answered" and bisection["confirmation"] in ("confirmed", "noisy")
    assert 20 * MiB < answer <= peak + 16 * MiB, bisection["summary"]
    # started at the uncapped peak (measured first), two probes a round
    assert bisection["width"] == 2 and bisection["prior_bytes"] == peak and "uncapped: measured now" in proc.stdout
    assert bisection["probes"][0]["purpose"] == "start" and bisection["max_in_flight"] == 2
    assert "minimal cap: %s" % size(answer) in proc.stdout

    records = {p.name: load_record(p) for p in tmp_path.glob("*.json") if p != summary_path}
    assert set(summary["records"]) == set(records)  # every probe, and the uncapped run, is a record
    assert len(records) == len(bisection["probes"]) + 1
    assert sum(r.memory_limit_bytes is None for r in records.values()) == 1
    assert all(r.command["migbench"][:2] == ["migbench", "bisect"] for r in records.values())
    assert load_results([tmp_path]).skipped == [summary_path]  # `migbench report` skips the summary
    # --profile: one profiled run of the cell, uncapped (the profiler's memory must not decide it)
    [profiled] = load_results([tmp_path]).profiled
    assert profiled.memory_limit_bytes is None and profiled.profile["stages"]["state"] > 0
    assert "profile (time, uncapped): %s" % (tmp_path / "profiles") in proc.stdout
    # OUT/report is rebuilt at the end, with the minimal-cap chart drawn from the probes' records
    page = (tmp_path / "report" / "report.html").read_text()
    assert "Minimal memory" in page and "needs %s" % size(answer) in page
    assert "report in %s" % (tmp_path / "report" / "report.html") in proc.stdout

    # The same command resumes: every probe is read back, nothing runs, no record changes.
    before = {name: (tmp_path / name).read_bytes() for name in records}
    again = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("(recorded earlier)") == len(bisection["probes"])
    assert "running" not in again.stderr and "profiling" not in again.stderr
    assert "cluster " not in again.stderr  # nothing to run: no local cluster was started
    assert {name: (tmp_path / name).read_bytes() for name in records} == before
    assert json.loads(summary_path.read_text())["bisection"]["answer_bytes"] == answer


@pytest.mark.e2e
def test_high_failing_for_real_exits_1_after_one_probe(tmp_path):
    environment_or_skip(DEFAULT_LINE)
    rss_limiter_or_skip()
    proc = subprocess.run([sys.executable, "-m", "migbench", "bisect", "quick", "--django", DEFAULT_LINE,
                           "--low", "8M", "--high", "20M", "--no-uncapped", "--no-report", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr + proc.stdout
    assert "no answer: fails even at --high 20M (oom-killed); needs more than 20M" in proc.stdout
    summary = json.loads(next(tmp_path.glob("*--bisect-8M-20M-8M.json")).read_text())
    assert summary["bisection"]["status"] == "high-fails" and len(summary["records"]) == 1
    assert summary["uncapped_source"] == "not measured (--no-uncapped)"
    assert not (tmp_path / "report").exists()
