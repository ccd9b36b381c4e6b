"""`migbench find`: which commit of a Django clone made a scenario's `migrate` slower (or larger).

Bisects the commits between --good and --bad (first parents, oldest first) with real measured
runs of one cell at each probed commit, each commit in an environment of its own built from the
clone (bench/env/sources.py), and names the first bad commit with the ratio and confidence of
every step (bench/run/find.py says how a commit is judged; docs/find.md why).

Side effects: every run is a result record in --out (default results/SCENARIO-find), with a
summary `find--*.json` and OUT/report (unless --no-report); builds one environment per probed
commit; never changes the clone. Ctrl-C or SIGTERM keeps the finished runs (exit status 130); the
same command resumes. Exit status: 0 when a first bad commit was found, 1 when none was (the
change is under the threshold or within noise, an end cannot be measured), 2 for unusable input.
"""

from __future__ import annotations

import re
from pathlib import Path

from migbench.errors import MigbenchError
from migbench.units import show

from .common import (add_scenario_argument, add_seed_option, check_out, check_same_out, cli_values, command_line,
                     report_after_run, run_interruptible, scenario)

MAX_REPEAT = 50


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "find", help="find the commit of a Django clone that made migrate slower, by real runs at each commit",
        description="Bisect the commits between --good and --bad of a local Django clone: each probe is a "
                    "measured run of one cell (--repeat runs to start, more while a commit's ratio to good is "
                    "within noise of the boundary), in an environment built from that commit. Names the first "
                    "bad commit with the ratio and confidence of every step (docs/find.md). Every run is a "
                    "result record in --out; the same command resumes. Exit status: 0 when a first bad commit "
                    "was found, 1 when none was, 2 for unusable input.")
    add_scenario_argument(parser, optional=False)
    parser.add_argument("--django-repo", dest="django_repo", required=True, metavar="PATH",
                        help="a local git clone of Django (only read: each commit is exported into its own environment)")
    parser.add_argument("--good", required=True, metavar="REF", help="a commit, branch or tag where the case is fast")
    parser.add_argument("--bad", required=True, metavar="REF", help="a later commit, branch or tag where it is slow")
    parser.add_argument("--metric", default="time", choices=("time", "peak"),
                        help="what got worse: time (the run's wall time, the default) or peak (its peak RSS)")
    parser.add_argument("--threshold", default="10%",
                        help="the smallest change worth finding, bad vs good (default: 10%%)")
    parser.add_argument("--repeat", default="3", help="runs per commit to start with (default: 3, at least 2)")
    parser.add_argument("--max-repeat", dest="max_repeat", default="9",
                        help="most runs for a commit whose ratio stays within noise of the boundary (default: 9)")
    parser.add_argument("--python", help="the interpreter every commit runs on (default: the good commit's first "
                                         "native one)")
    parser.add_argument("--strategy", help="the one strategy measured (default: all)")
    parser.add_argument("--database", help="the one engine or server URL (default: sqlite)")
    parser.add_argument("--memory", help="one cap for every run, e.g. 2G (default: none)")
    parser.add_argument("--limiter", help="auto, cgroup2, cgroup1, systemd, rlimit or none (default: auto)")
    parser.add_argument("--timeout", help="per-run time limit, e.g. 30m (default: none)")
    parser.add_argument("--interval", help="RSS sampling interval (default: 20ms)")
    add_seed_option(parser, "override the scenario's seed")
    parser.add_argument("--out", help="directory for the runs' records and the summary (default: results/SCENARIO-find)")
    parser.add_argument("--no-report", dest="no_report", action="store_true",
                        help="do not rebuild OUT/report afterwards")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.bench.env import sources
    from migbench.bench.report.compare.command import parse_threshold
    from migbench.bench.run.find_probes import find_scenario
    from migbench.bench.run.options import default_out, resolve_options

    resolved = scenario(args)
    threshold = parse_threshold(args.threshold)
    if not threshold:
        raise MigbenchError("--threshold %s: give the smallest change worth finding, e.g. 10%%" % args.threshold)
    repeat, most = _count(args.repeat, "--repeat", 2), _count(args.max_repeat, "--max-repeat", 2)
    if most < repeat:
        raise MigbenchError("--max-repeat %d is below --repeat %d; give at least as many" % (most, repeat))
    for option in ("strategy", "database", "memory", "python"):
        if getattr(args, option) and "," in getattr(args, option):
            raise MigbenchError("--%s %s: find measures one cell; give one value" % (option, getattr(args, option)))
    repo = Path(args.django_repo).expanduser()
    good, bad = sources.from_repo(str(repo), args.good), sources.from_repo(str(repo), args.bad)
    cli = cli_values(args, ("python", "strategy", "limiter", "timeout", "interval", "memory", "database"))
    cli.update(django=",".join((good.commit, bad.commit)), django_repo=str(repo), repeat=str(repeat),
               dev_loop="off")
    # The scenario's [run] table is left out: it names a matrix (several versions, caps), find one cell.
    options = resolve_options(cli, {}, resolved.source)
    if len(options.strategies) != 1:
        raise MigbenchError("find measures one strategy; give one --strategy (the scenario's [run] has %s)"
                            % ", ".join(options.strategies))
    out = Path(args.out) if args.out else default_out(resolved.name + "-find")
    check_out(out)
    check_same_out(out, resolved, options)

    def finish(finding) -> int:
        if not args.no_report:
            report_after_run(out)
        return 0 if finding.found else 1

    return run_interruptible(
        lambda: find_scenario(resolved, options, good, bad, out, command_line(),
                              args.metric, threshold, most),
        finish,
        interrupted="migbench: interrupted; the unfinished run was discarded, finished runs are kept in %s; "
                    "run the same command again to resume" % out)


def _count(text: str, option: str, least: int) -> int:
    if not re.fullmatch(r"[0-9]+", str(text).strip()) or not least <= int(text) <= MAX_REPEAT:
        raise MigbenchError("%s: expected a whole number from %d to %d, got %s" % (option, least, MAX_REPEAT,
                                                                                  show(text)))
    return int(text)
