"""A record's `events`: the worker's event lines read back, as phase durations and the crash point.

The event vocabulary is part of the record contract (records store the events
as read), so its meaning lives here, beside the record: the measuring side
reads the worker's file with it, the report draws phases with it.

The worker appends one JSON line per event and may be SIGKILLed between any
two writes, so the reader accepts a truncated last line. Times become seconds
since the parent spawned the child, the same clock as the RSS samples.

Phases of a `migrate` (what the 2015 report's "Rendering model states" was):
- `startup`: interpreter start and imports, up to the worker's first event;
- `setup`: `django.setup()` (app registry, models);
- `loading`: reading migration files and building the graph and plan;
- `rendering`: between `render_start` and `render_success` (1.8 renders every
  model state here before applying anything; 1.9+ almost nothing);
- `applying`: from the first `apply_start`/`unapply_start` to the last
  `*_success`;
- `post_migrate`: the post-migrate signal (contenttypes, permissions).
"""

from __future__ import annotations

import json
from pathlib import Path

# Where a run was when it died, keyed by its last event.
_OPEN_PHASE = {
    "start": "setup",
    "setup_end": "loading",
    "pre_migrate_start": "pre-migrate",
    "pre_migrate_end": "loading",
    "render_start": "rendering",
    "render_success": "applying",
    "apply_start": "applying",
    "apply_success": "applying",
    "unapply_start": "unapplying",
    "unapply_success": "unapplying",
    "post_migrate_start": "post-migrate",
    "post_migrate_end": "finishing",
}


def read_events(path: Path, started_at: float) -> list[dict]:
    """Events with `t` rebased to seconds since spawn; a torn last line is dropped."""
    events = []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return events
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # the child died mid-write
        if not isinstance(event, dict) or "event" not in event or "t" not in event:
            continue
        event["t"] = round(float(event["t"]) - started_at, 4)
        events.append(event)
    return events


def phases(events: list[dict], wall_s: float) -> dict[str, float | None]:
    """Seconds spent in each phase; an unfinished phase runs to the end of the child."""
    times = _first_times(events)
    last_times = _last_times(events)
    end = times.get("end", wall_s)
    result: dict[str, float | None] = {
        "startup": times.get("start"),
        "setup": _span(times.get("start"), times.get("setup_end", _next_mark(times)), end),
        "loading": None,
        "rendering": None,
        "applying": None,
        "post_migrate": _span(times.get("post_migrate_start"), times.get("post_migrate_end"), end),
    }
    rendering = 0.0
    render_open = None
    for event in events:
        if event["event"] == "render_start":
            render_open = event["t"]
        elif event["event"] == "render_success" and render_open is not None:
            rendering += event["t"] - render_open
            render_open = None
    if render_open is not None:
        rendering += end - render_open
    if "render_start" in times:
        result["rendering"] = round(rendering, 4)
    first_apply = min((times[k] for k in ("apply_start", "unapply_start") if k in times), default=None)
    if first_apply is not None:
        finished = [last_times[k] for k in ("apply_success", "unapply_success") if k in last_times]
        stop = end if failed_during(events) in ("applying", "unapplying") else max(finished, default=end)
        result["applying"] = round(stop - first_apply, 4)
    if "setup_end" in times:
        marks = [times[k] for k in ("render_start", "apply_start", "unapply_start", "post_migrate_start",
                                    "end") if k in times]
        result["loading"] = round(min(marks, default=end) - times["setup_end"], 4)
    return result


def failed_during(events: list[dict]) -> str | None:
    """The phase a run was in when it stopped, or None if the worker reached `end`."""
    if not events:
        return "startup"
    last = events[-1]["event"]
    if last == "end":
        if events[-1].get("exit", 0) in (0, None):
            return None
        return failed_during(events[:-1]) or "finishing"  # error, then end with its exit status
    if last in ("error", "memory_error"):
        return failed_during(events[:-1]) or "finishing"
    return _OPEN_PHASE.get(last, last)


def last_migration(events: list[dict]) -> str | None:
    """The migration being applied (or last applied) when the run stopped."""
    for event in reversed(events):
        if event.get("migration"):
            return event["migration"]
    return None


def _next_mark(times: dict[str, float]) -> float | None:
    """Where setup ends for a worker that reports no `setup_end` (the floor's SQL replay)."""
    marks = [times[k] for k in ("render_start", "apply_start", "unapply_start", "post_migrate_start") if k in times]
    return min(marks, default=None)


def _span(start: float | None, stop: float | None, end: float) -> float | None:
    if start is None:
        return None
    return round((stop if stop is not None else end) - start, 4)


def _first_times(events: list[dict]) -> dict[str, float]:
    times: dict[str, float] = {}
    for event in events:
        times.setdefault(event["event"], event["t"])
    return times


def _last_times(events: list[dict]) -> dict[str, float]:
    return {event["event"]: event["t"] for event in events}
