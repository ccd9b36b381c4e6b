#!/usr/bin/env python
"""The README's "in containers and in a 512 MB VM" table, read from the records only.

    python benchmarks/limiters_table.py results/limiters-2015

reads OUT/<limiter>/*.json (one --out per limiter: cells are not named by
limiter) and prints one markdown row per (scenario, Django, limiter), repeats
as their median and range: the
outcome and why, where it stopped, the wall time and its ratio to the host
cgroup's on the same cell (`cgroup1` or `cgroup2`, whichever OUT has), the
peak sampled (inside, for the walled limiters) and the limiter's own peak, and
what the wall cost (start and stop of a container or guest) and, for the VM,
how many major page faults the guest took while the child ran (thrashing).
Nothing is computed that the records do not hold; the ratio is of two records'
wall_s, both named in the row.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HOST = ("cgroup1", "cgroup2")
ORDER = ("cgroup1", "cgroup2", "docker", "podman", "vm")
MiB = 2**20


def load(root: Path) -> dict:
    """{(scenario, django, limiter): [records, by repeat]} for every run record under root/<limiter>/."""
    found: dict = {}
    for path in sorted(root.glob("*/*.json")):
        record = json.loads(path.read_text())
        if "outcome" not in record or "scenario" not in record:
            continue
        key = (record["scenario"]["name"], record["django_version"], record["limiter"]["name"])
        found.setdefault(key, []).append(dict(record, _path=str(path.relative_to(root))))
    return {key: sorted(runs, key=lambda r: r["repeat"]) for key, runs in found.items()}


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def mb(value) -> str:
    return "-" if value is None else "%d" % round(value / MiB)


def row(runs: list[dict], host: list[dict] | None) -> str:
    """One row: a single run as it is; several repeats as median [min-max], outcomes counted."""
    record = runs[-1]
    reading = record["limiter"].get("reading") or {}
    walls = [r["wall_s"] for r in runs]
    wall = median(walls)
    if len(runs) > 1:
        shown = "%.1f [%.1f-%.1f]" % (wall, min(walls), max(walls))
        outcomes = sorted({r["outcome"] for r in runs})
        outcome = "**%s** (%d runs)" % (", ".join(outcomes), len(runs))
    else:
        shown = "%.1f" % wall
        outcome = "**%s** (%s)" % (record["outcome"], record.get("outcome_reason", ""))
    if host is None:
        ratio = "-"
    elif host is runs:
        ratio = "1"
    else:
        ratio = "%.2f" % (wall / median([r["wall_s"] for r in host]))
    costs = [(r["limiter"].get("reading") or {}).get("start_stop_s") for r in runs]
    costs = [c for c in costs if c is not None]
    faults = (reading.get("vmstat") or {}).get("pgmajfault")
    extra = []
    if record["limiter"]["name"] == "vm":
        extra.append("guest MemTotal %s MB, %s" % (mb((reading.get("memory_seen_inside") or {}).get("total_bytes")),
                                                   reading.get("accel")))
        if faults is not None:
            extra.append("%d major faults" % faults)
        applied = sum(1 for event in record.get("events") or [] if event.get("event") == "apply_success")
        if record["outcome"] != "ok" and applied:
            extra.append("%d migrations applied" % applied)
        if reading.get("guest_kernel_oom"):
            extra.append("guest kernel: %s" % reading["guest_kernel_oom"][-1].split("] ", 1)[-1][:70])
    return "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        record["scenario"]["name"], record["django_version"], record["limiter"]["name"], outcome,
        record.get("failed_during") or "", shown, ratio,
        mb(median([r.get("peak_rss_bytes") or 0 for r in runs])), mb(record.get("limit_peak_bytes")),
        "-" if not costs else "%.1f" % median(costs), "; ".join(extra))


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "results/limiters-2015")
    records = load(root)
    print("| scenario | Django | limiter | outcome | stopped in | wall s | x host cgroup | peak MB | "
          "limiter peak MB | start+stop s | inside the guest |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    cells = sorted({(s, d) for s, d, _ in records})
    for scenario, django in cells:
        host = next((records[(scenario, django, h)] for h in HOST if (scenario, django, h) in records), None)
        for limiter in ORDER:
            runs = records.get((scenario, django, limiter))
            if runs is not None:
                print(row(runs, host))
    print()
    for key in sorted(records):
        for record in records[key]:
            print("- %s: %s, commit %s, load %s" % (record["_path"], record["started_at"][:19],
                                                    (record.get("migbench_commit") or "?")[:8],
                                                    record["host"].get("load_1m")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
