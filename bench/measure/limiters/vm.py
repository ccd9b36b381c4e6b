"""The VM limiter: the child runs in a QEMU guest whose RAM is the cap, the 2015 setup.

The 2015 crash happened in a 512 MB VirtualBox VM with no swap. There the
guest kernel decides what a process sees when memory runs out: its OOM
killer, a MemoryError when one allocation cannot be had, or the
`Segmentation fault` of the report. A host cgroup caps the same bytes but
keeps the host's kernel and page cache; only a guest shows what a small
machine does. So each step boots a guest (bench/guests/vm.py) with exactly
CAP of RAM and no swap, on KVM where it works and TCG (software emulation,
10-15x slower) otherwise, and the record says which.

The environment, its interpreter, the project, the worker scripts and the
database's directory are 9p shares at the paths they have on the host, so
the child's argv is the host's. Inside, worker/inside.py samples the child
(the timeline and the peak come from inside the guest); the guest's kernel
log tells whether its OOM killer killed anything. The guest's own kernel and
init take some of CAP, as an OS did in 2015: the record keeps how much the
guest saw (MemTotal).

Side effects: wrap() may build the guest image (once, cached); each step
boots and powers off one guest.
"""

from __future__ import annotations

import os
import re
import shutil

from migbench.bench.guests import images, vm

from . import walled
from .base import ChildJob, Host, Limiter, LimiterError, LimitReading, Probe

# The guest kernel's words when its OOM killer ends a process (mm/oom_kill.c).
_OOM_KILL = re.compile(r"Out of memory: Killed process|oom-kill:|Killed process \d+")


class VmLimiter(Limiter):
    """One QEMU guest per step, booted with the cap as its RAM."""

    name = "vm"
    label = "vm"
    inside = True
    start_stop_allowance = 300.0  # seconds: boot a guest under TCG, power it off

    def __init__(self, limit_bytes, why, probe=None, host=None):
        super().__init__(limit_bytes, why, probe, host)
        self.image: vm.GuestImage | None = None
        self.accel: tuple[str, str] | None = None
        self._job_dir = self._job = None
        self._summary: dict | None = None
        self._run = None
        self._facts: dict = {}

    @classmethod
    def probe(cls, host: Host) -> Probe:
        reason = vm.unavailable()
        if reason:
            return Probe(False, reason)
        return Probe(True, "a QEMU guest per run with the cap as its RAM, no swap")

    @property
    def caps(self) -> str:
        return "guest-ram" if self.limit_bytes else "none"

    def __enter__(self) -> VmLimiter:
        self._job_dir = self._summary = self._run = None
        self._facts = {}
        self.swap_limited = True  # the guest has no swap device
        return self

    def wrap(self, job: ChildJob) -> tuple[list[str], dict[str, str]]:
        if job.environment is None:
            raise LimiterError("--limiter vm runs migbench's own environments only (they are shared with "
                               "the guest); this child's interpreter is not one")
        if job.network:
            raise LimiterError("--limiter vm has no network: use SQLite, or an embedded server with "
                               "--limiter docker; a server URL over TCP cannot be reached from the guest")
        if any(path.is_socket() for base in job.paths for path in _sockets(base)):
            raise LimiterError("--limiter vm cannot reach a database server's Unix socket through the "
                               "guest's 9p shares: use --database sqlite with --limiter vm")
        self.image = vm.ensure_guest_image()
        self.accel = vm.accel()
        self._job = job
        self._job_dir = job.scratch / "guest"
        self._job_dir.mkdir()
        read_only = walled.outermost(list(job.read_only) + [job.environment]
                                     + images.interpreter_dirs(job.environment))
        writable = [p for p in walled.outermost(job.paths) if p not in read_only]
        shares = [vm.Share(p, read_only=False) for p in writable] + [vm.Share(p, read_only=True)
                                                                     for p in read_only]
        summary = self._job_dir / walled.SUMMARY
        argv = walled.sampler_argv(job.argv[0], summary, list(job.argv), job.interval_s, cgroup=False,
                                   timeout_s=job.timeout_s)
        vm.write_job(self._job_dir, argv=argv, env=walled.own_env(dict(job.env)), cwd=job.cwd, shares=shares)
        command = vm.qemu_argv(self.image, memory_bytes=self.limit_bytes, job_dir=self._job_dir,
                               shares=shares, accel=self.accel[0])
        return command, dict(os.environ)

    def observed(self, outside):
        if self._job_dir is None:
            return outside
        self._summary = walled.read_summary(self._job_dir / walled.SUMMARY)
        self._run = vm.read_job(self._job_dir)
        for name, target in (("stdout.txt", self._job.stdout), ("stderr.txt", self._job.stderr)):
            if target is not None and (self._job_dir / name).is_file():
                with open(self._job_dir / name, "rb") as source, open(target, "ab") as sink:
                    shutil.copyfileobj(source, sink)
        self._facts = walled.facts(self._summary, outside)
        return walled.child_result(self._summary, outside)

    def read(self) -> LimitReading:
        run = self._run
        kills = [line for line in (run.kmsg if run else "").splitlines() if _OOM_KILL.search(line)]
        oom = len([line for line in kills if "Killed process" in line]) if run and run.kmsg else None
        details = dict(self._facts,
                       accel=self.accel[0] if self.accel else None,
                       accel_why=self.accel[1] if self.accel else None,
                       guest=run.guest if run else None,
                       guest_exit_status=run.exit_status if run else None,
                       guest_why=run.why if run else None,
                       boot_s=run.boot_seconds if run else None,
                       guest_run_s=run.run_seconds if run else None,
                       guest_kernel_oom=kills[:6],
                       console_tail=None if (run is None or self._summary) else run.console_tail,
                       peak="sampled inside the guest (RSS of the child's tree); the guest has no cgroup")
        return LimitReading(None, oom, details)

    def describe(self) -> dict:
        image = self.image
        return dict(super().describe(), accel=self.accel[0] if self.accel else None,
                    guest_image=image.digest if image else None,
                    guest_kernel=(image.details or {}).get("kernel") if image else None)


def _sockets(base):
    """Unix sockets directly in `base` (a server's socket directory), if it is a directory."""
    try:
        return list(base.iterdir()) if base.is_dir() else []
    except OSError:
        return []
