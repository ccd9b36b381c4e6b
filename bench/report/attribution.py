"""Cost attribution: which apps and migrations a run's time and memory went to, read from its events.

Why from the events alone: they are the one part of a record every strategy,
engine and Django line writes the same way (bench/records/events.py). The
worker writes `apply_start` / `apply_success` (`unapply_*` going backward)
with the migration ("app.name"), `t` (seconds since spawn) and `rss` (the
worker's own resident memory then). A multi-step strategy (per-app,
backward) stores every step's events on one clock, each tagged with its
`step` (bench/run/recording.py), so a migration's time is its success minus
its start whichever child ran it. The samples (the process tree's RSS every
20 ms, same clock) add what happened between two events.

Three figures per migration:
- seconds: success minus start (a migration the run died in runs to the end
  of its step, and is marked unfinished);
- RSS growth: the worker's RSS at success minus at start (memory the
  migration left behind: model states, caches);
- raised peak: how far the migration lifted its child's high-water mark
  (the highest reading so far, samples and events): where the peak grew.
  Each step is its own child, so each step has its own high-water mark.

Faked applications (`--fake`) move nothing and are left out. Pure functions,
no side effects.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from migbench.bench.records import RunRecord, events as run_events

_DIRECTION = {"apply_start": "apply", "apply_success": "apply", "unapply_start": "unapply",
              "unapply_success": "unapply"}
_STARTS = ("apply_start", "unapply_start")
_SUCCESSES = ("apply_success", "unapply_success")


@dataclass(frozen=True)
class MigrationCost:
    migration: str  # "app.0002_name"
    direction: str  # "apply" or "unapply"
    step: str | None  # the step's name for multi-step strategies ("migrate auth"), else None
    start: float  # seconds since the run began
    seconds: float
    rss_growth: int | None  # bytes, the worker's RSS at success minus at start (None: not recorded)
    peak_growth: int  # bytes the migration added to its child's high-water mark
    finished: bool = True

    @property
    def app(self) -> str:
        return self.migration.split(".", 1)[0]


@dataclass(frozen=True)
class AppCost:
    app: str
    migrations: int
    seconds: float
    rss_growth: int
    peak_growth: int


@dataclass(frozen=True)
class PeakPlace:
    """Where the run's highest sampled RSS was reached."""

    rss: int
    t: float
    step: str | None
    phase: str  # setup, loading, rendering, applying, unapplying, post-migrate, finishing, startup, exit
    migration: str | None  # the migration running then, if one was
    after: str | None = None  # between two migrations: the one that had just finished

    def describe(self) -> str:
        """'while applying shop.0003_x (step migrate shop), at 2.1 s' or 'in post-migrate, at 0.63 s'."""
        verb = "unapplying" if self.phase == "unapplying" else "applying"
        if self.migration:
            where = "while %s %s" % (verb, self.migration)
        elif self.after:
            where = "just after %s %s" % (verb, self.after)
        elif self.phase == "exit":
            where = "as the child exited"
        else:
            where = "in %s" % self.phase
        if self.step:
            where += " (step %s)" % self.step
        return "%s, at %.2f s" % (where, self.t)


@dataclass(frozen=True)
class Attribution:
    migrations: tuple[MigrationCost, ...]  # in the order they started
    peak: PeakPlace | None

    @property
    def applied(self) -> int:
        """Migrations applied or unapplied to the end (what a strategy table counts)."""
        return sum(1 for m in self.migrations if m.finished)

    @property
    def total_seconds(self) -> float:
        return sum(m.seconds for m in self.migrations)

    @property
    def unfinished(self) -> MigrationCost | None:
        return next((m for m in self.migrations if not m.finished), None)

    def slowest(self, count: int = 20) -> list[MigrationCost]:
        """The `count` slowest migrations, slowest first (ties in the order they ran)."""
        return sorted(self.migrations, key=lambda m: -m.seconds)[:count]

    def apps(self) -> list[AppCost]:
        """Per app: its migrations' time and memory added up, slowest app first."""
        grouped: dict[str, list[MigrationCost]] = defaultdict(list)
        for cost in self.migrations:
            grouped[cost.app].append(cost)
        totals = [AppCost(app, len(costs), sum(c.seconds for c in costs),
                          sum(c.rss_growth or 0 for c in costs), sum(c.peak_growth for c in costs))
                  for app, costs in grouped.items()]
        return sorted(totals, key=lambda a: -a.seconds)


def attribute(record: RunRecord) -> Attribution:
    """The record's migrations with their time, RSS growth and raised peak, and where its peak was."""
    events = _usable(record.events)
    samples = _samples(record.samples)
    end = _end(record, events, samples)
    return Attribution(tuple(migration_costs(events, samples, end)), peak_place(events, samples))


def applied_count(events: Sequence[dict]) -> int:
    """Migrations applied or unapplied to success (faked ones left out)."""
    return sum(1 for e in _usable(events) if e["event"] in _SUCCESSES and e.get("migration") and not e.get("fake"))


def migration_costs(events: Sequence[dict], samples: Sequence[tuple[float, int]] = (),
                    end: float | None = None) -> list[MigrationCost]:
    """Every migration's cost, in the order they started; `end` closes a migration the run died in."""
    events = _usable(events)
    groups = split_steps(events)
    costs: list[MigrationCost] = []
    for index, (step, group) in enumerate(groups):
        if index + 1 < len(groups):
            group_end = groups[index + 1][1][0]["t"]
        else:
            group_end = max(end if end is not None else group[-1]["t"], group[-1]["t"])
        after = groups[index - 1][1][-1]["t"] if index else None
        marks = _HighWater(group, [s for s in samples if (after is None or s[0] > after) and s[0] <= group_end])
        costs.extend(_group_costs(step, group, group_end, marks))
    return sorted(costs, key=lambda c: c.start)


def peak_place(events: Sequence[dict], samples: Sequence[tuple[float, int]]) -> PeakPlace | None:
    """Where the highest reading was: the samples' maximum (the events' RSS when there are no samples)."""
    events = _usable(events)
    readings = list(samples) or [(e["t"], e["rss"]) for e in events if _is_count(e.get("rss"))]
    if not readings:
        return None
    t, rss = max(readings, key=lambda r: (r[1], -r[0]))
    groups = split_steps(events)
    chosen = None
    for step, group in groups:
        if chosen is None or group[0]["t"] <= t:
            chosen = (step, group)
    if chosen is None:
        return PeakPlace(rss, t, None, "startup", None)
    step, group = chosen
    before = [e for e in group if e["t"] <= t]
    phase = run_events.failed_during(before) or "exit"
    open_migration = finished = None
    for event in before:
        if event["event"] in _STARTS and event.get("migration"):
            open_migration = event["migration"]
        elif event["event"] in _SUCCESSES:
            open_migration, finished = None, event.get("migration")
    if phase not in ("applying", "unapplying"):
        return PeakPlace(rss, t, step, phase, None)
    return PeakPlace(rss, t, step, phase, open_migration, None if open_migration else finished)


def split_steps(events: Sequence[dict]) -> list[tuple[str | None, list[dict]]]:
    """Consecutive events of one child: a new group at each change of `step` or at a second `start`."""
    groups: list[tuple[str | None, list[dict]]] = []
    for event in events:
        step = event.get("step")
        if not groups or groups[-1][0] != step or (event["event"] == "start" and groups[-1][1]):
            groups.append((step, []))
        groups[-1][1].append(event)
    return groups


class _HighWater:
    """The highest reading of one child up to a time (its events' RSS and the samples in its span)."""

    def __init__(self, group: list[dict], samples: list[tuple[float, int]]):
        readings = sorted([(e["t"], e["rss"]) for e in group if _is_count(e.get("rss"))] + list(samples))
        self.times = [t for t, _ in readings]
        self.highest: list[int] = []
        for _t, rss in readings:
            self.highest.append(max(rss, self.highest[-1]) if self.highest else rss)

    def at(self, t: float) -> int:
        index = bisect.bisect_right(self.times, t)
        return self.highest[index - 1] if index else 0


def _group_costs(step: str | None, group: list[dict], group_end: float, marks: _HighWater) -> list[MigrationCost]:
    costs = []
    open_starts: dict[tuple[str, str], dict] = {}
    for event in group:
        kind = event["event"]
        migration = event.get("migration")
        if kind not in _DIRECTION or not isinstance(migration, str) or not migration or event.get("fake"):
            continue
        key = (_DIRECTION[kind], migration)
        if kind in _STARTS:
            open_starts[key] = event
        elif key in open_starts:
            costs.append(_cost(step, open_starts.pop(key), event["t"], event.get("rss"), marks, True))
    for start in open_starts.values():  # the run stopped inside it
        costs.append(_cost(step, start, group_end, None, marks, False))
    return costs


def _cost(step, start: dict, stop: float, stop_rss, marks: _HighWater, finished: bool) -> MigrationCost:
    begin = start["t"]
    rss_start = start.get("rss")
    growth = stop_rss - rss_start if _is_count(stop_rss) and _is_count(rss_start) else None
    return MigrationCost(
        migration=start["migration"], direction=_DIRECTION[start["event"]], step=step, start=begin,
        seconds=max(0.0, stop - begin), rss_growth=growth,
        peak_growth=max(0, marks.at(stop) - marks.at(begin)), finished=finished)


def _usable(events) -> list[dict]:
    """Events with a name and a finite time (what the record contract promises; kept defensive)."""
    return [e for e in events or [] if isinstance(e, dict) and isinstance(e.get("event"), str)
            and isinstance(e.get("t"), (int, float)) and not isinstance(e.get("t"), bool)]


def _samples(samples) -> list[tuple[float, int]]:
    samples = samples if isinstance(samples, dict) else {}
    pairs = zip(samples.get("t") or [], samples.get("rss") or [])
    return [(float(t), rss) for t, rss in pairs
            if isinstance(t, (int, float)) and not isinstance(t, bool) and _is_count(rss)]


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _end(record: RunRecord, events: list[dict], samples: list[tuple[float, int]]) -> float:
    candidates = [record.wall_s or 0.0]
    if events:
        candidates.append(events[-1]["t"])
    if samples:
        candidates.append(samples[-1][0])
    return max(candidates)
