"""PNG charts for `migbench report`, made with matplotlib (Agg, no pyplot state).

`build_charts(records)` returns every chart that applies to the records, in a
stable order: memory timelines, then by version, the crash matrix, the
minimal cap, strategies side by side, scaling, then, from the profiled runs
passed apart (`migbench run --profile`, never timing records), where each
profiled run's time goes by stage. A kind that does not apply (no cap, one
strategy, one size, no profiled run...) yields nothing. The capped probes of a
`migbench bisect` feed the minimal-cap chart only: a dozen caps of one cell
would bury the crash matrix and the timelines of the runs they sit beside.
Each chart kind has its module; `common` holds the outcome colours,
figure -> PNG and the grouping helpers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from migbench.bench.records import RunRecord
from migbench.bench.report.minimal import is_search_probe

from . import crash_matrix, minimal_cap, scaling, stages, strategies, timeline, versions
from .common import Chart, unique_slugs

__all__ = ["Chart", "build_charts", "KINDS"]

KINDS = ("timeline", "versions", "crash-matrix", "minimal-cap", "strategies", "scaling", "stages")
_BUILDERS = (timeline.build, versions.build, crash_matrix.build, minimal_cap.build, strategies.build, scaling.build)


def build_charts(records: list[RunRecord], profiled: Sequence[RunRecord] = ()) -> list[Chart]:
    """Every applicable chart for these records (and the profiled runs, kept apart), in a stable order,
    slugs unique."""
    records = list(records)
    runs = [r for r in records if not is_search_probe(r)]
    charts: list[Chart] = []
    for build in _BUILDERS if records else ():
        charts.extend(build(records if build is minimal_cap.build else runs))
    if profiled:
        charts.extend(stages.build(list(profiled)))
    slugs = unique_slugs([c.slug for c in charts])
    return [c if c.slug == s else replace(c, slug=s) for c, s in zip(charts, slugs)]
