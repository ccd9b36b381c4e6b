"""Name what happened to a child: ok, oom-killed, segfault, memory-error, timeout, error.

A pure function of what the parent observed, so each rule is testable with
small purpose-made children. The distinctions matter to users: under a cgroup
the kernel SIGKILLs (`oom-killed`), under RLIMIT_AS Python raises
(`memory-error`), and the 2015 report saw `Segmentation fault` (stack growth
failing under memory pressure). Each is a result to record, not to hide.

A cap far below what Python needs (`--limiter rlimit --memory 8M`) fails
before any traceback can say MemoryError: the dynamic loader cannot map
libc, a C extension cannot be mapped (ImportError ... failed to map
segment), the kernel answers ENOMEM ("Cannot allocate memory"), Python's
start-up dies with "Fatal Python error". Under a cap, such evidence in the
stderr tail is the cap refusing memory (RLIMIT_AS refuses; a cgroup cap
SIGKILLs instead), so it is `memory-error`, and the reason says the cap was
too small, "to start Python" when Python never ran a line. Without a cap
the same words stay `error`: no cap of ours refused anything.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from migbench.units import format_size

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
    start = _failed_to_start(stderr_tail)
    if memory_error_event or exit_code == MEMORY_ERROR_EXIT or _raised_memory_error(stderr_tail) or (
            start and _memory_error_line(stderr_tail)):
        if start and limit_bytes:
            return Outcome("memory-error", "the cap of %s is too small to start Python: %s"
                           % (format_size(limit_bytes), start))
        if limit_bytes:
            return Outcome("memory-error", "Python raised MemoryError: the cap of %s is too small"
                           % format_size(limit_bytes))
        return Outcome("memory-error", "Python raised MemoryError")
    if exit_code == 0:
        return Outcome("ok", "exit status 0")
    refused = _refused(stderr_tail)
    if refused and limit_bytes:
        return Outcome("memory-error", "the cap of %s is too small%s: %s" % (
            format_size(limit_bytes), " to start Python" if start else "", start or refused))
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
        under = " under the cap of %s" % format_size(limit_bytes) if limit_bytes else ""
        return Outcome("segfault", "killed by %s%s" % (name, under))
    return Outcome("error", "killed by %s" % name)


# What the dynamic loader, the kernel and Python print when memory was refused (ENOMEM):
# ld.so and dlopen "failed to map segment from shared object", strerror(ENOMEM) in an
# OSError or a loader message, Python 2.7's parser at start-up, "Fatal Python error: ...
# out of memory" and SQLite's "out of memory".
_REFUSED = ("failed to map segment from shared object", "cannot allocate memory",
            "no mem to add parser accelerators", "out of memory")


def _refused(stderr_tail: str) -> str:
    """The last stderr line saying memory was refused (clipped), or ''."""
    for line in reversed(stderr_tail.strip().splitlines()):
        if any(words in line.lower() for words in _REFUSED):
            return _clip(line.strip())
    return ""


def _failed_to_start(stderr_tail: str) -> str:
    """What stopped the interpreter before it ran a line of Python ('' when it started).

    The dynamic loader's "error while loading shared libraries" (the python binary
    never ran), a "Fatal Python error" in an init function (start-up aborted),
    Python 2.7's parser, or a bare MemoryError with no traceback (raised while the
    interpreter initialised).
    """
    lines = [line.strip() for line in stderr_tail.strip().splitlines() if line.strip()]
    for line in lines:
        if "error while loading shared libraries" in line:
            return _clip(line[line.index("error while loading shared libraries"):])
        if line.startswith("Fatal Python error") and "init" in line.lower():  # not a later fatal error
            return _clip(line) + (" (MemoryError)" if _memory_error_line(stderr_tail) else "")
        if "no mem to add parser accelerators" in line:
            return _clip(line)
    if lines and not any(line.startswith(("Traceback", "File ")) for line in lines) and all(
            line.startswith("MemoryError") for line in lines):
        return "MemoryError while the interpreter started"
    return ""


def _memory_error_line(stderr_tail: str) -> bool:
    return any(line.strip().startswith("MemoryError") for line in stderr_tail.splitlines())


def _clip(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


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
