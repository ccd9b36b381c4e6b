"""`migbench run` end to end: real environments, real `migrate` in real child
processes under a real limiter, records on disk; resume, interruption, crashes
recorded as results, and peak RSS against `/usr/bin/time -v`."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import environment_or_skip

from migbench.bench.engines.sqlite import SqliteEngine
from migbench.bench.env.child import project_env
from migbench.bench.records import load_record
from migbench.targets import DEFAULT_LINE

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("test_run")]

MIGBENCH = [sys.executable, "-m", "migbench"]


def migbench(*args, cwd=None, timeout=600):
    return subprocess.run(MIGBENCH + list(args), capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One real matrix: quick on the default line, uncapped and under 256M."""
    environment_or_skip(DEFAULT_LINE)
    out = tmp_path_factory.mktemp("results") / "quick"
    proc = migbench("run", "quick", "--django", DEFAULT_LINE, "--memory", "none,256M", "--out", str(out))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return out, proc


def test_records_follow_the_contract(quick_run):
    out, proc = quick_run
    paths = sorted(out.glob("*.json"))
    assert len(paths) == 2
    for path in paths:
        record = load_record(path)
        assert record.outcome == "ok" and record.exit_code == 0 and record.signal is None
        assert record.failed_during is None and record.error is None
        assert record.peak_rss_bytes > 20 * 2**20
        assert record.samples["t"] and len(record.samples["t"]) == len(record.samples["rss"])
        assert record.project["migrations"] > 0 and record.project["django_target"] == DEFAULT_LINE
        assert record.phases["applying"] > 0 and record.phases["setup"] > 0
        assert record.limiter["name"] in ("cgroup2", "cgroup1", "systemd", "rlimit", "none")
        assert record.command["migbench"][:2] == ["migbench", "run"]
        assert record.host["cpu_count"] >= 1 and record.started_at.endswith("+00:00")
        applied = {e["migration"] for e in record.events if e["event"] == "apply_success"}
        manifest = json.loads((Path(record.project["path"]) / "migbench.json").read_text())
        ours = {m for m in applied if m.split(".")[0] in manifest["apps"]}
        assert len(ours) == record.project["migrations"]
        times = [e["t"] for e in record.events]
        assert times == sorted(times) and record.events[-1]["event"] == "end"
    capped = [load_record(p) for p in paths if "mem256M" in p.name][0]
    assert capped.memory_limit_bytes == 256 * 2**20
    assert "outcome" in proc.stdout and "records in" in proc.stdout  # the summary table
    report = out / "report" / "report.html"
    assert "report in %s" % report in proc.stdout and report.is_file(), "the report of the records"


def test_rerun_resumes_and_never_rewrites(quick_run):
    out, _ = quick_run
    before = {p.name: p.read_bytes() for p in out.glob("*.json")}
    proc = migbench("run", "quick", "--django", DEFAULT_LINE, "--memory", "none,256M", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "2 of 2 runs already recorded" in proc.stderr
    assert {p.name: p.read_bytes() for p in out.glob("*.json")} == before


def test_a_crash_is_a_recorded_result(tmp_path):
    environment_or_skip(DEFAULT_LINE)
    proc = migbench("run", "quick", "--django", DEFAULT_LINE, "--memory", "24M", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob("*.json")
    record = load_record(path)
    assert record.outcome in ("oom-killed", "memory-error"), record.outcome_reason
    assert record.failed_during is not None and record.error is not None


def _migbench_cgroups(pid: int) -> list[str]:
    """The cgroups made by process `pid` (leaves are named migbench-<pid>-<n>); other test
    workers' live groups are not this run's to judge."""
    found = []
    for root in ("/sys/fs/cgroup/memory", "/sys/fs/cgroup"):
        if os.path.isdir(root):
            for dirpath, dirnames, _ in os.walk(root):
                found += [os.path.join(dirpath, d) for d in dirnames if d.startswith("migbench-%d-" % pid)]
    return found


def test_ctrl_c_discards_the_run_and_removes_the_cgroup(tmp_path):
    environment_or_skip("1.8")
    # A background job of a non-interactive shell inherits SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: give the child the default disposition, as a terminal's Ctrl-C would find.
    proc = subprocess.Popen(MIGBENCH + ["run", "long-history", "--django", "1.8", "--memory", "1G",
                                        "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    lines = []
    for line in proc.stderr:  # wait until the measured child is running
        lines.append(line)
        if "running" in line or time.monotonic() > deadline:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, "".join(lines) + rest
    assert "resume" in rest
    assert not list((tmp_path / "out").glob("*.json")), "the interrupted run left no record"
    assert not _migbench_cgroups(proc.pid), "the run's cgroup was removed"


@pytest.mark.skipif(not shutil.which("time") and not os.path.exists("/usr/bin/time"),
                    reason="/usr/bin/time is not installed")
def test_peak_rss_agrees_with_usr_bin_time(quick_run, tmp_path):
    """The record's peak is within 5% of `/usr/bin/time -v` on the same plain migrate."""
    out, _ = quick_run
    record = load_record(sorted(out.glob("*memnone*.json"))[0])
    env = environment_or_skip(DEFAULT_LINE)
    child_env = project_env(SqliteEngine().at(tmp_path / "db.sqlite3"))
    timed = subprocess.run(["/usr/bin/time", "-v", str(env.python), "manage.py", "migrate", "--noinput"],
                           cwd=record.project["path"], env=child_env, capture_output=True, text=True)
    assert timed.returncode == 0, timed.stderr
    kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timed.stderr).group(1))
    assert abs(record.peak_rss_bytes - kib * 1024) <= 0.05 * kib * 1024


def test_segfault_2015_shape_at_small_size(tmp_path):
    """The shipped 2015 scenario, shrunk to 8 apps: 1.8 renders every state up
    front (a rendering phase, ended by render_success), 1.9 does not."""
    environment_or_skip("1.8")
    environment_or_skip("1.9")
    from migbench.generator.scenario import resolve_scenario

    text = Path(resolve_scenario("segfault-2015").source).read_text()
    small = tmp_path / "segfault-small.toml"
    small.write_text(re.sub(r"(?m)^apps = 100$", "apps = 8", text).replace('name = "segfault-2015"',
                                                                            'name = "segfault-small"'))
    out = tmp_path / "out"
    proc = migbench("run", str(small), "--python", "2.7", "--memory", "none", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    records = {load_record(p).django_version[:3]: load_record(p) for p in out.glob("*.json")}
    assert set(records) == {"1.8", "1.9"}
    assert all(r.outcome == "ok" for r in records.values())
    old, new = records["1.8"], records["1.9"]
    assert old.phases["rendering"] and old.phases["rendering"] > 0
    assert [e["event"] for e in old.events].count("render_success") >= 1
    grew = lambda r: [e["rss"] for e in r.events if e["event"] == "render_success"][0] - [
        e["rss"] for e in r.events if e["event"] == "render_start"][0]
    print("rendering grew RSS by", grew(old), "on 1.8 and", grew(new), "on 1.9")
    assert grew(old) > 4 * max(grew(new), 2**20)
    assert old.project["django_target"] == new.project["django_target"] == "1.8"


def test_scenario_alone_runs_on_builtin_defaults(tmp_path):
    """No options: the installed Django (else the default line), SQLite, no cap, one run."""
    django = pytest.importorskip("django")
    environment_or_skip(django.get_version())
    proc = migbench("run", "quick", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    (path,) = tmp_path.glob("*.json")
    record = load_record(path)
    assert record.django_version == django.get_version() and record.memory_limit_bytes is None
    assert record.outcome == "ok" and record.repeat == 1 and record.database["engine"] == "sqlite"


def test_one_out_dir_never_mixes_projects(tmp_path):
    """quick generated for 5.2 fills --out; a 4.2 matrix (another project) is refused."""
    environment_or_skip(DEFAULT_LINE)
    out = tmp_path / "out"
    assert migbench("run", "quick", "--django", DEFAULT_LINE, "--out", str(out)).returncode == 0
    proc = migbench("run", "quick", "--django", "4.2", "--out", str(out))
    assert proc.returncode == 2
    assert "generated for Django %s" % DEFAULT_LINE in proc.stderr and "--django" in proc.stderr
    proc = migbench("run", "quick", "--django", DEFAULT_LINE, "--seed", "99", "--out", str(out))
    assert proc.returncode == 2 and "seed" in proc.stderr
    assert len(list(out.glob("*.json"))) == 1
