#!/usr/bin/env python
"""The README's "1.7, 1.8, 1.9" tables, read from the records only.

    python benchmarks/versions_table.py results/tester-2015-django17 [more dirs...]

prints one markdown row per record (scenario, project size, Django / Python, cap): the outcome
and why, the phase it stopped in, how many migrations it applied (from the record's events), its
peak RSS, wall time and the time spent before the first migration applied (loading the graph,
planning, rendering states: the phases Django 1.7's planning and 1.8's up-front rendering live
in), then the file it came from. Nothing is computed that the records do not hold.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MiB = 2**20


def key(version: str) -> tuple:
    return tuple(int("".join(c for c in part if c.isdigit()) or 0) for part in version.split("+")[0].split("."))


def rows(roots: list[Path]) -> list[str]:
    records = []
    for root in roots:
        for path in sorted(root.glob("*.json")):
            data = json.loads(path.read_text())
            if str(data.get("schema", "")).startswith("migbench.run/"):
                records.append((data, path))
    records.sort(key=lambda item: (item[0]["scenario"]["name"], item[0]["project"].get("apps") or 0,
                                   key(item[0]["django_version"]), item[0]["python_version"],
                                   item[0]["memory_limit_bytes"] or 2**63, item[0]["repeat"]))
    out = ["| scenario (apps, migrations) | Django / Python | cap | outcome | stopped in | migrations applied "
           "| peak MB | wall s | before the first migration s | record |", "|---|---|---|---|---|---|---|---|---|---|"]
    for data, path in records:
        events = data.get("events") or []
        applied = sum(1 for e in events if e.get("event") == "apply_success")
        first = next((e["t"] for e in events if e.get("event") == "apply_start"), None)
        cap = data["memory_limit_bytes"]
        out.append("| %s (%s, %s) | %s / %s%s | %s | %s%s | %s | %d | %d | %.1f | %s | %s |" % (
            data["scenario"]["name"], data["project"].get("apps"), data["project"].get("migrations"),
            data["django_version"], data["python_version"], " + shim" if data.get("shim") else "",
            "none" if cap is None else "%d MB" % (cap // MiB),
            "**%s**" % data["outcome"] if data["outcome"] != "ok" else "ok",
            "" if data["outcome"] == "ok" else " (%s)" % data["outcome_reason"],
            data.get("failed_during") or "", applied, round(data["peak_rss_bytes"] / MiB), data["wall_s"],
            "-" if first is None else "%.1f" % first, "%s/%s" % (path.parent.name, path.name)))
    return out


if __name__ == "__main__":
    print("\n".join(rows([Path(arg) for arg in sys.argv[1:]])))
