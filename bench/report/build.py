"""Assemble a report (sections of charts, tables and notes) from a set of stored records.

The order is the order a Django engineer asks the questions in: first the
answer (which strategy wins, what it costs, what takes the time:
headline.py), then where memory went over time, which version needs what,
which caps kill which version, which strategy saves time, which apps and
migrations cost the most, where a profiled run's time and memory went
(`migbench run --profile`: profiles.py, never part of a timing figure), how
does cost grow, then every cell and where each figure was measured.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from .charts import Chart, build_charts
from .concurrency import machine_line
from .costs import report_tables
from .headline import Headline, headlines
from .load import ResultSet
from .minimal import cap_searches
from .profile_tables import report_tables as profile_tables
from .profiles import FileLinks, cell_lines, file_links, opener_lines, profiled_cells
from .tables import (CONCURRENT_TITLE, Table, cell_table, concurrent_table, group_by_cell, minimal_cap_table,
                     problem_lines, provenance_table, strategy_tables)


@dataclass
class Section:
    title: str
    intro: str
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # plain notes, one bullet each
    blocks: list[Headline] = field(default_factory=list)  # a titled list of lines each (the answer)
    links: list[FileLinks] = field(default_factory=list)  # files beside the records (profiles' exports)


@dataclass
class Report:
    title: str
    generated_at: str
    sources: list[str]
    described: str  # "32 records from 32 files (...)"
    sections: list[Section]

    def charts(self) -> list[Chart]:
        return [chart for section in self.sections for chart in section.charts]


PROFILES_TITLE = "Profiles: where migrate's time and memory go"
PROFILES_INTRO = (
    "One extra run per cell and mode made by `migbench run --profile` after the cell's timed repeats, under "
    "the stage timer and a profiler (cProfile for time, tracemalloc for memory). Profiled runs are not part "
    "of any timing comparison: the profiler slows them (each cell's overhead is below), so they are in no "
    "other table, chart or `migbench compare` ratio of times, and they are not validated. Stage seconds are "
    "exclusive (the innermost stage on the stack wins) and add up to the profiled wall; the exported files "
    "hold the whole profile.")

# (chart kind, section title, what the section answers)
_CHART_SECTIONS = (
    ("timeline", "Memory over time",
     "Resident memory of each run's process tree, sampled by the parent; the shaded bands are the phases "
     "the worker reported. A crash ends the line where the kernel or Python stopped the run."),
    ("versions", "By Django and Python version",
     "Median wall time and peak RSS per version pair; bars are labelled with the outcome of their runs."),
    ("crash-matrix", "Crash matrix",
     "Outcome of every (version, memory cap) cell: where a cap is too small for a version."),
    ("minimal-cap", "Minimal memory",
     "The smallest memory cap under which migrate finished, for every cell run under three caps or more "
     "(a `migbench bisect`): found from capped runs, not read off an uncapped peak."),
    ("strategies", "Strategies",
     "The same project migrated in different ways, as ratios to `all` (plain `migrate` from empty). "
     "Every strategy's final schema is checked against the reference migrate."),
    ("costs", "Where the time goes",
     "The slowest apps and migrations of one run per strategy (the median-wall repeat), read from the "
     "worker's events: each migration's time from its start to its success, its RSS growth, and how far it "
     "raised its process's peak."),
    ("stages", PROFILES_TITLE, PROFILES_INTRO),
    ("scaling", "Scaling",
     "Cost against project size on log-log axes: the slope of the fitted line is the growth exponent."),
)


def _tables_for(kind: str, records: list, by_cell: dict, costs: list[Table], profiles: list[Table]) -> list[Table]:
    if kind == "costs":
        return costs
    if kind == "stages":
        return profiles
    if kind == "strategies":
        return strategy_tables(by_cell)
    if kind == "minimal-cap":
        table = minimal_cap_table(cap_searches(records))
        return [table] if table else []
    return []


def build_report(results: ResultSet, sources: list[str], title: str | None = None) -> Report:
    records = results.records
    by_cell = group_by_cell(records)
    charts = build_charts(records, results.profiled)
    cost_tables = report_tables(records)
    profiled = profiled_cells(results.profiled)
    profiled_tables = profile_tables(profiled)
    sections = [Section("The answer", "Per project: which strategy wins and by how much, what it costs, and "
                        "where the time goes. The detail follows.", blocks=headlines(records))] if records else []
    for kind, heading, intro in _CHART_SECTIONS:
        chosen = [c for c in charts if c.kind == kind]
        tables = _tables_for(kind, records, by_cell, cost_tables, profiled_tables)
        if kind == "stages" and profiled:
            links = file_links(profiled, results.sources)
            sections.append(Section(heading, intro, charts=chosen, tables=tables, lines=opener_lines(links),
                                    blocks=[Headline("Profiled runs, and what profiling cost (wall over the "
                                                     "cell's unprofiled runs)", cell_lines(profiled))],
                                    links=links))
        elif chosen or tables:
            sections.append(Section(heading, intro, charts=chosen, tables=tables))
    if records:  # else profiled runs only: they are no cell's runs
        shared = concurrent_table(by_cell)
        sections.append(Section("Runs", "Every cell, one row each." + (
            " Times are of solo runs; those of runs measured while other runs shared the machine are in the "
            "last table (%s), never mixed with them." % CONCURRENT_TITLE if shared else ""),
            tables=[cell_table(by_cell)] + ([shared] if shared else [])))
    problems = problem_lines(by_cell)
    if problems:
        sections.append(Section(
            "Problems", "Runs whose result is not equivalent to `all`: the schema or rows differ, "
            "`makemigrations --check` found changes, or a fake deploy left migrations to apply.", lines=problems))
    notes = sorted({note for r in records for note in (r.notes or [])})
    sections.append(Section(
        "Provenance", "Where and with what every figure was measured. Each record also holds the full "
        "command, the child's argv, the host and the limiter's reading.",
        tables=[provenance_table(records or results.profiled)],
        lines=[machine_line(records or results.profiled)] + ["note in the records: " + n for n in notes]))
    scenarios = sorted({r.scenario["name"] for r in records + results.profiled})
    return Report(
        title=title or "migbench report: %s" % ", ".join(scenarios),
        generated_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        sources=list(sources), described=results.describe(), sections=sections)
