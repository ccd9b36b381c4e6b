"""What several subcommands share: the scenario named on the command line (with
--seed), the cell options of run, bisect and sweep, the check that an output
directory can be written before anything runs, running a measurement so that
Ctrl-C or SIGTERM stops it cleanly (exit status 130), and the report rebuilt in
OUT/report after records were written.

Nothing here measures by itself; `run_interruptible` replaces the process's
SIGTERM handler, `check_out` makes and removes a probe file (and any directory it
had to create) in the output directory, and `report_after_run` writes OUT/report.
"""

from __future__ import annotations

import contextlib

import os
import re
import secrets
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

from migbench.errors import MigbenchError
from migbench.units import format_size, show

T = TypeVar("T")

SCENARIO_HELP = "a scenario file, or the name of a shipped one"

# The cell options' names in the parsed arguments, as resolve_options() takes them.
CELL_KEYS = ("django", "django_repo", "python", "strategy", "limiter", "timeout", "interval", "profile")

MAX_SEED = 2**63 - 1  # as in a scenario file (TOML's largest integer)
# Free space an output directory must have before a run starts: records are tens of KB each,
# a report with its charts a few MB. Less than this and the measurement would be lost.
MIN_FREE_BYTES = 16 * 2**20


def add_scenario_argument(parser, optional: bool = True) -> None:
    """The positional SCENARIO; optional ones default to `quick`."""
    if optional:
        parser.add_argument("scenario", nargs="?", default="quick", help=SCENARIO_HELP + " (default: quick)")
    else:
        parser.add_argument("scenario", help=SCENARIO_HELP)


LIMITERS = ("auto, cgroup2, cgroup1, systemd, rlimit, none, or one chosen by name only: docker or "
            "podman (a container per run), vm (a QEMU guest per run whose RAM is the cap)")


def add_cell_options(parser, limiters: str = LIMITERS) -> None:
    """The options run, bisect and sweep share: which cells, how each run is limited and sampled."""
    parser.add_argument("--django", help="comma-separated Django lines, releases or pre-releases, e.g. 1.8,1.9,5.2 "
                                         "or 6.1rc1, or a checkout's path (default: the scenario's [run], else the "
                                         "installed Django)")
    parser.add_argument("--django-repo", metavar="PATH",
                        help="a local git clone of Django: every --django value is then a commit, branch or tag "
                        "of it, measured in an environment of its own (docs/sources.md)")
    parser.add_argument("--python", help="comma-separated interpreters (versions like 2.7,3.11 or paths); "
                                         "default: the first installed one that runs each Django natively")
    parser.add_argument("--strategy", help="comma-separated strategies: all, per-app, backward, rollback, squash, "
                                           "squash-final, zero, optimize, floor (default: all)")
    parser.add_argument("--limiter", help="%s (default: auto)" % limiters)
    parser.add_argument("--timeout", help="per-run time limit, e.g. 30m (default: none)")
    parser.add_argument("--interval", help="RSS sampling interval (default: 20ms)")
    parser.add_argument("--profile", nargs="?", const="time", metavar="MODE",
                        help="after each cell's runs, one profiled run: time (the default: stages and cProfile; "
                        "exports .pstats and speedscope), memory (tracemalloc at the peak; Python >= 3.4) "
                        "or time,memory; stored under OUT/profiles/, never part of a timing comparison")
    add_seed_option(parser, "override the scenario's seed (the same at every size of a sweep)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--cluster", metavar="ADDRESS",
                       help="run the runs on an existing Dask cluster, e.g. tcp://10.0.0.5:8786, one measurement "
                       "slot per worker (`dask worker ADDRESS --nthreads 1 --resources measure=1`; docs/cluster.md)")
    where.add_argument("--workers", metavar="N",
                       help="run the runs on a local Dask cluster of N worker processes, N at once (times "
                       "measured side by side are marked concurrent; memory figures are unaffected)")


def cluster_values(args) -> tuple[str | None, int | None]:
    """(--cluster address, --workers count), checked; (None, None) without either."""
    from migbench.bench.cluster import parse_cluster, parse_workers, require_dask

    values = parse_cluster(getattr(args, "cluster", None)), parse_workers(getattr(args, "workers", None))
    if values != (None, None):
        from migbench.bench.env.sources import looks_like_path

        djangos = [v.strip() for v in str(getattr(args, "django", None) or "").split(",") if v.strip()]
        if getattr(args, "django_repo", None) or any(looks_like_path(v) for v in djangos):
            raise MigbenchError("--cluster and --workers: each worker installs Django from PyPI, and a checkout "
                                "(--django PATH, --django-repo) is on this machine only; leave them out")
        require_dask()
    return values


@contextlib.contextmanager
def cluster_pool(args):
    """The pool of --cluster or --workers for the block (None without either): bad values are one line
    here, an unreachable scheduler one line when the first run is handed to it (before any run)."""
    from migbench.bench.cluster import LazyPool

    address, workers = cluster_values(args)
    if address is None and workers is None:
        yield None
        return
    pool = LazyPool(address, workers)  # started or connected when the first run is handed to it
    try:
        yield pool
    finally:
        pool.close()


def add_seed_option(parser, text: str = "override the scenario's seed") -> None:
    parser.add_argument("--seed", help=text + "; a whole number from 0 to 2**63-1")


def parse_seed(text: str | None) -> int | None:
    """--seed: ASCII digits (int() would take "٣" and "1_0"), 0..2**63-1 like a scenario's seed."""
    if text is None:
        return None
    value = text.strip()
    if not re.fullmatch(r"[0-9]{1,19}", value) or int(value) > MAX_SEED:
        raise MigbenchError("--seed: expected a whole number from 0 to %d, got %s" % (MAX_SEED, show(text)))
    return int(value)


def cli_values(args, keys) -> dict[str, Any]:
    """The given options' values (None = not given), for resolve_options()."""
    return {key: getattr(args, key, None) for key in keys}


def scenario(args):
    """The scenario named on the command line, with --seed applied."""
    from migbench.generator import resolve_scenario

    seed = parse_seed(args.seed)
    check_path(args.scenario, "SCENARIO")
    resolved = resolve_scenario(args.scenario)
    if seed is not None:
        resolved = resolved.with_seed(seed)
    return resolved


def check_out(out: Path, option: str = "--out", shown: Path | None = None) -> None:
    """Refuse, before anything runs, a directory the command could not write its results into.

    Does what the writers do, on a probe: makes the directory (with its parents) if
    missing, writes a file in it, hard-links it to a second name (the record store's
    never-overwrite write) and renames that over a third (the summaries' atomic
    replace), and looks at the space left. Everything it made is removed again,
    directories included, so a refusal (here or later) leaves no trace in `out`, and a
    directory of earlier results is only ever added to. `shown` is the path the user
    gave, when `out` is derived from it (a parent).
    """
    shown = out if shown is None else shown
    check_path(shown, option)
    made: list[Path] = []
    probes: list[Path] = []
    try:
        if out.exists() and not out.is_dir():
            if out == shown:
                raise MigbenchError("%s %s: exists and is not a directory; give a directory (it is created if "
                                    "missing)" % (option, shown))
            raise MigbenchError("%s %s: %s is not a directory; give a directory" % (option, shown, out))
        missing = []
        for directory in [out.absolute(), *out.absolute().parents]:
            if directory.is_dir():
                break
            if directory.exists() or directory.is_symlink():
                raise MigbenchError("%s %s: %s is not a directory; give a directory" % (option, shown, directory))
            missing.append(directory)
        for directory in reversed(missing):
            os.mkdir(directory)
            made.append(directory)
        stem = ".migbench-preflight-%d-%s" % (os.getpid(), secrets.token_hex(4))  # never *.json: not a record
        first, linked, renamed = (out / ("%s.%s" % (stem, part)) for part in ("a", "b", "c"))
        with open(first, "x", encoding="utf-8") as handle:
            probes.append(first)
            handle.write("migbench checks that it can write here; this file is removed at once\n")
        os.link(first, linked)
        probes.append(linked)
        os.replace(linked, renamed)
        probes[-1] = renamed
        usage = shutil.disk_usage(out)
    except OSError as error:
        raise MigbenchError("%s %s: cannot write there (%s); give a directory this user can write to"
                            % (option, shown, _reason(error))) from None
    finally:
        for path in probes:
            try:
                path.unlink()
            except OSError:
                pass
        for directory in reversed(made):
            try:
                directory.rmdir()
            except OSError:
                pass
    if usage.free < MIN_FREE_BYTES:
        raise MigbenchError("%s %s: only %s free on its file system; records and the report need at least %s: "
                            "free some space or give another directory"
                            % (option, shown, format_size(usage.free) if usage.free else "0",
                               format_size(MIN_FREE_BYTES)))


def check_path(path: Path | str, option: str) -> None:
    """A path the OS cannot take at all (a NUL byte) is refused before anything looks at it."""
    if "\0" in str(path):
        raise MigbenchError("%s %s: a NUL byte in a path; give a path without one" % (option, show(str(path))))


def check_same_out(out: Path, scenario, options) -> None:
    """Refuse, before planning, an --out holding this scenario's records of another project (another
    seed or generation target); the matrix checks it again when it runs."""
    from migbench.bench.records import ResultStore
    from migbench.bench.run.matrix import check_same_project
    from migbench.bench.run.options import generation_target

    check_same_project(ResultStore(out), scenario, generation_target(options.djangos, scenario.generator.django),
                       options.limiter)


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def command_line() -> list[str]:
    """The command as typed, for the records' provenance."""
    return ["migbench"] + list(sys.argv[1:])


def run_interruptible(measure: Callable[[], T], finish: Callable[[T], int], interrupted: str,
                      on_interrupt: Callable[[], None] | None = None) -> int:
    """Run `measure()` and return `finish(its result)`; Ctrl-C or SIGTERM stops it with status 130.

    SIGTERM (a CI cancel, `kill`) is made to raise KeyboardInterrupt like Ctrl-C, so the
    measuring code cleans up the same way (child killed, cgroup removed); the handler stays
    installed afterwards, as for the rest of the command. It also notes the signal, so one
    that Python drops (it lands in an at-fork callback) is raised again by the progress
    callbacks (bench/run/progress.py). On an interrupt, `on_interrupt()`
    runs (e.g. to end a progress line), then `interrupted` is printed to stderr: the
    command's own message saying what was kept and how to resume.
    """
    from migbench.bench.run.progress import PENDING

    def handler(signum, frame):
        PENDING.append(signum)  # raised again by the progress callbacks if this one is dropped
        raise KeyboardInterrupt

    del PENDING[:]
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    try:
        result = measure()
    except KeyboardInterrupt:
        del PENDING[:]
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
    except (MigbenchError, OSError) as error:  # e.g. the disk filled up during the run
        print("migbench: report not written: %s; the records are intact (`migbench report %s`)"
              % (error, out), file=sys.stderr)
        return
    print("report in %s" % written["html"])
