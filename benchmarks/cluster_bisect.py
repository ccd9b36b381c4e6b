#!/usr/bin/env python
"""A memory bisection on two measurement slots against the same bisection on one.

The requirement (issue 19): a memory-only bisection of ``segfault-2015`` on
Django 1.9 / Python 3.11 with ``--workers 2`` is at least 1.6x faster in wall
time than serial, for the same answer; and the search started at the uncapped
peak needs at most 4 capped probes to reach an 8 MiB bracket (the search
before it used 9-12: results/segfault-2015-bisect).

Three pairs of the same ``migbench bisect`` command, with ``--workers 2`` and
without, each into a fresh ``--out`` (nothing is shared between the two sides
of a pair but the machine's caches), in one invocation on one machine:

``recorded``
    the uncapped peak is already recorded: ``migbench run SCENARIO --memory
    none`` into each side's ``--out`` first (also the warm-up: the project, the
    environment and the baseline the validation compares with are cached
    before any timed command), then the bisection, which reads it and starts
    there; timed: the bisection alone;
``measured``
    the default: the bisection measures the uncapped peak first, then starts
    there;
``memory-only``
    ``--no-prior --no-uncapped``: capped probes only, the search from
    ``--high`` and ``--low`` (the search before issue 19, on the grid).

Each bisection's wall time is taken here around its child process (a local
cluster's start-up and shut-down included). The pairs alternate which side
runs first. Both sides answer by the same rule (the smallest grid cap that
passes, confirmed twice); the probes of ``--workers 2`` ran two at a time, so
their records are marked concurrent (memory verdicts are unaffected).
Written: OUT/benchmark.json: every command, its wall time and exit status,
the load before and after, each summary's answer, bracket, probes, probes to
the bracket and most probes at once, the ratio serial / workers per pair,
whether the answers agree, and the provenance (machine, commit, date). A crash
or a differing answer is written as found.

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
    search = ["bisect"] + cell + ["--low", args.low, "--high", args.high, "--tolerance", args.tolerance,
                                  "--no-report"]
    workers = ["--workers", args.workers]
    out = {name: str(args.out / name) for name in
           ("recorded-workers", "recorded-serial", "measured-workers", "measured-serial",
            "memory-only-workers", "memory-only-serial")}
    blind = ["--no-prior", "--no-uncapped"]  # capped probes only, from --high and --low
    uncapped = ["run"] + cell + ["--memory", "none", "--dev-loop", "off", "--no-report"]
    steps = [
        ("uncapped for recorded-workers", uncapped + ["--out", out["recorded-workers"]]),
        ("uncapped for recorded-serial", uncapped + ["--out", out["recorded-serial"]]),
        ("recorded-workers", search + workers + ["--out", out["recorded-workers"]]),
        ("recorded-serial", search + ["--out", out["recorded-serial"]]),
        ("measured-serial", search + ["--out", out["measured-serial"]]),
        ("measured-workers", search + workers + ["--out", out["measured-workers"]]),
        ("memory-only-workers", search + workers + blind + ["--out", out["memory-only-workers"]]),
        ("memory-only-serial", search + blind + ["--out", out["memory-only-serial"]]),
    ]
    started = datetime.datetime.now(datetime.timezone.utc)
    report = {"schema": "migbench.benchmark.cluster-bisect/1", "started_at": started.isoformat(timespec="seconds"),
              "host": host.describe(), "migbench_commit": git_commit(), "argv": sys.argv, "commands": {},
              "pairs": {}}
    for name, command in steps:
        load_before = round(os.getloadavg()[0], 2)
        began = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "migbench"] + command, capture_output=True, text=True)
        wall = time.monotonic() - began
        entry = {"command": ["migbench"] + command, "wall_s": round(wall, 2), "exit": done.returncode,
                 "load_1m_before": load_before, "load_1m_after": round(os.getloadavg()[0], 2),
                 "stdout_tail": done.stdout.strip().splitlines()[-14:],
                 "stderr_tail": done.stderr.strip().splitlines()[-5:]}
        if command[0] == "bisect":
            entry["summary"] = _summary(Path(command[command.index("--out") + 1]))
        report["commands"][name] = entry
        print("%-30s %7.1f s  exit %d  %s" % (name, wall, done.returncode,
                                               (entry.get("summary") or {}).get("summary", "")), flush=True)
        _write(args.out / "benchmark.json", report)
    for pair in ("recorded", "measured", "memory-only"):
        side = {kind: report["commands"][pair + "-" + kind] for kind in ("workers", "serial")}
        answers = [(side[kind].get("summary") or {}).get("answer_bytes") for kind in ("workers", "serial")]
        report["pairs"][pair] = {
            "serial_s": side["serial"]["wall_s"], "workers_s": side["workers"]["wall_s"],
            "ratio_serial_over_workers": round(side["serial"]["wall_s"] / side["workers"]["wall_s"], 3),
            "same_answer": answers[0] is not None and answers[0] == answers[1], "answer_bytes": answers}
        print("%-12s serial / workers: %.2fx; same answer: %s" % (
            pair, report["pairs"][pair]["ratio_serial_over_workers"], report["pairs"][pair]["same_answer"]))
    report["finished_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    _write(args.out / "benchmark.json", report)
    return 0


def _summary(out: Path) -> dict | None:
    found = sorted(out.glob("*--bisect-*.json"))
    if not found:
        return None
    bisection = json.loads(found[0].read_text(encoding="utf-8"))["bisection"]
    keys = ("status", "answer_bytes", "bracket_bytes", "confirmation", "uncapped_peak_bytes", "prior_bytes",
            "width", "max_in_flight", "probes_to_bracket", "summary")
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
