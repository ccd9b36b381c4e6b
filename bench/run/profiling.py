"""A profiled run's `profile` block, from its profiled steps (what the worker wrote) and events.

The worker (bench/measure/worker/profiling.py) profiles each measured step of
the strategy by itself; a multi-step strategy (per-app, backward) adds them up
here the way the record adds its steps: stage seconds, landmarks and function
rows summed (a function outside one step's top rows is missing from that
step's share: said in a note), the memory profile of the step whose snapshot
was largest. The per-migration table comes from the record's own events.
Also here: the profile's overhead, against the cell's unprofiled runs.

Pure: reads nothing, writes nothing.
"""

from __future__ import annotations

import statistics
from typing import Sequence

from migbench.bench.measure.step import StepResult
from migbench.bench.records import RunRecord
from migbench.bench.records.profiles import STAGE_KEYS
from migbench.bench.report.attribution import migration_costs

TOP_FUNCTIONS = 40


def profile_block(results: Sequence[StepResult], events: list, mode: str) -> dict:
    """The record's `profile` for a profiled run whose steps are `results` (all of them, in order)."""
    profiled = [r for r in results if r.profile is not None]
    notes: list[str] = ["a profiled run: not validated, no dev loop, never part of a timing comparison"]
    if not profiled:
        return {"mode": mode, "wall_s": 0.0, "span_s": 0.0, "stages": {}, "inclusive": {},
                "unattributed_s": 0.0, "profiler_s": 0.0, "migrations": _migrations(events), "files": {},
                "notes": notes + ["no step left a profile: the child was killed before writing it"]}
    wall = sum(r.wall_s for r in profiled)
    span = sum(r.profile.get("span_s") or 0.0 for r in profiled)
    output = sum(r.profile.get("output_s") or 0.0 for r in profiled)
    paused = sum(r.profile.get("paused_s") or 0.0 for r in profiled)
    startup = sum(r.profile.get("startup_s") or 0.0 for r in profiled)
    missing = sorted({name for r in profiled for name in r.profile.get("missing") or ()})
    if missing:
        notes.append("not in this Django (their time counts to the enclosing stage): %s" % ", ".join(missing))
    if len(profiled) > 1:
        notes.append("%d profiled steps added up; each step's function table is its top %s rows by "
                     "cumulative and by own time" % (len(profiled), "200"))
    for r in profiled:
        notes.extend(r.profile.get("notes") or ())
        if r.profile.get("outcome") and not str(r.profile["outcome"]).startswith("exit 0"):
            notes.append("step %s: %s" % (r.name, r.profile["outcome"]))
    block = {
        "mode": mode,
        "tool": profiled[0].profile.get("tool", ""),
        "python": profiled[0].profile.get("python"),
        "wall_s": round(wall, 4),
        "span_s": round(span, 4),
        "stages": _summed([r.profile.get("stages") or {} for r in profiled], STAGE_KEYS),
        "inclusive": _summed([r.profile.get("inclusive") or {} for r in profiled], STAGE_KEYS),
        "profiler_s": round(paused + output, 4),
        "startup_s": round(startup, 4),
        "unattributed_s": round(wall - startup - span - output, 4),
        "landmarks": _landmarks([r.profile.get("landmarks") or {} for r in profiled]),
        "functions": _functions([r.profile.get("functions") for r in profiled if r.profile.get("functions")]),
        "migrations": _migrations(events),
        "memory": _memory([r.profile.get("memory") for r in profiled if r.profile.get("memory")]),
        "files": {},
        "overhead": None,
        "steps": [r.name for r in profiled],
        "notes": notes,
    }
    return block


def describe(profile: dict) -> str:
    """One line for the terminal: the biggest stages' shares of the profiled wall, the rest."""
    wall = profile.get("wall_s") or 0.0
    stages = sorted((profile.get("stages") or {}).items(), key=lambda kv: -kv[1])
    if wall <= 0 or not stages:
        return "no profile: %s" % "; ".join(profile.get("notes") or ["nothing recorded"])
    parts = ["%s %.0f%%" % (key, 100.0 * seconds / wall) for key, seconds in stages[:4] if seconds > 0]
    text = "%.2f s profiled: %s; unattributed %.1f%%, profiler %.1f%%" % (
        wall, ", ".join(parts), 100.0 * (profile.get("unattributed_s") or 0.0) / wall,
        100.0 * (profile.get("profiler_s") or 0.0) / wall)
    ratio = (profile.get("overhead") or {}).get("ratio")
    if ratio:
        text += "; %.2fx the unprofiled median" % ratio
    memory = profile.get("memory") or {}
    if memory.get("peak_traced_bytes"):
        top = (memory.get("landmarks") or [{}])[0]
        text += "; traced peak %d MB, %s holds %d MB" % (memory["peak_traced_bytes"] // 2**20, top.get("function"),
                                                       (top.get("bytes") or 0) // 2**20)
    return text


def overhead(profiled_wall: float, unprofiled: Sequence[RunRecord]) -> dict | None:
    """The profiled wall over the median wall of the cell's finished unprofiled runs, if any."""
    walls = [r.wall_s for r in unprofiled if r.outcome == "ok" and r.profile is None]
    if not walls or profiled_wall <= 0:
        return None
    median = statistics.median(walls)
    return {"unprofiled_wall_s": round(median, 4), "unprofiled_runs": len(walls),
            "ratio": round(profiled_wall / median, 3) if median > 0 else None}


def _summed(tables: list[dict], order: Sequence[str]) -> dict:
    keys = list(order) + sorted({k for t in tables for k in t} - set(order))
    return {key: round(sum(t.get(key) or 0.0 for t in tables), 6) for key in keys}


def _landmarks(tables: list[dict]) -> dict:
    out: dict = {}
    for table in tables:
        for name, row in table.items():
            into = out.setdefault(name, {"calls": 0, "own_s": 0.0, "cum_s": 0.0})
            into["calls"] += row.get("calls") or 0
            into["own_s"] = round(into["own_s"] + (row.get("own_s") or 0.0), 6)
            into["cum_s"] = round(into["cum_s"] + (row.get("cum_s") or 0.0), 6)
    return out


def _functions(tables: list[dict]) -> dict:
    if not tables:
        return {}
    rows: dict = {}
    for table in tables:
        seen = set()
        for row in (table.get("by_cumulative") or []) + (table.get("by_own") or []):
            if row["function"] in seen:
                continue
            seen.add(row["function"])
            into = rows.setdefault(row["function"], {"function": row["function"], "calls": 0, "primitive_calls": 0,
                                                     "own_s": 0.0, "cum_s": 0.0})
            for key in ("calls", "primitive_calls"):
                into[key] += row.get(key) or 0
            for key in ("own_s", "cum_s"):
                into[key] = round(into[key] + (row.get(key) or 0.0), 6)
    ordered = list(rows.values())
    return {"by_cumulative": sorted(ordered, key=lambda r: -r["cum_s"])[:TOP_FUNCTIONS],
            "by_own": sorted(ordered, key=lambda r: -r["own_s"])[:TOP_FUNCTIONS],
            "total_s": round(sum(t.get("total_s") or 0.0 for t in tables), 6)}


def _memory(summaries: list[dict]) -> dict | None:
    if not summaries:
        return None
    return max(summaries, key=lambda m: m.get("snapshot_traced_bytes") or 0)


def _migrations(events: list) -> list:
    """[label, seconds, RSS growth bytes or None, direction] per migration, in order (from the events)."""
    return [[c.migration, round(c.seconds, 4), c.rss_growth, c.direction]
            for c in migration_costs(events)]
