"""What every server engine shares (bench/engines/server.py): the embedded server's life around a
real `migbench run` (stopped after Ctrl-C; a SIGKILLed migbench's server cleaned by the next one),
scratch database names, URLs without passwords, and the one-line errors of --database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from support import engine_or_skip, gone

from migbench.bench import engines
from migbench.bench.engines import embedded, server
from migbench.bench.engines.base import Database
from migbench.errors import MigbenchError

pytestmark = pytest.mark.xdist_group("engine-server")


def _start_run(own_cache, tmp_path, database):
    """`migbench run quick --database DATABASE` in the background; returns it once its server runs."""
    # --repeat 50: with the project cached a run takes ~1 s; the signal must find it running
    child = subprocess.Popen([sys.executable, "-m", "migbench", "run", "quick", "--database", database,
                              "--strategy", "all", "--django", "4.2", "--repeat", "50", "--out", str(tmp_path / "out"),
                              "--limiter", "none", "--no-report"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env=dict(os.environ, MIGBENCH_CACHE=str(own_cache)),
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        for info in (own_cache / "servers").glob("*/server.json"):
            pid = json.loads(info.read_text()).get("pid")
            if pid and psutil.pid_exists(pid):
                return child, info.parent, psutil.Process(pid)
        if child.poll() is not None:
            pytest.fail("migbench ended before its server ran: %s" % child.stdout.read())
        time.sleep(0.2)
    child.kill()
    pytest.fail("no server started in 240 s")


@pytest.mark.e2e
def test_ctrl_c_stops_the_embedded_server(own_cache, tmp_path):
    engine_or_skip("postgresql")
    child, directory, running = _start_run(own_cache, tmp_path, "postgresql")
    child.send_signal(signal.SIGINT)
    try:
        output, _ = child.communicate(timeout=120)
    finally:  # whatever the assertions below say, leave no server behind
        if child.poll() is None:
            child.kill()
        server.cleanup_stale("postgresql")
    assert "migbench: interrupted" in output, output
    # 130 from run_interruptible; once in a CI run under load (interrupted while the server was
    # starting) the process then ended by SIGINT itself (-2) after printing that line: not yet
    # explained, accepted here because what this test is about holds either way.
    assert child.returncode in (130, -signal.SIGINT), output
    assert gone(running)
    assert not directory.exists()


@pytest.mark.e2e
def test_a_killed_runs_server_is_cleaned_by_the_next(own_cache, tmp_path):
    engine_or_skip("mariadb")
    child, directory, running = _start_run(own_cache, tmp_path, "mariadb")
    child.kill()  # no finally runs: the server outlives its migbench
    child.communicate(timeout=60)
    try:
        _cleaned_by_the_next(directory, running)
    finally:  # a failing assertion must not leave the server running
        server.cleanup_stale("mariadb")
        if not gone(running):
            running.kill()


def _cleaned_by_the_next(directory, running):
    assert not gone(running)
    files = json.loads((directory / "server.json").read_text()).get("files")
    removed = server.cleanup_stale("mariadb")
    assert directory in removed and not directory.exists()
    assert not files or not os.path.exists(files)
    deadline = time.monotonic() + 30
    while not gone(running):
        assert time.monotonic() < deadline, "the leftover server still runs"
        time.sleep(0.1)


def test_a_live_owner_keeps_its_server(tmp_path):
    directory = tmp_path / "postgresql-1-abc"
    directory.mkdir()
    embedded._write_owner(directory)  # this very process: alive
    assert embedded.cleanup_stale(root=tmp_path) == [] and directory.exists()
    (directory / embedded.OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "started": 1.0}))
    assert embedded.cleanup_stale(root=tmp_path) == [directory]  # a reused pid is not the owner


def test_urls_never_carry_the_password():
    assert server.redact("postgresql://bob:s3cret@db:5432/") == "postgresql://bob:***@db:5432/"
    assert server.redact("mysql://bob@db/") == "mysql://bob@db/"
    engine = engines.get("postgresql://bob:s3cret@db.example:6543/")
    assert engine.url and engine.name == "postgresql"
    described = engine.describe()
    assert described["server"] == "external" and "s3cret" not in json.dumps(described)


def test_child_urls_round_trip_through_the_generated_settings():
    """What server.child_url writes, generator/project.py's settings read back (socket and TCP)."""
    from migbench.generator import project as generated

    namespace = {"os": os, "BASE_DIR": "/p", "_POSTGRES_BACKEND": "postgresql"}
    exec(generated._DATABASE_FROM_URL, namespace)
    read = namespace["_database_from_url"]
    pg = engines.get("postgresql")
    socket = server.Server(user="postgres", host="/tmp/migbench-x/sock", port=41234)
    settings = read(pg.child_url(socket, "migbench_ab12_main"))
    assert settings["HOST"] == "/tmp/migbench-x/sock" and settings["PORT"] == "41234"
    assert settings["NAME"] == "migbench_ab12_main" and settings["USER"] == "postgres"
    assert settings["TEST"] == {"NAME": "migbench_ab12_main_test"}
    tcp = server.Server(user="b@b", password="p:w/d", host="db.example", port=3307)
    settings = read(engines.get("mariadb").child_url(tcp, "migbench_x"))
    assert settings["ENGINE"] == "django.db.backends.mysql"
    assert (settings["USER"], settings["PASSWORD"], settings["HOST"], settings["PORT"]) == (
        "b@b", "p:w/d", "db.example", "3307")


def test_only_scratch_databases_are_ever_dropped():
    pg = engines.get("postgresql")
    theirs = Database(pg, "x", "postgres://u@/production?host=/tmp")
    with pytest.raises(MigbenchError, match="refusing to touch database 'production'"):
        pg.drop(theirs)


@pytest.mark.parametrize("value, message", [
    ("postgresql://u@h/prod", "names a database; give the server only"),
    ("mysql://h:port/", "the port is not a number"),
])
def test_bad_server_urls_are_one_line(value, message):
    with pytest.raises(MigbenchError, match=message) as info:
        engines.spec_of(value)
    assert "\n" not in str(info.value)


def test_no_binaries_names_the_packages(monkeypatch):
    for name, package in (("postgresql", "postgresql"), ("mariadb", "mariadb-server")):
        engine = engines.get(name)
        monkeypatch.setattr(type(engine), "find_binaries", lambda self: None)
        assert engine.unavailable().endswith("apt-get install %s" % package)


def test_an_unreachable_server_is_one_line_before_any_run(tmp_path):
    done = subprocess.run([sys.executable, "-m", "migbench", "run", "quick", "--database",
                           "postgresql://nobody@127.0.0.1:1/", "--out", str(tmp_path / "out"), "--no-report"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot connect to postgresql://nobody@127.0.0.1:1/" in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not list((tmp_path / "out").glob("*.json"))
