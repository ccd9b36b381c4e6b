"""Start one child under a memory limiter, sample its process tree, reap it.

The parent half of the pyperf split: the worker inside the target environment
only runs the command and writes events; everything measured from outside
(RSS of the whole tree, CPU time, exit status, the limiter's own peak) is done
here, in one thread, with no threads of our own: `preexec_fn` (how a child
joins a cgroup or takes an rlimit before exec) is only safe in a parent
without other threads, and a single loop that samples and polls `wait4` needs
none.

Peak RSS is the larger of two readings: the kernel's high-water mark of the
child (`ru_maxrss` from `wait4`, what `/usr/bin/time -v` prints) and the
largest sampled sum over the child's process tree (catches a tree of several
processes, which `ru_maxrss` reports only per process).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import psutil

DEFAULT_INTERVAL = 0.020  # seconds between RSS samples (the 20 ms)
_KILL_GRACE = 5.0


@dataclass
class ChildResult:
    """What the parent observed of one child, before any interpretation."""

    pid: int
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    wall_s: float
    cpu_user_s: float
    cpu_sys_s: float
    maxrss_bytes: int  # ru_maxrss of the child (and its reaped descendants)
    sampled_peak_bytes: int  # largest sampled RSS sum over the process tree
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, rss)
    timed_out: bool = False
    started_at: float = 0.0  # epoch seconds at spawn, to align the worker's event times

    @property
    def peak_rss_bytes(self) -> int:
        return max(self.maxrss_bytes, self.sampled_peak_bytes)

    @property
    def signal_name(self) -> str | None:
        if self.signal is None:
            return None
        try:
            return signal.Signals(self.signal).name
        except ValueError:
            return "SIG%d" % self.signal


def supervise(
    argv: Sequence[str],
    *,
    cwd: str | os.PathLike,
    env: dict[str, str],
    stdout,
    stderr,
    preexec: Callable[[], None] | None = None,
    timeout: float | None = None,
    interval: float = DEFAULT_INTERVAL,
    on_sample: Callable[[float, int], None] | None = None,
) -> ChildResult:
    """Run `argv` to completion (or timeout) and return what was observed.

    `stdout`/`stderr` are open files (the worker's output goes to disk, never
    through a pipe that could fill up and stall the measured process).
    The child gets its own session so a timeout kills the whole tree.
    KeyboardInterrupt kills the child before propagating.
    """
    started_at = time.time()
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
        preexec_fn=preexec, start_new_session=True, close_fds=True,
    )
    sampler = _TreeSampler(proc.pid)
    samples: list[tuple[float, int]] = []
    peak = 0
    timed_out = False
    status = rusage = None
    try:
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            now = time.monotonic() - started
            rss = sampler.rss()
            if rss:
                samples.append((round(now, 4), rss))
                peak = max(peak, rss)
                if on_sample is not None:
                    on_sample(now, rss)
            if timeout is not None and now > timeout:
                timed_out = True
                _kill_tree(proc.pid)
                _, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(interval)
    except BaseException:
        _kill_tree(proc.pid)
        try:
            os.wait4(proc.pid, 0)
        except ChildProcessError:
            pass
        raise
    finally:
        proc.returncode = 0  # reaped by us: stop Popen from waiting or warning
    wall = time.monotonic() - started
    return ChildResult(
        pid=proc.pid,
        exit_code=os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        signal=os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        wall_s=wall,
        cpu_user_s=rusage.ru_utime,
        cpu_sys_s=rusage.ru_stime,
        maxrss_bytes=rusage.ru_maxrss * 1024,  # Linux reports KiB
        sampled_peak_bytes=peak,
        samples=samples,
        timed_out=timed_out,
        started_at=started_at,
    )


class _TreeSampler:
    """RSS of a process and all its descendants; cheap enough for 50 Hz."""

    def __init__(self, pid: int):
        try:
            self.root = psutil.Process(pid)
        except psutil.Error:
            self.root = None

    def rss(self) -> int:
        if self.root is None:
            return 0
        try:
            procs = [self.root] + self.root.children(recursive=True)
        except psutil.Error:
            return 0
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.Error:  # exited between listing and reading; zombies have none
                pass
        return total


def _kill_tree(pid: int) -> None:
    """SIGKILL the child's session (it leads its own), then any stragglers."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    deadline = time.monotonic() + _KILL_GRACE
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        children = []
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(children, timeout=max(0.0, deadline - time.monotonic()))
