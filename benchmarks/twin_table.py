#!/usr/bin/env python
"""The README's twin-versus-original table, read from the records only.

    python benchmarks/twin_table.py ORIGINAL_DIR TWIN_DIR [--strategy all]

ORIGINAL_DIR holds the records of `migbench run --project ...` on the real project,
TWIN_DIR those of `migbench run TWIN.toml` on the scenario `migbench twin` wrote, on
the same Django, Python and engine. Prints one markdown row per (Django, engine):
the medians (and ranges) of the ok runs' wall time and peak RSS of each, and the
twin's ratio to the original (the issue's target: time within 0.67-1.5x, peak within
+-25%), plus what each project held (models, migrations). Nothing is computed that
the records do not hold.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

MiB = 2**20


def load(root: Path, strategy: str) -> dict:
    """{(django, python, engine): [ok records]} of `strategy` under root."""
    found: dict = {}
    for path in sorted(root.glob("*.json")):
        record = json.loads(path.read_text())
        if record.get("strategy") != strategy or record.get("outcome") != "ok":
            continue
        key = (record["django_version"], record["python_version"], record["database"]["engine"])
        found.setdefault(key, []).append(record)
    return found


def spread(values: list[float], fmt: str) -> str:
    median = statistics.median(values)
    return (fmt % median) + (" (%s-%s)" % (fmt % min(values), fmt % max(values)) if len(values) > 1 else "")


def rows(original: dict, twin: dict) -> list[str]:
    out = ["| Django / Python / engine | project | models | migrations | runs | migrate s | peak MB |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for key in sorted(set(original) & set(twin)):
        pairs = (("original", original[key]), ("twin", twin[key]))
        for name, runs in pairs:
            project = runs[0]["project"]
            out.append("| %s | %s (%s) | %s | %s | %d | %s | %s |" % (
                " / ".join(key), name, runs[0]["scenario"]["name"], project.get("models"),
                project.get("migrations"), len(runs), spread([r["wall_s"] for r in runs], "%.2f"),
                spread([r["peak_rss_bytes"] / MiB for r in runs], "%.0f")))
        wall = statistics.median(r["wall_s"] for r in twin[key]) / statistics.median(
            r["wall_s"] for r in original[key])
        peak = statistics.median(r["peak_rss_bytes"] for r in twin[key]) / statistics.median(
            r["peak_rss_bytes"] for r in original[key])
        out.append("| %s | twin / original | | | | %.2fx (%s) | %+.0f%% (%s) |" % (
            " / ".join(key), wall, "within 0.67-1.5x" if 0.67 <= wall <= 1.5 else "outside 0.67-1.5x",
            100 * (peak - 1), "within +-25%" if abs(peak - 1) <= 0.25 else "outside +-25%"))
    return out


def main(argv: list[str]) -> int:
    strategy = "all"
    if "--strategy" in argv:
        at = argv.index("--strategy")
        strategy = argv[at + 1]
        argv = argv[:at] + argv[at + 2:]
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    original, twin = (load(Path(a), strategy) for a in argv)
    if not set(original) & set(twin):
        print("no (Django, Python, engine) has ok %s runs in both directories" % strategy, file=sys.stderr)
        return 1
    print("\n".join(rows(original, twin)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
