# -*- coding: utf-8 -*-
"""Run the measured child inside a container or a VM guest, and observe it from there.

Runs INSIDE the container or guest, with the target environment's own
interpreter (Python 2.7 .. 3.13, stdlib only, the same rules as measure.py).
Outside, migbench only sees `docker run` or `qemu-system-x86_64`: their RSS,
exit status and wall time are the runtime's, not migrate's. This is the
minimal supervisor on the other side of that wall (bench/measure/supervisor.py
is the one on the host; same readings, no psutil, no pidfd before 3.9; its
/proc readers are copied here on purpose: this file runs by path in the
target's Python and imports nothing of migbench):

    python inside.py --summary FILE [--interval S] [--timeout S] [--cgroup] -- ARGV...

It starts ARGV (environment and working directory inherited), samples the RSS
of ARGV's process tree from /proc every S seconds (default 0.02) together with
the root's VmHWM, reaps it with wait4 (ru_maxrss, CPU times, exit status or
signal; with --timeout, SIGKILLs its tree after that many seconds and says
so, so a run that outlives its time still leaves its samples), then writes
FILE as one JSON object (atomically: a half-written
summary never exists). With --cgroup it also reads the cgroup it runs in (a
container's own: peak charged, OOM kills, the cap), which is where a
container's OOM kill is counted. It exits 0 once FILE is written, whatever
ARGV did: ARGV's fate is in FILE. If this process itself is killed (it is
small; the kernel's OOM killer picks the largest process), FILE is missing
and the caller falls back on what it saw outside.

The summary's own RSS is kept ("sampler_rss_bytes"): a container's cgroup
charges this process too, so its peak is ARGV's plus this.
"""

from __future__ import print_function

import json
import os
import signal
import subprocess
import sys
import time

FORMAT = "migbench.inside/1"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def main(args):
    summary, interval, cgroup, timeout = None, 0.02, False, None
    while args and args[0] != "--":
        flag = args.pop(0)
        if flag == "--summary":
            summary = args.pop(0)
        elif flag == "--interval":
            interval = float(args.pop(0))
        elif flag == "--timeout":
            timeout = float(args.pop(0))
        elif flag == "--cgroup":
            cgroup = True
        else:
            sys.stderr.write("inside.py: unknown option %s\n" % flag)
            return 2
    if not args or summary is None:
        sys.stderr.write("usage: inside.py --summary FILE [--interval S] [--timeout S] [--cgroup] -- ARGV...\n")
        return 2
    argv = args[1:]
    facts = {"format": FORMAT, "python": sys.version.split()[0], "argv": argv,
             "memory": meminfo(), "overcommit": overcommit(), "interval_s": interval}
    before = vmstat()
    facts.update(run(argv, interval, timeout))
    after = vmstat()
    # What the machine went through meanwhile: major faults and refaults show a guest thrashing
    # (re-reading code evicted under memory pressure) long before, or instead of, an OOM kill.
    facts["vmstat"] = dict((key, after[key] - before.get(key, 0)) for key in after)
    if cgroup:
        facts["cgroup"] = read_cgroup()
    write_json(summary, facts)
    return 0


def run(argv, interval, timeout=None):
    """Start argv, sample its tree until it exits (or the timeout kills it), return what was seen."""
    sampler_rss = rss(os.getpid())
    started_at = time.time()
    try:
        child = subprocess.Popen(argv, close_fds=True)
    except OSError as error:  # no such interpreter in this image or guest
        return {"started_at": started_at, "spawn_error": str(error), "sampler_rss_bytes": sampler_rss}
    waiter = ExitWaiter(child.pid)
    samples, peak, hwm = [], 0, 0
    next_sample = 0.0
    status = usage = None
    timed_out = False
    try:
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid == child.pid:
                break
            now = time.time() - started_at
            if now >= next_sample:
                next_sample = now + interval
                total = sum(rss(p) for p in tree(child.pid))
                hwm = max(hwm, vmhwm(child.pid))
                if total:
                    samples.append([round(now, 4), total])
                    peak = max(peak, total)
            if timeout is not None and now > timeout and not timed_out:
                timed_out = True
                kill_tree(child.pid)
            waiter.wait(max(next_sample - (time.time() - started_at), 0.0))
    finally:
        child.returncode = 0  # reaped here: Popen must not wait again
        waiter.close()
    wall = time.time() - started_at
    return {
        "pid": child.pid,
        "started_at": started_at,
        "wall_s": wall,
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "cpu_user_s": usage.ru_utime,
        "cpu_sys_s": usage.ru_stime,
        "maxrss_bytes": usage.ru_maxrss * 1024,
        "sampled_peak_bytes": peak,
        "hwm_bytes": hwm,
        "sampler_rss_bytes": sampler_rss,
        "samples": samples,
        "timed_out": timed_out,
    }


class ExitWaiter(object):
    """Sleep until a timeout or the child's exit: a pidfd where Python has one, else short naps."""

    def __init__(self, pid):
        self.fd = self.poll = None
        if hasattr(os, "pidfd_open"):
            try:
                import select
                self.fd = os.pidfd_open(pid)
                self.poll = select.poll()
                self.poll.register(self.fd, select.POLLIN)
            except OSError:
                self.close()

    def wait(self, seconds):
        if self.poll is not None:
            self.poll.poll(seconds * 1000)
        else:
            time.sleep(min(seconds, 0.005))

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
        self.fd = self.poll = None


def kill_tree(pid):
    """SIGKILL pid and every descendant (leaves first, so none is orphaned and missed)."""
    for member in reversed(tree(pid)):
        try:
            os.kill(member, signal.SIGKILL)
        except OSError:
            pass


def rss(pid):
    try:
        with open("/proc/%d/statm" % pid, "rb") as handle:
            return int(handle.read().split()[1]) * _PAGE
    except (IOError, OSError, ValueError, IndexError):
        return 0


def vmhwm(pid):
    try:
        with open("/proc/%d/status" % pid, "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (IOError, OSError, ValueError, IndexError):
        pass
    return 0


def tree(pid):
    """pid and its descendants, from every thread's /proc/PID/task/TID/children list."""
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
            except (IOError, OSError, ValueError):
                pass
    return found


def read_cgroup():
    """The cgroup this process is in, as the container sees it (v1 or v2 at /sys/fs/cgroup)."""
    v1 = "/sys/fs/cgroup/memory/"
    if os.path.exists(v1 + "memory.max_usage_in_bytes"):
        control = keyed(v1 + "memory.oom_control")
        return {"version": 1, "peak_bytes": number(v1 + "memory.max_usage_in_bytes"),
                "limit_bytes": number(v1 + "memory.limit_in_bytes"),
                "memsw_limit_bytes": number(v1 + "memory.memsw.limit_in_bytes"),
                "oom_kills": control.get("oom_kill"), "failcnt": number(v1 + "memory.failcnt")}
    v2 = "/sys/fs/cgroup/"
    if os.path.exists(v2 + "memory.max"):
        events = keyed(v2 + "memory.events")
        return {"version": 2, "peak_bytes": number(v2 + "memory.peak"),
                "limit_bytes": number(v2 + "memory.max"),
                "swap_limit_bytes": number(v2 + "memory.swap.max"),
                "oom_kills": events.get("oom_kill"), "oom": events.get("oom")}
    return {"version": None}


def meminfo():
    values = keyed("/proc/meminfo", scale=1024)
    return {"total_bytes": values.get("MemTotal:"), "swap_total_bytes": values.get("SwapTotal:"),
            "available_bytes": values.get("MemAvailable:")}


def overcommit():
    return {"memory": number("/proc/sys/vm/overcommit_memory"),
            "ratio": number("/proc/sys/vm/overcommit_ratio")}


_VMSTAT = ("pgmajfault", "pgfault", "workingset_refault_file", "workingset_refault", "pswpin",
           "pswpout", "oom_kill", "allocstall_normal", "allocstall_movable", "pgscan_direct")


def vmstat():
    """The counters of /proc/vmstat that tell thrashing and OOM kills (machine-wide)."""
    found = keyed("/proc/vmstat")
    return dict((key, found[key]) for key in _VMSTAT if key in found)


def number(path):
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except (IOError, OSError):
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def keyed(path, scale=1):
    values = {}
    try:
        with open(path) as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    values[parts[0]] = int(parts[1]) * scale
    except (IOError, OSError):
        pass
    return values


def write_json(path, data):
    scratch = "%s.%d.tmp" % (path, os.getpid())
    with open(scratch, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(scratch, path)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.exit(main(sys.argv[1:]))
