"""Name what happened to a child: ok, oom-killed, segfault, memory-error, timeout, error.

A pure function of what the parent observed, so each rule is testable with
small purpose-made children. The distinctions matter to users: under a cgroup
the kernel SIGKILLs (`oom-killed`), under RLIMIT_AS Python raises
(`memory-error`), and the 2015 report saw `Segmentation fault` (stack growth
failing under memory pressure). Each is a result to record, not to hide.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

OUTCOMES = ("ok", "oom-killed", "segfault", "memory-error", "timeout", "error")

# The worker's exit status for a MemoryError it caught (bench/measure/worker/measure.py).
MEMORY_ERROR_EXIT = 3
# A SIGKILL with no OOM counter to read (rlimit, systemd without a peak) still
# counts as the cap's doing when the tree was this close to the cap.
_NEAR_CAP = 0.90


@dataclass(frozen=True)
class Outcome:
    name: str  # one of OUTCOMES
    reason: str  # one line saying why this name was chosen

    def __post_init__(self):
        assert self.name in OUTCOMES, self.name


def classify(
    *,
    exit_code: int | None,
    signal_number: int | None,
    timed_out: bool,
    oom_kills: int | None,
    stderr_tail: str,
    memory_error_event: bool = False,
    limit_bytes: int | None = None,
    peak_bytes: int | None = None,
) -> Outcome:
    """The outcome of one run; `oom_kills` is the limiter's counter (None: no counter)."""
    if timed_out:
        return Outcome("timeout", "killed by migbench after the time limit")
    if signal_number is not None:
        return _by_signal(signal_number, oom_kills, limit_bytes, peak_bytes)
    if exit_code is not None and exit_code >= 128 and signal_number is None:
        # A shell or wrapper between us and Python reports a signal as 128+N.
        wrapped = exit_code - 128
        if wrapped in (signal.SIGKILL, signal.SIGSEGV, signal.SIGBUS):
            return _by_signal(wrapped, oom_kills, limit_bytes, peak_bytes)
    if memory_error_event or exit_code == MEMORY_ERROR_EXIT or _raised_memory_error(stderr_tail):
        return Outcome("memory-error", "Python raised MemoryError")
    if exit_code == 0:
        return Outcome("ok", "exit status 0")
    last = _last_line(stderr_tail)
    return Outcome("error", "exit status %s%s" % (exit_code, ": " + last if last else ""))


def _by_signal(number: int, oom_kills: int | None, limit_bytes: int | None,
               peak_bytes: int | None) -> Outcome:
    name = _signal_name(number)
    if number == signal.SIGKILL:
        if oom_kills:
            return Outcome("oom-killed", "SIGKILL; the limiter counted %d OOM kill(s)" % oom_kills)
        if oom_kills is None and limit_bytes and peak_bytes and peak_bytes >= _NEAR_CAP * limit_bytes:
            return Outcome("oom-killed", "SIGKILL at %.0f%% of the cap (no OOM counter to read)"
                           % (100.0 * peak_bytes / limit_bytes))
        return Outcome("error", "killed by SIGKILL, not by the memory cap")
    if number in (signal.SIGSEGV, signal.SIGBUS):
        return Outcome("segfault", "killed by %s" % name)
    return Outcome("error", "killed by %s" % name)


def _raised_memory_error(stderr_tail: str) -> bool:
    """A traceback whose final exception line is MemoryError (not a mention earlier)."""
    for line in reversed(stderr_tail.strip().splitlines()):
        line = line.strip()
        if line:
            return line.startswith("MemoryError") or line.endswith(".MemoryError")
    return False


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "signal %d" % number
