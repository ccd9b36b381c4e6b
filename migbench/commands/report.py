"""`migbench report`: write an HTML and a Markdown report (charts, tables,
provenance) from stored result records, and print what was loaded and written.

Side effects: reads the records only; writes the report into --out (default
RESULTS/report for one directory, else ./migbench-report), after checking that
its parent can be written (a probe file, removed at once).
"""

from __future__ import annotations

from pathlib import Path

from migbench.errors import MigbenchError

from .common import check_out, check_path, write_report


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "report", help="write an HTML and a Markdown report (charts, tables, provenance) from result records")
    parser.add_argument("results", nargs="+", metavar="RESULTS",
                        help="result files or directories written by `migbench run` (searched recursively)")
    parser.add_argument("--out", help="directory for the report (default: RESULTS/report for one directory, "
                                      "else ./migbench-report)")
    parser.add_argument("--format", default="html,md", help="comma-separated: html, md (default: html,md)")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.bench.report.load import load_results
    from migbench.bench.report.pages import default_out, parse_formats

    formats = parse_formats(args.format)
    for path in args.results:
        check_path(path, "RESULTS")
    out = Path(args.out) if args.out else default_out(args.results)
    check_path(out, "--out")
    try:
        if out.exists() and not out.is_dir():
            raise MigbenchError("--out %s: exists and is not a directory; give a directory for the report" % out)
    except OSError as error:  # a name too long, a parent that cannot be searched
        raise MigbenchError("--out %s: cannot use it (%s)" % (out, error.strerror or error)) from None
    check_out(out.absolute().parent, shown=out)  # the report is written beside --out and renamed into place
    results = load_results(args.results)
    print(results.describe())
    try:
        written = write_report(results, args.results, out, formats)
    except OSError as error:  # e.g. the disk filled up: the half-written report is already removed
        raise MigbenchError("--out %s: cannot write the report (%s); the records are untouched"
                            % (out, error.strerror or error)) from None
    for fmt, path in written.items():
        print("%-6s %s" % (fmt, path))
    return 0
