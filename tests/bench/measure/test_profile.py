"""bench/measure/worker/profiling.py and allocations.py: the profile a profiled `migrate` leaves.

Real child processes: the worker migrates a generated project with --profile on the
lines the issue names (1.8 on Python 2.7, 2.2, 4.2, 6.0), and the stage split,
landmarks, function table and exported files are read back. The memory profile is
tested end to end (tests/bench/run/test_profile_run.py).
"""

from __future__ import annotations

import json
import pstats
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from support import environment_or_skip

from migbench.bench.engines.sqlite import SqliteEngine
from migbench.bench.env.child import ProjectRunner
from migbench.bench.measure.worker import HERE, MEASURE
from migbench.bench.records.profiles import STAGE_KEYS
from migbench.generator import build_project, resolve_scenario, write_project
from migbench.targets import resolve_line

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("test_profile")]

LINES = (("1.8", "2.7"), ("2.2", None), ("4.2", None), ("6.0", None))


def small():
    scenario = resolve_scenario("quick")
    params = scenario.generator
    return replace(scenario, generator=replace(params, apps=3, models_per_app=(3, 4),
                                               history=replace(params.history, migrations_per_app=(3, 4))))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """One project generated for 1.8: it runs unchanged on every later line."""
    return write_project(build_project(small(), resolve_line("1.8")), tmp_path_factory.mktemp("profile") / "p")


def profiled(python, project: Path, tmp: Path, mode: str, args=("migrate", "--noinput"), env=None,
             database: Path | None = None):
    out = tmp / ("profile-" + mode)
    out.mkdir()
    runner = ProjectRunner(project, python, SqliteEngine().at(database or tmp / ("db-%s.sqlite3" % mode)))
    cmd = [str(python), str(MEASURE), "--project", str(project), "--settings", "benchproject.settings",
           "--events", str(tmp / "events.jsonl"), "--profile", mode, "--profile-dir", str(out), "--"] + list(args)
    proc = subprocess.run(cmd, cwd=str(project), env=dict(runner.env(), **(env or {})), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "profile.json").read_text()), out


def test_the_worker_keeps_the_record_s_stage_names():
    """The worker cannot import migbench: its copy of the stage keys must stay equal."""
    text = (HERE / "profiling.py").read_text()
    assert 'STAGES = (%s)' % ", ".join('"%s"' % key for key in STAGE_KEYS) in text


@pytest.mark.parametrize("line,python", LINES, ids=[line for line, _ in LINES])
def test_time_profile_splits_migrate_into_stages(line, python, project, tmp_path):
    env = environment_or_skip(line, python)
    profile, out = profiled(env.python, project, tmp_path, "time")
    assert list(profile["stages"]) and set(profile["stages"]) == set(STAGE_KEYS)
    # the stages partition the worker's clock: their sum plus the profiler's pauses is its span
    assert abs(sum(profile["stages"].values()) + profile["paused_s"] - profile["span_s"]) < 0.002
    for stage in ("setup", "graph", "state", "schema", "sql", "signals"):
        assert profile["stages"][stage] > 0, (stage, profile["stages"])
    for stage, seconds in profile["stages"].items():  # on the stack at least as long as innermost
        assert profile["inclusive"][stage] >= seconds - 1e-6, stage
    assert profile["inclusive"]["rest"] == profile["stages"]["rest"]  # Migration.apply is no stage's
    assert profile["inclusive"]["python"] >= profile["stages"]["python"]
    landmarks = profile["landmarks"]
    for name in ("ProjectState.clone", "StateApps.__init__", "CursorWrapper.execute", "MigrationLoader.build_graph",
                 "Migration.apply", "emit_post_migrate_signal", "django.setup"):
        assert landmarks[name]["calls"] > 0, name
    assert any(name.endswith(".state_forwards") for name in landmarks)
    assert any(name.endswith(".database_forwards") for name in landmarks)
    assert landmarks["RunPython.database_forwards"]["calls"] > 0 and profile["stages"]["python"] > 0
    if line == "1.8":  # what 1.8 does not have is named, never an error
        assert "MigrationLoader.check_consistent_history" in profile["missing"]
    else:
        assert profile["missing"] == []
    functions = profile["functions"]["by_cumulative"]
    assert any("migrations/executor.py" in row["function"] and "(migrate)" in row["function"] for row in functions)
    assert not any("profiling.py" in row["function"] for row in functions)  # the wrappers are not Django's
    # the exports: a flame graph of the stages (weights = the span) and cProfile's own file
    flame = json.loads((out / "stages.speedscope.json").read_text())
    weights = flame["profiles"][0]["weights"]
    assert abs(sum(weights) - sum(profile["stages"].values())) < 0.01
    names = {frame["name"] for frame in flame["shared"]["frames"]}
    assert {"migrate", "ProjectState.clone", "CursorWrapper.execute"} <= names
    if python != "2.7":  # a Python 2 dump is marshal of Python 2: pstats of Python 2 reads it
        assert pstats.Stats(str(out / "migrate.pstats")).total_calls > 1000


def test_a_backward_migrate_is_profiled_too(project, tmp_path):
    env = environment_or_skip("4.2")
    database = tmp_path / "both.sqlite3"
    profiled(env.python, project, tmp_path, "time", database=database)  # forward first
    app = json.loads((project / "migbench.json").read_text())["apps"][0]
    back = tmp_path / "back"
    back.mkdir()
    profile, _ = profiled(env.python, project, back, "time", args=("migrate", app, "zero", "--noinput"),
                          database=database)
    assert profile["landmarks"]["Migration.unapply"]["calls"] > 0
    assert any(name.endswith(".database_backwards") for name in profile["landmarks"])
