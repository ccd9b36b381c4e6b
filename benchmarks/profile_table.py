#!/usr/bin/env python
"""The README's profile tables, read from the profiled records only.

    python benchmarks/profile_table.py DIR [DIR ...] [--landmark ProjectState.reload_model]

Every profiled record (`migbench run|sweep|bisect --profile`, under DIR/profiles/) becomes
one markdown row: scenario, size (migrations of the project, with a sweep's point), strategy,
Django / Python, cap, outcome of the profiled child, profiled wall, each stage's share of the
wall (stages in the order of bench/records/profiles.py), the named landmark's inclusive share
(the stage timer's cumulative seconds: the forum thread's "reload_model" figure), cProfile's
cumulative share for the same function, and the profile's overhead against the cell's
unprofiled median. A memory profile adds its traced peak and the top three landmarks holding
memory at the kept snapshot. Nothing is computed that the records do not hold.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

STAGES = ("setup", "checks", "graph", "state", "schema", "sql", "python", "signals", "rest")
MiB = 2**20


def profiled(roots: list[Path]) -> list[dict]:
    found = []
    for root in roots:
        for path in sorted(root.rglob("profiles/*.json")):
            record = json.loads(path.read_text())
            if record.get("profile"):
                found.append(record)
    return sorted(found, key=lambda r: (r["scenario"]["name"], r["project"].get("migrations") or 0,
                                        r["strategy"], _version(r["django_version"]), r["profile"]["mode"]))


def _version(text: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in text.split("."))


def cprofile_share(profile: dict, function: str) -> str:
    """cProfile's cumulative seconds of `function` (Class.method -> '(method)' in state.py) / wall."""
    method = function.rsplit(".", 1)[-1]
    rows = (profile.get("functions") or {}).get("by_cumulative") or []
    hits = [r for r in rows if r["function"].endswith("(%s)" % method) and "migrations/" in r["function"]]
    if not hits or not profile.get("wall_s"):
        return "-"
    return "%.0f%%" % (100.0 * max(r["cum_s"] for r in hits) / profile["wall_s"])


def row(record: dict, landmark: str) -> str:
    profile = record["profile"]
    wall = profile.get("wall_s") or 0.0
    share = (lambda s: "%.0f%%" % (100.0 * s / wall)) if wall else (lambda s: "-")
    stages = [share((profile.get("stages") or {}).get(key, 0.0)) for key in STAGES]
    mark = (profile.get("landmarks") or {}).get(landmark) or {}
    size = "%s" % record["project"].get("migrations")
    vary = record["scenario"].get("vary")
    if vary:
        size += " (%s)" % ", ".join("%s=%s" % kv for kv in sorted(vary.items()))
    overhead = (profile.get("overhead") or {}).get("ratio")
    outcome = "killed" if any("killed" in n for n in profile.get("notes") or ()) else "ok"
    cells = [record["scenario"]["name"], size, record["strategy"],
             "%s / %s" % (record["django_version"], record["python_version"]),
             "none" if record["memory_limit_bytes"] is None else "%dM" % (record["memory_limit_bytes"] // MiB),
             profile["mode"], outcome, "%.1f s" % wall] + stages + [
             share(mark.get("cum_s", 0.0)) if mark else "-", cprofile_share(profile, landmark),
             "%.2fx" % overhead if overhead else "-"]
    memory = profile.get("memory") or {}
    if memory.get("peak_traced_bytes"):
        top = ", ".join("%s %d MB" % (m["function"], m["bytes"] // MiB) for m in (memory.get("landmarks") or [])[:3])
        cells.append("traced peak %d MB; at the kept snapshot (%d MB): %s" % (
            memory["peak_traced_bytes"] // MiB, (memory.get("snapshot_traced_bytes") or 0) // MiB, top))
    else:
        cells.append("")
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--landmark", default="ProjectState.reload_model")
    args = parser.parse_args(argv)
    records = profiled(args.dirs)
    if not records:
        print("no profiled records under %s" % ", ".join(map(str, args.dirs)), file=sys.stderr)
        return 2
    head = (["scenario", "migrations", "strategy", "Django / Python", "cap", "mode", "child", "wall"]
            + list(STAGES) + ["%s (timer)" % args.landmark, "%s (cProfile)" % args.landmark.rsplit(".", 1)[-1],
                              "overhead", "memory"])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for record in records:
        print(row(record, args.landmark))
    return 0


if __name__ == "__main__":
    sys.exit(main())
