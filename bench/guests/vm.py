"""The QEMU guest of the VM limiter: one job per boot, written and read through a shared directory.

The 2015 failure happened in a 512 MB VM with no swap, where the guest kernel
decided what the process saw. This module is that VM's interface for the
limiter (bench/measure/limiters/vm.py):

    ensure_guest_image()   kernel, initramfs and disk, cached (vm_image.py)
    accel()                "kvm" where it boots, else "tcg" (qemu.py)
    write_job(job_dir, argv=, env=, cwd=, shares=)   what the guest runs
    qemu_argv(image, memory_bytes=, job_dir=, shares=, accel=)   how it is booted
    read_job(job_dir) -> GuestRun                    what happened inside
    boot(...)              all of the above in one call, for `migbench vm boot-test` and tests

The job directory is shared with the guest as the 9p tag "job". The host writes
`mounts` (tag, ro|rw, path: one share a line, parents first) and `run.sh` (the
command, its environment and directory, as POSIX sh); the guest init
(guest_init.sh) writes guest.json, stdout.txt, stderr.txt, result.json,
kmsg.txt and, if it could not run the command, init-error.txt. QEMU writes
console.log (the guest's serial console).

Side effects: write_job and boot write into the job directory; boot runs QEMU.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from migbench.errors import MigbenchError

from . import qemu
from .qemu import CONSOLE, Share, accel, cached_accel, qemu_argv, qemu_binary, share_problem, tagged
from .vm_image import GuestImage, ensure_guest_image, find_guest_image, missing_tools

__all__ = ["GuestImage", "GuestRun", "Share", "accel", "boot", "cached_accel", "ensure_guest_image",
           "find_guest_image", "missing_tools", "qemu_argv", "qemu_binary", "read_job", "unavailable",
           "write_job"]

# The guest's PATH when the job's environment does not bring one, and the HOME it gets.
GUEST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GUEST_HOME = "/root"
_TAIL_LINES = 30
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc|\r")


@dataclass(frozen=True)
class GuestRun:
    """What one guest did with its job, read back from the job directory."""

    exit_status: int | None  # of the command in the guest (the shell's: 128+N if killed by signal N)
    signal: int | None  # N when exit_status is 128+N
    kmsg: str  # the guest kernel's log (dmesg) after the command: OOM kills, segfaults
    guest: dict  # guest.json: mem_total_bytes, swap_total_bytes, kernel, overcommit_memory, ...
    console_tail: str  # the last lines of the serial console
    why: str | None = None  # why exit_status is None (the guest never finished the command)
    boot_seconds: float | None = None  # guest kernel start -> command start
    run_seconds: float | None = None  # command start -> end, on the guest's clock
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)


def unavailable() -> str | None:
    """Why no guest can run here (one line with the fix), or None. A root that is not built
    yet is not a reason: ensure_guest_image() builds it, or says in one line why it cannot."""
    reason = qemu.unavailable()
    if reason is None and find_guest_image() is None and missing_tools():
        reason = ("%s missing: the guest disk is made with e2fsprogs: apt-get install e2fsprogs"
                  % " and ".join(missing_tools()))
    return reason


def write_job(job_dir: Path, *, argv: list[str], env: dict[str, str], cwd: Path, shares: list[Share]) -> None:
    """Write the job the guest runs: `argv` in `cwd` with exactly `env` (plus PATH and HOME
    if it has none), and the shares it mounts at their host paths (`job_dir` is one, always)."""
    if not argv:
        raise MigbenchError("a guest job needs a command")
    if "=" in argv[0]:
        raise MigbenchError("the guest job's program %r has '=' in its name: give its path" % argv[0])
    job_dir = Path(job_dir)
    for _, share in tagged(shares, job_dir):
        problem = share_problem(share.path)
        if problem:
            raise MigbenchError("cannot share %s with the guest: %s" % (share.path, problem))
    lines = ["%s\t%s\t%s" % (tag, "ro" if share.read_only else "rw", share.path)
             for tag, share in tagged(shares, job_dir)]
    full = {"PATH": GUEST_PATH, "HOME": GUEST_HOME}
    full.update(env)
    for key in full:
        if not key or "=" in key or "\0" in key + full[key]:
            raise MigbenchError("cannot pass the environment variable %r to the guest" % key)
    script = ["#!/bin/sh", "# written by migbench (bench/guests/vm.py: write_job); run by the guest's init",
              "cd %s || exit 125" % shlex.quote(str(cwd)),
              "exec /usr/bin/env -i \\"]
    script += ["    %s \\" % shlex.quote("%s=%s" % item) for item in sorted(full.items())]
    script.append("    " + " ".join(shlex.quote(str(arg)) for arg in argv))
    for name in ("result.json", "guest.json", "kmsg.txt", "init-error.txt", "host-error.txt", CONSOLE,
                 "stdout.txt", "stderr.txt"):
        (job_dir / name).unlink(missing_ok=True)  # a job directory used twice reads the second run
    (job_dir / "mounts").write_text("\n".join(lines) + "\n")
    (job_dir / "run.sh").write_text("\n".join(script) + "\n")


def read_job(job_dir: Path) -> GuestRun:
    """What the guest left in `job_dir`: the command's status, the kernel log, the guest's facts."""
    job_dir = Path(job_dir)
    result = _json(job_dir / "result.json")
    guest = _json(job_dir / "guest.json")
    console = _ANSI.sub("", _text(job_dir / CONSOLE))
    tail = "\n".join([line for line in console.splitlines() if line.strip()][-_TAIL_LINES:])
    status = result.get("exit_status") if isinstance(result.get("exit_status"), int) else None
    started, ended = result.get("started"), result.get("ended")
    boot_seconds = guest.get("uptime_at_command")
    return GuestRun(
        exit_status=status,
        signal=status - 128 if status is not None and 128 < status < 128 + 65 else None,
        kmsg=_text(job_dir / "kmsg.txt"), guest=guest, console_tail=tail,
        why=None if status is not None else _why(job_dir, console),
        boot_seconds=boot_seconds if isinstance(boot_seconds, (int, float)) else None,
        run_seconds=round(ended - started, 2) if isinstance(started, (int, float)) and isinstance(
            ended, (int, float)) else None,
        stdout=_text(job_dir / "stdout.txt"), stderr=_text(job_dir / "stderr.txt"))


def boot(job_dir: Path, *, argv: list[str], memory_bytes: int, shares: list[Share] = (),
         env: dict[str, str] | None = None, cwd: Path = Path("/"), image: GuestImage | None = None,
         accel_name: str | None = None, cpus: int = 1, timeout: float = 600.0) -> tuple[GuestRun, float]:
    """Run `argv` in a fresh guest and wait for it to power off: (what it did, host wall seconds).

    The limiter spawns qemu_argv() under its own supervisor; this is the plain path for
    `migbench vm boot-test` and the tests. A guest still running after `timeout` is killed."""
    image = image or ensure_guest_image()
    accel_name = accel_name or accel(image)[0]
    job_dir = Path(job_dir)
    job_dir.mkdir(parents=True, exist_ok=True)
    write_job(job_dir, argv=argv, env=dict(env or {}), cwd=cwd, shares=list(shares))
    command = qemu_argv(image, memory_bytes=memory_bytes, job_dir=job_dir, shares=list(shares),
                        accel=accel_name, cpus=cpus)
    started = time.monotonic()
    try:
        done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired:
        (job_dir / "host-error.txt").write_text("the guest was still running after %.0f s: killed" % timeout)
    else:
        (job_dir / "host-error.txt").unlink(missing_ok=True)
        if done.returncode != 0:
            (job_dir / "host-error.txt").write_text("QEMU exited with status %d: %s" % (
                done.returncode, " ".join(done.stdout.split())[-300:]))
    return read_job(job_dir), time.monotonic() - started


def _why(job_dir: Path, console: str) -> str:
    """One line: why the guest did not finish its command, from what it left behind."""
    for name in ("init-error.txt", "host-error.txt"):
        text = _text(job_dir / name).strip()
        if text:
            return text.splitlines()[0]
    lines = [line.strip() for line in console.splitlines() if line.strip()]
    for line in lines:
        if "Kernel panic" in line or "migbench-initramfs:" in line:
            return "the guest stopped: " + re.sub(r"^\[\s*[0-9.]+\]\s*", "", line)[:200]
    if not lines:
        return "the guest printed nothing on its console (QEMU did not start it, or was killed at once)"
    if (job_dir / "guest.json").exists():
        return "the guest stopped while the command ran; its console ends: %s" % lines[-1][:200]
    return "the guest stopped before the command started; its console ends: %s" % lines[-1][:200]


def _json(path: Path) -> dict:
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
