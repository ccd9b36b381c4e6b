"""Compare two sets of result records cell by cell (`migbench compare`, docs/compare.md).

Like `pyperf compare_to`: runs of the same cell in a BASELINE and a CANDIDATE
set are paired, and each pair gets the candidate/baseline ratio of its wall
time and of its peak memory with a 95% interval from the repeats, so a change
can be told from noise. Four steps, the first three pure so the HTML report
can reuse them:

- `pair()`: group both sides by `PairKey` (scenario name, strategy, Django,
  Python, cap, database engine). The scenario's sha256 is not part of the key:
  a changed scenario file still pairs, and the row says the projects differ.
- `compute()`: per pair, the medians and spreads of each side and the ratios
  (`bench.stats.ratio_of`: geometric means, Welch interval on logs) over the
  `ok` runs, and how the outcomes changed. The peak uses every ok run; the
  time pairs like with like (timing.py): solo runs of both sides, else
  concurrent runs of both sides (other measured runs shared the machine),
  else no time ratio and a note; a pair whose runs come from more than one
  machine is noted, and the output starts with a warning naming them.
- `decide()`: which pairs regress, and the exit status. A pair regresses when
  it newly crashes, or, with a threshold T, when a ratio exceeds 1 + T and is
  beyond noise (its interval excludes 1); with one run on each side there is
  no interval and the point ratio alone decides (the row says so). Exit status
  1 only when a threshold was given and a pair regresses.
- `render()`: the aligned text table and the summary line.

Modules: cells.py holds the first three (and the data they pass along),
timing.py which runs a time ratio uses and the machines, text.py the
fourth, command.py `run_compare` (the command's options, loading both
sides, the steps in order). stages.py adds, when both sides hold
profiled runs (`migbench run --profile`) of a cell and mode, the ratio of
each stage's seconds after the table: one run per side, no interval, no gate.
This package's face re-exports what callers import, so
`migbench.bench.report.compare` names every step.
"""

from .cells import (METRICS, CellComparison, Decision, MetricChange, Pairing, PairKey, compare_cell, compute,
                    decide, exceeds, pair)
from .command import parse_metrics, parse_threshold, run_compare
from .stages import StagePair, stage_changes, stage_lines, stage_pairs
from .text import render, summary_line

__all__ = ["CellComparison", "Decision", "METRICS", "MetricChange", "PairKey", "Pairing", "StagePair",
           "compare_cell", "compute", "decide", "exceeds", "pair", "parse_metrics", "parse_threshold", "render",
           "run_compare", "stage_changes", "stage_lines", "stage_pairs", "summary_line"]
