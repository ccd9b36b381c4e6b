"""Start one child under a memory limiter, sample its process tree, reap it.

The parent half of the pyperf split: the worker inside the target environment
only runs the command and writes events; everything measured from outside
(RSS of the whole tree, CPU time, exit status, the limiter's own peak) is done
here, in one thread, with no threads of our own: `preexec_fn` (how a child
joins a cgroup or takes an rlimit before exec) is only safe in a parent
without other threads, and a single loop that samples and polls `wait4` needs
none.

Peak RSS is the largest of three readings:
- the largest sampled RSS sum over the child's process tree (catches a tree of
  several processes, which the kernel reports only per process);
- the child's own high-water mark `VmHWM` (/proc/PID/status), read with each
  sample: monotonic, so it also catches spikes between samples;
- `ru_maxrss` from `wait4` (what `/usr/bin/time -v` prints), but only when it
  exceeds this parent's RSS at fork: the kernel carries the pre-exec high-water
  mark across exec, so a child forked from a 200 MB parent reports >= 200 MB
  even when `migrate` itself peaked at 50 MB (`/usr/bin/time` is a tiny C
  parent and does not suffer from this).

The sampling interval decides how often RSS is read, never the time measured:
between samples the loop waits on the child's exit itself (a pidfd, where the
kernel has them), so a child that exits is reaped at once and its wall time
is taken then, whatever the interval.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import psutil

DEFAULT_INTERVAL = 0.020  # seconds between RSS samples (the 20 ms)
_KILL_GRACE = 5.0
_POLL_SLICE = 0.002  # without a pidfd: how often wait4 is polled between samples


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
    hwm_bytes: int = 0  # last VmHWM read of the child itself (post-exec high-water mark)
    parent_rss_bytes: int = 0  # this process's RSS at fork: ru_maxrss below it is ours
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, rss)
    timed_out: bool = False
    started_at: float = 0.0  # epoch seconds at spawn, to align the worker's event times

    @property
    def maxrss_trusted(self) -> bool:
        """ru_maxrss is the child's own only when it beats what it inherited at fork."""
        return self.maxrss_bytes > self.parent_rss_bytes

    @property
    def peak_rss_bytes(self) -> int:
        return max(self.maxrss_bytes if self.maxrss_trusted else 0, self.sampled_peak_bytes,
                   self.hwm_bytes)

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
    parent_rss = _rss(os.getpid())
    started_at = time.time()
    started = time.monotonic()
    proc = subprocess.Popen(
        list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
        preexec_fn=preexec, start_new_session=True, close_fds=True,
    )
    sampler = _TreeSampler(proc.pid)
    exited = _ExitWaiter(proc.pid)
    samples: list[tuple[float, int]] = []
    peak = hwm = 0
    timed_out = False
    status = rusage = None
    next_sample = 0.0
    try:
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            now = time.monotonic() - started
            if now >= next_sample:
                next_sample = now + interval
                rss = sampler.rss()
                hwm = max(hwm, sampler.hwm())
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
            wake = next_sample - now
            if timeout is not None:
                wake = min(wake, timeout - now + 0.001)
            exited.wait(max(wake, 0.0))  # returns as soon as the child exits
    except BaseException:
        _kill_tree(proc.pid)
        try:
            os.wait4(proc.pid, 0)
        except ChildProcessError:
            pass
        raise
    finally:
        proc.returncode = 0  # reaped by us: stop Popen from waiting or warning
        exited.close()
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
        hwm_bytes=hwm,
        parent_rss_bytes=parent_rss,
        samples=samples,
        timed_out=timed_out,
        started_at=started_at,
    )


class _ExitWaiter:
    """Sleep until a timeout or the child's exit, whichever comes first.

    A pidfd (Linux >= 5.3) becomes readable when the process exits, so the wait ends
    then; elsewhere the wait is cut into short slices between polls of wait4.
    """

    def __init__(self, pid: int):
        self.poll = None
        self.fd = None
        try:
            self.fd = os.pidfd_open(pid)  # close-on-exec by the kernel
            self.poll = select.poll()
            self.poll.register(self.fd, select.POLLIN)
        except (AttributeError, OSError):
            self.close()

    def wait(self, seconds: float) -> None:
        if self.poll is not None:
            self.poll.poll(seconds * 1000)
        else:
            time.sleep(min(seconds, _POLL_SLICE))

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd = self.poll = None


class _TreeSampler:
    """RSS of a process and all its descendants, read straight from /proc.

    psutil's `children(recursive=True)` scans every process on the machine
    (~2 ms per sample with 80 processes: 10% of a core at 50 Hz, taken from
    the measured child on a one-core machine); the kernel's per-task
    `children` lists make a sample cost a few small reads. psutil remains the
    fallback where those lists are missing.
    """

    def __init__(self, pid: int):
        self.pid = pid
        self.use_proc = os.path.exists("/proc/%d/task/%d/children" % (pid, pid))
        try:
            self.root = None if self.use_proc else psutil.Process(pid)
        except psutil.Error:
            self.root = None

    def rss(self) -> int:
        if self.use_proc:
            return sum(_rss(pid) for pid in _proc_tree(self.pid))
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

    def hwm(self) -> int:
        """VmHWM of the root process (0 once it is a zombie or off Linux)."""
        try:
            with open("/proc/%d/status" % self.pid, "rb") as handle:
                for line in handle:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            pass
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss(pid: int) -> int:
    try:
        with open("/proc/%d/statm" % pid, "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        try:
            return psutil.Process(pid).memory_info().rss
        except psutil.Error:
            return 0


def _proc_tree(pid: int) -> list[int]:
    """pid and its descendants, from /proc/PID/task/TID/children (every thread's list)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir("/proc/%d/task" % current)
        except OSError:
            continue
        for tid in tasks:
            try:
                with open("/proc/%d/task/%s/children" % (current, tid), "rb") as handle:
                    todo.extend(int(child) for child in handle.read().split())
            except (OSError, ValueError):
                pass
    return found


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
