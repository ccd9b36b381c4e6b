"""Helpers of the tests that run real containers (tests/ is on pytest's pythonpath).

`docker_daemon()` gives the tests a Docker engine: the one already running,
else a `dockerd` it starts itself (the `.ci/run` machines install docker.io
but run no init system). It uses dockerd's default data root on purpose:
the images the tests build (the base, one per environment) stay cached in
it across runs, which is what keeps the suite within its time budget.

Side effects: may start (and then stop, SIGTERM) one dockerd; a lock under
/tmp keeps two pytest workers from starting two.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from migbench.bench.guests import runtime

DOCKERD_ARGV = ("dockerd", "--iptables=false", "--bridge=none")  # leaves the host's network alone
_START_TIMEOUT = 60  # seconds; dockerd answers in ~1 s here
_STOP_TIMEOUT = 30
_LOCK = Path(tempfile.gettempdir()) / "migbench-tests-dockerd.lock"


def _answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@contextlib.contextmanager
def docker_daemon() -> Iterator[subprocess.Popen | None]:
    """A Docker engine for the block: the running one (yields None), or a dockerd started
    here (yields it) and stopped on leaving. Without docker installed it yields None and
    leaves the verdict to need_runtime("docker")."""
    if shutil.which("docker") is None or shutil.which("dockerd") is None or _answers():
        yield None
        return
    with open(_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be starting one right now
        try:
            if _answers():
                started = None
            else:
                log = open(Path(tempfile.gettempdir()) / "migbench-tests-dockerd.log", "ab")
                started = subprocess.Popen(DOCKERD_ARGV, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True)
                log.close()
                deadline = time.monotonic() + _START_TIMEOUT
                while not _answers():
                    if started.poll() is not None or time.monotonic() > deadline:
                        _stop(started)
                        pytest.fail("dockerd did not start (exit %s); see %s" % (started.returncode, log.name))
                    time.sleep(0.2)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    try:
        yield started
    finally:
        if started is not None:
            _stop(started)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the dockerd started here and wait for it (it stops its containerd too)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def need_runtime(name: str) -> runtime.Runtime:
    """The runtime `name` if it can run containers here, else skip with the reason (fail under
    CI=true: .ci/run installs docker.io and podman, so a missing one is a broken machine)."""
    engine = runtime.get(name)
    why = engine.unavailable()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide %s: %s" % (name, why))
        pytest.skip(why)
    return engine


def need_vm() -> None:
    """Skip (fail under CI=true) unless the VM limiter can boot a guest here: QEMU installed and the
    guest image built or buildable (.ci/run installs qemu-system-x86 and debootstrap)."""
    from migbench.bench.guests import vm

    why = vm.unavailable()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide QEMU for the VM limiter: %s" % why)
        pytest.skip(why)


# The container runtimes as test parameters: each in its own xdist group, so the worker that started a
# dockerd is the only one using it, and stops it when its module is done.
RUNTIMES = [pytest.param("docker", marks=pytest.mark.xdist_group("docker")),
            pytest.param("podman", marks=pytest.mark.xdist_group("podman"))]


@contextlib.contextmanager
def runtime_ready(name: str) -> Iterator[runtime.Runtime]:
    """The runtime `name`, able to run containers for the block (a dockerd started for it if need be)."""
    with docker_daemon() if name == "docker" else contextlib.nullcontext():
        yield need_runtime(name)
