#!/usr/bin/env python
"""A memory bisection on two measurement slots against the same bisection on one.

The requirement (issue 19): a memory-only bisection of ``segfault-2015`` on
Django 1.9 / Python 3.11 with ``--workers 2`` is at least 1.6x faster in wall
time than serial, for the same answer; and the search started at the uncapped
peak needs at most 4 capped probes to reach an 8 MiB bracket (the search
before it used 9-12: results/segfault-2015-bisect).

Procedure, in one invocation, on one machine:

1. ``warm-up``: one ``migbench run`` of the cell (uncapped), so the generated
   project, the environment and the baseline (the reference migrate the
   validation compares with) are cached before either timed command: neither
   pays for them. Its record is kept in OUT/warmup.
2. ``workers``: ``migbench bisect SCENARIO ... --workers 2 --out OUT/workers-2``,
   its wall time taken here around the child process (cluster start-up and
   shut-down included).
3. ``serial``: the same command without ``--workers``, into ``OUT/serial``.

Both bisections measure their own uncapped peak first (fresh --out), start at
it and confirm by the unchanged rule; the probes of the workers' command ran two
at a time, so their times are marked concurrent in their records (memory
verdicts are unaffected: that is what a bisection uses). Written:
OUT/benchmark.json with both commands, their wall times, the ratio
serial / workers, each summary's answer, bracket, probes, rounds and probes to
the bracket, and the provenance (machine, commit, load before and after each
command, date). A crash or a differing answer is written as found.

    python benchmarks/cluster_bisect.py --out results/cluster-bisect
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from migbench.bench.measure import host
from migbench.provenance import git_commit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--scenario", default="segfault-2015")
    parser.add_argument("--django", default="1.9")
    parser.add_argument("--python", default="3.11")
    parser.add_argument("--low", default="64M")
    parser.add_argument("--high", default="1G")
    parser.add_argument("--tolerance", default="8M")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--timeout", default="30m")
    args = parser.parse_args(argv)
    if args.out.exists() and any(args.out.iterdir()):
        print("%s is not empty: each benchmark needs fresh directories (nothing is reused)" % args.out,
              file=sys.stderr)
        return 2
    cell = [args.scenario, "--django", args.django, "--python", args.python, "--timeout", args.timeout]
    search = ["--low", args.low, "--high", args.high, "--tolerance", args.tolerance, "--no-report"]
    steps = [
        ("warm-up", ["run"] + cell + ["--memory", "none", "--dev-loop", "off", "--no-report", "--out", str(args.out / "warmup")]),
        ("workers", ["bisect"] + cell + search + ["--workers", args.workers,
                                                  "--out", str(args.out / ("workers-" + args.workers))]),
        ("serial", ["bisect"] + cell + search + ["--out", str(args.out / "serial")]),
    ]
    started = datetime.datetime.now(datetime.timezone.utc)
    report = {"schema": "migbench.benchmark.cluster-bisect/1", "started_at": started.isoformat(timespec="seconds"),
              "host": host.describe(), "migbench_commit": git_commit(), "argv": sys.argv, "commands": {}}
    for name, command in steps:
        argv_ = [sys.executable, "-m", "migbench"] + command
        load_before = round(os.getloadavg()[0], 2)
        began = time.monotonic()
        done = subprocess.run(argv_, capture_output=True, text=True)
        wall = time.monotonic() - began
        entry = {"command": ["migbench"] + command, "wall_s": round(wall, 2), "exit": done.returncode,
                 "load_1m_before": load_before, "load_1m_after": round(os.getloadavg()[0], 2),
                 "stdout_tail": done.stdout.strip().splitlines()[-12:],
                 "stderr_tail": done.stderr.strip().splitlines()[-5:]}
        if name != "warm-up":
            entry["summary"] = _summary(Path(command[command.index("--out") + 1]))
        report["commands"][name] = entry
        print("%-8s %7.1f s  exit %d  %s" % (name, wall, done.returncode,
                                              (entry.get("summary") or {}).get("summary", "")), flush=True)
        _write(args.out / "benchmark.json", report)
    workers, serial = report["commands"]["workers"], report["commands"]["serial"]
    report["ratio_serial_over_workers"] = round(serial["wall_s"] / workers["wall_s"], 3)
    answers = [(c.get("summary") or {}).get("answer_bytes") for c in (workers, serial)]
    report["same_answer"] = answers[0] is not None and answers[0] == answers[1]
    report["finished_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    _write(args.out / "benchmark.json", report)
    print("serial / workers: %.2fx; same answer: %s" % (report["ratio_serial_over_workers"], report["same_answer"]))
    return 0


def _summary(out: Path) -> dict | None:
    found = sorted(out.glob("*--bisect-*.json"))
    if not found:
        return None
    bisection = json.loads(found[0].read_text(encoding="utf-8"))["bisection"]
    keys = ("status", "answer_bytes", "bracket_bytes", "confirmation", "uncapped_peak_bytes", "prior_bytes",
            "width", "rounds", "probes_to_bracket", "summary")
    out_ = {key: bisection.get(key) for key in keys}
    out_["probes"] = len(bisection["probes"])
    out_["capped_probes"] = [(p["purpose"], p["cap"], p["outcome"], p["wall_s"]) for p in bisection["probes"]]
    return out_


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
