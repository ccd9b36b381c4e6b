"""The cgroup limiters (v2 and v1): a leaf group per run, capped, joined, read, removed.

A cgroup is the only limiter that caps RSS and reads an honest peak, so `auto` tries
these first. Both versions share one life cycle (`_CgroupLimiter`): on entering, clean
the parent of stale groups, create `migbench-<pid>-<n>`, write the cap; the child joins
in preexec; on leaving (also on errors and Ctrl-C) kill what is left and rmdir. The
leaf is named after the creating process so `cleanup_stale` can tell a group left by a
migbench killed with SIGKILL from one a live run is using. Only the control files
differ between the versions: those are the hooks of Cgroup2Limiter and Cgroup1Limiter.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import time
import warnings
from pathlib import Path

from .base import Host, Limiter, LimiterError, LimitReading, Probe, _counter, _int, _keyed, _mounts, _read

# Leaf groups are named after the creating process so stale ones can be recognised.
_LEAF_RE = re.compile(r"^migbench-(\d+)-(\d+)$")
_KILL_WAIT = 5.0  # seconds to wait for a killed group to empty before rmdir


# -- the cgroup filesystem -------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    """Write a control file. No O_CREAT: the kernel makes these files, we never do."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


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


# -- the limiters ----------------------------------------------------------------------


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
