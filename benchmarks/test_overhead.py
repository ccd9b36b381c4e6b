"""Overhead of the instrumented run under pytest-benchmark (not part of the normal test suite).

    python -m pytest benchmarks/test_overhead.py --benchmark-enable -p no:cacheprovider -s

With `--benchmark-enable`: the default project (`relations` at 22 apps, one
migrate ~25-30 s), one untimed plain warm-up run, then 5 rounds of plain,
instrumented, worker (~8 min). The benchmarked call is `runner.run_once` (the
instrumented run); each round's plain run is pytest-benchmark's untimed
`setup` and the worker run its `teardown`, so the variants alternate. The
figures (record wall, ru_maxrss) and the verdicts go to `extra_info`; the
targets are never asserted: a benchmark, not a timed test.

Without it (pyproject passes `--benchmark-disable`): a smoke test on a tiny
project (`relations` at 2 apps): one run of each variant, a few seconds.

All logic is in `benchmarks/overhead.py`; this file only wires it to the fixture.
"""

from __future__ import annotations

import itertools

import pytest

from benchmarks.overhead import (DEFAULT_APPS, DEFAULT_DJANGO, DEFAULT_ROUNDS, DEFAULT_SCENARIO,
                                 TARGET_RSS_BYTES, TARGET_WALL_RATIO, Placement, git_commit, prepare,
                                 project_info, run_instrumented, run_plain, scenario_info, sized_scenario,
                                 summarize)
from migbench.bench.measure import host
from migbench.errors import MigbenchError

SMOKE_APPS = 2


def test_instrumented_vs_plain(benchmark):
    enabled = not benchmark.disabled
    apps = DEFAULT_APPS if enabled else SMOKE_APPS
    rounds = DEFAULT_ROUNDS if enabled else 1
    scenario = sized_scenario(DEFAULT_SCENARIO, apps=apps)
    try:
        setup = prepare(scenario, DEFAULT_DJANGO,
                        command=["python", "-m", "pytest", "benchmarks/test_overhead.py"])
    except MigbenchError as error:  # no interpreter for the line here
        pytest.skip(str(error))
    placement = Placement("split")
    runs = []
    numbers = itertools.count(1)

    def plain_first():  # untimed by pytest-benchmark; timed by its own clock
        round_ = next(numbers)
        runs.append(run_plain(setup, round_, placement))
        return (round_,), {}

    def instrumented(round_):
        runs.append(run_instrumented(setup, round_, placement))

    def worker_after(round_):
        runs.append(run_plain(setup, round_, placement, worker=True))

    try:
        if enabled:
            run_plain(setup, 0, placement)  # warm-up, not counted
        benchmark.pedantic(instrumented, setup=plain_first, teardown=worker_after, rounds=rounds, iterations=1)
        if not enabled:  # a disabled benchmark calls setup and target, not teardown
            worker_after(1)
    finally:
        placement.restore()

    summary = summarize(runs)
    verdict = summary["instrumented_vs_plain"]
    project = project_info(setup.project)
    benchmark.extra_info.update(
        scenario=scenario_info(DEFAULT_SCENARIO, scenario), project=project,
        django=setup.env.django_version, python=setup.env.python_version,
        limiter=runs[1].detail["limiter"], interval_s=setup.options.interval_s, pin=placement.describe(),
        runs=[run.as_dict() for run in runs], summary=summary,
        wall_ratio=verdict["wall_ratio"], peak_rss_diff_bytes=verdict["peak_rss_diff_bytes"],
        target_wall_ratio=TARGET_WALL_RATIO, target_peak_rss_diff_bytes=TARGET_RSS_BYTES,
        target_met=all(summary["met"].values()), host=host.describe(), git_commit=git_commit(),
        smoke=not enabled,
    )
    print("\n%s (%d models, %d migrations), %d round(s), pin %s: instrumented/plain wall %.4f "
          "(target <= %.2f %s), peak RSS %+.2f MB (target <= +%.0f MB %s); worker/plain wall %.4f"
          % (scenario.name, project["models"], project["migrations"], rounds, placement.mode,
             verdict["wall_ratio"], TARGET_WALL_RATIO, "met" if summary["met"]["wall"] else "MISSED",
             verdict["peak_rss_diff_bytes"] / 1e6, TARGET_RSS_BYTES / 1e6,
             "met" if summary["met"]["peak_rss"] else "MISSED", summary["worker_vs_plain"]["wall_ratio"]))
    # What must hold whatever the timings: every run finished (failures raise), the
    # instrumented one was sampled and saw the worker's events, the worker wrote events.
    assert [r.variant for r in runs] == ["plain", "instrumented", "worker"] * rounds
    for run in runs:
        assert run.exit_code == 0 and run.wall_s > 0 and run.peak_rss_bytes > 0
    for run in runs[1::3]:
        assert run.detail["samples"] > 0 and run.detail["events"] > 0
    for run in runs[2::3]:
        assert run.detail["events"] > 0

