"""The machine's registry of measured runs (bench/measure/occupancy.py): which runs overlapped which,
from live files and the log of ended runs; a dead run's file is ignored; a registry that cannot be
written records nothing instead of failing the run."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from migbench.bench.measure.occupancy import Occupancy


def test_overlapping_runs_see_each_other_and_a_later_one_sees_only_the_runs_it_met(tmp_path, monkeypatch):
    monkeypatch.setenv("MIGBENCH_OCCUPANCY_DIR", str(tmp_path))
    first = Occupancy(machine_slots=2).enter()
    second = Occupancy(machine_slots=2).enter()
    seen = second.observe()
    assert seen["solo"] is False and seen["others"] == [first.run_id] and seen["machine_slots"] == 2
    time.sleep(0.05)
    first.leave()  # ended: logged, its live file gone
    assert not (tmp_path / ("%s.live" % first.run_id)).exists()
    time.sleep(0.05)
    third = Occupancy().enter()  # starts after `first` ended: they never met
    assert third.observe()["others"] == [second.run_id]
    final = second.observe()  # met both: `first` from the log, `third` live
    assert final["others"] == sorted([first.run_id, third.run_id]) and final["overlapping_runs"] == 2
    assert 0 < final["overlap_s"] <= final["span_s"]
    second.leave()
    third.leave()
    alone = Occupancy().enter()
    time.sleep(0.01)
    seen = alone.observe()  # the others ended before it started
    assert seen == {"solo": True, "overlapping_runs": 0, "overlap_s": 0.0, "span_s": seen["span_s"],
                    "machine_slots": None, "others": []}
    alone.leave()


def test_a_killed_runs_live_file_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("MIGBENCH_OCCUPANCY_DIR", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "gone.live").write_text(json.dumps({"run_id": "gone", "pid": int(dead.stdout), "create_time": 1.0,
                                                    "started": time.time() - 5}))
    run = Occupancy().enter()
    assert run.observe()["solo"] is True
    run.leave()


def test_an_unwritable_registry_records_nothing_and_never_fails_the_run(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("MIGBENCH_OCCUPANCY_DIR", str(blocker))
    run = Occupancy().enter()
    assert run.observe() is None
    run.leave()
