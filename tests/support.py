"""Helpers shared by tests in several folders (tests/ is on pytest's pythonpath).

Fixtures live in conftest.py; plain functions that tests import by name live here,
so no test module imports another.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from migbench.bench.env import environments
from migbench.bench.records import RunRecord
from migbench.bench.report.charts import KINDS, Chart
from migbench.errors import MigbenchError

DATA = Path(__file__).parent / "data" / "results"  # recorded fixtures (real runs; see its README)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def environment_or_skip(line: str, python: str | None = None):
    """The environment for `line`, or skip with the reason; under CI=true a missing one fails.

    The machines this runs on ship every interpreter of the matrix (pyenv), so
    in CI a missing environment is a broken machine, not a reason to skip.
    """
    try:
        return environments.ensure(line, python)
    except MigbenchError as error:
        skip_or_fail(line, error)


def skip_or_fail(line: str, error: MigbenchError):
    if os.environ.get("CI") == "true":
        pytest.fail("CI must provide an interpreter for Django %s: %s" % (line, error))
    pytest.skip(str(error))


def engine_or_skip(name: str):
    """The registered engine `name` if its server binaries are installed, else skip (fail under CI=true:
    .ci/run installs them, so a missing one there is a broken machine, not a reason to skip)."""
    from migbench.bench import engines

    engine = engines.get(name)
    why = engine.unavailable()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide the %s server: %s" % (name, why))
        pytest.skip(why)
    return engine


def make_record(**changes) -> RunRecord:
    record = RunRecord(
        run_id="abc", repeat=1, outcome="ok", outcome_reason="exit status 0", exit_code=0, signal=None,
        wall_s=1.5, cpu_user_s=1.2, cpu_sys_s=0.1, peak_rss_bytes=80 * 2**20,
        peak_rss_detail={"wait4_maxrss_bytes": 80 * 2**20, "sampled_tree_bytes": 79 * 2**20, "samples": 70},
        limit_peak_bytes=None, memory_limit_bytes=512 * 2**20, limiter={"name": "cgroup1"}, strategy="all",
        django_version="1.9.13", python_version="2.7.18", shim=False, database={"engine": "sqlite"},
        scenario={"name": "quick", "sha256": "f" * 64, "seed": 1, "source": "quick.toml"},
        project={"apps": 4, "models": 16, "fields": 60, "migrations": 16}, phases={}, failed_during=None,
        last_migration=None, events=[], samples={"interval_s": 0.02, "t": [], "rss": []}, error=None,
        command={"migbench": ["migbench", "run"], "child": []}, host={"hostname": "h"},
        started_at="2026-11-21T10:00:00+00:00", migbench_version="0.1.0")
    return replace(record, **changes)


def check_chart(chart: Chart) -> None:
    assert isinstance(chart, Chart)
    assert chart.kind in KINDS
    assert SLUG.match(chart.slug), chart.slug
    assert chart.title.strip() and chart.caption.strip()
    assert chart.caption.count(". ") <= 4, chart.caption  # 1-3 sentences (versions may hold decimals)
    assert chart.png.startswith(PNG_MAGIC) and len(chart.png) > 5000
    from PIL import Image

    image = Image.open(io.BytesIO(chart.png))
    image.verify()
    width, height = Image.open(io.BytesIO(chart.png)).size
    assert width == 900 and 250 <= height <= 1400, (chart.slug, width, height)


def check_all(charts: list[Chart]) -> None:
    for chart in charts:
        check_chart(chart)
    slugs = [c.slug for c in charts]
    assert len(set(slugs)) == len(slugs), slugs


def kinds(charts):
    return [c.kind for c in charts]


def drop_one_add_index(project: Path, pattern: str) -> str:
    """Remove the first AddIndex operation found (a deliberately broken squash); return its
    model's table prefix."""
    for path in sorted(project.glob(pattern)):
        text = path.read_text()
        match = re.search(r"        migrations\.AddIndex\(\n(?:            .*\n)+?        \),\n", text)
        if match:
            path.write_text(text[:match.start()] + text[match.end():])
            app = path.parent.parent.name
            model = re.search(r"model_name='(\w+)'", match.group(0)).group(1)
            return "%s_%s" % (app, model)
    raise AssertionError("no AddIndex to remove in %s" % pattern)


def gone(process) -> bool:
    """A psutil.Process has ended (or is a zombie nobody reaped): never fooled by a reused pid,
    which a busy machine with pid_max 32768 hands out again within minutes."""
    import psutil

    try:
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def tiny_scenario(name: str, seed: int = 2024):
    """quick, shrunk to 2 apps of 2 models with 2 migrations each: the seed keeps a cross-app
    dependency and a RunPython on every line from 1.8 (test_strategy_lines' _check_tiny says so if
    a generator change loses them; 1.7, without RunSQL, draws another history: it takes 2027).
    `name` keeps each test module's projects apart."""
    import hashlib

    from migbench.generator.scenario import resolve_scenario

    scenario = resolve_scenario("quick")
    params = scenario.generator
    params = replace(params, seed=seed, apps=2, models_per_app=(2, 2),
                     history=replace(params.history, migrations_per_app=(2, 2), data_rows=(1, 2)))
    digest = hashlib.sha256((scenario.sha256 + repr(params)).encode()).hexdigest()
    return replace(scenario, name=name, generator=params, sha256=digest)
