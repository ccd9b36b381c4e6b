"""Cost attribution, the report's answer block and what the terminal prints after the summary.

Fast: no Django runs. Real recorded runs (tests/data/results/README.md) for
what the worker's events look like (one step, per-app's steps on one clock,
backward's unapplying, a run killed inside a migration), small synthetic
records where a figure must be exact.
"""

from __future__ import annotations

import pytest
from support import DATA, make_record

from migbench.bench.records import load_record
from migbench.bench.report.attribution import (applied_count, attribute, migration_costs, peak_place,
                                               split_steps)
from migbench.bench.report.build import build_report
from migbench.bench.report.charts import timeline
from migbench.bench.report.costs import cost_lines, migration_table, report_tables
from migbench.bench.report.focus import focus_groups
from migbench.bench.report.headline import headlines
from migbench.bench.report.html_page import render_html
from migbench.bench.report.load import ResultSet, load_results
from migbench.bench.report.markdown_page import render_markdown
from migbench.bench.report.tables import group_by_cell
from migbench.bench.report.terminal import strategy_lines

pytestmark = pytest.mark.xdist_group("test_attribution")

MB = 2**20
QUICK = str(DATA / "strategies" / "quick--233a049e--{}--django5.2.19--py3.11.7--memnone--sqlite--r1.json")
KILLED_APPLYING = DATA / "bisect" / "crash-small--c69e804c--all--django1.9.13--py3.11.7--mem47M--sqlite--r1.json"
KILLED_RENDERING = DATA / "versions" / "crash-small--c69e804c--all--django1.8.19--py2.7.18--mem128M--sqlite--r1.json"


# -- attribution on real records ------------------------------------------------------------


def test_one_step_run_every_migration_from_its_events():
    record = load_record(QUICK.format("all"))
    found = attribute(record)
    successes = [e for e in record.events if e["event"] == "apply_success"]
    assert found.applied == applied_count(record.events) == len(successes) == 29
    first = found.migrations[0]
    start = next(e for e in record.events if e["event"] == "apply_start")
    success = successes[0]
    assert (first.migration, first.app, first.step, first.finished) == ("contenttypes.0001_initial", "contenttypes",
                                                                          None, True)
    assert first.seconds == pytest.approx(success["t"] - start["t"])
    assert first.rss_growth == success["rss"] - start["rss"]
    assert found.total_seconds == pytest.approx(sum(a.seconds for a in found.apps()))
    assert sum(a.migrations for a in found.apps()) == 29
    slowest = found.slowest(20)
    assert len(slowest) == 20 and [m.seconds for m in slowest] == sorted((m.seconds for m in slowest), reverse=True)
    assert [a.seconds for a in found.apps()] == sorted((a.seconds for a in found.apps()), reverse=True)
    assert found.peak.rss == max(record.samples["rss"]) and found.peak.phase == "post-migrate"


def test_per_app_steps_share_one_clock_and_each_child_has_its_own_peak():
    record = load_record(QUICK.format("per-app"))
    steps = split_steps(record.events)
    assert len(steps) == len(record.steps) == 6
    found = attribute(record)
    assert found.applied == 29
    assert {m.step for m in found.migrations} == {name for name, _ in steps}
    assert all(m.step == "migrate %s" % m.app for m in found.migrations)  # each app's migrations in its own step
    auth = next(m for m in found.migrations if m.migration == "auth.0001_initial")
    start = next(e for e in record.events if e["event"] == "apply_start" and e["migration"] == "auth.0001_initial")
    assert auth.start == start["t"]
    assert found.peak.step is not None and found.peak.describe().endswith("at %.2f s" % found.peak.t)


def test_backward_counts_unapplied_migrations():
    record = load_record(QUICK.format("backward"))
    found = attribute(record)
    assert found.applied == 15 and {m.direction for m in found.migrations} == {"unapply"}
    assert migration_table(found, "t").rows[0][1].endswith("(unapplied)")


def test_a_run_killed_inside_a_migration_names_it_unfinished():
    record = load_record(KILLED_APPLYING)
    found = attribute(record)
    unfinished = found.unfinished
    assert unfinished.migration == record.last_migration == "name.0001_initial" and not unfinished.finished
    start = [e for e in record.events if e["event"] == "apply_start"][-1]
    assert unfinished.seconds == pytest.approx(record.wall_s - start["t"])  # runs to the end of the run
    assert found.applied == len(found.migrations) - 1
    assert found.peak.phase == "applying" and found.peak.migration == "name.0001_initial"
    table = migration_table(found, "t", outcome=record.outcome)
    assert any("name.0001_initial (unfinished: oom-killed)" in row[1] for row in table.rows)


def test_a_run_killed_while_rendering_applied_nothing():
    record = load_record(KILLED_RENDERING)
    found = attribute(record)
    assert found.migrations == () and found.applied == 0
    assert found.peak.phase == "rendering" and found.peak.migration is None


# -- exact figures on a small synthetic run -----------------------------------------------


def ev(event, t, rss_mb, step, migration=None, **extra):
    found = {"event": event, "t": t, "rss": int(rss_mb * MB), "step": step, **extra}
    if migration:
        found["migration"] = migration
    return found


def two_steps():
    events = [ev("start", 0.0, 10, "A"), ev("apply_start", 1.0, 20, "A", "a.0001"),
              ev("apply_success", 2.0, 25, "A", "a.0001"), ev("apply_start", 2.0, 25, "A", "a.0002"),
              ev("apply_success", 3.0, 24, "A", "a.0002"), ev("end", 3.1, 24, "A", exit=0),
              ev("start", 4.0, 10, "B"), ev("apply_start", 4.5, 11, "B", "c.0001", fake=True),
              ev("apply_success", 4.6, 11, "B", "c.0001", fake=True),
              ev("apply_start", 5.0, 20, "B", "b.0001"), ev("apply_success", 6.0, 22, "B", "b.0001"),
              ev("end", 6.1, 22, "B", exit=0)]
    samples = [(1.5, 40 * MB), (2.5, 30 * MB), (5.5, 30 * MB)]
    return events, samples


def test_raised_peak_is_per_child_and_fakes_are_left_out():
    events, samples = two_steps()
    costs = {c.migration: c for c in migration_costs(events, samples)}
    assert set(costs) == {"a.0001", "a.0002", "b.0001"} and applied_count(events) == 3
    assert costs["a.0001"].peak_growth == 20 * MB and costs["a.0001"].rss_growth == 5 * MB
    assert costs["a.0002"].peak_growth == 0 and costs["a.0002"].rss_growth == -1 * MB  # below A's 40 MB
    assert costs["b.0001"].peak_growth == 10 * MB, "B's own high-water mark, not A's 40 MB"
    record = make_record(events=events, samples={"interval_s": 0.02, "t": [t for t, _ in samples],
                                                 "rss": [r for _, r in samples]}, wall_s=6.2)
    found = attribute(record)
    assert found.peak.describe() == "while applying a.0001 (step A), at 1.50 s"
    between = peak_place(events, samples + [(3.05, 50 * MB)])
    assert between.describe() == "just after applying a.0002 (step A), at 3.05 s"
    assert peak_place(events, [(3.5, 60 * MB)]).describe() == "as the child exited (step A), at 3.50 s"
    [app_a, app_b] = found.apps()
    assert (app_a.app, app_a.migrations, app_a.seconds, app_a.peak_growth) == ("a", 2, 2.0, 20 * MB)
    assert (app_b.app, app_b.seconds) == ("b", 1.0)


# -- the answer block ----------------------------------------------------------------------


def strategy_run(strategy, wall, peak_mb, **changes):
    events = [{"event": "start", "t": 0.0, "rss": 10 * MB}]
    t = 0.5
    for migration, seconds in (("shop.0001_initial", 6.0), ("shop.0002_more", 1.0), ("blog.0001_initial", 2.0)):
        events += [{"event": "apply_start", "t": t, "rss": 20 * MB, "migration": migration},
                   {"event": "apply_success", "t": t + seconds * wall / 10, "rss": 21 * MB, "migration": migration}]
        t += seconds * wall / 10
    events.append({"event": "end", "t": t, "rss": 21 * MB, "exit": 0})
    base = dict(run_id=strategy, strategy=strategy, wall_s=wall, peak_rss_bytes=int(peak_mb * MB),
                memory_limit_bytes=None, django_version="5.2.19", python_version="3.11.7", events=events,
                validation={"ok": True, "schema": "identical", "rows": "ok"})
    base.update(changes)
    return make_record(**base)


LOSSES = [{"app": "shop", "migration": "0004_fill", "operation": "RunPython", "name": "fill_totals",
           "reversible": False, "elidable": False},
          {"app": "blog", "migration": "blog.0002_sql", "operation": "RunSQL"}]
TYPE_CHANGE = {"object": "column shop_order.total", "kind": "changed", "detail": "type integer vs bigint"}


def comparison(zero_transform):
    return [
        strategy_run("all", 10.0, 100, validation={"ok": True, "schema": "became the baseline"}),
        strategy_run("per-app", 3.0, 50, outcome="oom-killed", failed_during="applying"),
        strategy_run("backward", 0.5, 60, validation={"ok": True, "schema": "emptied"}),
        strategy_run("squash", 12.0, 90, dev_loop={"makemigrations --check": {"wall_s": 1.0,
                                                                             "verdict": "changes detected"}}),
        strategy_run("zero", 4.0, 80, transform=zero_transform, validation={
            "ok": False, "schema": "different", "difference_count": 1, "differences": [TYPE_CHANGE]}),
        strategy_run("floor", 1.0, 20),
    ]


def test_the_answer_names_the_winner_its_ratio_and_what_it_costs():
    records = comparison({"kind": "zero", "losses": LOSSES})
    [answer] = headlines(records)
    assert answer.title == "quick: zero is the fastest, 2.5x faster than all"
    text = "\n".join(answer.lines)
    assert "Fastest: zero at 4.00 s against 10.0 s for all (0.40x the time); its peak 80 MB (0.80x all's 100 MB)" \
        in text, "floor is a bound and backward empties the database: neither wins"
    assert "What zero costs: drops 2 data operations of 2 migrations (1 RunPython, 1 RunSQL): RunPython " \
           "fill_totals in shop.0004_fill, RunSQL in blog.0002_sql; schema differs from all's in 1 object: column shop_order.total changed: type integer vs bigint." in text
    assert "Floor (the same SQL replayed without Django): 1.00 s, 0.10x all" in text
    assert "Did not finish: per-app oom-killed during applying." in text
    assert "Not equivalent to all: squash (makemigrations --check: changes detected)." in text
    assert "Largest contributors: apps shop 7.00 s (78%), blog 2.00 s (22%); migrations shop.0001_initial " \
           "6.00 s (67%, RSS +1.0 MB)" in text
    assert "Where all's time goes (run 1): its 3 migrations take 9.00 s of 10.0 s" in text


def test_the_answer_without_a_losses_list_quotes_the_transformation():
    records = comparison({"kind": "zero", "notes": ["zero drops the data migrations by design: 2 RunPython",
                                                     "zero: 4 regenerated of 4 apps"]})
    [answer] = headlines(records)
    assert "What zero costs: zero drops the data migrations by design: 2 RunPython; schema differs" \
        in "\n".join(answer.lines)
    records = comparison({"kind": "zero", "losses": []})
    assert "What zero costs: drops no data operation;" in "\n".join(headlines(records)[0].lines)
    records = comparison({"kind": "squash", "losses": []})  # no news: squash keeps its data operations
    assert "What zero costs: schema differs" in "\n".join(headlines(records)[0].lines)


def test_all_wins_and_a_version_matrix_names_its_crashes():
    [answer] = headlines([strategy_run("all", 10.0, 100), strategy_run("per-app", 20.0, 40)])
    assert answer.title == "quick: plain migrate (all) is the fastest"
    assert "The next, per-app, takes 2.00x its time." in answer.lines[1]
    assert "Lowest peak: per-app at 40 MB (0.40x all's 100 MB)." in answer.lines
    versions = load_results([DATA / "versions"]).records
    [answer] = headlines(versions)
    assert answer.title.startswith("crash-small: all takes") and "Django 1.8.19 / Python 2.7.18" in answer.lines[0]
    assert "Elsewhere in the matrix, 2 of 7 other cells did not finish: all oom-killed during rendering under " \
           "128M on Django 1.8.19 / Python 2.7.18 / sqlite" in "\n".join(answer.lines)


def test_a_sweep_is_answered_at_its_largest_size():
    records = load_results([DATA / "scaling"]).records
    [focus] = focus_groups(records)
    assert focus.sizes == 3 and focus.first.project["models"] == max(r.project["models"] for r in records)
    assert "(the largest of 3 sizes)" in focus.where()


def test_the_report_leads_with_the_answer_and_has_the_cost_tables():
    records = comparison({"kind": "zero", "losses": LOSSES})
    report = build_report(ResultSet(records), ["x"])
    assert report.sections[0].title == "The answer"
    assert [s.title for s in report.sections].index("Where the time goes") > 1
    [costs] = [s for s in report.sections if s.title == "Where the time goes"]
    assert len(costs.tables) == 2 * len(records), "apps and migrations for every strategy"
    assert costs.tables[0].title.startswith("slowest apps: all, Django 5.2.19")
    assert costs.tables[0].note.startswith("3 migrations took 9.00 s of the run's 10.0 s")
    markdown = render_markdown(report)
    assert markdown.index("### quick: zero is the fastest") < markdown.index("## Memory over time")
    assert '<div class="answer"><h3>quick: zero is the fastest, 2.5x faster than all</h3>' in render_html(report)


# -- the terminal and a caption -------------------------------------------------------------


def test_the_terminal_adds_the_largest_cells_costs_after_the_strategies():
    by_cell = group_by_cell(load_results([DATA / "strategies"]).records)
    lines = strategy_lines(by_cell, list(by_cell))
    block = lines[lines.index("") + 1:]
    assert lines[0].startswith("strategies vs all:") and block[0].startswith("where the time went: per-app")
    apps = block[block.index("") + 1:]
    assert apps[0].split() == ["app", "migrations", "seconds", "share", "RSS", "growth", "MB", "raised", "peak", "MB"]
    migrations = apps[apps.index("") + 1:]
    assert len(apps[2:apps.index("")]) == 5 and len(migrations) == 2 + 10
    assert strategy_lines(by_cell, list(by_cell), with_costs=False) == lines[:lines.index("")]
    [all_cell] = [c for c in by_cell if c.strategy == "all"]
    assert strategy_lines(by_cell, [all_cell])[0].startswith("where the time went: all"), "one strategy: costs only"
    plain = make_record()
    assert strategy_lines({plain.cell(): [plain]}, [plain.cell()]) == [] == cost_lines({}, [])
    assert len(report_tables([plain])) == 0


def test_the_timeline_caption_speaks_of_rendering_only_when_a_run_rendered():
    forward = [load_record(QUICK.format("all"))]
    text = timeline.caption(forward)
    assert "(setup, loading, applying, post-migrate; no run here rendered model states up front)" in text
    assert "magenta" not in text
    backward = [load_record(QUICK.format("backward"))]
    assert "magenta is 'Rendering model states', up to" in timeline.caption(backward)


def test_a_gap_inside_the_spread_of_the_repeats_is_not_called_a_win():
    runs = [strategy_run("all", wall, 100, repeat=n, run_id="all%d" % n,
                         validation={"ok": True, "schema": "became the baseline"})
            for n, wall in enumerate((15.0, 16.0, 21.0), 1)]
    runs += [strategy_run("zero", wall, 100, repeat=n, run_id="zero%d" % n)
             for n, wall in enumerate((11.0, 13.0, 15.5), 1)]
    [answer] = headlines(runs)
    assert answer.title == "quick: no strategy is clearly faster than all"
    assert "zero's runs 11.0 s-15.5 s overlap all's 15.0 s-21.0 s" in "\n".join(answer.lines)
