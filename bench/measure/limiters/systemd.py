"""The systemd limiter: `systemd-run --scope` makes the cgroup, not us.

For users without cgroup rights: systemd may create a scope where we may not (a --user
scope of a logged-in user on a cgroup v2 host), so `auto` tries it after the cgroups
and before rlimit. The scope vanishes with its process, so its peak is read only while
it lives; without a cap it is of no use and `auto` skips it.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import Host, Limiter, LimitReading, Probe, _counter, _int, _keyed, _mounts, _read


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
