"""The `migbench` command: one entry point, one subcommand per job.

Every user-fixable problem surfaces as one line on stderr (`migbench: error:
...`) and exit status 2; a failed check is exit status 1; Ctrl-C is 130.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from . import __version__
from .errors import MigbenchError
from .targets import DEFAULT_LINE, LINES, DjangoLine, resolve_line


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except MigbenchError as error:
        print("migbench: error: %s" % error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("migbench: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migbench",
        description="Generate synthetic Django projects and measure what `migrate` costs.",
    )
    parser.add_argument("--version", action="version", version="migbench %s" % __version__)
    commands = parser.add_subparsers(metavar="COMMAND")

    generate = commands.add_parser("generate", help="write a Django project from a scenario")
    generate.add_argument("scenario", nargs="?", default="quick",
                          help="a scenario file, or the name of a shipped one (default: quick)")
    generate.add_argument("--out", required=True, help="directory to write the project into")
    generate.add_argument("--seed", type=int, help="override the scenario's seed")
    generate.add_argument("--django", help="target Django line, e.g. 1.8 or 5.2 "
                                           "(default: the scenario's, else the installed one, else %s)" % DEFAULT_LINE)
    generate.add_argument("--force", action="store_true", help="replace --out if it is not empty")
    generate.set_defaults(handler=_generate)

    check = commands.add_parser(
        "check", help="validate a generated project on a real Django: check, makemigrations, "
                      "migrate, every app back to zero, migrate again, write rows")
    check.add_argument("project", help="a directory written by `migbench generate`")
    check.add_argument("--django", help="Django line or release to check with (default: the project's target)")
    check.add_argument("--python", help="interpreter: a version like 2.7 or a path (default: the first "
                                        "installed one that runs the Django line natively)")
    check.set_defaults(handler=_check)

    run = commands.add_parser(
        "run", help="measure `migrate` of a scenario's project across Django x Python x memory caps")
    run.add_argument("scenario", nargs="?", default="quick",
                     help="a scenario file, or the name of a shipped one (default: quick)")
    _add_cell_options(run)
    run.add_argument("--memory", help="comma-separated caps, e.g. 512M,1G,none (default: none)")
    run.add_argument("--dev-loop", dest="dev_loop", choices=("auto", "on", "off"),
                     help="also time makemigrations --check, migrate --plan and test-database creation "
                     "on the migrated database (auto: when a strategy transforms the project)")
    run.add_argument("--repeat", help="runs per cell (default: 1)")
    run.add_argument("--database", help="database engine (default: sqlite, a fresh file per run)")
    run.add_argument("--out", help="directory for the result records (default: results/SCENARIO)")
    run.add_argument("--no-report", dest="no_report", action="store_true",
                     help="do not rebuild OUT/report (HTML + Markdown) after the runs")
    run.set_defaults(handler=_run)

    report = commands.add_parser(
        "report", help="write an HTML and a Markdown report (charts, tables, provenance) from result records")
    report.add_argument("results", nargs="+", metavar="RESULTS",
                        help="result files or directories written by `migbench run` (searched recursively)")
    report.add_argument("--out", help="directory for the report (default: RESULTS/report for one directory, "
                                      "else ./migbench-report)")
    report.add_argument("--format", default="html,md", help="comma-separated: html, md (default: html,md)")
    report.set_defaults(handler=_report)

    compare = commands.add_parser(
        "compare", help="pair two sets of result records cell by cell and show time and memory ratios",
        description="Pair runs of the same cell (scenario, strategy, Django, Python, cap, database) in "
                    "BASELINE and CANDIDATE and print candidate/baseline ratios of wall time and peak memory "
                    "over the ok runs, with a 95% interval from the repeats (docs/compare.md). Exit status: "
                    "1 when --threshold is given and a cell regresses: a new crash (a failed run where the "
                    "baseline had none, or no ok run left), or a ratio above 1 + threshold beyond noise (its "
                    "interval excludes 1; with a single run on each side, the point ratio alone); else 0; "
                    "2 for unusable input.")
    compare.add_argument("baseline", metavar="BASELINE", help="a result file or directory: the reference")
    compare.add_argument("candidate", metavar="CANDIDATE", help="a result file or directory: what changed")
    compare.add_argument("--threshold", help="fail (exit 1) on a regression beyond this, e.g. 5%% or 0.05; "
                                             "without it, report only (exit 0)")
    compare.add_argument("--metric", help="comma-separated metrics to show and gate on: time, peak "
                                          "(default: time,peak)")
    compare.set_defaults(handler=_compare)

    bisect = commands.add_parser(
        "bisect", help="find the smallest memory cap under which migrate finishes, by real capped runs",
        description="For each cell (Django x Python x strategy), bisect the memory cap between --low and "
                    "--high with real capped runs until the bracket is at most --tolerance, confirm the "
                    "answer with a repeat at it and a run one step below, and compare it with the uncapped "
                    "peak (docs/bisect.md). Every probe is a result record in --out; the same command "
                    "resumes. Exit status: 0 when every cell got an answer, 1 when one did not (--high "
                    "fails, an error or timeout, a threshold too noisy), 2 for unusable input.")
    bisect.add_argument("scenario", help="a scenario file, or the name of a shipped one")
    _add_cell_options(bisect, limiters="auto, cgroup2, cgroup1, systemd or rlimit")
    bisect.add_argument("--low", default="64M", help="smallest cap to try (default: 64M)")
    bisect.add_argument("--high", default="4G", help="largest cap to try; tried first (default: 4G)")
    bisect.add_argument("--tolerance", default="8M", help="stop when the bracket is this narrow (default: 8M)")
    bisect.add_argument("--out", help="directory for the probes' records and the summaries "
                                      "(default: results/SCENARIO-bisect)")
    bisect.add_argument("--no-uncapped", dest="no_uncapped", action="store_true",
                        help="do not run an uncapped run for the cap/peak comparison when none is recorded")
    bisect.add_argument("--no-report", dest="no_report", action="store_true",
                        help="do not rebuild OUT/report (HTML + Markdown, with the minimal-cap chart) afterwards")
    bisect.set_defaults(handler=_bisect)

    sweep = commands.add_parser(
        "sweep", help="run a scenario at several sizes and fit how time and memory grow",
        description="Run the scenario at each size of the --vary grid (everything else fixed, same seed; "
                    "smallest first), all records into one --out, then fit time and peak RSS against the "
                    "generated project's model and/or migration counts (power law on log-log axes, with R^2) "
                    "per series (strategy, Django, Python, cap). With --budget, a size whose estimated time "
                    "(from the sizes already measured) exceeds what is left is skipped, with every larger "
                    "size. The same command resumes an interrupted sweep (docs/sweep.md). Exit status: 1 "
                    "when a run's validation found a problem, 2 for unusable input.")
    sweep.add_argument("scenario", nargs="?", default="quick",
                       help="a scenario file, or the name of a shipped one (default: quick)")
    sweep.add_argument("--vary", action="append", required=True, metavar="NAME=V1,V2,...",
                       help="sizes to run: apps=N,... (number of apps), models=K,... (models per app) or "
                            "migrations=M,... (migrations per app); repeat the option to vary several "
                            "(the grid is every combination)")
    _add_cell_options(sweep)
    for option, text in (
            ("--memory", "comma-separated caps, e.g. 512M,none (default: none)"),
            ("--repeat", "runs per cell and size (default: 1)"),
            ("--budget", "time for the whole sweep, e.g. 30m: a size estimated not to fit in what is left "
                         "is skipped before it starts (default: none)"),
            ("--out", "directory for the records and the sweep summary (default: results/SCENARIO-sweep)")):
        sweep.add_argument(option, help=text)
    sweep.add_argument("--no-report", dest="no_report", action="store_true",
                       help="do not rebuild OUT/report (HTML + Markdown) after the sweep")
    sweep.set_defaults(handler=_sweep)

    scenarios = commands.add_parser("scenarios", help="list the shipped scenarios")
    scenarios.set_defaults(handler=_scenarios)

    envs = commands.add_parser("envs", help="list, create or prune the cached (Python, Django) environments")
    envs.add_argument("--create", metavar="LINES", help="comma-separated Django lines to build, e.g. 1.8,5.2")
    envs.add_argument("--python", help="interpreter for --create (version or path)")
    envs.add_argument("--prune", action="store_true", help="remove half-built environments")
    envs.set_defaults(handler=_envs)
    return parser


def _add_cell_options(parser, limiters: str = "auto, cgroup2, cgroup1, systemd, rlimit or none") -> None:
    """The options run, bisect and sweep share: which cells, how each run is limited and sampled."""
    parser.add_argument("--django", help="comma-separated Django lines or releases, e.g. 1.8,1.9,5.2 "
                                         "(default: the scenario's [run], else the installed Django)")
    parser.add_argument("--python", help="comma-separated interpreters (versions like 2.7,3.11 or paths); "
                                         "default: the first installed one that runs each Django natively")
    parser.add_argument("--strategy", help="comma-separated strategies: all, per-app, backward, squash, "
                                           "squash-final, zero, optimize, floor (default: all)")
    parser.add_argument("--limiter", help="%s (default: auto)" % limiters)
    parser.add_argument("--timeout", help="per-run time limit, e.g. 30m (default: none)")
    parser.add_argument("--interval", help="RSS sampling interval (default: 20ms)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed (the same at every size of a sweep)")


# -- generate ------------------------------------------------------------------


def _scenario(args):
    """The scenario named on the command line, with --seed applied."""
    from .generator import resolve_scenario

    scenario = resolve_scenario(args.scenario)
    if args.seed is not None:
        if args.seed < 0:
            raise MigbenchError("--seed must be >= 0, got %d" % args.seed)
        scenario = scenario.with_seed(args.seed)
    return scenario


def _generate(args) -> int:
    from .generator import build_project, write_project

    scenario = _scenario(args)
    target, why = _generation_target(args.django, scenario.generator.django)
    started = time.perf_counter()
    project = build_project(scenario, target)
    out = write_project(project, args.out, force=args.force)
    seconds = time.perf_counter() - started
    for line in project.summary.lines():
        print(line)
    print("  files       %d written to %s in %.2fs (target Django %s: %s)"
          % (len(project.files), out, seconds, target.line, why))
    return 0


def _generation_target(requested: str | None, from_scenario: str | None) -> tuple[DjangoLine, str]:
    if requested:
        return resolve_line(requested), "--django"
    if from_scenario:
        return resolve_line(from_scenario), "the scenario's generator.django"
    installed = _installed_django()
    if installed and "%d.%d" % installed[:2] in LINES:
        return resolve_line("%d.%d" % installed[:2]), "the Django installed here"
    return resolve_line(DEFAULT_LINE), "the default"


def _installed_django() -> tuple[int, ...] | None:
    try:
        import django
    except ImportError:
        return None
    return tuple(django.VERSION[:2])


# -- check ---------------------------------------------------------------------


def _check(args) -> int:
    from .bench.env import environments
    from .bench.run.check import validate_project

    project = Path(args.project)
    manifest = _manifest(project)
    line = args.django or manifest["django_target"]
    target = resolve_line(line)
    if target.line != manifest["django_target"]:
        print("note: the project was generated for Django %s; checking it with %s"
              % (manifest["django_target"], target.line))
    env = environments.ensure(line, args.python)
    print("checking %s with Django %s on Python %s%s (%s)" % (
        project, env.django_version, env.python_version, " (shim)" if env.shim else "", env.path))
    with tempfile.TemporaryDirectory(prefix="migbench-check-") as workdir:
        result = validate_project(project.absolute(), env.python, target, manifest["apps"], Path(workdir),
                                  on_step=lambda step: print("  " + step.line(), flush=True))
    if not result.ok:
        print(result.failures(), file=sys.stderr)
        print("FAILED", file=sys.stderr)
        return 1
    print("ok")
    return 0


def _manifest(project: Path) -> dict:
    path = project / "migbench.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MigbenchError("%s: no migbench.json; is this a directory written by `migbench generate`?" % project) from None
    except (OSError, ValueError) as error:
        raise MigbenchError("%s: unreadable manifest (%s); regenerate the project" % (path, error)) from None


# -- run -----------------------------------------------------------------------


def _run(args) -> int:
    import signal

    from .bench.records import ResultStore
    from .bench.report.terminal import invalid_lines, records_by_cell, strategy_lines, summary_lines
    from .bench.run.executor import UnpreparedCells, plan_with_notes, run_matrix
    from .bench.run.options import default_out, resolve_options
    from .bench.run.progress import Progress

    scenario = _scenario(args)
    cli = {key: getattr(args, key) for key in ("django", "python", "memory", "strategy", "repeat",
                                               "database", "limiter", "timeout", "interval", "dev_loop")}
    options = resolve_options(cli, scenario.run, scenario.source)
    out = Path(args.out) if args.out else default_out(scenario.name)
    progress = Progress()
    caps = [m for m in options.memories if m is not None]
    matrix = plan_with_notes(scenario, options, max(caps) if caps else None, progress)
    store = ResultStore(out)
    # SIGTERM (a CI cancel, `kill`) must clean up like Ctrl-C: child killed, cgroup removed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    unprepared = None
    try:
        run_matrix(scenario, options, matrix, store, ["migbench"] + list(sys.argv[1:]), progress)
    except UnpreparedCells as error:  # some cells could not be prepared; the others ran
        unprepared = str(error)
    except KeyboardInterrupt:
        progress.finish()
        print("migbench: interrupted; the unfinished run was discarded, finished runs are kept in %s; "
              "run the same command again to resume" % out, file=sys.stderr)
        return 130
    cells = [p.cell for p in matrix.cells]
    by_cell = records_by_cell(store, cells)
    for line in summary_lines(by_cell, cells):
        print(line)
    comparison = strategy_lines(by_cell, cells)
    if comparison:
        print()
        for line in comparison:
            print(line)
    print("records in %s" % out)
    if not args.no_report:
        _report_after_run(out)
    invalid = invalid_lines(by_cell)
    for line in invalid:
        print("migbench: %s" % line, file=sys.stderr)
    if unprepared:
        print("migbench: error: %s" % unprepared, file=sys.stderr)
    return 1 if invalid or unprepared else 0


# -- report, compare -----------------------------------------------------------------


def _report(args) -> int:
    from .bench.report.load import load_results
    from .bench.report.pages import default_out, parse_formats

    formats = parse_formats(args.format)
    results = load_results(args.results)
    out = Path(args.out) if args.out else default_out(args.results)
    print(results.describe())
    for fmt, path in _write_report(results, args.results, out, formats).items():
        print("%-6s %s" % (fmt, path))
    return 0


def _write_report(results, sources: list[str], out: Path, formats=("html", "md")) -> dict[str, Path]:
    from .bench.report.build import build_report
    from .bench.report.pages import write_report

    return write_report(build_report(results, [str(s) for s in sources]), out, formats)


def _compare(args) -> int:
    from .bench.report.compare import run_compare

    lines, status = run_compare(args.baseline, args.candidate, args.threshold, args.metric)
    for line in lines:
        print(line)
    return status


def _report_after_run(out: Path) -> None:
    """The report of everything in the run's directory; a failure here never touches the records."""
    from .bench.report.load import load_results

    try:
        written = _write_report(load_results([out]), [str(out)], out / "report")
    except MigbenchError as error:
        print("migbench: report not written: %s; the records are intact (`migbench report %s`)"
              % (error, out), file=sys.stderr)
        return
    print("report in %s" % written["html"])


def _bisect(args) -> int:
    import signal

    from .bench.run.options import default_out, resolve_options
    from .bench.run.probes import bisect_scenario, parse_bounds

    scenario = _scenario(args)
    bounds = parse_bounds(args.low, args.high, args.tolerance)
    cli = {key: getattr(args, key) for key in ("django", "python", "strategy", "limiter", "timeout", "interval")}
    cli.update(memory="none", repeat="1", database=None, dev_loop="off")  # bisect chooses the caps
    options = resolve_options(cli, scenario.run, scenario.source)
    out = Path(args.out) if args.out else default_out(scenario.name + "-bisect")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up like Ctrl-C
    try:
        results = bisect_scenario(scenario, options, bounds, out, ["migbench"] + list(sys.argv[1:]),
                                  uncapped=not args.no_uncapped)
    except KeyboardInterrupt:
        print("migbench: interrupted; the unfinished run was discarded, finished probes are kept in %s; "
              "run the same command again to resume" % out, file=sys.stderr)
        return 130
    if not args.no_report:
        _report_after_run(out)  # the minimal-cap chart of every cell bisected into OUT so far
    return 0 if all(result.answered for result in results) else 1


def _sweep(args) -> int:
    import signal

    from .bench.run.sweep import prepare_sweep

    cli = {key: getattr(args, key, None) for key in ("django", "python", "memory", "strategy", "repeat",
                                                     "limiter", "timeout", "interval")}
    sweep = prepare_sweep(_scenario(args), args.vary, cli, args.budget, args.out, ["migbench"] + sys.argv[1:])
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # like run: child killed, cgroup removed
    try:
        result = sweep.run()
    except KeyboardInterrupt:
        print("migbench: interrupted; finished runs are kept in %s (summary: %s); run the same command "
              "again to resume" % (sweep.store.root, sweep.summary_path()), file=sys.stderr)
        return 130
    for line in result.lines():
        print(line)
    if not args.no_report:
        _report_after_run(result.out)
    for line in result.problems():
        print("migbench: %s" % line, file=sys.stderr)
    return result.status


# -- scenarios, envs -----------------------------------------------------------------


def _scenarios(args) -> int:
    from .generator.scenario import resolve_scenario, shipped_scenarios

    for name in shipped_scenarios():
        scenario = resolve_scenario(name)
        print("%-16s %s" % (name, scenario.description))
    return 0


def _envs(args) -> int:
    from .bench.env import environments

    if args.prune:
        for path in environments.prune():
            print("removed %s" % path)
    if args.create:
        for line in args.create.split(","):
            env = environments.ensure(line.strip(), args.python)
            print("ready   %s" % env.path)
    envs = environments.list_envs()
    if not envs:
        print("no environments yet under %s" % environments.cache_root())
    for env in envs:
        print("%-40s Python %-8s Django %s%s" % (env.key, env.python_version, env.django_version,
                                                 " (shim)" if env.shim else ""))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
