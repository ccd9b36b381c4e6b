"""Profiled runs (`migbench run --profile`) on the reading side: load, tables, chart, pages, compare.

A real record from results/shop-postgresql/ is the timed run; its profiled
twins are the same record with `profile` set (a dict shaped as
bench/records/profiles.py and the issue's plan say), written under
`profiles/` the way the runner stores them, with their exported files beside.
No Django runs.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
from support import check_chart

from migbench.bench.records import load_record
from migbench.bench.records.profiles import STAGES
from migbench.bench.report.charts import build_charts
from migbench.bench.report.compare import stage_lines, stage_pairs
from migbench.bench.report.load import load_results
from migbench.bench.report.profile_tables import cell_tables, function_table, migration_table, stage_table
from migbench.bench.report.profiles import PROFILER_LABEL, UNATTRIBUTED_LABEL, profiled_cells
from migbench.cli import main

ROOT = Path(__file__).resolve().parents[3]
TIMED = (ROOT / "results" / "shop-postgresql"
         / "shop--0a9f2286--all--django5.2.19--py3.11.7--memnone--postgresql--r1.json")
TITLE = "Profiles: where migrate's time and memory go"
MB = 2**20

STAGE_SECONDS = {"setup": 0.9, "checks": 0.1, "graph": 0.4, "state": 5.5, "schema": 1.1, "sql": 0.8,
                 "python": 0.2, "signals": 0.3, "rest": 1.45}


def time_profile(**changes) -> dict:
    stages = dict(STAGE_SECONDS, **changes.pop("stages", {}))
    span = sum(stages.values())
    functions = [{"function": "django/db/migrations/state.py:%d(f%d)" % (i, i), "calls": 100 + i,
                  "primitive_calls": 100 + i if i % 2 else 90 + i, "own_s": 0.01 * i, "cum_s": 10.0 - 0.2 * i}
                 for i in range(40)]
    profile = {
        "mode": "time", "tool": "cProfile + stage timer", "wall_s": span + 0.05, "span_s": span,
        "unattributed_s": 0.05, "stages": stages, "inclusive": {"state": stages["state"] + 0.2, "signals": 1.0},
        "landmarks": {"ProjectState.reload_model": {"calls": 812, "own_s": 0.1, "cum_s": 5.2},
                      "MigrationExecutor.migrate": {"calls": 1, "own_s": 0.3, "cum_s": 9.0}},
        "functions": {"by_cumulative": functions, "by_own": list(reversed(functions)), "total_s": 15.1},
        "migrations": [["app%d.%04d_auto" % (i % 3, i), 0.01 * i, i * 1000] for i in range(1, 30)],
        "memory": None,
        "files": {"pstats": ["profiles/SLUG/migrate.pstats"],
                  "speedscope": ["profiles/SLUG/migrate.speedscope.json"]},
        "overhead": {"unprofiled_wall_s": 10.1, "unprofiled_runs": 3, "ratio": 1.22},
        "notes": ["a note from the profiler"],
    }
    profile.update(changes)
    return profile


def memory_profile() -> dict:
    profile = time_profile(mode="memory", tool="tracemalloc + stage timer", functions={}, overhead=None)
    profile["files"] = {"speedscope": ["profiles/SLUG/migrate.speedscope.json"]}
    entry = lambda key, name, n: {key: name, "bytes": (30 - n) * MB, "blocks": 1000 - n}  # noqa: E731
    profile["memory"] = {
        "peak_traced_bytes": 431 * MB, "snapshot_traced_bytes": 420 * MB, "snapshots": 14, "frames": 30,
        "at": "render_start (no migration applied yet)",
        "sites": [dict(entry("site", "django/db/models/base.py:%d" % n, n), function="ModelBase.__new__",
                       module="django.db.models.base") for n in range(25)],
        "functions": [entry("function", "django.db.migrations.state.ProjectState.clone%d" % n, n) for n in range(25)],
        "modules": [entry("module", "django.db.module%d" % n, n) for n in range(25)],
        "landmarks": [entry("function", "ProjectState.clone" if n == 0 else "(none)", n) for n in range(2)]}
    return profile


def write_profiled(out: Path, profile: dict, run_id: str, started_at: str = "2026-11-26T10:00:00+00:00") -> Path:
    """The profiled twin of TIMED under OUT/profiles/<slug>.json, its exported files beside it."""
    record = load_record(TIMED)
    slug = record.cell().profile_slug(profile["mode"])
    profile = json.loads(json.dumps(profile).replace("SLUG", slug))
    directory = out / "profiles" / slug
    directory.mkdir(parents=True, exist_ok=True)
    for paths in profile["files"].values():
        for relative in paths:
            (out / relative).write_text('{"$schema": "https://www.speedscope.app/file-format-schema.json"}')
    path = out / "profiles" / (slug + ".json")
    path.write_text(replace(record, run_id=run_id, started_at=started_at, profile=profile).to_json())
    return path


@pytest.fixture
def out(tmp_path) -> Path:
    """A run's OUT: the timed record, and its time and memory profiles under profiles/."""
    out = tmp_path / "shop"
    out.mkdir()
    (out / TIMED.name).write_bytes(TIMED.read_bytes())
    write_profiled(out, time_profile(), "prof-time")
    write_profiled(out, memory_profile(), "prof-memory")
    return out


def test_profiled_runs_are_kept_apart_from_timing_records(out):
    results = load_results([out])
    assert [r.run_id for r in results.records] == [load_record(TIMED).run_id]
    assert sorted(r.run_id for r in results.profiled) == ["prof-memory", "prof-time"]
    assert results.skipped == [], "exported speedscope files are passed over silently"
    assert "and 2 profiled runs (kept out of every timing figure) from" in results.describe()
    only = load_results([out / "profiles"])
    assert only.records == [] and len(only.profiled) == 2, "profiled records alone are records found"
    named = load_results([next((out / "profiles").glob("*profile-time.json"))])
    assert named.records == [] and [r.run_id for r in named.profiled] == ["prof-time"]


def test_tables_of_a_time_and_a_memory_profile(out):
    cells = {pc.mode: pc for pc in profiled_cells(load_results([out]).profiled)}
    assert set(cells) == {"time", "memory"}
    stages = stage_table(cells["time"])
    assert [row[0] for row in stages.rows] == [label for _, label in STAGES] + [
        UNATTRIBUTED_LABEL, "wall (the profiled run, as the supervisor saw it)"]
    state = dict(STAGES)["state"]
    row = next(r for r in stages.rows if r[0] == state)
    assert row[1:] == ("5.50", "51%", "5.70"), "5.5 s of 10.8 s, 5.7 s on the stack"
    functions = function_table(cells["time"])
    assert len(functions.rows) == 15 and functions.rows[0][1] == "django/db/migrations/state.py:0(f0)"
    assert functions.rows[0][2] == "100/90" and functions.rows[1][2] == "101", "total/primitive when they differ"
    migrations = migration_table(cells["time"])
    assert len(migrations.rows) == 10 and migrations.rows[0][1:3] == ("app2.0029_auto", "29")
    assert function_table(cells["memory"]) is None, "no cProfile in memory mode"
    titles = [t.title.split(":")[0] for t in cell_tables(cells["memory"])]
    assert titles[-4:] == ["top allocation sites", "Django functions allocating", "modules allocating",
                           "landmarks allocating"]
    sites = cell_tables(cells["memory"])[-4]
    assert len(sites.rows) == 10 and sites.rows[0] == ("django/db/models/base.py:0", "ModelBase.__new__", "30.0",
                                                       "7%", "1000")
    assert not any("allocat" in t.title for t in cell_tables(cells["time"]))
    measured_apart = replace(cells["time"], profile=time_profile(profiler_s=0.4, unattributed_s=-0.01))
    assert [row[:2] for row in stage_table(measured_apart).rows[-3:-1]] == [
        (PROFILER_LABEL, "0.400"), (UNATTRIBUTED_LABEL, "-0.010")], "the profiler's own time, before unattributed"


def test_stages_chart_one_bar_per_profiled_cell(out):
    results = load_results([out])
    charts = build_charts(results.records, results.profiled)
    [chart] = [c for c in charts if c.kind == "stages"]
    check_chart(chart)
    assert "building and rendering states" in chart.caption
    assert build_charts([], results.profiled) == [chart], "profiled runs alone still get their chart"
    assert "stages" not in {c.kind for c in build_charts(results.records)}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.headings, self.links, self._h2 = [], [], False

    def handle_starttag(self, tag, attrs):
        self._h2 = self._h2 or tag == "h2"
        if tag == "a" and not dict(attrs)["href"].startswith("#"):
            self.links.append(dict(attrs)["href"])

    def handle_endtag(self, tag):
        self._h2 = self._h2 and tag != "h2"

    def handle_data(self, data):
        if self._h2:
            self.headings.append(data.strip())


def test_report_has_the_section_and_links_the_exported_files(out, capsys):
    assert main(["report", str(out)]) == 0
    assert "and 2 profiled runs (kept out of every timing figure) from" in capsys.readouterr().out
    page = _Page()
    text = (out / "report" / "report.html").read_text(encoding="utf-8")
    page.feed(text)
    assert page.headings.index(TITLE) == page.headings.index("Where the time goes") + 1
    slug = next((out / "profiles").glob("*profile-time.json")).stem
    assert sorted(page.links) == sorted(["../profiles/%s/migrate.pstats" % slug,
                                         "../profiles/%s/migrate.speedscope.json" % slug,
                                         "../profiles/%s/migrate.speedscope.json" % slug.replace("-time", "-memory")])
    for link in page.links:
        assert (out / "report" / link).resolve().exists()
    assert "1.22x the median wall of 3 unprofiled runs (10.1 s)" in text and "not measured" in text
    assert "not part of any timing comparison" in text
    markdown = (out / "report" / "report.md").read_text(encoding="utf-8")
    assert "## %s" % TITLE in markdown
    assert "(../profiles/%s/migrate.pstats) (pstats)" % slug in markdown
    assert any(p.name.startswith("stages") for p in (out / "report" / "charts").iterdir())
    runs = markdown.split("**Runs by cell**\n\n", 1)[1].split("\n\n", 1)[0]
    assert runs.count("| all |") == 1 and "| 1 |" in runs, "the profiled runs are not in the Runs table"


def test_a_report_without_profiles_has_no_such_section(tmp_path):
    (tmp_path / TIMED.name).write_bytes(TIMED.read_bytes())
    assert main(["report", str(tmp_path), "--format", "md"]) == 0
    assert TITLE not in (tmp_path / "report" / "report.md").read_text(encoding="utf-8")


def test_compare_adds_the_stage_lines(tmp_path, out, capsys):
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    (candidate / TIMED.name).write_bytes(TIMED.read_bytes())
    write_profiled(candidate, time_profile(stages={"state": 7.2, "sql": 0.816}), "prof-time-2")
    assert main(["compare", str(out), str(candidate)]) == 0
    printed = capsys.readouterr().out
    assert "(one profiled run per side: no interval)" in printed
    assert ("  candidate spends 1.31x baseline's time in building and rendering states (7.20 s vs 5.50 s)"
            in printed.splitlines())
    assert "  candidate spends 1.02x baseline's time in SQL execution (0.816 s vs 0.800 s)" in printed.splitlines()
    assert printed.index("1 cell compared") < printed.index("stages of the profiled runs"), "after the table"
    assert "memory profile" not in printed, "paired by mode: the candidate has no memory profile"
    base, cand = load_results([out]), load_results([candidate])
    [pair] = stage_pairs(base.profiled, cand.profiled)
    assert pair.mode == "time" and pair.label().endswith("(time profile)")
    assert stage_lines([pair], "4.2", "5.2")[4].startswith("  5.2 spends 1.00x 4.2's time in django.setup")


def test_compare_without_profiles_on_one_side_prints_no_stages(tmp_path, out, capsys):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / TIMED.name).write_bytes(TIMED.read_bytes())
    assert main(["compare", str(out), str(plain)]) == 0
    assert "stages" not in capsys.readouterr().out


def test_compare_of_profiled_runs_only(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    write_profiled(a, time_profile(), "a")
    write_profiled(b, copy.deepcopy(time_profile(stages={"state": 11.0})), "b")
    assert main(["compare", str(a), str(b)]) == 0
    printed = capsys.readouterr().out
    assert "no timed cell in common; profiled runs in common: 1" in printed
    assert "candidate spends 2.00x baseline's time in building and rendering states (11.0 s vs 5.50 s)" in printed


def test_compare_across_django_versions_in_one_directory(tmp_path, capsys):
    """--baseline-django/--candidate-django: one directory holding both lines, paired across them."""
    both = tmp_path / "both"
    write_profiled(both, time_profile(), "old")
    newer = load_record(next((both / "profiles").glob("*.json")))
    newer = replace(newer, run_id="new", django_version="6.0.1",
                    profile=time_profile(stages={"state": 11.0}, files={}))
    (both / "profiles" / (newer.cell().profile_slug("time") + ".json")).write_text(newer.to_json())
    assert main(["compare", str(both), str(both), "--baseline-django", "5.2", "--candidate-django", "6.0"]) == 0
    printed = capsys.readouterr().out
    assert "Django 6.0 spends 2.00x Django 5.2's time in building and rendering states (11.0 s vs 5.50 s)" in printed
    assert main(["compare", str(both), str(both), "--baseline-django", "5.2"]) == 2
    assert "--baseline-django needs --candidate-django" in capsys.readouterr().err
    assert main(["compare", str(both), str(both), "--baseline-django", "5.2", "--candidate-django", "4.2"]) == 2
    assert "candidate: no run of Django 4.2; it holds 5.2.19, 6.0.1" in capsys.readouterr().err
