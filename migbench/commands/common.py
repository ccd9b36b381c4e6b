"""What several subcommands share: the scenario named on the command line (with
--seed), the cell options of run, bisect and sweep, running a measurement so that
Ctrl-C or SIGTERM stops it cleanly (exit status 130), and the report rebuilt in
OUT/report after records were written.

Nothing here measures by itself; `run_interruptible` replaces the process's
SIGTERM handler, and `report_after_run` writes OUT/report.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

from migbench.errors import MigbenchError

T = TypeVar("T")

SCENARIO_HELP = "a scenario file, or the name of a shipped one"

# The cell options' names in the parsed arguments, as resolve_options() takes them.
CELL_KEYS = ("django", "python", "strategy", "limiter", "timeout", "interval")


def add_scenario_argument(parser, optional: bool = True) -> None:
    """The positional SCENARIO; optional ones default to `quick`."""
    if optional:
        parser.add_argument("scenario", nargs="?", default="quick", help=SCENARIO_HELP + " (default: quick)")
    else:
        parser.add_argument("scenario", help=SCENARIO_HELP)


def add_cell_options(parser, limiters: str = "auto, cgroup2, cgroup1, systemd, rlimit or none") -> None:
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


def cli_values(args, keys) -> dict[str, Any]:
    """The given options' values (None = not given), for resolve_options()."""
    return {key: getattr(args, key, None) for key in keys}


def scenario(args):
    """The scenario named on the command line, with --seed applied."""
    from migbench.generator import resolve_scenario

    resolved = resolve_scenario(args.scenario)
    if args.seed is not None:
        if args.seed < 0:
            raise MigbenchError("--seed must be >= 0, got %d" % args.seed)
        resolved = resolved.with_seed(args.seed)
    return resolved


def command_line() -> list[str]:
    """The command as typed, for the records' provenance."""
    return ["migbench"] + list(sys.argv[1:])


def run_interruptible(measure: Callable[[], T], finish: Callable[[T], int], interrupted: str,
                      on_interrupt: Callable[[], None] | None = None) -> int:
    """Run `measure()` and return `finish(its result)`; Ctrl-C or SIGTERM stops it with status 130.

    SIGTERM (a CI cancel, `kill`) is made to raise KeyboardInterrupt like Ctrl-C, so the
    measuring code cleans up the same way (child killed, cgroup removed); the handler stays
    installed afterwards, as for the rest of the command. On an interrupt, `on_interrupt()`
    runs (e.g. to end a progress line), then `interrupted` is printed to stderr: the
    command's own message saying what was kept and how to resume.
    """
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        result = measure()
    except KeyboardInterrupt:
        if on_interrupt is not None:
            on_interrupt()
        print(interrupted, file=sys.stderr)
        return 130
    return finish(result)


def write_report(results, sources: list[str], out: Path, formats=("html", "md")) -> dict[str, Path]:
    """Build the report of loaded `results` and write it into `out`; the paths written, by format."""
    from migbench.bench.report.build import build_report
    from migbench.bench.report.pages import write_report as write_pages

    return write_pages(build_report(results, [str(s) for s in sources]), out, formats)


def report_after_run(out: Path) -> None:
    """The report of everything in the run's directory; a failure here never touches the records."""
    from migbench.bench.report.load import load_results

    try:
        written = write_report(load_results([out]), [str(out)], out / "report")
    except MigbenchError as error:
        print("migbench: report not written: %s; the records are intact (`migbench report %s`)"
              % (error, out), file=sys.stderr)
        return
    print("report in %s" % written["html"])
