"""How the bench caps the memory of a `migrate` child, and reads back its peak.

The 2015 failure only shows under a cap (`migrate` died in a 512 MB VM), so every
run goes through one of these limiters:

    cgroup2   memory.max (+ memory.swap.max=0)       peak: memory.peak
    cgroup1   memory.limit_in_bytes (+ memsw)         peak: memory.max_usage_in_bytes
    systemd   systemd-run --scope -p MemoryMax=...    peak: the scope's memory.peak, if found
    rlimit    RLIMIT_AS in the child                  peak: none (use wait4's ru_maxrss)
    none      nothing                                 peak: none
    docker    a container, --memory = --memory-swap   peak: the container's cgroup, read inside
    podman    the same with Podman                    peak: the container's cgroup, read inside
    vm        a QEMU guest whose RAM is the cap       peak: sampled inside the guest

The last three run the child behind a wall (a container runtime, a guest
kernel) and observe it from inside (worker/inside.py); `auto` never picks them:
they cost an image build and seconds per run, and answer another question (what
a container or a 512 MB machine does to migrate, not only how much it needs).

Usage (the runner's side):

    limiter = choose("auto", limit_bytes=512 * 2**20)
    with limiter:
        proc = subprocess.Popen(limiter.command(argv), preexec_fn=limiter.preexec, ...)
        ...wait for it...
        reading = limiter.read()

A cgroup is created per `with` block and removed on leaving it, also on errors and
Ctrl-C. Where the limiters look (mounts, /proc/self/cgroup, mkdir/rmdir) is a `Host`,
so tests can point them at a fake cgroupfs tree. Linux only, like the bench.

Side effects: entering a cgroup limiter creates a cgroup (and may enable the memory
controller in its parent) and leaving removes it; entering also removes the stale
groups of dead migbench runs from that parent (`cleanup_stale`). `choose()` itself
only probes: it reads the host and creates nothing.

One module per mechanism, this package's face on top:

    base      Limiter (also the `none` limiter), LimitReading, LimiterError, Host, Probe
    cgroup    the shared cgroup life cycle, Cgroup2Limiter, Cgroup1Limiter, cleanup_stale
    systemd   SystemdLimiter
    rlimit    RlimitLimiter
    walled    what the container and VM limiters share (the sampler's summary, paths, env)
    container DockerLimiter, PodmanLimiter
    vm        VmLimiter
    __init__  NAMES, choose(): which limiter, and why; re-exports the names above
"""

from __future__ import annotations

from migbench.units import format_size

from .base import ChildJob, Host, Limiter, LimiterError, LimitReading, Probe
from .cgroup import Cgroup1Limiter, Cgroup2Limiter, cleanup_stale
from .container import DockerLimiter, PodmanLimiter
from .rlimit import RlimitLimiter
from .systemd import SystemdLimiter
from .vm import VmLimiter

__all__ = [
    "NAMES", "WALLED", "choose", "cleanup_stale",
    "ChildJob", "Limiter", "LimitReading", "LimiterError", "Host", "Probe",
    "Cgroup2Limiter", "Cgroup1Limiter", "SystemdLimiter", "RlimitLimiter",
    "DockerLimiter", "PodmanLimiter", "VmLimiter",
]

NAMES = ("auto", "cgroup2", "cgroup1", "systemd", "rlimit", "none", "docker", "podman", "vm")
# Chosen by name only, and not offered as alternatives to a host limiter that is missing.
WALLED = ("docker", "podman", "vm")

_CLASSES: dict[str, type[Limiter]] = {
    "cgroup2": Cgroup2Limiter,
    "cgroup1": Cgroup1Limiter,
    "systemd": SystemdLimiter,
    "rlimit": RlimitLimiter,
    "none": Limiter,
    "docker": DockerLimiter,
    "podman": PodmanLimiter,
    "vm": VmLimiter,
}
# A cgroup first: it caps RSS and its peak counter is the most honest peak. Without a
# cap only the cgroups are worth it (for the peak); systemd's scope vanishes too early.
_AUTO_CAPPED = ("cgroup2", "cgroup1", "systemd", "rlimit")
_AUTO_UNCAPPED = ("cgroup2", "cgroup1", "none")


def _available(host: Host) -> list[str]:
    """The host limiters usable here (the walled ones are never suggested: they need a runtime)."""
    return [name for name, cls in _CLASSES.items() if name not in WALLED and cls.probe(host).ok]


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
    if name == "vm" and not limit_bytes:
        raise LimiterError("--limiter vm boots a guest whose RAM is the cap: give one, e.g. --memory 512M")
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
