"""The container limiters: the child runs in a Docker or Podman container capped at CAP.

Teams run `migrate` in CI containers; a container's cap is its runtime's
cgroup, set by `--memory CAP --memory-swap CAP` (swap equal to memory: no
swap, the 2015 VM had none). The container has no network (`--network none`)
unless the database is a TCP server; SQLite files and Unix sockets come in as
bind mounts at the paths they have on the host, and the environment is built
into the image (bench/guests/images.py), so the child's argv is the host's.

What the runtime reports is not trusted alone: Podman says OOMKilled=false even
when the kernel killed the child. The sampler inside (worker/inside.py) reads
the container's own cgroup after the child exits, which is where its OOM kill
is counted, and its peak charged; `docker inspect`'s OOMKilled is a second
opinion kept in the record. Chosen explicitly only: `auto` never picks these.

Side effects: entering removes the containers of dead migbench processes
(`cleanup_stale`) and names a container; wrap() may build an image (once per
environment, cached by the runtime); leaving removes the container.
"""

from __future__ import annotations

import os
import re
from typing import ClassVar

from migbench.bench.guests import images, runtime

from . import walled
from .base import ChildJob, Host, Limiter, LimiterError, LimitReading, Probe, _counter
from .cgroup import _pid_alive

_NAME = re.compile(r"^migbench-(\d+)-\d+$")  # containers are named after the migbench that ran them


class ContainerLimiter(Limiter):
    """A container of `runtime_name` per step, removed when the step ends."""

    runtime_name: ClassVar[str]
    inside = True
    start_stop_allowance = 60.0  # seconds: start and remove a container

    def __init__(self, limit_bytes, why, probe=None, host=None):
        super().__init__(limit_bytes, why, probe, host)
        self.runtime = runtime.get(self.runtime_name)
        self.container: str | None = None
        self.image: images.Image | None = None
        self._summary_path = None
        self._summary: dict | None = None
        self._state: dict = {}
        self._facts: dict = {}

    @classmethod
    def probe(cls, host: Host) -> Probe:
        reason = runtime.get(cls.runtime_name).unavailable()
        if reason:
            return Probe(False, reason)
        return Probe(True, "a %s container per run (--memory and --memory-swap at the cap: no swap)"
                     % cls.runtime_name)

    @property
    def caps(self) -> str:
        return "rss+swap" if self.limit_bytes else "none"

    def __enter__(self) -> ContainerLimiter:
        cleanup_stale(self.runtime)
        self.container = "migbench-%d-%d" % (os.getpid(), next(_counter))
        self.image = None
        self._summary_path = self._summary = None
        self._state, self._facts = {}, {}
        self.swap_limited = True if self.limit_bytes else None  # --memory-swap = --memory
        return self

    def __exit__(self, *exc_info) -> None:
        if self.container:
            self.runtime.remove(self.container)

    def wrap(self, job: ChildJob) -> tuple[list[str], dict[str, str]]:
        if job.environment is None:
            raise LimiterError("--limiter %s runs migbench's own environments only (the image is built "
                               "from one); this child's interpreter is not one" % self.name)
        self.image = images.ensure_image(self.runtime, job.environment)
        argv = [self.image.python] + list(job.argv[1:])
        self._summary_path = job.scratch / walled.SUMMARY
        env_file = job.scratch / "container.env"
        env_file.write_text("".join("%s=%s\n" % item for item in sorted(walled.own_env(dict(job.env)).items())))
        command = [self.runtime.binary, "run", "--name", self.container,
                   "--network", "host" if job.network else "none",
                   "--user", "%d:%d" % (os.getuid(), os.getgid()),
                   "--workdir", str(job.cwd), "--env-file", str(env_file)]
        command += self.runtime.run_flags()
        if self.limit_bytes:
            command += ["--memory", str(self.limit_bytes), "--memory-swap", str(self.limit_bytes)]
        read_only = walled.outermost(job.read_only)
        for path in walled.outermost(list(job.paths) + read_only):
            mode = ":ro" if path in read_only else ""
            command += ["--volume", "%s:%s%s" % (path, path, mode)]
        command.append(self.image.tag)
        command += walled.sampler_argv(self.image.python, self._summary_path, argv, job.interval_s,
                                       cgroup=True, timeout_s=job.timeout_s)
        return command, dict(os.environ)

    def observed(self, outside):
        self._state = self.runtime.state(self.container) if self.container else {}
        self._summary = walled.read_summary(self._summary_path) if self._summary_path else None
        self._facts = walled.facts(self._summary, outside)
        return walled.child_result(self._summary, outside)

    def read(self) -> LimitReading:
        group = (self._summary or {}).get("cgroup") or {}
        oom = group.get("oom_kills")
        if oom is None and self._state.get("OOMKilled"):
            oom = 1
        details = dict(self._facts, runtime=self.runtime.name, cgroup=group,
                       runtime_state={k: self._state.get(k) for k in ("ExitCode", "OOMKilled", "Error")},
                       peak="the container's cgroup: the child, the sampler and their page cache")
        return LimitReading(walled.limit_or_none(group.get("peak_bytes")), oom, details)

    def describe(self) -> dict:
        image = self.image
        return dict(super().describe(), runtime=self.runtime.name, container=self.container,
                    image=image.tag if image else None, image_source=image.source if image else None,
                    image_digest=image.digest if image else None)


def cleanup_stale(engine) -> list[str]:
    """Remove containers left by a migbench that was killed (SIGKILL: no __exit__ ran): those named
    migbench-<pid>-<n> whose <pid> is no longer alive. A live migbench's containers stay."""
    removed = []
    for name in engine.containers("migbench-"):
        match = _NAME.match(name)
        if match and not _pid_alive(int(match.group(1))):
            engine.remove(name)
            removed.append(name)
    return removed


class DockerLimiter(ContainerLimiter):
    name = "docker"
    label = "docker"
    runtime_name = "docker"


class PodmanLimiter(ContainerLimiter):
    name = "podman"
    label = "podman"
    runtime_name = "podman"
