"""`migbench run --profile` end to end: one profiled run per cell after its timed runs, stored apart
under OUT/profiles/ with its exported files, read by the report and never by a timing figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import environment_or_skip

from migbench.bench.records import ResultStore, load_record
from migbench.bench.records.profiles import attributed_share
from migbench.bench.report.load import load_results

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("test_profile_run")]

MIGBENCH = [sys.executable, "-m", "migbench"]


def migbench(*args, timeout=600):
    return subprocess.run(MIGBENCH + list(args), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def profiled_out(tmp_path_factory):
    environment_or_skip("4.2")
    out = tmp_path_factory.mktemp("profiled") / "quick"
    proc = migbench("run", "quick", "--django", "4.2", "--profile", "--out", str(out))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return out, proc


def test_a_profiled_run_is_stored_apart_with_its_files(profiled_out):
    out, proc = profiled_out
    assert "profiling (time) all Django 4.2" in proc.stdout + proc.stderr
    timed = sorted(out.glob("*.json"))
    assert len(timed) == 1 and load_record(timed[0]).profile is None
    [path] = sorted((out / "profiles").glob("*.json"))
    record = load_record(path)
    profile = record.profile
    assert path.name == record.cell().profile_slug("time") + ".json"
    assert record.cell() == load_record(timed[0]).cell()  # the same cell, not a repeat of it
    assert record.validation is None and record.dev_loop is None
    # the stages, the interpreter's start-up and the profiler's own time make up the wall (within 5%)
    share = attributed_share(profile)
    assert 0.95 <= share <= 1.05, (share, profile["wall_s"], profile["unattributed_s"])
    assert profile["stages"]["state"] > 0 and profile["stages"]["sql"] > 0
    assert profile["functions"]["by_cumulative"] and profile["landmarks"]["ProjectState.reload_model"]["calls"] > 0
    applied = [m[0] for m in profile["migrations"] if m[3] == "apply"]
    assert applied == [e["migration"] for e in record.events if e["event"] == "apply_success"] and applied
    assert profile["overhead"]["unprofiled_runs"] == 1 and profile["overhead"]["ratio"] > 0
    for kind in ("pstats", "speedscope"):
        [relative] = profile["files"][kind]
        assert (out / relative).is_file() and relative.startswith("profiles/")


def test_the_report_shows_it_and_no_timing_figure_counts_it(profiled_out):
    out, _ = profiled_out
    results = load_results([out])
    assert len(results.records) == 1 and len(results.profiled) == 1
    assert all(r.profile is None for r in results.records)
    assert ResultStore(out).records() == results.records  # the store's own reads never see profiles/
    html = (out / "report" / "report.html").read_text()
    assert "Profiles: where migrate" in html and "migrate.pstats" in html


def test_running_it_again_measures_nothing(profiled_out):
    out, _ = profiled_out
    before = sorted(p.name for p in out.rglob("*.json"))
    proc = migbench("run", "quick", "--django", "4.2", "--profile", "--out", str(out), "--no-report")
    assert proc.returncode == 0, proc.stderr
    assert "profiling" not in proc.stdout + proc.stderr
    assert sorted(p.name for p in out.rglob("*.json")) == before


@pytest.mark.parametrize("args,words", [
    (("--profile", "cpu"), "--profile: unknown mode 'cpu'; give time, memory or time,memory"),
    (("--django", "1.8", "--profile", "memory"), "--profile memory needs Python >= 3.4 (tracemalloc)"),
])
def test_bad_profile_options_are_one_line(tmp_path, args, words):
    out = tmp_path / "out"
    proc = migbench("run", "quick", *args, "--out", str(out))
    assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()


def test_memory_profile_of_1_8_names_what_holds_memory(tmp_path):
    """Django 1.8 (on Python 3 through the shim: tracemalloc) renders every state up front: the
    memory at the kept snapshot sits under the migration states, and the record says so."""
    environment_or_skip("1.8", "3.9")
    out = tmp_path / "m"
    # quick at full size: at 2 apps the imports can outweigh the states at the largest snapshot.
    # First snapshot at 20M of traced memory (it peaks near 40M): 3 snapshots instead of 4 from 8M (each
    # costs ~2.5 s at 12 frames), the largest one still taken while the states render.
    proc = subprocess.run(MIGBENCH + ["run", "quick", "--django", "1.8", "--python", "3.9", "--profile", "memory",
                                      "--out", str(out), "--no-report"], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, MIGBENCH_TRACEMALLOC_FRAMES="12", MIGBENCH_TRACEMALLOC_FIRST="20M"))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    [path] = (out / "profiles").glob("*profile-memory.json")
    profile = load_record(path).profile
    memory = profile["memory"]
    assert memory["snapshots"] >= 1 and memory["peak_traced_bytes"] >= memory["snapshot_traced_bytes"] > 0
    assert memory["frames"] == 12
    for table in ("sites", "functions", "modules", "landmarks"):
        assert memory[table] and all(row["bytes"] > 0 for row in memory[table]), table
    held = {row["function"] for row in memory["landmarks"]}
    assert held & {"ProjectState.clone", "StateApps.__init__", "StateApps.render_multiple"}, memory["landmarks"]
    assert any(row["module"].startswith("django.db.migrations") for row in memory["modules"])
    assert profile["profiler_s"] > 0  # the snapshots' own time, kept out of the stages
    assert profile["functions"] in ({}, None) and "pstats" not in profile["files"]
    flame = json.loads((out / profile["files"]["memory_speedscope"][0]).read_text())
    assert flame["profiles"][0]["unit"] == "bytes" and sum(flame["profiles"][0]["weights"]) > 0
