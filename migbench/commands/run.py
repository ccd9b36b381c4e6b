"""`migbench run`: measure `migrate` of a scenario's generated project across
Django x Python x memory caps x strategies, print a summary per cell and a
comparison of strategies, and rebuild OUT/report.

Side effects: generates projects and builds cached environments as needed, runs
child processes under memory limiters, writes one result record per run into
--out (default results/SCENARIO) and the report into OUT/report (unless
--no-report). Ctrl-C or SIGTERM discards the unfinished run and keeps the
finished ones (exit status 130); the same command resumes. Exit status 1 when a
run's validation found a problem or some cells could not be prepared.
"""

from __future__ import annotations

import sys
from pathlib import Path

from migbench.errors import MigbenchError

from .common import (CELL_KEYS, add_cell_options, check_out, check_same_out, cli_values, cluster_pool, cluster_values,
                     command_line, report_after_run, run_interruptible, scenario)
from .project import add_project_options


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "run", help="measure `migrate` of a scenario's project across Django x Python x memory caps")
    parser.add_argument("scenario", nargs="?", default=None,
                        help="a scenario file, or the name of a shipped one (default: quick; not with --project)")
    add_cell_options(parser)
    add_project_options(parser)
    parser.add_argument("--memory", help="comma-separated caps, e.g. 512M,1G,none (default: none)")
    parser.add_argument("--dev-loop", dest="dev_loop", choices=("auto", "on", "off"),
                        help="also time makemigrations --check, migrate --plan and test-database creation "
                        "on the migrated database (auto: when a strategy transforms the project)")
    parser.add_argument("--repeat", help="runs per cell (default: 1)")
    parser.add_argument("--database", help="database engines, comma-separated: sqlite (default, a fresh file per "
                        "run), postgresql, mariadb (alias mysql): a throwaway server migbench starts itself; "
                        "or your server, postgresql://user@host:5432/ or mysql://user@host:3306/, where migbench "
                        "makes and drops its own migbench_* databases")
    parser.add_argument("--out", help="directory for the result records (default: results/SCENARIO)")
    parser.add_argument("--no-report", dest="no_report", action="store_true",
                        help="do not rebuild OUT/report (HTML + Markdown) after the runs")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.bench.records import ResultStore
    from migbench.bench.run.matrix import plan_with_notes
    from migbench.bench.run.options import default_out, resolve_options
    from migbench.bench.run.progress import Progress

    if args.project or args.manage:
        from .project import handle_project

        if args.cluster or args.workers:
            raise MigbenchError("--cluster and --workers run generated scenarios; a real project (--project, "
                                "--manage) is measured on this machine: leave them out")

        return handle_project(args, measure_and_report)
    for option in ("settings", "env", "redis", "name"):
        if getattr(args, option):
            raise MigbenchError("--%s is for a real project: add --project PATH (or --manage), or leave it out"
                                % option)
    args.scenario = args.scenario or "quick"
    resolved = scenario(args)
    cli = cli_values(args, CELL_KEYS + ("memory", "repeat", "database", "dev_loop"))
    options = resolve_options(cli, resolved.run, resolved.source)
    out = Path(args.out) if args.out else default_out(resolved.name)
    check_out(out)  # a bad --out found after the runs would lose them
    check_same_out(out, resolved, options)
    progress = Progress()
    caps = [m for m in options.memories if m is not None]
    cluster_values(args)  # a bad --cluster or --workers value: one line before planning builds anything
    matrix = plan_with_notes(resolved, options, max(caps) if caps else None, progress)
    with cluster_pool(args) as pool:
        return measure_and_report(args, resolved, options, matrix, ResultStore(out), progress, pool)


def measure_and_report(args, resolved, options, matrix, store, progress, pool=None) -> int:
    """Run the planned matrix, print the summary from the stored records, rebuild the report."""
    from migbench.bench.report.terminal import invalid_lines, records_by_cell, strategy_lines, summary_lines
    from migbench.bench.run.executor import UnpreparedCells, run_matrix

    out = store.root

    def measure() -> str | None:
        """Run the matrix; the error of the cells that could not be prepared (the others ran), if any."""
        try:
            run_matrix(resolved, options, matrix, store, command_line(), progress, pool)
        except UnpreparedCells as error:
            return str(error)
        return None

    def finish(unprepared: str | None) -> int:
        cells = [p.cell for p in matrix.cells]
        by_cell, left_out = records_by_cell(store, cells)
        for line in left_out:
            print("migbench: %s" % line, file=sys.stderr)
        for line in summary_lines(by_cell, cells):
            print(line)
        comparison = strategy_lines(by_cell, cells)
        if comparison:
            print()
            for line in comparison:
                print(line)
        print("records in %s" % out)
        if not args.no_report:
            report_after_run(out)
        invalid = invalid_lines(by_cell)
        for line in invalid:
            print("migbench: %s" % line, file=sys.stderr)
        if unprepared:
            print("migbench: error: %s" % unprepared, file=sys.stderr)
        return 1 if invalid or unprepared else 0

    return run_interruptible(
        measure, finish, on_interrupt=progress.finish,
        interrupted="migbench: interrupted; the unfinished run was discarded, finished runs are kept in %s; "
                    "run the same command again to resume" % out)
