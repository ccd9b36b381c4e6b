"""What the container and VM limiters share: a child behind a wall, observed from inside.

Behind `docker run` or `qemu-system-x86_64`, the supervisor's readings (RSS
of the process tree, exit status, wall time) are the runtime's. Both limiters
therefore run the child under bench/measure/worker/inside.py, the small
sampler that makes the same readings on the other side and writes them to a
summary file in the step's scratch directory, which both share with the host.
This module turns that summary back into the supervisor's ChildResult, and
holds the two other things both need: which host directories to bring along
(the outermost of the job's paths), and which environment variables are the
step's own (the ones the host's environment does not already have).

Side effects: none; the limiters write and read the files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..supervisor import ChildResult
from ..worker import HERE as WORKER_DIR

INSIDE = WORKER_DIR / "inside.py"
SUMMARY = "inside.json"
# Variables a child always gets from its own world, never from the host's.
_HOST_ONLY = ("PATH", "HOME", "HOSTNAME", "TERM", "PWD", "OLDPWD", "SHLVL", "_", "TMPDIR",
              "SSH_AUTH_SOCK", "DISPLAY", "MIGBENCH_CACHE", "XDG_CACHE_HOME")
_HUGE = 1 << 60  # a cgroup v1 "no limit" reads as 2^63 rounded to pages


def sampler_argv(python: str, summary: Path, argv: list[str], interval_s: float,
                 cgroup: bool, timeout_s: float | None = None) -> list[str]:
    """argv of inside.py running `argv` with the target environment's own interpreter."""
    flags = ["--summary", str(summary), "--interval", "%g" % interval_s]
    if timeout_s is not None:
        flags += ["--timeout", "%g" % timeout_s]
    if cgroup:
        flags.append("--cgroup")
    return [python, str(INSIDE)] + flags + ["--"] + list(argv)


def own_env(env: dict[str, str]) -> dict[str, str]:
    """The step's own variables: what project_env() added or changed, locale included.

    The host's PATH, HOME or cache location mean nothing inside a container or a guest,
    and secrets of the host's shell have no business there.
    """
    own = {key: value for key, value in env.items()
           if os.environ.get(key) != value and key not in _HOST_ONLY}
    for key in ("LANG", "LC_ALL", "LC_CTYPE", "TZ"):
        if key in env:
            own[key] = env[key]
    return own


def outermost(paths) -> list[Path]:
    """Existing directories among `paths` (files give their directory), none inside another."""
    found = []
    for path in paths:
        path = Path(os.path.abspath(path))
        if path.is_file():
            path = path.parent
        if path.is_dir():
            found.append(path)
    keep: list[Path] = []
    for path in sorted(set(found), key=lambda p: len(p.parts)):
        if not any(path == kept or kept in path.parents for kept in keep):
            keep.append(path)
    return keep


def read_summary(path: Path) -> dict | None:
    """The sampler's summary, or None when it never wrote one (it was killed, or never ran)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def child_result(summary: dict | None, outside: ChildResult) -> ChildResult:
    """The child as seen inside; what was seen outside when the sampler left no summary."""
    if not summary or "spawn_error" in summary or summary.get("wall_s") is None:
        return outside
    return ChildResult(
        pid=summary["pid"],
        exit_code=summary["exit_code"],
        signal=summary["signal"],
        wall_s=summary["wall_s"],
        cpu_user_s=summary["cpu_user_s"],
        cpu_sys_s=summary["cpu_sys_s"],
        maxrss_bytes=summary["maxrss_bytes"],
        sampled_peak_bytes=summary["sampled_peak_bytes"],
        hwm_bytes=summary["hwm_bytes"],
        parent_rss_bytes=summary["sampler_rss_bytes"],
        samples=[(t, rss) for t, rss in summary.get("samples", [])],
        timed_out=outside.timed_out or bool(summary.get("timed_out")),
        started_at=summary["started_at"],
    )


def facts(summary: dict | None, outside: ChildResult) -> dict:
    """What the record keeps about the wall: the sampler, the world inside, the cost outside."""
    if not summary:
        return {"summary": "missing: the sampler inside was killed or never started; exit status "
                           "and times are the runtime's, seen outside",
                "outside_wall_s": round(outside.wall_s, 4)}
    if "spawn_error" in summary:
        return {"summary": "the sampler could not start the child: %s" % summary["spawn_error"],
                "outside_wall_s": round(outside.wall_s, 4)}
    return {
        "summary": "the child was observed inside by bench/measure/worker/inside.py",
        "sampler_python": summary.get("python"),
        "sampler_rss_bytes": summary.get("sampler_rss_bytes"),
        "memory_seen_inside": summary.get("memory"),
        "overcommit": summary.get("overcommit"),
        # machine-wide counters over the child's life: inside a guest they are the guest's own
        "vmstat": summary.get("vmstat"),
        "inside_wall_s": round(summary["wall_s"], 4),
        "outside_wall_s": round(outside.wall_s, 4),
        # what starting and stopping the container or guest cost this step, on top of the child
        "start_stop_s": round(outside.wall_s - summary["wall_s"], 4),
    }


def limit_or_none(value: int | None) -> int | None:
    return None if value is None or value >= _HUGE else value
