"""`migbench sweep`: run a scenario at each size of a --vary grid (everything
else fixed, same seed, smallest first) and fit how time and peak RSS grow with
the generated project's model and migration counts (docs/sweep.md).

Side effects: writes every run's record into --out (default
results/SCENARIO-sweep), the sweep summary into OUT/sweep/SCENARIO.json and the
report into OUT/report (unless --no-report); runs child processes under memory
limiters. Ctrl-C or SIGTERM keeps the finished runs (exit status 130); the same
command resumes. Exit status 1 when a run's validation found a problem.
"""

from __future__ import annotations

import sys
from pathlib import Path

from migbench.units import parse_limit

from .common import (CELL_KEYS, add_cell_options, add_scenario_argument, check_out, cli_values, cluster_pool,
                     cluster_values, command_line, report_after_run, run_interruptible, scenario)


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "sweep", help="run a scenario at several sizes and fit how time and memory grow",
        description="Run the scenario at each size of the --vary grid (everything else fixed, same seed; "
                    "smallest first), all records into one --out, then fit time and peak RSS against the "
                    "generated project's model and/or migration counts (power law on log-log axes, with R^2) "
                    "per series (strategy, Django, Python, cap). With --budget, a size whose estimated time "
                    "(from the sizes already measured) exceeds what is left is skipped, with every larger "
                    "size. The same command resumes an interrupted sweep (docs/sweep.md). Exit status: 1 "
                    "when a run's validation found a problem, 2 for unusable input.")
    add_scenario_argument(parser)
    parser.add_argument("--vary", action="append", required=True, metavar="NAME=V1,V2,...",
                        help="sizes to run: apps=N,... (number of apps), models=K,... (models per app) or "
                             "migrations=M,... (migrations per app); repeat the option to vary several "
                             "(the grid is every combination)")
    add_cell_options(parser)
    for option, text in (
            ("--memory", "comma-separated caps, e.g. 512M,none (default: none)"),
            ("--repeat", "runs per cell and size (default: 1)"),
            ("--budget", "time for the whole sweep, e.g. 30m: a size estimated not to fit in what is left "
                         "is skipped before it starts (default: none; 0 is none too)"),
            ("--out", "directory for the records and the sweep summary (default: results/SCENARIO-sweep)")):
        parser.add_argument(option, help=text)
    parser.add_argument("--no-report", dest="no_report", action="store_true",
                        help="do not rebuild OUT/report (HTML + Markdown) after the sweep")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.bench.run.options import resolve_options
    from migbench.bench.run.sweep import parse_vary, prepare_sweep

    resolved = scenario(args)
    cli = cli_values(args, CELL_KEYS + ("memory", "repeat"))
    # Everything is validated before the output is checked and the sweep is prepared (which
    # prints the limiter it chose): a refusal is the only line.
    parse_vary(args.vary)
    if args.budget is not None:
        parse_limit(args.budget, "--budget")  # 0/none: no budget; under a second is refused
    resolve_options(cli, resolved.run, resolved.source)
    cluster_values(args)
    check_out(Path(args.out) if args.out else Path("results") / ("%s-sweep" % resolved.name))
    sweep = prepare_sweep(resolved, args.vary, cli, args.budget, args.out, command_line())

    def finish(result) -> int:
        for line in result.lines():
            print(line)
        if not args.no_report:
            report_after_run(result.out)
        for line in result.problems():
            print("migbench: %s" % line, file=sys.stderr)
        return result.status

    with cluster_pool(args) as pool:
        sweep.pool = pool
        return run_interruptible(
            sweep.run, finish,
            interrupted="migbench: interrupted; finished runs are kept in %s (summary: %s); run the same "
                        "command again to resume" % (sweep.store.root, sweep.summary_path()))
