"""Memory limiters (bench/measure/limiters/).

Real where this machine allows it: cgroup v1 runs real children under a real cap
(OOM kill, peak, cleanup after exceptions and Ctrl-C, stale groups) and rlimit runs
real children under RLIMIT_AS. Skipped only when the cgroup v1 memory hierarchy is
absent or not writable here (e.g. not root).

Simulated: cgroup v2. This machine's cgroup2 mount has no memory controller (it is
bound to v1), so v2 runs against a fake cgroupfs in tmp_path: `FakeCgroupfs` plays the
kernel's part (control files appearing on mkdir, peak/events written by the test).
systemd is not the running init here, so only its command line and availability
logic are checked.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from migbench.bench.measure import limiters
from migbench.bench.measure.limiters import (NAMES, Cgroup1Limiter, Host, Limiter, LimiterError, LimitReading,
                                             SystemdLimiter, choose, cleanup_stale)
from migbench.errors import MigbenchError
from migbench.units import format_size, parse_size

MiB = 2**20


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


def run_child(limiter: Limiter, code: str) -> subprocess.CompletedProcess:
    """A real Python child started the way the runner starts it."""
    return subprocess.run(limiter.command([sys.executable, "-c", code]),
                          preexec_fn=limiter.preexec, start_new_session=True,
                          capture_output=True, text=True, timeout=60)


def allocate(mib: int) -> str:
    # bytes * n writes every byte, so the pages are really touched (charged as RSS).
    return "b = b'x' * (%d * 2**20); print(len(b))" % mib


# -- sizes -----------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("512M", 512 * MiB), ("512m", 512 * MiB), ("512MiB", 512 * MiB), ("512MB", 512 * MiB),
    ("1G", 2**30), ("1.5G", 3 * 2**29), ("64K", 65536), ("2T", 2 * 2**40),
    ("1048576", MiB), ("100B", 100), (" 256 M ", 256 * MiB), (4096, 4096),
    ("none", None), ("None", None), ("0", None), ("", None), (None, None), (0, None),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["lots", "12X", "-5M", "1.2.3G", "M", "5 MiBs", "0.4"])
def test_parse_size_rejects_with_one_line_naming_the_value(text):
    with pytest.raises(MigbenchError) as error:
        parse_size(text)
    message = one_line(error)
    assert repr(text) in message and "512M" in message


@pytest.mark.parametrize("size, label", [
    (512 * MiB, "512M"), (2**30, "1G"), (3 * 2**29, "1.5G"), (1040 * MiB, "1040M"), (2080 * MiB, "2080M"), (64 * 1024, "64K"),
    (100, "100B"), (2**40, "1T"), (None, "none"),
])
def test_format_size(size, label):
    assert format_size(size) == label
    if size is not None:
        assert parse_size(label) == size


# -- cgroup v2 on a simulated cgroupfs ---------------------------------------------------

EVENTS = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"


class FakeCgroupfs:
    """A cgroup v2 hierarchy in a temporary directory, standing in for the kernel.

    A real cgroupfs creates a group's control files on mkdir and drops them on rmdir,
    and rmdir fails with EBUSY while processes remain; this does the same with plain
    files. Counters only change when a test writes them.
    """

    def __init__(self, root: Path, peak: bool = True, swap: bool = True):
        self.root, self.peak, self.swap = root, peak, swap
        root.mkdir()
        self._populate(root, "cpu io memory pids")
        (root / "cgroup.procs").write_text("1\n%d\n" % os.getpid())  # the root holds processes

    def _populate(self, group: Path, controllers: str) -> None:
        files = {"cgroup.procs": "", "cgroup.controllers": controllers + "\n",
                 "cgroup.subtree_control": "\n", "memory.max": "max\n",
                 "memory.current": "0\n", "memory.events": EVENTS, "memory.oom.group": "0\n"}
        if self.peak:
            files["memory.peak"] = "0\n"
        if self.swap:
            files["memory.swap.max"] = "max\n"
        for name, text in files.items():
            (group / name).write_text(text)

    def mkdir(self, path: Path) -> None:
        os.mkdir(path)
        enabled = (path.parent / "cgroup.subtree_control").read_text().replace("+", "")
        self._populate(path, " ".join(enabled.split()))

    def rmdir(self, path: Path) -> None:
        if not path.is_dir():
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
        if (path / "cgroup.procs").read_text().split():
            raise OSError(errno.EBUSY, "Device or resource busy", str(path))
        for child in path.iterdir():
            child.unlink()
        os.rmdir(path)

    def host(self, tmp_path: Path, euid: int = 0, own: str = "/") -> Host:
        mounts = tmp_path / "mounts"
        mounts.write_text("tmpfs /sys/fs/cgroup tmpfs rw 0 0\n"
                          "cgroup2 %s cgroup2 rw,nosuid,nodev 0 0\n" % self.root)
        self_cgroup = tmp_path / "self-cgroup"
        self_cgroup.write_text("0::%s\n" % own)
        return Host(mounts=mounts, self_cgroup=self_cgroup, systemd_dir=tmp_path / "no-systemd",
                    euid=euid, environ={}, which=lambda name: None,
                    mkdir=self.mkdir, rmdir=self.rmdir)


@pytest.fixture
def fake_v2(tmp_path) -> FakeCgroupfs:
    return FakeCgroupfs(tmp_path / "cgroup")


def test_cgroup2_simulated_cap_join_read_and_cleanup(fake_v2, tmp_path):
    host = fake_v2.host(tmp_path)
    limiter = choose("auto", 512 * MiB, host=host)
    # The root group has no memory.swap.max: swap accounting is only known on entering.
    assert (limiter.name, limiter.caps) == ("cgroup2", "rss")
    assert limiter.why == "using cgroup v2 at %s" % fake_v2.root
    with limiter:
        assert limiter.caps == "rss+swap"
        leaf = limiter.path
        assert leaf.parent == fake_v2.root and leaf.name.startswith("migbench-%d-" % os.getpid())
        assert (fake_v2.root / "cgroup.subtree_control").read_text() == "+memory"
        assert (leaf / "memory.max").read_text() == str(512 * MiB)
        assert (leaf / "memory.swap.max").read_text() == "0"
        assert (leaf / "memory.oom.group").read_text() == "1"
        # A real child runs preexec: it writes its own pid into the group's cgroup.procs.
        proc = subprocess.Popen([sys.executable, "-c", "import os; print(os.getpid())"],
                                preexec_fn=limiter.preexec, stdout=subprocess.PIPE, text=True)
        out, _ = proc.communicate(timeout=30)
        assert (leaf / "cgroup.procs").read_text() == out.strip() == str(proc.pid)
        # The "kernel": the child exited, after peaking at 300 MB and one OOM kill.
        (leaf / "cgroup.procs").write_text("")
        (leaf / "memory.peak").write_text("%d\n" % (300 * MiB))
        (leaf / "memory.events").write_text(EVENTS.replace("oom_kill 0", "oom_kill 1"))
        reading = limiter.read()
        assert (reading.peak_bytes, reading.oom_kills) == (300 * MiB, 1)
        assert reading.details["peak"] == "memory.peak"
        described = limiter.describe()
        assert described["path"] == str(leaf) and described["swap_limited"] is True
    assert not leaf.exists()
    assert limiter.read().peak_bytes == 300 * MiB  # kept from the with block's end


def test_cgroup2_simulated_old_kernel_no_peak_no_swap_accounting(tmp_path):
    fake = FakeCgroupfs(tmp_path / "cgroup", peak=False, swap=False)
    limiter = choose("cgroup2", 256 * MiB, host=fake.host(tmp_path))
    with limiter:
        reading = limiter.read()
        leaf = limiter.path
    assert not leaf.exists()
    assert reading.peak_bytes is None and "5.19" in reading.details["peak"]
    assert reading.oom_kills == 0
    assert limiter.swap_limited is False and limiter.caps == "rss"


def test_cgroup2_simulated_no_limit_keeps_memory_max(fake_v2, tmp_path):
    limiter = choose("auto", None, host=fake_v2.host(tmp_path))
    assert limiter.name == "cgroup2" and limiter.caps == "none"
    assert "no limit requested" in limiter.why and "peak counter" in limiter.why
    with limiter:
        assert (limiter.path / "memory.max").read_text() == "max\n"


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_cgroup2_simulated_cleanup_on_exception(fake_v2, tmp_path, exc):
    limiter = choose("cgroup2", 64 * MiB, host=fake_v2.host(tmp_path))
    with pytest.raises(exc):
        with limiter:
            leaf = limiter.path
            raise exc()
    assert not leaf.exists()
    limiter.__exit__(None, None, None)  # idempotent


def test_cgroup2_simulated_non_root_internal_process_rule(fake_v2, tmp_path):
    own = fake_v2.root / "user.slice"
    fake_v2.mkdir(own)
    (own / "cgroup.procs").write_text("%d\n" % os.getpid())
    (fake_v2.root / "cgroup.subtree_control").write_text("memory\n")
    (own / "cgroup.controllers").write_text("memory pids\n")
    host = fake_v2.host(tmp_path, euid=1000, own="/user.slice")
    probe = limiters.Cgroup2Limiter.probe(host)
    assert not probe.ok and "no-internal-process rule" in probe.reason
    with pytest.raises(LimiterError) as error:
        choose("cgroup2", 64 * MiB, host=host)
    message = one_line(error)
    assert str(own) in message and "available: rlimit, none" in message
    assert choose("auto", 64 * MiB, host=host).name == "rlimit"


def test_cgroup2_simulated_ebusy_on_enable_explains(fake_v2, tmp_path, monkeypatch):
    real_write = limiters.cgroup._write

    def busy(path, text):
        if path.name == "cgroup.subtree_control":
            raise OSError(errno.EBUSY, "Device or resource busy")
        real_write(path, text)

    monkeypatch.setattr(limiters.cgroup, "_write", busy)  # the module whose code writes
    limiter = choose("cgroup2", 64 * MiB, host=fake_v2.host(tmp_path))
    with pytest.raises(LimiterError) as error:
        with limiter:
            pass
    message = one_line(error)
    assert message == (
        "cannot enable the memory controller in %s/cgroup.subtree_control: Device or resource "
        "busy (no-internal-process rule: a group holding processes cannot enable controllers "
        "for its children); run migbench as root (sudo), or use --limiter rlimit"
        % fake_v2.root)
    assert not any(p.name.startswith("migbench-") for p in fake_v2.root.iterdir())


def test_cgroup_mkdir_refused_names_the_fix(fake_v2, tmp_path):
    def refuse(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    host = dataclasses.replace(fake_v2.host(tmp_path), mkdir=refuse)
    with pytest.raises(LimiterError) as error:
        with choose("cgroup2", 64 * MiB, host=host):
            pass
    message = one_line(error)
    assert message.startswith("cannot create cgroup %s/migbench-%d-" % (fake_v2.root, os.getpid()))
    assert message.endswith(": Permission denied; run as root, or use --limiter rlimit")


def test_mount_points_with_escaped_spaces(tmp_path):
    memory = tmp_path / "cg v1" / "memory"
    memory.mkdir(parents=True)
    (tmp_path / "mounts").write_text(
        "cgroup %s cgroup rw,memory 0 0\n" % str(memory).replace(" ", "\\040"))
    (tmp_path / "self-cgroup").write_text("4:memory:/\n")
    probe = Cgroup1Limiter.probe(Host(mounts=tmp_path / "mounts",
                                      self_cgroup=tmp_path / "self-cgroup"))
    assert probe.ok and probe.parent == memory


def test_cgroup2_unavailable_without_memory_controller(fake_v2, tmp_path):
    (fake_v2.root / "cgroup.controllers").write_text("cpu io pids\n")
    probe = limiters.Cgroup2Limiter.probe(fake_v2.host(tmp_path))
    assert not probe.ok
    assert probe.reason == "no memory controller in %s/cgroup.controllers" % fake_v2.root


def test_stale_groups_simulated(fake_v2, tmp_path):
    host = fake_v2.host(tmp_path)
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    dead = fake_v2.root / ("migbench-%d-0" % (pid_max + 1))  # no process can have this pid
    busy = fake_v2.root / ("migbench-%d-1" % (pid_max + 1))
    alive = fake_v2.root / ("migbench-%d-7" % os.getppid())
    other = fake_v2.root / "system.slice"
    for group in (dead, busy, alive, other):
        fake_v2.mkdir(group)
    (busy / "cgroup.procs").write_text("%d\n" % os.getpid())
    assert cleanup_stale(fake_v2.root, host) == [dead]
    assert not dead.exists() and busy.exists() and alive.exists() and other.exists()


# -- choose(): auto order and errors ------------------------------------------------------


def v1_host(tmp_path: Path, v2: FakeCgroupfs | None = None, systemd: bool = False) -> Host:
    """Mounts listing a (fake) v1 memory hierarchy, optionally a v2 mount and systemd."""
    memory = tmp_path / "v1" / "memory"
    (memory / "docker" / "abc").mkdir(parents=True)
    lines = ["cgroup %s cgroup rw,nosuid,memory 0 0" % memory]
    if v2 is not None:
        lines.append("cgroup2 %s cgroup2 rw 0 0" % v2.root)
    (tmp_path / "mounts").write_text("\n".join(lines) + "\n")
    (tmp_path / "self-cgroup").write_text("4:memory:/docker/abc\n0::/\n")
    if systemd:
        (tmp_path / "run-systemd").mkdir()
    return Host(mounts=tmp_path / "mounts", self_cgroup=tmp_path / "self-cgroup",
                systemd_dir=tmp_path / "run-systemd", euid=0, environ={},
                which=lambda name: "/usr/bin/" + name)


def test_auto_prefers_v1_when_v2_has_no_memory(fake_v2, tmp_path):
    (fake_v2.root / "cgroup.controllers").write_text("cpu io pids\n")
    host = v1_host(tmp_path, fake_v2)
    limiter = choose("auto", 512 * MiB, host=host)
    parent = tmp_path / "v1" / "memory" / "docker" / "abc"
    assert limiter.name == "cgroup1"
    assert limiter.why == (
        "cgroup v2 unavailable (no memory controller in %s/cgroup.controllers: it is bound "
        "to the cgroup v1 hierarchy); using cgroup v1 at %s" % (fake_v2.root, parent))
    assert limiter.describe()["parent"] == str(parent)


def test_auto_falls_back_to_systemd_then_rlimit_then_none(tmp_path):
    (tmp_path / "mounts").write_text("proc /proc proc rw 0 0\n")
    (tmp_path / "self-cgroup").write_text("0::/\n")
    base = dict(mounts=tmp_path / "mounts", self_cgroup=tmp_path / "self-cgroup", euid=0)
    (tmp_path / "run-systemd").mkdir()
    with_systemd = Host(systemd_dir=tmp_path / "run-systemd",
                        which=lambda name: "/usr/bin/" + name, **base)
    limiter = choose("auto", 512 * MiB, host=with_systemd)
    assert limiter.name == "systemd" and limiter.caps == "rss+swap"
    assert limiter.why.startswith("cgroup v2 unavailable (no cgroup2 mount in ")
    assert limiter.why.endswith("using systemd-run --scope")
    # Without a cap systemd's scope is of no use: auto measures nothing rather than wrap.
    assert choose("auto", None, host=with_systemd).name == "none"

    bare = Host(systemd_dir=tmp_path / "none", which=lambda name: None, **base)
    limiter = choose("auto", 512 * MiB, host=bare)
    assert (limiter.name, limiter.caps) == ("rlimit", "virtual")
    assert "systemd unavailable (systemd is not the running init" in limiter.why
    assert limiter.why.endswith("using RLIMIT_AS (caps virtual address space, not RSS)")
    limiter = choose("auto", None, host=bare)
    assert (limiter.name, limiter.caps, limiter.limit_bytes) == ("none", "none", None)


def test_explicit_unavailable_lists_what_is_available(tmp_path):
    host = v1_host(tmp_path)
    with pytest.raises(LimiterError) as error:
        choose("systemd", 512 * MiB, host=host)
    assert one_line(error) == (
        "limiter systemd is unavailable here: systemd is not the running init (%s missing); "
        "available: cgroup1, rlimit, none" % (tmp_path / "run-systemd"))
    with pytest.raises(LimiterError) as error:
        choose("cgroup2", 512 * MiB, host=host)
    assert "no cgroup2 mount" in one_line(error)


def test_choose_errors(tmp_path):
    host = v1_host(tmp_path)
    with pytest.raises(LimiterError) as error:
        choose("lxc", 512 * MiB, host=host)
    assert one_line(error) == "unknown limiter 'lxc'; choose one of %s" % ", ".join(NAMES)
    with pytest.raises(LimiterError) as error:
        choose("none", 512 * MiB, host=host)
    assert one_line(error) == ("--limiter none cannot cap memory at 512M; drop the cap, "
                               "or use one of: cgroup1, rlimit")
    with pytest.raises(LimiterError):
        choose("rlimit", -1, host=host)
    assert issubclass(LimiterError, MigbenchError)


def test_rlimit_without_a_limit_is_no_limit(tmp_path):
    limiter = choose("rlimit", None, host=v1_host(tmp_path))
    assert (limiter.name, limiter.caps, limiter.limit_bytes) == ("rlimit", "none", None)
    with limiter:
        out = run_child(limiter, "import resource; print(resource.getrlimit(resource.RLIMIT_AS))")
    assert out.stdout.strip() == str(resource.getrlimit(resource.RLIMIT_AS))


# -- systemd: command line and availability only (systemd is not running here) --------


def test_systemd_command_line_root_and_user(tmp_path):
    root = SystemdLimiter(512 * MiB, "test", host=Host(euid=0))
    with root:
        unit = root.unit
        assert unit.startswith("migbench-%d-" % os.getpid())
        assert root.command(["python", "worker.py"]) == [
            "systemd-run", "--scope", "--quiet", "--collect", "--unit", unit,
            "-p", "MemoryMax=536870912", "-p", "MemorySwapMax=0", "--", "python", "worker.py"]
        reading = root.read()  # no such scope on this machine: honest None
        assert reading.peak_bytes is None and "ru_maxrss" in reading.details["peak"]
    user = SystemdLimiter(None, "test", host=Host(euid=1000))
    with user:
        assert user.command(["python"]) == [
            "systemd-run", "--scope", "--quiet", "--collect", "--user", "--unit", user.unit,
            "--", "python"]
        assert user.describe()["user"] is True and user.caps == "none"


def test_systemd_availability(fake_v2, tmp_path):
    (tmp_path / "run-systemd").mkdir()
    running = dict(systemd_dir=tmp_path / "run-systemd", which=lambda name: "/usr/bin/x",
                   mounts=fake_v2.host(tmp_path).mounts)
    assert SystemdLimiter.probe(Host(euid=0, **running)).ok
    no_user = SystemdLimiter.probe(Host(euid=1000, environ={}, **running))
    assert not no_user.ok and "no systemd user instance" in no_user.reason
    (tmp_path / "xdg" / "systemd").mkdir(parents=True)
    (tmp_path / "xdg" / "systemd" / "private").touch()
    session = {"XDG_RUNTIME_DIR": str(tmp_path / "xdg")}
    assert SystemdLimiter.probe(Host(euid=1000, environ=session, **running)).reason == (
        "systemd-run --user --scope")
    # Hybrid host: memory is owned by cgroup v1, a --user MemoryMax= would not be enforced.
    (fake_v2.root / "cgroup.controllers").write_text("cpu io pids\n")
    hybrid = SystemdLimiter.probe(Host(euid=1000, environ=session, **running))
    assert not hybrid.ok and "not on the cgroup v2 hierarchy" in hybrid.reason
    no_binary = SystemdLimiter.probe(Host(euid=0, systemd_dir=tmp_path / "run-systemd",
                                          which=lambda name: None))
    assert no_binary.reason == "systemd-run not on PATH"
    if not Path("/run/systemd/system").is_dir():  # this machine: installed, not running
        assert "not the running init" in SystemdLimiter.probe(Host()).reason


# -- rlimit: real children --------------------------------------------------------------


def test_rlimit_real_memory_error_over_cap_and_ok_under_it():
    limiter = choose("rlimit", 256 * MiB)
    assert limiter.caps == "virtual"
    with limiter:
        over = run_child(limiter, allocate(400))
        under = run_child(limiter, "import resource; print(resource.getrlimit("
                                   "resource.RLIMIT_AS)); " + allocate(20))
        reading = limiter.read()
    assert over.returncode == 1 and "MemoryError" in over.stderr
    assert under.returncode == 0, under.stderr
    assert under.stdout.split("\n")[0] == str((256 * MiB, 256 * MiB))
    assert reading.peak_bytes is None and "virtual address space" in reading.details["cap"]
    assert limiter.describe()["rlimit_as"] == 256 * MiB


# -- cgroup v1: real groups on this machine ---------------------------------------------

V1 = Cgroup1Limiter.probe(Host())
needs_v1 = pytest.mark.skipif(not V1.ok, reason="cgroup v1 memory hierarchy absent or not "
                                                "writable here: %s" % V1.reason)


@needs_v1
def test_cgroup1_real_oom_kill_over_cap():
    limiter = choose("cgroup1", 64 * MiB)
    with limiter:
        leaf = limiter.path
        assert (leaf / "memory.limit_in_bytes").read_text().strip() == str(64 * MiB)
        if limiter.swap_limited:
            assert (leaf / "memory.memsw.limit_in_bytes").read_text().strip() == str(64 * MiB)
        done = run_child(limiter, allocate(200))
        reading = limiter.read()
    assert done.returncode == -9, (done.returncode, done.stderr)
    assert reading.oom_kills is not None and reading.oom_kills >= 1
    assert reading.peak_bytes is not None and reading.peak_bytes <= 64 * MiB
    assert not leaf.exists()


@needs_v1
def test_cgroup1_real_peak_under_cap():
    limiter = choose("cgroup1", 256 * MiB)
    assert limiter.caps in ("rss+swap", "rss") and limiter.why.startswith("requested: cgroup v1 at")
    with limiter:
        leaf = limiter.path
        done = run_child(limiter, allocate(20))
        reading = limiter.read()
        described = limiter.describe()
    assert done.returncode == 0 and done.stdout.strip() == str(20 * MiB)
    assert reading.oom_kills == 0
    assert 20 * MiB <= reading.peak_bytes < 256 * MiB
    assert reading.details["limit_in_bytes"] == 256 * MiB
    assert described["path"] == str(leaf) and described["limit_bytes"] == 256 * MiB
    assert not leaf.exists()


@needs_v1
def test_cgroup1_real_auto_without_limit_measures_peak():
    limiter = choose("auto", None)
    if limiter.name != "cgroup1":
        pytest.skip("auto picked %s here: %s" % (limiter.name, limiter.why))
    with limiter:
        done = run_child(limiter, allocate(20))
        reading = limiter.read()
    assert done.returncode == 0 and limiter.caps == "none"
    assert reading.peak_bytes >= 20 * MiB and reading.details["limit_in_bytes"] > 2**50


@needs_v1
@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_cgroup1_real_cleanup_kills_leftovers_on_exception(exc):
    limiter = choose("cgroup1", 128 * MiB)
    with pytest.raises(exc):
        with limiter:
            leaf = limiter.path
            proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                    preexec_fn=limiter.preexec, start_new_session=True)
            assert proc.pid in [int(p) for p in (leaf / "cgroup.procs").read_text().split()]
            raise exc()
    assert proc.wait(timeout=10) == -9
    assert not leaf.exists()
    limiter.__exit__(None, None, None)  # idempotent
    with limiter:  # and reusable: a new group per run
        assert limiter.path.exists() and limiter.path != leaf


@needs_v1
def test_cgroup1_real_preexec_outside_with_fails_closed():
    limiter = choose("cgroup1", 64 * MiB)
    with pytest.raises(subprocess.SubprocessError):
        subprocess.run([sys.executable, "-c", "pass"], preexec_fn=limiter.preexec)


@needs_v1
def test_cgroup1_real_stale_groups_removed_on_enter():
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    stale = V1.parent / ("migbench-%d-0" % (pid_max + 1))
    alive = V1.parent / ("migbench-%d-999999" % os.getppid())
    stale.mkdir()
    alive.mkdir()
    try:
        assert stale in cleanup_stale()  # no arguments: the parents of usable cgroup limiters
        assert alive.exists()
        stale.mkdir()
        with choose("cgroup1", 64 * MiB):  # entering a limiter cleans its parent too
            assert not stale.exists()
            assert alive.exists()
    finally:
        for group in (stale, alive):
            if group.exists():
                group.rmdir()


@needs_v1
def test_cgroup1_real_unprivileged_user_is_refused():
    """As `nobody` the real hierarchy is not writable: probe and choose() say so."""
    code = ("import os\n"
            "from migbench.bench.measure.limiters import choose, LimiterError\n"
            "os.setgid(65534); os.setuid(65534)\n"  # after the imports: root's home is 0700
            "try:\n    choose('cgroup1', 64 * 2**20)\n"
            "except LimiterError as e:\n    print(e)\n"
            "print(choose('auto', 64 * 2**20).name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    refusal, picked = done.stdout.splitlines()
    assert refusal == ("limiter cgroup1 is unavailable here: cannot write %s (needs root); "
                       "available: rlimit, none" % V1.parent)
    assert picked == "rlimit"


def test_reading_and_describe_shapes():
    reading = LimitReading(None, None)
    assert reading.details == {}
    limiter = choose("none", None)
    assert limiter.name == "none" and limiter.command(["a"]) == ["a"]
    with limiter:
        limiter.preexec()
    assert limiter.read().peak_bytes is None
    assert set(limiter.describe()) >= {"name", "caps", "limit_bytes", "path", "why",
                                       "swap_limited"}
