"""Generation speed under pytest-benchmark (not part of the normal test suite).

    python -m pytest benchmarks/ --benchmark-enable -p no:cacheprovider -s

pyproject's pytest config disables benchmarks (`--benchmark-disable`): without
`--benchmark-enable` each benchmarked call still runs once, as a smoke test,
and no statistics are kept. Timing targets are recorded in `extra_info`
(`target_met`), never asserted: a benchmark, not a timed test. All the logic
lives in `benchmarks/generation.py`; this file only wires it to the fixture.

Both benchmarks run pinned to one CPU (the generator is single-threaded; the
makemigrations child process inherits the pinning).
"""

from __future__ import annotations

import itertools
import shutil

import pytest

from benchmarks.generation import (
    DEFAULT_SCENARIO, TARGET_RATIO, TARGET_SECONDS, ComparisonError, compare, generate, one_core,
    require_django, settle, sized_scenario,
)
from migbench.targets import resolve_line

TARGET = "5.2"
LARGE = dict(apps=500, models=20, migrations=10)  # 10,000 models in initial migrations
LARGE_ROUNDS = 3
COMPARE = dict(apps=20, models=10)  # one initial migration per app


@pytest.fixture
def pinned_cpu():
    with one_core() as cpu:
        yield cpu


def test_generate_10000_models(benchmark, tmp_path, pinned_cpu):
    scenario = sized_scenario(DEFAULT_SCENARIO, **LARGE)
    target = resolve_line(TARGET)
    counter = itertools.count()
    runs = []

    def fresh_directory():  # untimed: remove the previous round's tree, name a new one
        shutil.rmtree(tmp_path / "round", ignore_errors=True)
        settle()
        return (scenario, target, tmp_path / "round" / str(next(counter))), {}

    def generate_and_keep(*args):
        runs.append(generate(*args))

    benchmark.pedantic(generate_and_keep, setup=fresh_directory, rounds=LARGE_ROUNDS, iterations=1)
    shutil.rmtree(tmp_path / "round", ignore_errors=True)

    last = runs[-1]
    seconds = sorted(r.seconds for r in runs)[len(runs) // 2]
    benchmark.extra_info.update(
        scenario=last.scenario, seed=last.seed, django_target=last.django,
        apps=last.apps, models_per_app=last.models_per_app, migrations_per_app=last.migrations_per_app,
        models=last.models, migrations=last.migrations, operations=last.operations,
        files=last.files, bytes=last.bytes,
        seconds=[r.seconds for r in runs], build_seconds=[r.build_seconds for r in runs],
        write_seconds=[r.write_seconds for r in runs], median_seconds=seconds,
        models_per_second=last.models / seconds, target_seconds=TARGET_SECONDS,
        target_met=seconds < TARGET_SECONDS,
        cpu="pinned to CPU %s (single-threaded generator)" % pinned_cpu,
    )
    print("\n%d x %d x %d (%d models, %d migrations, %d files, %.1f MB): median %.2f s "
          "(build %.2f + write %.2f), %.0f models/s, target < %.0f s %s"
          % (last.apps, last.models_per_app, last.migrations_per_app, last.models, last.migrations,
             last.files, last.bytes / 1e6, seconds, last.build_seconds, last.write_seconds,
             last.models / seconds, TARGET_SECONDS, "met" if seconds < TARGET_SECONDS else "MISSED"))
    assert (last.apps, last.models_per_app, last.migrations_per_app) == (500, 20, 10)
    assert last.migrations == 500 * 10


def test_migrations_vs_makemigrations(benchmark, tmp_path, pinned_cpu):
    target = resolve_line(TARGET)
    try:
        require_django(target)
    except ComparisonError as error:
        pytest.skip(str(error))

    def benchmarked(function, *args):  # the generator's build + write is the benchmarked call
        return benchmark.pedantic(function, args=args, rounds=1, iterations=1)

    result = compare(DEFAULT_SCENARIO, COMPARE["apps"], COMPARE["models"], None, target, tmp_path,
                     timer=benchmarked)
    benchmark.extra_info.update(
        result.as_dict(),
        what_generator_times="build_project + write_project of the whole project, in process",
        target_ratio=TARGET_RATIO, target_met=result.migrations_ratio >= TARGET_RATIO,
        cpu="pinned to CPU %s" % pinned_cpu,
    )
    generation = result.generation
    print("\n%d x %d x 1 (%d models): generator %.3f s in process (%.3f s in a fresh process), "
          "makemigrations %.3f s: %.1fx (%.1fx cold); migration files alone %.4f s: %.1fx, target >= %.0fx %s"
          % (generation.apps, generation.models_per_app, generation.models, generation.seconds,
             result.generator_child_seconds, result.makemigrations_seconds, result.ratio,
             result.cold_ratio, generation.migrations_seconds, result.migrations_ratio, TARGET_RATIO,
             "met" if result.migrations_ratio >= TARGET_RATIO else "MISSED"))
    # Equivalence (both --check runs found nothing) is asserted inside compare();
    # makemigrations writes one 0001_initial per app, as the generator did.
    assert result.same_layout
