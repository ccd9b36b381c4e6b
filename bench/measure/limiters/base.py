"""What every limiter shares: the Limiter base class, its reading, its errors, the host.

The base class is also the `none` limiter (no cap, no peak), so the others only
override the hooks they need. Where any limiter looks (mounts, /proc/self/cgroup,
mkdir/rmdir) goes through a `Host`, so tests point them at a fake cgroupfs tree; the
small helpers below read that host and never raise on a missing file (None instead),
because a missing control file is an answer ("this kernel cannot tell"), not an error.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Mapping

from migbench.errors import MigbenchError

# Numbers the names of cgroup leaves and systemd scopes, unique within this process.
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
class ChildJob:
    """One child as the step means it, wherever a limiter runs it.

    On the host a limiter only wraps `argv`; a container or a VM guest also needs to
    know what to bring along: `paths` the child reads and writes (the project, the
    step's scratch files, the database's directory or socket), `read_only` ones (the
    worker scripts), the migbench `environment` its interpreter belongs to, and
    whether the database is reached over the `network` (a TCP server).
    """

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    scratch: Path  # a private directory of this step, for the limiter's own files
    paths: tuple[Path, ...] = ()
    read_only: tuple[Path, ...] = ()
    environment: Path | None = None
    network: bool = False
    interval_s: float = 0.02  # how often a sampler inside samples RSS
    timeout_s: float | None = None  # the step's time limit: a sampler inside enforces it itself
    # The step's output files: a limiter whose child writes elsewhere (a VM guest's console is
    # not its stdout) appends the child's output to these after the run.
    stdout: Path | None = None
    stderr: Path | None = None


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


# -- the base limiter ------------------------------------------------------------------


class Limiter:
    """Base: no cap at all. Subclasses override the hooks they need.

    Attributes the runner reads: name, caps, limit_bytes, why; `describe()` for the
    result record. One instance may be entered several times in a row (one group per
    run), never nested.
    """

    name: ClassVar[str] = "none"
    label: ClassVar[str] = "none"
    # True when the child runs behind a wall (a container, a VM guest): what the supervisor
    # samples outside is the runtime's process, and observed() answers from inside instead.
    inside: ClassVar[bool] = False
    # Seconds the wall may add around the child (start a container, boot a guest): the
    # supervisor outside allows that much more than the step's timeout, which the sampler
    # inside enforces on the child itself (so a timed-out child still leaves its samples).
    start_stop_allowance: ClassVar[float] = 0.0

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

    def wrap(self, job: ChildJob) -> tuple[list[str], dict[str, str]]:
        """The command line and environment to start for `job` (host limiters: command())."""
        return self.command(list(job.argv)), dict(job.env)

    def observed(self, outside):
        """What the child did, from what the supervisor saw of the started command (a
        supervisor.ChildResult). On the host that is the child itself; a container or VM
        limiter answers with what its sampler saw inside (bench/measure/worker/inside.py)."""
        return outside

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
        # Only the package knows every limiter, and it imports this module: ask it late.
        from . import _available

        others = [n for n in _available(self.host) if n not in (self.name, "none")]
        if not others:
            return "run without a memory cap"
        return "use " + " or ".join("--limiter %s" % n for n in others)
