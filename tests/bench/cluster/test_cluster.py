"""Runs on a Dask cluster (bench/cluster/): real LocalClusters of 2 worker processes, real runs of
`quick`, real processes killed. What must hold: a cluster's records say the same as a serial
run's (only where and when differ), a cluster run resumes a serial one, a worker lost mid-run
costs a retry and leaves nothing partial, and bad cluster input is one line before anything runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from support import environment_or_skip

from migbench.bench.records import load_record
from migbench.cli import main
from migbench.targets import DEFAULT_LINE

distributed = pytest.importorskip("distributed")
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cluster")]


def migbench(*argv, timeout=300):
    return subprocess.run([sys.executable, "-m", "migbench"] + list(argv), capture_output=True, text=True,
                          timeout=timeout)


def content(record) -> dict:
    """What a run found, without where and when it ran (times, peaks, ids, hosts, paths of temporary files)."""
    return {
        "cell": record.cell(), "outcome": record.outcome, "shim": record.shim, "scenario": record.scenario,
        "project": {k: record.project.get(k) for k in ("apps", "models", "fields", "migrations", "django_target")},
        "validation": {k: (record.validation or {}).get(k) for k in ("ok", "schema", "difference_count", "rows")},
        "steps": [(s["name"], s["role"], s["outcome"]) for s in record.steps],
        "events": [(e.get("event"), e.get("migration")) for e in record.events],
        "phases": sorted(record.phases), "last_migration": record.last_migration, "notes": record.notes,
        "transform": (record.transform or {}).get("kind"), "limiter": record.limiter.get("name"),
        "database": record.database.get("engine"), "child": record.command["steps"],
        "migbench_commit": record.migbench_commit,
    }


def test_a_cluster_run_resumes_a_serial_one_and_its_records_say_the_same(tmp_path):
    environment_or_skip(DEFAULT_LINE)
    common = ["run", "quick", "--django", DEFAULT_LINE, "--strategy", "all,squash", "--dev-loop", "off",
              "--no-report", "--out", str(tmp_path)]
    serial = migbench(*common, "--repeat", "1")
    assert serial.returncode == 0, serial.stderr + serial.stdout
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    assert len(before) == 2

    clustered = migbench(*common, "--repeat", "2", "--workers", "2")
    assert clustered.returncode == 0, clustered.stderr + clustered.stdout
    assert "resuming: 2 of 4 runs already recorded, skipped" in clustered.stderr
    assert "cluster      a local Dask cluster of 2 worker processes: 2 measurement slots on 1 machine" \
        in clustered.stderr
    assert {name: (tmp_path / name).read_bytes() for name in before} == before  # never rewritten
    records = [load_record(p) for p in sorted(tmp_path.glob("*.json"))]
    assert len(records) == 4 and all(r.outcome == "ok" and r.validation["ok"] for r in records)
    for first, second in zip(records[0::2], records[1::2]):  # r1 (serial) and r2 (cluster) of each cell
        assert (first.repeat, second.repeat) == (1, 2)
        assert content(first) == content(second)
        assert first.cluster is None and first.concurrency["machine_slots"] == 1
        assert second.cluster["workers"] == 2 and second.cluster["machine_slots"] == 2
        assert second.cluster["scheduler"].startswith("tcp://127.0.0.1:") and second.cluster["worker"]
        for record in (first, second):
            concurrency = record.concurrency
            assert concurrency["solo"] == (concurrency["overlapping_runs"] == 0 == len(concurrency["others"]))
            assert 0 <= concurrency["overlap_s"] <= concurrency["span_s"]
            assert record.host["machine_id"] is None or len(record.host["machine_id"]) >= 8
    # The same command again: everything is recorded, nothing runs, and no cluster is started for it.
    again = migbench(*common, "--repeat", "2", "--workers", "2")
    assert again.returncode == 0 and "resuming: 4 of 4 runs already recorded" in again.stderr
    assert "cluster " not in again.stderr


def _descendants_running(parent: psutil.Process, needle: str) -> list[psutil.Process]:
    found = []
    for process in parent.children(recursive=True):
        try:
            if any(needle in part for part in process.cmdline()):
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_a_worker_killed_mid_run_costs_a_retry_and_leaves_nothing_partial(tmp_path):
    """On an existing cluster (--cluster): the test's own LocalCluster, workers started as `dask worker
    --resources measure=1` would be."""
    environment_or_skip(DEFAULT_LINE)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, resources={"measure": 1},
                                  memory_limit=0, dashboard_address=None, protocol="tcp") as cluster:
        command = subprocess.Popen(
            [sys.executable, "-m", "migbench", "run", "quick", "--django", DEFAULT_LINE, "--repeat", "3",
             "--dev-loop", "off", "--no-report", "--cluster", cluster.scheduler_address, "--out", str(tmp_path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        me = psutil.Process()
        victim = measured = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline and command.poll() is None:
            for child in _descendants_running(me, "migbench.bench.cluster.child"):
                inside = _descendants_running(child, "measure.py")  # the measured `migrate` is running
                if inside:
                    victim, measured = child, inside[0]
                    break
            time.sleep(0.02)
        assert victim is not None, "no run was caught in its measured child"
        os.kill(victim.parent().pid, signal.SIGKILL)  # the Dask worker process, with the run in the middle
        out, err = command.communicate(timeout=300)
    assert command.returncode == 0, err + out
    assert "the Dask scheduler at %s: 2 measurement slots on 1 machine" % cluster.scheduler_address in err
    # The run's own processes went with the worker: the task's child got SIGTERM (PR_SET_PDEATHSIG)
    # and stopped its measured process as after Ctrl-C.
    for process in (victim, measured):
        try:
            process.wait(timeout=30)
        except psutil.TimeoutExpired:
            pytest.fail("%s outlived its killed worker" % process.cmdline())
        except psutil.NoSuchProcess:
            pass
    names = sorted(p.name for p in tmp_path.iterdir())
    records = [load_record(p) for p in sorted(tmp_path.glob("*.json"))]
    assert len(records) == 3 and names == sorted(p.name for p in tmp_path.glob("*.json")), names  # nothing else
    assert sorted(r.repeat for r in records) == [1, 2, 3] and all(r.outcome == "ok" for r in records)
    assert all(r.validation["ok"] and r.cluster["scheduler"] == cluster.scheduler_address for r in records)
    assert "lost" not in err


def test_a_cluster_without_measurement_slots_is_one_line_before_any_run(tmp_path, capsys):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=None) as cluster:
        code = main(["run", "quick", "--django", DEFAULT_LINE, "--cluster", cluster.scheduler_address,
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "offers no measurement slot" in err and "--resources measure=1" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, message", [
    (["--workers", "0"], "--workers 0: give a whole number of local worker processes from 1 to 64"),
    (["--workers", "two"], "--workers two: give a whole number"),
    (["--cluster", "10.0.0.5"], "--cluster 10.0.0.5: give a Dask scheduler address, e.g. --cluster tcp://"),
    (["--project", "."], "--cluster and --workers run generated scenarios"),
])
def test_bad_cluster_input_is_one_line_exit_2(argv, message, tmp_path, capsys):
    extra = ["--workers", "2"] if argv[0] == "--project" else []
    code = main(["run"] + ([] if argv[0] == "--project" else ["quick"]) + argv + extra
                + ["--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()
