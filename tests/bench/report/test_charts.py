"""The charts of `migbench report`: what each builds from real records, and the pure parts under them.

Fast: no Django runs; the recorded fixtures in tests/data/results/ (see its
README) and synthetic records only.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from support import DATA, check_all, check_chart, kinds, make_record

from migbench.bench.analysis import growth
from migbench.bench.report.charts import build_charts, common, crash_matrix, scaling, strategies, timeline
from migbench.bench.report.load import load_results

pytestmark = pytest.mark.xdist_group("test_charts")

MB = 2**20


@pytest.fixture(scope="module")
def fixture_charts():
    """Charts of each recorded fixture set, built once."""
    built = {}
    for name in ("versions", "strategies", "scaling"):
        records = load_results([DATA / name]).records
        built[name] = (records, build_charts(records))
    return built


# -- the recorded fixtures -------------------------------------------------------------


def test_versions_fixture_charts(fixture_charts):
    records, charts = fixture_charts["versions"]
    check_all(charts)
    assert kinds(charts) == ["timeline", "versions", "crash-matrix"]
    timeline_chart, versions_chart, matrix_chart = charts
    assert timeline_chart.slug == "timeline-crash-small"
    assert versions_chart.slug == "versions-crash-small-all"
    assert matrix_chart.slug == "crash-matrix-crash-small-all"
    killed = [r for r in records if r.outcome != "ok"]
    assert killed and all(r.memory_limit_bytes == 128 * MB for r in killed)
    # the decisive figures come from the records
    first = min(killed, key=lambda r: (r.django_version, r.python_version))
    assert "Django %s / Python %s was OOM-killed at the 128M cap after %s, during rendering" % (
        first.django_version, first.python_version, common.fmt_s(first.wall_s)) in timeline_chart.caption
    assert "oom-killed at 128M (during rendering)" in matrix_chart.caption
    assert "ok only without a cap" in matrix_chart.caption
    assert "Django 1.9.13" in matrix_chart.caption and "finished in every cell" in matrix_chart.caption
    assert "oom-killed under 128M" in versions_chart.caption


def test_strategies_fixture_charts(fixture_charts):
    records, charts = fixture_charts["strategies"]
    check_all(charts)
    assert kinds(charts) == ["timeline", "strategies"]  # one version pair, no cap, one size
    chart = charts[1]
    assert chart.slug == "strategies-quick-django5-2-19-py3-11-7-memnone-sqlite"
    assert "ratio to 'all'" in chart.caption and "Test-database creation" in chart.caption
    assert re.search(r"\d\.\d+x", chart.caption)


def test_scaling_fixture_charts(fixture_charts):
    records, charts = fixture_charts["scaling"]
    check_all(charts)
    assert kinds(charts)[0] == "timeline" and kinds(charts)[-1] == "scaling"
    assert kinds(charts).count("versions") == 3  # 4.2 vs 5.2 at each of the three sizes
    assert kinds(charts).count("timeline") == 1 and "crash-matrix" not in kinds(charts)
    chart = charts[-1]
    assert chart.slug == "scaling-scaling"
    assert "time grows as models^" in chart.caption and "Django 4.2.30" in chart.caption


def test_every_fixture_record_spans_agree_with_its_phases(fixture_charts):
    """The bands drawn are the phases the record reports (bench/records/events.py), step by step summed."""
    for records, _charts in fixture_charts.values():
        for record in records:
            spans = timeline.phase_spans(record.events, timeline.record_end(record))
            for phase, field in (("rendering", "rendering"), ("applying", "applying"),
                                 ("post-migrate", "post_migrate"), ("loading", "loading")):
                expected = record.phases.get(field)
                drawn = sum(s.stop - s.start for s in spans if s.phase == phase)
                if expected is None:
                    assert drawn == 0, (record.cell().label(), phase)
                elif record.outcome == "ok":
                    assert drawn == pytest.approx(expected, abs=0.02), (record.cell().label(), phase)


# -- phase spans -----------------------------------------------------------------------


def ev(name, t, **extra):
    return dict(event=name, t=t, rss=50 * MB, **extra)


def test_spans_of_a_plain_run():
    events = [ev("start", 0.05), ev("setup_end", 0.3), ev("pre_migrate_start", 0.4), ev("pre_migrate_end", 0.41),
              ev("render_start", 0.42), ev("render_success", 0.5), ev("apply_start", 0.5, migration="a.0001"),
              ev("apply_success", 1.0, migration="a.0001"), ev("apply_start", 1.0, migration="a.0002"),
              ev("apply_success", 2.0, migration="a.0002"), ev("post_migrate_start", 2.1),
              ev("post_migrate_end", 2.3), ev("end", 2.31, exit=0)]
    spans = timeline.phase_spans(events, end=2.4)
    assert [(s.phase, s.start, s.stop) for s in spans] == [
        ("setup", 0.05, 0.3), ("loading", 0.3, 0.42), ("rendering", 0.42, 0.5), ("applying", 0.5, 2.0),
        ("post-migrate", 2.1, 2.3)]
    assert timeline.step_marks(make_record(events=events)) == []


def test_spans_of_a_run_killed_while_rendering():
    """Django 1.8 under a cap: render_start and nothing after it; the band runs to the kill."""
    events = [ev("start", 0.05), ev("setup_end", 1.6), ev("pre_migrate_start", 3.0), ev("pre_migrate_end", 3.1),
              ev("render_start", 3.3)]
    spans = timeline.phase_spans(events, end=116.5)
    assert [(s.phase, s.start, s.stop) for s in spans] == [
        ("setup", 0.05, 1.6), ("loading", 1.6, 3.3), ("rendering", 3.3, 116.5)]


def test_spans_of_a_run_killed_while_applying_and_repeated_rendering():
    events = [ev("start", 0.0), ev("setup_end", 0.2), ev("render_start", 0.3), ev("render_success", 0.4),
              ev("apply_start", 0.4), ev("apply_success", 1.0), ev("render_start", 1.0), ev("render_success", 1.5),
              ev("apply_start", 1.5)]
    spans = timeline.phase_spans(events, end=9.0)
    assert [(s.phase, s.start, s.stop) for s in spans if s.phase == "rendering"] == [
        ("rendering", 0.3, 0.4), ("rendering", 1.0, 1.5)]
    assert [(s.start, s.stop) for s in spans if s.phase == "applying"] == [(0.4, 9.0)]


def test_spans_of_a_multi_step_record():
    """per-app / backward: each step's phases on one clock; an unfinished step ends at the next spawn."""
    step1 = [ev("start", 0.04, step="a to zero"), ev("setup_end", 0.3, step="a to zero"),
             ev("render_start", 0.5, step="a to zero"), ev("render_success", 1.6, step="a to zero"),
             ev("unapply_start", 1.6, step="a to zero"), ev("unapply_success", 3.5, step="a to zero"),
             ev("post_migrate_start", 3.55, step="a to zero"), ev("post_migrate_end", 3.57, step="a to zero"),
             ev("end", 3.58, step="a to zero", exit=0)]
    step2 = [ev("start", 3.96, step="b to zero"), ev("setup_end", 4.2, step="b to zero"),
             ev("render_start", 4.37, step="b to zero")]
    spans = timeline.phase_spans(step1 + step2, end=9.0)
    assert {s.step for s in spans} == {"a to zero", "b to zero"}
    assert [(s.phase, s.start, s.stop) for s in spans if s.step == "a to zero"] == [
        ("setup", 0.04, 0.3), ("loading", 0.3, 0.5), ("rendering", 0.5, 1.6), ("applying", 1.6, 3.5),
        ("post-migrate", 3.55, 3.57)]
    assert [(s.phase, s.start, s.stop) for s in spans if s.step == "b to zero"][-1] == ("rendering", 4.37, 9.0)
    marks = timeline.step_marks(make_record(events=step1 + step2))
    assert [(m.name, m.t) for m in marks] == [("a to zero", 0.04), ("b to zero", 3.96)]
    # a step killed mid-phase and followed by another: its band stops where the next step starts
    cut = step1[:3] + step2
    assert [(s.phase, s.stop) for s in timeline.phase_spans(cut, end=9.0) if s.step == "a to zero"][-1] == (
        "rendering", 3.96)


def test_floor_record_without_setup_end():
    events = [ev("start", 0.05), ev("apply_start", 0.06), ev("apply_success", 3.0), ev("end", 3.1, exit=0)]
    spans = timeline.phase_spans(events, end=3.2)
    assert [(s.phase, s.start, s.stop) for s in spans] == [("setup", 0.05, 0.06), ("applying", 0.06, 3.0)]


# -- downsampling, grouping, labels ----------------------------------------------------


def test_downsample_keeps_each_buckets_max_and_both_ends():
    n = 200_003
    t = [i * 0.02 for i in range(n)]
    rss = [100.0 + (i % 7) for i in range(n)]
    rss[123_457] = 9_999.0  # one spike between two samples
    rss[-1] = 50.0  # the crash point: the last sample, lower than its neighbours
    xs, ys = common.downsample_max(t, rss)
    assert len(xs) <= common.MAX_PLOT_POINTS + 2
    assert ys.max() == 9_999.0 and xs[ys.argmax()] == pytest.approx(t[123_457])
    assert xs[0] == 0.0 and xs[-1] == pytest.approx(t[-1]) and ys[-1] == 50.0
    assert all(b > a for a, b in zip(xs, xs[1:]))
    assert set(ys[1:-1].tolist()) == {106.0, 9_999.0}  # every bucket kept its max; first and last as they were
    small_t, small_rss = common.downsample_max([0, 1, 2], [5, 6, 7])
    assert small_t.tolist() == [0, 1, 2] and small_rss.tolist() == [5, 6, 7]


def test_majority_outcome_and_cell_stats():
    ok = [make_record(run_id=str(i), repeat=i, wall_s=w) for i, w in ((1, 10.0), (2, 12.0))]
    killed = make_record(run_id="3", repeat=3, outcome="oom-killed", wall_s=3.0, peak_rss_bytes=512 * MB,
                         failed_during="rendering")
    assert common.majority_outcome(ok) == ("ok", None)
    assert common.majority_outcome(ok + [killed]) == ("ok", "2/3 ok")
    assert common.majority_outcome(ok[:1] + [killed]) == ("oom-killed", "1/2 ok")  # a tie is not safe
    stats = common.cell_stats(ok + [killed])
    assert (stats.wall.median, stats.wall.low, stats.wall.high) == (11.0, 10.0, 12.0)  # the killed run's 3 s left out
    assert stats.note == "2/3 ok" and stats.n == 3
    assert common.representative(ok + [killed]).run_id == "1"  # median wall of 3, 10, 12


def test_slugs_and_labels():
    assert common.slugify("timeline", "Segfault_2015 (big)", "", "512M") == "timeline-segfault-2015-big-512m"
    assert common.unique_slugs(["a", "a", "a-2", "b"]) == ["a", "a-2", "a-2-2", "b"]
    assert common.fmt_range(4056.2, 8777.4, "MB") == "4056-8777 MB"
    assert common.fmt_range(1418, 4496, "s") == "1418-4496 s (24-75 min)"
    assert common.fmt_ratio(0.234) == "0.23x" and common.fmt_ratio(4.06) == "4.1x"
    assert common.text_colour_on(common.OUTCOME_COLOURS["segfault"]) == "white"
    assert set(common.OUTCOME_COLOURS) == {"ok", "oom-killed", "segfault", "memory-error", "timeout", "error"}


# -- synthetic records: what applies and the caption figures ---------------------------


def run(outcome="ok", wall=10.0, peak_mb=80.0, cap=None, **changes):
    n = 50
    t = [wall * i / (n - 1) for i in range(n)]
    rss = [int(peak_mb * MB * (0.3 + 0.7 * i / (n - 1))) for i in range(n)]
    events = [ev("start", 0.05), ev("setup_end", 0.1 * wall), ev("render_start", 0.2 * wall)]
    if outcome == "ok":
        events += [ev("render_success", 0.3 * wall), ev("apply_start", 0.3 * wall), ev("apply_success", 0.9 * wall),
                   ev("post_migrate_start", 0.92 * wall), ev("post_migrate_end", 0.95 * wall),
                   ev("end", 0.96 * wall, exit=0)]
    base = dict(outcome=outcome, wall_s=wall, peak_rss_bytes=int(peak_mb * MB), memory_limit_bytes=cap,
                samples={"interval_s": 0.02, "t": t, "rss": rss}, events=events,
                failed_during=None if outcome == "ok" else "rendering")
    base.update(changes)
    return make_record(**base)


def test_single_record_gives_a_timeline_only():
    charts = build_charts([run()])
    check_all(charts)
    assert kinds(charts) == ["timeline"]
    assert charts[0].slug == "timeline-quick"
    assert "finished in 10 s, peaking at 80 MB" in charts[0].caption
    assert build_charts([]) == []
    assert build_charts([make_record(memory_limit_bytes=None)]) == []  # no samples, no events: nothing to draw
    assert kinds(build_charts([make_record()])) == ["crash-matrix"]  # a capped run is a matrix cell all the same


def test_uncapped_records_have_no_crash_matrix_and_one_strategy_no_strategies_chart():
    records = [run(django_version="1.9.13", run_id="a"), run(django_version="1.8.19", run_id="b", wall=30.0)]
    assert kinds(build_charts(records)) == ["timeline", "versions"]


def test_crash_matrix_cells_and_caption():
    records = [run("oom-killed", wall=4.5, peak_mb=130, cap=128 * MB, django_version="1.8.19", run_id="1"),
               run(wall=40, peak_mb=566, django_version="1.8.19", run_id="2"),
               run(wall=11, peak_mb=97, cap=128 * MB, run_id="3"),
               run(wall=10, peak_mb=97, run_id="4"),
               run(wall=12, peak_mb=99, cap=128 * MB, run_id="5", repeat=2),
               run("memory-error", wall=2, peak_mb=120, cap=128 * MB, run_id="6", repeat=3)]
    rows, caps, stats = crash_matrix.matrix(records)
    assert rows == [("1.8.19", "2.7.18"), ("1.9.13", "2.7.18")] and caps == [128 * MB, None]
    assert stats[(("1.9.13", "2.7.18"), 128 * MB)].note == "2/3 ok"
    charts = build_charts(records)
    check_all(charts)
    matrix_chart = [c for c in charts if c.kind == "crash-matrix"][0]
    assert "Django 1.8.19 / Python 2.7.18: oom-killed at 128M (during rendering), ok only without a cap " \
           "(peak 566 MB)" in matrix_chart.caption


def test_strategies_ratios_and_missing_baseline():
    records = []
    for i, (strategy, wall) in enumerate((("all", 10.0), ("all", 10.0), ("zero", 2.5), ("zero", 2.5),
                                          ("backward", 40.0), ("floor", 1.0))):
        records.append(run(strategy=strategy, wall=wall, run_id=str(i), repeat=1 + i % 2,
                           dev_loop={"test database": {"wall_s": wall / 2, "outcome": "ok"}}))
    rows = strategies.rows_for(records)
    assert [s for s, _ in rows] == ["all", "backward", "zero", "floor"]
    charts = build_charts(records)
    check_all(charts)
    chart = [c for c in charts if c.kind == "strategies"][0]
    assert "fastest floor at 1.0 s (0.10x), slowest backward at 40 s (4.0x)" in chart.caption
    assert "Test-database creation: 'all' 5.0 s, fastest floor at 0.50 s (0.10x)" in chart.caption
    no_all = build_charts([r for r in records if r.strategy != "all"])
    chart = [c for c in no_all if c.kind == "strategies"][0]
    assert "no ratios" in chart.caption
    slower = [r for r in records if r.strategy in ("all", "backward")]
    text = strategies.caption(strategies.rows_for(slower), strategies.METRICS[:1])
    assert "Migrate: 'all' 10 s is the fastest; next backward at 40 s (4.0x)." in text, "no 'fastest' slower one"


def test_a_crashed_strategy_shows_its_outcome_and_no_ratio():
    records = [run(strategy="all", wall=10.0, run_id="a"),
               run("oom-killed", strategy="backward", wall=3.0, cap=None, run_id="b")]
    chart = [c for c in build_charts(records) if c.kind == "strategies"][0]
    assert "Crashed: backward (oom-killed during rendering, after 3.0 s)." in chart.caption
    assert "slowest" not in chart.caption  # a time-to-death is no migrate time to compare


def test_timeline_from_events_when_the_record_has_no_samples():
    record = run()
    record = replace(record, samples={"interval_s": 0.02, "t": [], "rss": []})
    xs, ys = timeline.rss_series(record)
    assert xs.tolist() == [e["t"] for e in record.events] and ys.max() == 50.0
    assert kinds(build_charts([record])) == ["timeline"]


def sized(models, migrations, wall, peak_mb, outcome="ok", apps=2, vary=None, **changes):
    scenario = {"name": "sweep", "sha256": "%064x" % (models * 1000 + migrations), "seed": 1, "source": "x"}
    if vary is not None:
        scenario["vary"] = vary
    return run(outcome=outcome, wall=wall, peak_mb=peak_mb, run_id="%s-%s-%s" % (models, migrations, changes),
               scenario=scenario, project={"apps": apps, "models": models, "fields": 0, "migrations": migrations},
               **changes)


def test_scaling_fits_the_exponent_and_leaves_crashes_out():
    records = [sized(m, 10, wall=0.01 * m ** 2, peak_mb=20 * m ** 0.5) for m in (10, 20, 40, 80)]
    records.append(sized(160, 10, wall=5.0, peak_mb=512, outcome="oom-killed", cap=512 * MB))
    assert scaling.variables_for(records) == ("models",)
    capped, uncapped = scaling.series_for(records, ("models",))  # caps ascending, none last
    # the crash has its own cap, hence its own series; no ok point there, so no fit
    assert capped.key.memory_limit_bytes == 512 * MB and capped.fit is None and not capped.points
    assert [x for x, _ in capped.crashes] == [160]
    assert uncapped.fit.time.exponents[0] == pytest.approx(2.0, abs=1e-6)
    assert uncapped.fit.peak.exponents[0] == pytest.approx(0.5, abs=1e-6)
    assert [p.sizes["models"] for p in uncapped.points] == [10, 20, 40, 80]
    charts = build_charts(records)
    check_all(charts)
    chart = [c for c in charts if c.kind == "scaling"][0]
    assert chart.slug == "scaling-sweep"
    assert "cap none: time grows as models^2.00 (R² 1.00, 4 sizes), peak RSS as models^0.50" in chart.caption
    assert "crashed runs" in chart.caption
    # the same crash in the uncapped series: still drawn, still not fitted
    records[-1] = replace(records[-1], memory_limit_bytes=None)
    (series,) = scaling.series_for(records, ("models",))
    assert series.fit.time.exponents[0] == pytest.approx(2.0, abs=1e-6) and len(series.crashes) == 1


def test_scaling_uses_migrations_when_models_are_constant_and_needs_two_sizes():
    records = [sized(40, n, wall=0.1 * n, peak_mb=60) for n in (50, 100, 200)]
    assert scaling.x_variable(records) == "migrations"
    chart = [c for c in build_charts(records) if c.kind == "scaling"][0]
    assert "Time grows as migrations^1.00 (R² 1.00, 3 sizes)" in chart.caption
    assert scaling.x_variable(records[:1]) is None
    assert "scaling" not in kinds(build_charts(records[:1]))


def test_scaling_draws_the_fit_over_the_largest_sizes_where_a_fixed_cost_bends_the_line():
    """README, "How the cost grows": over 16-512 migrations the exponent is low (creating the models is a
    fixed cost); the three largest sizes alone are fitted, drawn dotted and quoted in the caption."""
    sizes = (16, 32, 64, 128, 256, 512)
    records = [sized(102, n, wall=5.0 + 0.1 * n, peak_mb=80, vary={"migrations": n // 16}) for n in sizes]
    (series,) = scaling.series_for(records, ("migrations",))
    largest = growth.fit_series(records[-3:], ("migrations",))[series.key]
    assert series.tail.time.exponents == pytest.approx(largest.time.exponents)
    assert series.fit.time.exponents[0] < series.tail.time.exponents[0] < 1.0
    assert scaling.tail_range(series, "migrations") == (128, 512)
    chart = [c for c in build_charts(records) if c.kind == "scaling"][0]
    check_chart(chart)
    assert "and time over the 3 largest sizes alone (128-512 migrations, dotted) as migrations^%.2f (R² " % (
        series.tail.time.exponents[0]) in chart.caption
    (fewer,) = scaling.series_for(records[:4], ("migrations",))
    assert fewer.tail is None, "four sizes: the full-range fit only"


def test_scaling_of_a_sweep_over_apps_and_migrations_fits_both():
    """`migbench sweep --vary apps=2,4,8 migrations=1,3`: the records say what was varied (scenario.vary);
    both counts grow with apps, so only a two-variable fit (bench/analysis/growth.py) separates them."""
    records = []
    for apps in (2, 4, 8):
        for per_app in (1, 3):
            models, migrations = 5 * apps, apps * per_app
            records.append(sized(models, migrations, wall=0.01 * models ** 1.5 * migrations ** 0.5, peak_mb=50,
                                 apps=apps, vary={"apps": apps, "migrations": per_app}))
    assert scaling.variables_for(records) == ("models", "migrations")
    (series,) = scaling.series_for(records, scaling.variables_for(records))
    assert series.fit.time.exponents == pytest.approx((1.5, 0.5), abs=1e-6)
    assert {p.level for p in series.points} == {(("migrations", 1),), (("migrations", 3),)}
    chart = [c for c in build_charts(records) if c.kind == "scaling"][0]
    check_chart(chart)
    assert "Time grows as models^1.50 · migrations^0.50 (R² 1.00, 6 sizes)" in chart.caption
    # an apps-only sweep: migrations grow with apps too, but the fit is on models alone, as the sweep's
    apps_only = [r for r in records if r.scenario["vary"]["migrations"] == 1]
    assert scaling.variables_for(apps_only) == ("models",)


def test_two_sweeps_of_one_scenario_over_different_knobs_are_two_charts():
    """`--vary apps=...` and, later, `--vary apps=16 --vary migrations=...` into one results tree: one fit
    over both would mix two experiments."""
    by_apps = [sized(5 * a, 2 * a, wall=0.01 * (5 * a) ** 2, peak_mb=50, apps=a, vary={"apps": a})
               for a in (2, 4, 8)]
    by_history = [sized(20, 4 * m, wall=0.1 * 4 * m, peak_mb=50, apps=4, vary={"apps": 4, "migrations": m})
                  for m in (1, 2, 4)]
    charts = [c for c in build_charts(by_apps + by_history) if c.kind == "scaling"]
    check_all(charts)
    assert [c.slug for c in charts] == ["scaling-sweep-apps", "scaling-sweep-apps-migrations"]
    assert charts[0].title.endswith("(sweep over apps)") and "models^2.00" in charts[0].caption
    assert "migrations^1.00" in charts[1].caption
    (alone,) = [c for c in build_charts(by_apps) if c.kind == "scaling"]
    assert alone.slug == "scaling-sweep" and "sweep over" not in alone.title
    # two versions at each size: the scaling chart shows them, no bar chart per size
    other = [replace(r, django_version="4.2.30", run_id=r.run_id + "-4.2") for r in by_apps]
    assert "versions" not in kinds(build_charts(by_apps + other))


@pytest.mark.parametrize("axes", [{"apps": [2, 4]}, {"models": [5, 10]}, {"migrations": [1, 3]},
                                  {"apps": [2, 4], "migrations": [1, 3]}, {"apps": [2, 4], "models": [5]},
                                  {"apps": [2], "migrations": [1, 3], "models": [4, 8]}])
def test_scaling_chooses_the_variables_the_sweep_fits(axes):
    from migbench.bench.run import sweep

    assert scaling.fit_variables(axes) == sweep.fit_variables(axes)


def test_many_cells_split_the_timeline_and_slugs_stay_unique():
    records = [run(database={"engine": "db%d" % i}, run_id=str(i)) for i in range(13)]  # 13 cells, one each
    charts = build_charts(records)
    check_all(charts)
    assert [c.slug for c in charts] == ["timeline-quick", "timeline-quick-2"]
    assert charts[0].title.endswith("[1/2]") and charts[1].title.endswith("[2/2]")
    clash = [run(run_id="x", scenario={"name": "a_b", "sha256": "1" * 64, "seed": 1, "source": ""}),
             run(run_id="y", scenario={"name": "a-b", "sha256": "2" * 64, "seed": 1, "source": ""})]
    slugs = [c.slug for c in build_charts(clash)]
    assert slugs == ["timeline-a-b", "timeline-a-b-2"]


def test_charts_do_not_use_pyplot():
    """Figure + FigureCanvasAgg only: no global pyplot state, no backend switch (safe in threads, servers)."""
    code = ("import sys; sys.path.insert(0, %r); from support import make_record; "
            "from migbench.bench.report.charts import build_charts; "
            "r = make_record(samples={'interval_s': 0.02, 't': [0, 1], 'rss': [1, 2]}); "
            "assert build_charts([r]); assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'"
            % str(Path(__file__).resolve().parents[2]))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
