"""worker/inside.py, the sampler behind a container's or a guest's wall, run here on the host
with the interpreters it must support (2.7 and this one): its summary is the record's source."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from migbench.bench.env import interpreters
from migbench.bench.measure.limiters import walled


def pythons():
    found = [sys.executable]
    old = interpreters.find("2.7")
    if old is not None:
        found.append(old.path)
    return found


def summary_of(python, code, tmp_path, *flags):
    path = tmp_path / "inside.json"
    argv = walled.sampler_argv(python, path, [python, "-c", code], 0.01, cgroup="--cgroup" in flags,
                               timeout_s=1.0 if "--timeout" in flags else None)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # the sampler exits 0 once the summary is written
    return json.loads(path.read_text()), done


@pytest.mark.parametrize("python", pythons())
def test_a_child_that_fits_leaves_its_samples_peak_and_status(python, tmp_path):
    data, done = summary_of(python, "import time, sys; x = bytearray(30 << 20); time.sleep(0.3); "
                                    "sys.stdout.write('out'); sys.exit(4)", tmp_path, "--cgroup")
    assert data["exit_code"] == 4 and data["signal"] is None and not data["timed_out"]
    assert done.stdout == "out"  # the child's output is the sampler's: the runtime passes it on
    assert data["sampled_peak_bytes"] > 30 << 20 and data["hwm_bytes"] > 30 << 20
    assert data["samples"] and data["wall_s"] >= 0.3
    assert data["cgroup"]["version"] in (1, 2, None) and data["memory"]["total_bytes"] > 0
    assert data["sampler_rss_bytes"] > 0
    assert data["vmstat"]["pgfault"] > 0  # the child's start-up alone faults pages in


@pytest.mark.parametrize("python", pythons())
def test_the_timeout_kills_the_child_and_still_writes_the_summary(python, tmp_path):
    data, _ = summary_of(python, "import time; time.sleep(60)", tmp_path, "--timeout")
    assert data["timed_out"] and data["signal"] == 9 and 1.0 <= data["wall_s"] < 30


def test_a_child_that_cannot_start_is_said_so(tmp_path):
    path = tmp_path / "inside.json"
    subprocess.run(walled.sampler_argv(sys.executable, path, [str(tmp_path / "no-python")], 0.01, False),
                   check=True, timeout=60)
    assert "spawn_error" in json.loads(path.read_text())


def test_outermost_keeps_existing_directories_none_inside_another(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "file").write_text("")
    (tmp_path / "c").mkdir()
    found = walled.outermost([tmp_path / "a" / "b", tmp_path / "a" / "file", tmp_path / "c",
                              tmp_path / "missing", tmp_path / "a"])
    assert found == [tmp_path / "a", tmp_path / "c"] or found == [tmp_path / "c", tmp_path / "a"]


def test_own_env_keeps_what_the_step_added_never_the_hosts_path(monkeypatch):
    monkeypatch.setenv("PATH", "/host/bin")
    monkeypatch.setenv("SECRET_TOKEN", "x")
    env = {"PATH": "/host/bin", "SECRET_TOKEN": "x", "MIGBENCH_DATABASE_URL": "sqlite:////db",
           "DJANGO_SETTINGS_MODULE": "benchproject.settings", "HOME": "/elsewhere"}
    assert walled.own_env(env) == {"MIGBENCH_DATABASE_URL": "sqlite:////db",
                                   "DJANGO_SETTINGS_MODULE": "benchproject.settings"}
