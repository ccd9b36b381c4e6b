"""`migbench compare`: pair the runs of BASELINE and CANDIDATE cell by cell and
print candidate/baseline ratios of wall time and peak memory, with 95% intervals
(docs/compare.md). With --threshold, exit status 1 when a cell regresses. When
both sides hold profiled runs (`migbench run --profile`) of a cell, the time
each stage took is compared after the table (no interval, no exit status).

Side effects: none; reads the records only.
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "compare", help="pair two sets of result records cell by cell and show time and memory ratios",
        description="Pair runs of the same cell (scenario, strategy, Django, Python, cap, database) in "
                    "BASELINE and CANDIDATE and print candidate/baseline ratios of wall time and peak memory "
                    "over the ok runs, with a 95% interval from the repeats (docs/compare.md). Exit status: "
                    "1 when --threshold is given and a cell regresses: a new crash (a failed run where the "
                    "baseline had none, or no ok run left), or a ratio above 1 + threshold beyond noise (its "
                    "interval excludes 1; with a single run on each side, the point ratio alone); else 0; "
                    "2 for unusable input. When both sides hold profiled runs (`migbench run --profile`) of a "
                    "cell and profile mode, each stage's seconds are compared after the table (candidate / "
                    "baseline, one run per side: no interval, never in the exit status).")
    parser.add_argument("baseline", metavar="BASELINE", help="a result file or directory: the reference")
    parser.add_argument("candidate", metavar="CANDIDATE", help="a result file or directory: what changed")
    parser.add_argument("--threshold", help="fail (exit 1) on a regression beyond this, e.g. 5%% or 0.05; "
                                            "without it, report only (exit 0)")
    parser.add_argument("--metric", help="comma-separated metrics to show and gate on: time, peak "
                                         "(default: time,peak)")
    for side in ("baseline", "candidate"):
        for axis, example in (("django", "4.2"), ("python", "3.11")):
            parser.add_argument("--%s-%s" % (side, axis), metavar="VERSION",
                                help="compare only the %s's runs of this %s version (e.g. %s) and pair across "
                                     "%s versions: BASELINE and CANDIDATE may then be one directory"
                                % (side, axis.capitalize(), example, axis.capitalize()))
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.bench.report.compare import run_compare
    from migbench.errors import MigbenchError

    from .common import check_path

    check_path(args.baseline, "BASELINE")
    check_path(args.candidate, "CANDIDATE")
    select = {(side, axis): getattr(args, "%s_%s" % (side, axis)) for side in ("baseline", "candidate")
              for axis in ("django", "python") if getattr(args, "%s_%s" % (side, axis))}
    for side, axis in list(select):
        other = ("candidate" if side == "baseline" else "baseline", axis)
        if other not in select:
            raise MigbenchError("--%s-%s needs --%s-%s: give the version of each side" % (side, axis, *other))
    lines, status = run_compare(args.baseline, args.candidate, args.threshold, args.metric, select)
    for line in lines:
        print(line)
    return status
