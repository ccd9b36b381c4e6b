"""`migbench bisect`: per cell (Django x Python x strategy), find the smallest
memory cap under which `migrate` finishes, by bisection over real capped runs
between --low and --high, confirmed by a repeat at the answer and a run one step
below, and compared with the uncapped peak (docs/bisect.md).

Side effects: every probe is a result record in --out (default
results/SCENARIO-bisect), with the summaries and OUT/report (unless
--no-report); runs child processes under memory limiters. Ctrl-C or SIGTERM keeps
the finished probes (exit status 130); the same command resumes. Exit status 1
when a cell got no answer.
"""

from __future__ import annotations

from pathlib import Path

from migbench.errors import MigbenchError
from migbench.units import parse_cap

from .common import (CELL_KEYS, add_cell_options, add_scenario_argument, check_out, check_same_out, cli_values,
                     cluster_pool, cluster_values, command_line, report_after_run, run_interruptible, scenario)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "bisect", help="find the smallest memory cap under which migrate finishes, by real capped runs",
        description="For each cell (Django x Python x strategy), search the memory cap between --low and "
                    "--high with real capped runs until the bracket is one --tolerance step (starting at the "
                    "cell's uncapped peak, measured first unless recorded; with --cluster/--workers, one probe "
                    "per slot at once), confirm the "
                    "answer with a repeat at it and a run one step below, and compare it with the uncapped "
                    "peak (docs/bisect.md). Every probe is a result record in --out; the same command "
                    "resumes. Exit status: 0 when every cell got an answer, 1 when one did not (--high "
                    "fails, an error or timeout, a threshold too noisy), 2 for unusable input.")
    add_scenario_argument(parser, optional=False)
    add_cell_options(parser, limiters="auto, cgroup2, cgroup1, systemd, rlimit, docker, podman or vm")
    parser.add_argument("--low", default="64M", help="smallest cap to try (default: 64M)")
    parser.add_argument("--high", default="4G", help="largest cap to try; tried first when no uncapped peak is known (default: 4G)")
    parser.add_argument("--tolerance", default="8M", help="stop when the bracket is this narrow (default: 8M)")
    parser.add_argument("--out", help="directory for the probes' records and the summaries "
                                      "(default: results/SCENARIO-bisect)")
    parser.add_argument("--no-uncapped", dest="no_uncapped", action="store_true",
                        help="do not run an uncapped run (the search's starting point and the cap/peak comparison) when "
                        "none is recorded")
    parser.add_argument("--no-prior", dest="no_prior", action="store_true",
                        help="start the search from --high and --low even when the cell's uncapped peak is known "
                        "(by default the bracket starts at the uncapped peak and widens from there)")
    parser.add_argument("--no-report", dest="no_report", action="store_true",
                        help="do not rebuild OUT/report (HTML + Markdown, with the minimal-cap chart) afterwards")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.bench.run.options import default_out, resolve_options
    from migbench.bench.run.probes import bisect_scenario, parse_bounds

    resolved = scenario(args)
    for option, text in (("--low", args.low), ("--high", args.high)):
        try:
            parse_cap(text)  # every probe is a cap: 1M..1024T, like --memory
        except MigbenchError as error:
            raise MigbenchError("%s: %s" % (option, error)) from None
    bounds = parse_bounds(args.low, args.high, args.tolerance)
    cli = cli_values(args, CELL_KEYS)
    cli.update(memory="none", repeat="1", database=None, dev_loop="off")  # bisect chooses the caps
    options = resolve_options(cli, resolved.run, resolved.source)
    if options.limiter == "none":
        raise MigbenchError("--limiter none cannot cap memory, and every probe of a bisection runs under a "
                            "cap; use --limiter auto, cgroup2, cgroup1, systemd, rlimit, docker, podman or vm")
    out = Path(args.out) if args.out else default_out(resolved.name + "-bisect")
    check_out(out)  # a bad --out found after the probes would lose them
    check_same_out(out, resolved, options)
    cluster_values(args)

    def finish(results) -> int:
        if not args.no_report:
            report_after_run(out)  # the minimal-cap chart of every cell bisected into OUT so far
        return 0 if all(result.answered for result in results) else 1

    with cluster_pool(args) as pool:
        return run_interruptible(
            lambda: bisect_scenario(resolved, options, bounds, out, command_line(), uncapped=not args.no_uncapped,
                                    pool=pool, prior=not args.no_prior),
            finish,
            interrupted="migbench: interrupted; the unfinished runs were discarded, finished probes are kept in %s; "
                        "run the same command again to resume" % out)
