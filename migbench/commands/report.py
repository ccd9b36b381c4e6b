"""`migbench report`: write an HTML and a Markdown report (charts, tables,
provenance) from stored result records, and print what was loaded and written.

Side effects: reads the records only; writes the report into --out (default
RESULTS/report for one directory, else ./migbench-report).
"""

from __future__ import annotations

from pathlib import Path

from .common import write_report


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
    results = load_results(args.results)
    out = Path(args.out) if args.out else default_out(args.results)
    print(results.describe())
    for fmt, path in write_report(results, args.results, out, formats).items():
        print("%-6s %s" % (fmt, path))
    return 0
