"""How the bench caps the memory of a `migrate` child, and reads back its peak.

The 2015 failure only shows under a cap (`migrate` died in a 512 MB VM), so every
run goes through one of these limiters:

    cgroup2   memory.max (+ memory.swap.max=0)       peak: memory.peak
    cgroup1   memory.limit_in_bytes (+ memsw)         peak: memory.max_usage_in_bytes
    systemd   systemd-run --scope -p MemoryMax=...    peak: the scope's memory.peak, if found
    rlimit    RLIMIT_AS in the child                  peak: none (use wait4's ru_maxrss)
    none      nothing                                 peak: none

Usage (the runner's side):

    limiter = choose("auto", limit_bytes=512 * 2**20)
    with limiter:
        proc = subprocess.Popen(limiter.command(argv), preexec_fn=limiter.preexec, ...)
        ...wait for it...
        reading = limiter.read()

A cgroup is created per `with` block and removed on leaving it, also on errors and
Ctrl-C. Where the limiters look (mounts, /proc/self/cgroup, mkdir/rmdir) is a `Host`,
so tests can point them at a fake cgroupfs tree. Linux only, like the bench.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import resource
import shutil
import signal
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Mapping

from migbench.errors import MigbenchError
from migbench.units import format_size

NAMES = ("auto", "cgroup2", "cgroup1", "systemd", "rlimit", "none")

# Leaf groups are named after the creating process so stale ones can be recognised.
_LEAF_RE = re.compile(r"^migbench-(\d+)-(\d+)$")
_KILL_WAIT = 5.0  # seconds to wait for a killed group to empty before rmdir
_counter = itertools.count()


class LimiterError(MigbenchError):
    """A limiter cannot be used here; the message names the problem and the way out."""


@dataclass(frozen=True)
class LimitReading:
    """What the limiter saw: peak memory charged to the child and OOM kills.

    None means "this limiter cannot tell", never zero.
    """

    peak_bytes: int | None
    oom_kills: int | None
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Host:
    """Where limiters look. The default is this machine; tests pass a fake cgroupfs.

    mkdir/rmdir are injectable because the kernel populates (and drops) a cgroup's
    control files itself: a fake tree in tmp_path has to simulate that.
    """

    mounts: Path = Path("/proc/self/mounts")
    self_cgroup: Path = Path("/proc/self/cgroup")
    systemd_dir: Path = Path("/run/systemd/system")
    euid: int = field(default_factory=os.geteuid)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    which: Callable[[str], str | None] = shutil.which
    mkdir: Callable[[Path], None] = os.mkdir
    rmdir: Callable[[Path], None] = os.rmdir


@dataclass(frozen=True)
class Probe:
    """Whether a limiter can run here: `reason` says where it would, or why not."""

    ok: bool
    reason: str
    parent: Path | None = None  # the cgroup directory leaf groups are created in
    mount: Path | None = None
    swap: bool | None = None  # swap accounting seen in the parent; None = unknown yet


# -- reading the host ------------------------------------------------------------------


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _write(path: Path, text: str) -> None:
    """Write a control file. No O_CREAT: the kernel makes these files, we never do."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _unescape(field_: str) -> str:
    """/proc/self/mounts escapes spaces and friends as \\040 (octal)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field_)


def _mounts(host: Host) -> list[tuple[Path, str, set[str]]]:
    """(mount point, fstype, options) of every mount."""
    found = []
    for line in (_read(host.mounts) or "").splitlines():
        parts = line.split()
        if len(parts) >= 4:
            found.append((Path(_unescape(parts[1])), parts[2], set(parts[3].split(","))))
    return found


def _own_cgroup(host: Host, controller: str | None) -> str | None:
    """Our cgroup path from /proc/self/cgroup: v1 line naming `controller`, or v2 "0::"."""
    for line in (_read(host.self_cgroup) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if controller is None and parts[0] == "0" and parts[1] == "":
            return parts[2]
        if controller is not None and controller in parts[1].split(","):
            return parts[2]
    return None


def _under(mount: Path, cgroup_path: str) -> Path:
    return mount / cgroup_path.lstrip("/")


def _writable(path: Path) -> bool:
    """Write permission for our *effective* ids (plain os.access checks the real ones)."""
    return os.access(path, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _procs(group: Path) -> list[int]:
    return [int(p) for p in (_read(group / "cgroup.procs") or "").split() if p.isdigit()]


def cleanup_stale(parent: Path | None = None, host: Host | None = None) -> list[Path]:
    """Remove `migbench-<pid>-<n>` groups left by a migbench killed with SIGKILL.

    Only empty groups whose creating pid is gone: a live migbench (ours or another
    run's) and a group still holding processes are left alone. Cheap: one listdir per
    parent (`parent`, or those of the usable cgroup limiters). Returns what it removed.
    """
    host = host or Host()
    if parent is None:
        parents = {p.parent for p in (Cgroup2Limiter.probe(host), Cgroup1Limiter.probe(host))
                   if p.ok and p.parent is not None}
        return [gone for each in sorted(parents) for gone in cleanup_stale(each, host)]
    removed = []
    try:
        entries = sorted(parent.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _LEAF_RE.match(entry.name)
        if not match or _pid_alive(int(match.group(1))) or _procs(entry):
            continue
        try:
            host.rmdir(entry)
        except OSError:
            continue  # busy or raced with someone else: try again next run
        removed.append(entry)
    return removed


# -- limiters --------------------------------------------------------------------------


class Limiter:
    """Base: no cap at all. Subclasses override the hooks they need.

    Attributes the runner reads: name, caps, limit_bytes, why; `describe()` for the
    result record. One instance may be entered several times in a row (one group per
    run), never nested.
    """

    name: ClassVar[str] = "none"
    label: ClassVar[str] = "none"

    def __init__(self, limit_bytes: int | None, why: str, probe: Probe | None = None,
                 host: Host | None = None):
        self.limit_bytes = limit_bytes
        self.why = why
        self.host = host or Host()
        self.probe_result = probe or Probe(True, "no limit")
        self.path: Path | None = None  # the live cgroup, between __enter__ and __exit__
        self.swap_limited: bool | None = None
        self._final: LimitReading | None = None

    @classmethod
    def probe(cls, host: Host) -> Probe:
        return Probe(True, "no limit")

    @property
    def caps(self) -> str:
        return "none"

    def command(self, argv: list[str]) -> list[str]:
        """The command line to start: `argv` itself, or wrapped (systemd-run)."""
        return list(argv)

    def preexec(self) -> None:
        """Runs in the forked child before exec. Must stay fork-safe: no logging, no locks."""

    def read(self) -> LimitReading:
        """Peak and OOM kills of the current (or, after the with block, the last) run."""
        return LimitReading(None, None, {"peak": "not measured by this limiter"})

    def describe(self) -> dict:
        """What the result record stores about the cap."""
        return {
            "name": self.name,
            "caps": self.caps,
            "limit_bytes": self.limit_bytes,
            "path": str(self.path) if self.path else None,
            "why": self.why,
            "swap_limited": self.swap_limited,
        }

    def __enter__(self) -> Limiter:
        return self

    def __exit__(self, *exc_info) -> None:
        return None

    def _alternatives(self) -> str:
        """"use --limiter systemd or --limiter rlimit": the other limiters usable here."""
        others = [n for n in _available(self.host) if n not in (self.name, "none")]
        if not others:
            return "run without a memory cap"
        return "use " + " or ".join("--limiter %s" % n for n in others)


class RlimitLimiter(Limiter):
    """RLIMIT_AS in the child: works anywhere, but caps virtual address space, not RSS.

    Python maps far more than it touches (arenas, thread stacks, shared libraries), so
    a run that fits in 512 MB of RSS can fail under a 512 MB RLIMIT_AS: its numbers are
    not comparable to a cgroup's. Allocation failures surface as MemoryError, not a kill.
    """

    name = "rlimit"
    label = "rlimit"

    @classmethod
    def probe(cls, host: Host) -> Probe:
        return Probe(True, "RLIMIT_AS (caps virtual address space, not RSS)")

    @property
    def caps(self) -> str:
        return "virtual" if self.limit_bytes else "none"

    def __init__(self, limit_bytes: int | None, why: str, probe: Probe | None = None,
                 host: Host | None = None):
        super().__init__(limit_bytes, why, probe, host)
        self._rlimit: tuple[int, int] | None = None

    def __enter__(self) -> RlimitLimiter:
        """Compute the limit here, not in the child: soft and hard, never above our hard."""
        self._rlimit = None
        if self.limit_bytes:
            hard = resource.getrlimit(resource.RLIMIT_AS)[1]
            value = self.limit_bytes if hard == resource.RLIM_INFINITY else min(
                self.limit_bytes, hard)
            self._rlimit = (value, value)
        return self

    def preexec(self) -> None:
        if self._rlimit is not None:
            resource.setrlimit(resource.RLIMIT_AS, self._rlimit)
        elif self.limit_bytes:
            raise RuntimeError("preexec called outside the limiter's with block")

    def read(self) -> LimitReading:
        return LimitReading(None, None, {
            "peak": "not measured: use ru_maxrss from wait4",
            "cap": "RLIMIT_AS caps virtual address space, not RSS; exceeding it raises "
                   "MemoryError in the child instead of an OOM kill",
        })

    def describe(self) -> dict:
        return dict(super().describe(), rlimit="RLIMIT_AS",
                    rlimit_as=self._rlimit[0] if self._rlimit else None)


class _CgroupLimiter(Limiter):
    """Shared life cycle of the two cgroup limiters: create a leaf, join it, read, remove."""

    def __init__(self, limit_bytes: int | None, why: str, probe: Probe | None = None,
                 host: Host | None = None):
        super().__init__(limit_bytes, why, probe, host)
        self._join: bytes | None = None  # path of cgroup.procs, precomputed for preexec

    @property
    def caps(self) -> str:
        """Exact once entered; before, what the parent's files promise ("rss" if unsure)."""
        if not self.limit_bytes:
            return "none"
        swap = self.swap_limited if self.swap_limited is not None else self.probe_result.swap
        return "rss+swap" if swap else "rss"

    def describe(self) -> dict:
        return dict(super().describe(), parent=str(self.probe_result.parent),
                    mount=str(self.probe_result.mount))

    def __enter__(self) -> _CgroupLimiter:
        if self.path is not None:
            raise RuntimeError("%s limiter entered twice" % self.name)
        parent = self.probe_result.parent
        assert parent is not None
        cleanup_stale(parent, self.host)
        self._final = None
        try:
            self._prepare_parent(parent)
            self.path = self._make_leaf(parent)
            self._configure(self.path)
        except BaseException:
            self._remove()
            raise
        self._join = os.fsencode(self.path / "cgroup.procs")
        return self

    def __exit__(self, *exc_info) -> None:
        if self.path is None:
            return
        try:
            self._final = self._read_group(self.path)
        except OSError:
            self._final = None
        self._remove()

    def preexec(self) -> None:
        if self._join is None:
            raise RuntimeError("preexec called outside the limiter's with block")
        fd = os.open(self._join, os.O_WRONLY)
        try:
            os.write(fd, b"%d" % os.getpid())
        finally:
            os.close(fd)

    def read(self) -> LimitReading:
        if self.path is not None:
            return self._read_group(self.path)
        if self._final is not None:
            return self._final
        raise RuntimeError("read() before the limiter's with block")

    def _make_leaf(self, parent: Path) -> Path:
        """mkdir migbench-<pid>-<n>, skipping names a previous process with our pid left."""
        while True:
            leaf = parent / ("migbench-%d-%d" % (os.getpid(), next(_counter)))
            try:
                self.host.mkdir(leaf)
                return leaf
            except FileExistsError:
                continue
            except OSError as exc:
                fix = self._alternatives()
                if exc.errno in (errno.EACCES, errno.EPERM):
                    fix = "run as root, or " + fix
                raise LimiterError("cannot create cgroup %s: %s; %s"
                                   % (leaf, exc.strerror, fix)) from None

    def _set(self, path: Path, value: str) -> None:
        try:
            _write(path, value)
        except OSError as exc:
            raise LimiterError("cannot write %r to %s: %s; %s"
                               % (value, path, exc.strerror, self._alternatives())) from None

    def _remove(self) -> None:
        """Kill whatever is left in the group, wait for it to empty, rmdir. Idempotent."""
        path, self.path, self._join = self.path, None, None
        if path is None or not path.exists():
            return
        deadline = time.monotonic() + _KILL_WAIT
        while True:
            pids = _procs(path)
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        while True:
            try:
                self.host.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError as exc:
                if exc.errno == errno.EBUSY and time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
                # Never mask the run's own outcome; the next run's cleanup_stale retries.
                warnings.warn("could not remove cgroup %s: %s; remove it with `rmdir %s`"
                              % (path, exc.strerror, path), RuntimeWarning, stacklevel=3)
                return

    # Hooks for the two versions.
    def _prepare_parent(self, parent: Path) -> None:
        pass

    def _configure(self, leaf: Path) -> None:
        raise NotImplementedError

    def _read_group(self, leaf: Path) -> LimitReading:
        raise NotImplementedError


def _int(path: Path) -> int | None:
    text = _read(path)
    try:
        return int(text.strip()) if text is not None else None
    except ValueError:
        return None


def _keyed(path: Path) -> dict[str, int]:
    """"key value" lines (memory.events, memory.oom_control) as a dict."""
    values = {}
    for line in (_read(path) or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    return values


class Cgroup2Limiter(_CgroupLimiter):
    """cgroup v2: memory.max, memory.swap.max=0, peak from memory.peak (Linux >= 5.19)."""

    name = "cgroup2"
    label = "cgroup v2"

    @classmethod
    def probe(cls, host: Host) -> Probe:
        mounts = [m for m in _mounts(host) if m[1] == "cgroup2"]
        if not mounts:
            return Probe(False, "no cgroup2 mount in %s" % host.mounts)
        # Prefer the unified mount at /sys/fs/cgroup over a hybrid /sys/fs/cgroup/unified.
        mount = next((m[0] for m in mounts if m[0] == Path("/sys/fs/cgroup")), mounts[0][0])
        own = _own_cgroup(host, None) or "/"
        parent = mount if host.euid == 0 else _under(mount, own)
        if not parent.is_dir():
            return Probe(False, "our cgroup %s does not exist" % parent)
        controllers = (_read(parent / "cgroup.controllers") or "").split()
        if "memory" not in controllers:
            hint = (": it is bound to the cgroup v1 hierarchy"
                    if any(m[1] == "cgroup" and "memory" in m[2] for m in _mounts(host)) else "")
            return Probe(False, "no memory controller in %s%s"
                         % (parent / "cgroup.controllers", hint))
        if not _writable(parent) or not _writable(parent / "cgroup.subtree_control"):
            return Probe(False, "cannot write %s (not root and not delegated to us)" % parent)
        enabled = (_read(parent / "cgroup.subtree_control") or "").split()
        if "memory" not in enabled and parent != mount and _procs(parent):
            return Probe(False, (
                "%s holds processes, so cgroup v2's no-internal-process rule forbids "
                "enabling the memory controller for its children" % parent))
        # The root group has no memory.swap.max; any other group has it with accounting on.
        swap = (parent / "memory.swap.max").exists() if parent != mount else None
        return Probe(True, "cgroup v2 at %s" % parent, parent=parent, mount=mount, swap=swap)

    def _prepare_parent(self, parent: Path) -> None:
        control = parent / "cgroup.subtree_control"
        if "memory" in (_read(control) or "").split():
            return
        try:
            _write(control, "+memory")
        except OSError as exc:
            rule = (" (no-internal-process rule: a group holding processes cannot enable "
                    "controllers for its children)" if exc.errno == errno.EBUSY else "")
            raise LimiterError(
                "cannot enable the memory controller in %s: %s%s; run migbench as root "
                "(sudo), or %s" % (control, exc.strerror, rule, self._alternatives())) from None

    def _configure(self, leaf: Path) -> None:
        if self.limit_bytes:
            self._set(leaf / "memory.max", str(self.limit_bytes))
            self.swap_limited = (leaf / "memory.swap.max").exists()
            if self.swap_limited:
                self._set(leaf / "memory.swap.max", "0")
        if (leaf / "memory.oom.group").exists():
            self._set(leaf / "memory.oom.group", "1")  # kill the whole tree together

    def _read_group(self, leaf: Path) -> LimitReading:
        events = _keyed(leaf / "memory.events")
        peak = _int(leaf / "memory.peak")
        details: dict = {"events": events, "current": _int(leaf / "memory.current")}
        if peak is None:
            details["peak"] = "memory.peak missing (needs Linux >= 5.19)"
        else:
            details["peak"] = "memory.peak"
        if (leaf / "memory.swap.peak").exists():
            details["swap_peak"] = _int(leaf / "memory.swap.peak")
        return LimitReading(peak, events.get("oom_kill"), details)


class Cgroup1Limiter(_CgroupLimiter):
    """cgroup v1 memory controller: limit_in_bytes (+ memsw), peak max_usage_in_bytes.

    The group is created under our own memory cgroup (inside a container that is the
    only place we may write), then removed.
    """

    name = "cgroup1"
    label = "cgroup v1"

    @classmethod
    def probe(cls, host: Host) -> Probe:
        mounts = [m for m in _mounts(host) if m[1] == "cgroup" and "memory" in m[2]]
        if not mounts:
            return Probe(False, "no cgroup v1 memory mount in %s" % host.mounts)
        mount, _, options = mounts[0]
        if "ro" in options:
            return Probe(False, "%s is mounted read-only" % mount)
        own = _own_cgroup(host, "memory")
        parent = _under(mount, own) if own else mount
        if not parent.is_dir():
            parent = mount  # our path is not visible in this mount (bind of a subtree)
        if not _writable(parent):
            return Probe(False, "cannot write %s (needs root)" % parent)
        swap = (parent / "memory.memsw.limit_in_bytes").exists()
        return Probe(True, "cgroup v1 at %s" % parent, parent=parent, mount=mount, swap=swap)

    def _configure(self, leaf: Path) -> None:
        memsw = leaf / "memory.memsw.limit_in_bytes"
        if self.limit_bytes:
            self._set(leaf / "memory.limit_in_bytes", str(self.limit_bytes))
            # memsw (memory + swap) must be >= the memory limit; equal means no swap.
            self.swap_limited = memsw.exists()
            if self.swap_limited:
                self._set(memsw, str(self.limit_bytes))
            try:
                _write(leaf / "memory.swappiness", "0")
            except OSError:
                pass  # refused e.g. when use_hierarchy ties it to the parent's

    def _read_group(self, leaf: Path) -> LimitReading:
        oom = _keyed(leaf / "memory.oom_control")
        details: dict = {
            "peak": "memory.max_usage_in_bytes (includes page cache)",
            "max_usage_in_bytes": _int(leaf / "memory.max_usage_in_bytes"),
            "memsw_max_usage_in_bytes": _int(leaf / "memory.memsw.max_usage_in_bytes"),
            "failcnt": _int(leaf / "memory.failcnt"),
            "memsw_failcnt": _int(leaf / "memory.memsw.failcnt"),
            "limit_in_bytes": _int(leaf / "memory.limit_in_bytes"),
            "under_oom": oom.get("under_oom"),
        }
        if "oom_kill" not in oom:
            details["oom"] = "memory.oom_control has no oom_kill line (needs Linux >= 4.13)"
        return LimitReading(details["max_usage_in_bytes"], oom.get("oom_kill"), details)


class SystemdLimiter(Limiter):
    """`systemd-run --scope`: systemd makes the cgroup, for users without cgroup rights.

    With --scope systemd-run execs the command in place, so the Popen child's pid is the
    command's. The scope (and its cgroup) is gone once the command exits, so a peak is
    only found while it lives; otherwise None and the runner keeps ru_maxrss.
    """

    name = "systemd"
    label = "systemd"

    def __init__(self, limit_bytes: int | None, why: str, probe: Probe | None = None,
                 host: Host | None = None):
        super().__init__(limit_bytes, why, probe, host)
        self.unit: str | None = None

    @classmethod
    def probe(cls, host: Host) -> Probe:
        if not host.systemd_dir.is_dir():
            return Probe(False, "systemd is not the running init (%s missing)"
                         % host.systemd_dir)
        if not host.which("systemd-run"):
            return Probe(False, "systemd-run not on PATH")
        if host.euid != 0:
            runtime = Path(host.environ.get("XDG_RUNTIME_DIR") or "/nonexistent")
            if not ((runtime / "systemd" / "private").exists() or (runtime / "bus").exists()):
                return Probe(False, "no systemd user instance for --user (log in through a "
                                    "systemd session, or run as root)")
            # Delegation to user managers exists on cgroup v2 only: on a v1/hybrid host
            # MemoryMax= of a --user scope would be accepted and silently not enforced.
            v2 = [m[0] for m in _mounts(host) if m[1] == "cgroup2"]
            if not any("memory" in (_read(m / "cgroup.controllers") or "").split() for m in v2):
                return Probe(False, "a --user scope cannot get the memory controller: it "
                                    "is not on the cgroup v2 hierarchy here")
            return Probe(True, "systemd-run --user --scope")
        return Probe(True, "systemd-run --scope")

    @property
    def user(self) -> bool:
        return self.host.euid != 0

    @property
    def caps(self) -> str:
        return "rss+swap" if self.limit_bytes else "none"

    def __enter__(self) -> SystemdLimiter:
        self.unit = "migbench-%d-%d" % (os.getpid(), next(_counter))
        self.swap_limited = True if self.limit_bytes else None
        return self

    def __exit__(self, *exc_info) -> None:
        self.unit = None

    def command(self, argv: list[str]) -> list[str]:
        unit = self.unit or "migbench-%d-%d" % (os.getpid(), next(_counter))
        cmd = ["systemd-run", "--scope", "--quiet", "--collect"]
        if self.user:
            cmd.append("--user")
        cmd += ["--unit", unit]
        if self.limit_bytes:
            cmd += ["-p", "MemoryMax=%d" % self.limit_bytes, "-p", "MemorySwapMax=0"]
        return cmd + ["--"] + list(argv)

    def scope_dirs(self) -> list[Path]:
        """Where systemd puts the scope's cgroup on a unified (v2) hierarchy."""
        mounts = [m[0] for m in _mounts(self.host) if m[1] == "cgroup2"]
        if not mounts or not self.unit:
            return []
        scope = self.unit + ".scope"
        uid = self.host.euid
        if self.user:
            return [m / ("user.slice/user-%d.slice/user@%d.service/app.slice" % (uid, uid))
                    / scope for m in mounts]
        return [m / "system.slice" / scope for m in mounts]

    def read(self) -> LimitReading:
        for scope in self.scope_dirs():
            peak = _int(scope / "memory.peak")
            if peak is not None:
                events = _keyed(scope / "memory.events")
                return LimitReading(peak, events.get("oom_kill"),
                                    {"peak": "memory.peak of %s" % scope, "events": events})
        return LimitReading(None, None, {
            "peak": "not measured: the scope's cgroup is removed when its process exits; "
                    "use ru_maxrss from wait4",
        })

    def describe(self) -> dict:
        return dict(super().describe(), unit=self.unit, user=self.user)


_CLASSES: dict[str, type[Limiter]] = {
    "cgroup2": Cgroup2Limiter,
    "cgroup1": Cgroup1Limiter,
    "systemd": SystemdLimiter,
    "rlimit": RlimitLimiter,
    "none": Limiter,
}
# A cgroup first: it caps RSS and its peak counter is the most honest peak. Without a
# cap only the cgroups are worth it (for the peak); systemd's scope vanishes too early.
_AUTO_CAPPED = ("cgroup2", "cgroup1", "systemd", "rlimit")
_AUTO_UNCAPPED = ("cgroup2", "cgroup1", "none")


def _available(host: Host) -> list[str]:
    return [name for name, cls in _CLASSES.items() if cls.probe(host).ok]


def choose(name: str = "auto", limit_bytes: int | None = None, *,
           host: Host | None = None) -> Limiter:
    """The limiter to use: `name` if it works here (else LimiterError), or auto's pick.

    Nothing is created yet; that happens on entering the returned limiter.
    """
    host = host or Host()
    if name not in NAMES:
        raise LimiterError("unknown limiter %r; choose one of %s" % (name, ", ".join(NAMES)))
    if limit_bytes is not None and limit_bytes <= 0:
        raise LimiterError("bad memory limit %r: give a positive size, e.g. 512M, or none"
                           % limit_bytes)
    if name == "none" and limit_bytes:
        raise LimiterError(
            "--limiter none cannot cap memory at %s; drop the cap, or use one of: %s"
            % (format_size(limit_bytes),
               ", ".join(n for n in _available(host) if n != "none")))
    if name != "auto":
        cls = _CLASSES[name]
        probe = cls.probe(host)
        if not probe.ok:
            raise LimiterError("limiter %s is unavailable here: %s; available: %s"
                               % (name, probe.reason, ", ".join(_available(host))))
        why = "requested: %s" % probe.reason
        if not limit_bytes:
            why += " (no limit set)"
        return cls(limit_bytes, why, probe, host)
    skipped = []
    for candidate in (_AUTO_CAPPED if limit_bytes else _AUTO_UNCAPPED):
        cls = _CLASSES[candidate]
        probe = cls.probe(host)
        if probe.ok:
            if candidate == "none":
                chosen = "no limit requested and no cgroup to measure the peak: none"
            elif not limit_bytes:
                chosen = "no limit requested; using %s for its peak counter" % probe.reason
            else:
                chosen = "using %s" % probe.reason
            return cls(limit_bytes, "; ".join(skipped + [chosen]), probe, host)
        skipped.append("%s unavailable (%s)" % (cls.label, probe.reason))
    raise AssertionError("rlimit and none are always available")
