"""The minimal cap read back from stored capped runs, its chart, table and report section.

Fast: no Django runs. The fixture tests/data/results/bisect/ is a real
`migbench bisect` of crash-small (tests/data/results/README.md); the rest
are records made in memory with the one rule's edge cases.
"""

from __future__ import annotations

from support import DATA, check_all, kinds, make_record

from migbench.bench.report.build import build_report
from migbench.bench.report.charts import build_charts, crash_matrix, minimal_cap, timeline
from migbench.bench.report.load import load_results
from migbench.bench.report.minimal import cap_searches, is_search_probe
from migbench.bench.report.tables import minimal_cap_table

MB = 2**20


def probe(cap_mb, outcome="ok", repeat=1, django="1.9.13", command="bisect", caps="rss+swap", peak_mb=None):
    return make_record(
        run_id="%s-%s-%s-%s" % (django, cap_mb, repeat, caps), repeat=repeat, outcome=outcome,
        memory_limit_bytes=None if cap_mb is None else cap_mb * MB, django_version=django,
        python_version="3.11.7", peak_rss_bytes=(peak_mb or min(cap_mb or 70, 70)) * MB,
        limiter={"name": "cgroup1", "caps": caps}, command={"migbench": ["migbench", command], "child": []},
        failed_during=None if outcome == "ok" else "rendering")


# -- the recorded bisection ------------------------------------------------------------


def test_recorded_bisection_gives_the_bisections_answers():
    records = load_results([DATA / "bisect", DATA / "versions"]).records
    searches = {s.django_version: s for s in cap_searches(records)}
    assert set(searches) == {"1.8.19", "1.9.13"}  # Python 2.7 ran under one cap only: no search
    old, new = searches["1.8.19"], searches["1.9.13"]
    # the same answers as the bisection's own summaries (docs/bisect.md's example)
    assert (old.answer, old.failing) == (282 * MB, 274 * MB) and old.confirmed and old.noisy
    assert (new.answer, new.failing) == (62 * MB, 54 * MB) and new.confirmed and not new.noisy
    assert new.describe_runs(54 * MB) == "oom-killed twice"
    assert old.describe_runs(274 * MB) == "ok once, oom-killed once"
    # the uncapped peak comes from every ok uncapped run of the cell, the bisection's and the run's
    assert 60 * MB < new.uncapped_peak < 100 * MB and 250 * MB < old.uncapped_peak < 320 * MB


def test_recorded_bisection_charts_keep_probes_out_of_the_other_kinds():
    records = load_results([DATA / "bisect", DATA / "versions"]).records
    charts = build_charts(records)
    check_all(charts)
    assert kinds(charts).count("minimal-cap") == 1
    chart = [c for c in charts if c.kind == "minimal-cap"][0]
    assert "Django 1.9.13 / Python 3.11.7 needs 62M (at it: ok twice; at 54M: oom-killed twice)" in chart.caption
    assert "noisy near the threshold" in chart.caption and "Every pair fits within the 2015 VM" in chart.caption
    runs = [r for r in records if not is_search_probe(r)]
    assert len(runs) == 10  # 8 runs + the bisection's two uncapped references
    _rows, caps, _stats = crash_matrix.matrix([r for r in runs if r.django_version])
    assert caps == [128 * MB, None], "a bisection's dozen caps stay out of the crash matrix"
    timelines = [c for c in charts if c.kind == "timeline"]
    assert timelines and all("cap 54M" not in c.caption for c in timelines)


def test_report_has_the_minimal_memory_section_and_table():
    results = load_results([DATA / "bisect"])
    report = build_report(results, [str(DATA / "bisect")])
    section = [s for s in report.sections if s.title == "Minimal memory"][0]
    assert [c.kind for c in section.charts] == ["minimal-cap"]
    table = section.tables[0]
    rows = {row[1]: dict(zip(table.columns, row)) for row in table.rows}
    assert rows["1.9.13"]["minimal cap"] == "62M" and rows["1.9.13"]["failed at"] == "54M"
    assert rows["1.8.19"]["note"] == "noisy" and rows["1.8.19"]["caps tried"] == "10"
    assert rows["1.9.13"]["cap/peak"] == "0.87"  # 62M against the bisection's uncapped 71 MB


# -- the rule on edge cases -------------------------------------------------------------


def test_needs_more_than_every_cap():
    records = [probe(64, "oom-killed"), probe(128, "oom-killed"), probe(256, "memory-error")]
    (search,) = cap_searches(records)
    assert search.answer is None and search.failing == 256 * MB and search.status == "needs more"
    assert "needs more than 256M" in minimal_cap.describe(search)
    assert minimal_cap_table([search]).rows[0][3] == "> 256M"


def test_nothing_failed_is_an_upper_bound():
    (search,) = cap_searches([probe(128), probe(256), probe(512), probe(512, repeat=2)])
    assert search.answer == 128 * MB and search.failing is None and search.status == "at most"
    assert "needs 128M or less" in minimal_cap.describe(search)
    assert "not confirmed by a repeat" in minimal_cap.describe(search)


def test_errors_say_nothing_about_memory_and_two_caps_are_no_search():
    records = [probe(64, "oom-killed", command="run"), probe(96, "error", command="run"), probe(128, command="run"),
               probe(256, "timeout", command="run")]
    assert cap_searches(records) == []  # two caps with a memory verdict, from `migbench run --memory`
    (search,) = cap_searches(records + [probe(512, command="run")])
    assert search.caps == [64 * MB, 128 * MB, 512 * MB] and search.ignored == 2 and search.answer == 128 * MB
    assert "2 error/timeout runs ignored" in minimal_cap_table([search]).rows[0][-1]


def test_a_pass_below_a_failure_is_noise_and_the_answer_stays_above():
    records = [probe(64, "oom-killed"), probe(80), probe(96, "oom-killed"), probe(112), probe(112, repeat=2),
               probe(128)]
    (search,) = cap_searches(records)
    assert (search.answer, search.failing) == (112 * MB, 96 * MB) and search.noisy and search.confirmed


def test_resident_and_address_space_caps_are_separate_charts_and_runs_count_too():
    resident = [probe(c, o, command="run") for c, o in ((128, "oom-killed"), (256, "ok"), (512, "ok"))]
    virtual = [probe(c, o, caps="virtual") for c, o in ((256, "memory-error"), (512, "ok"), (1024, "ok"))]
    searches = cap_searches(resident + virtual + [probe(None, peak_mb=200)])
    assert [(s.caps_kind, s.answer) for s in searches] == [("rss+swap", 256 * MB), ("virtual", 512 * MB)]
    assert all(s.uncapped_peak == 200 * MB for s in searches)
    charts = build_charts(resident + virtual)
    check_all(charts)
    slugs = [c.slug for c in charts if c.kind == "minimal-cap"]
    assert len(slugs) == 2 and any(s.endswith("virtual") for s in slugs)
    # a `migbench run` over three caps is a search and still a crash matrix column each
    assert [c for c in charts if c.kind == "crash-matrix"] and not is_search_probe(resident[0])


def test_chart_marks_the_2015_vm_and_says_who_fits():
    records = [probe(*args, django="1.8.19") for args in ((256, "oom-killed"), (1024, "ok"), (768, "ok"),
                                                          (768, "ok", 2), (640, "oom-killed"))]
    records += [probe(*args) for args in ((32, "oom-killed"), (64, "ok"), (64, "ok", 2), (128, "ok"))]
    (chart,) = [c for c in build_charts(records) if c.kind == "minimal-cap"]
    assert "Within the 2015 VM's 512 MB: Django 1.9.13 / Python 3.11.7; not: Django 1.8.19 / Python 3.11.7." \
        in chart.caption
    assert minimal_cap.VM_2015_BYTES == 512 * MB
    assert timeline.build([r for r in records if not is_search_probe(r)]) == []


def test_a_bisection_that_settled_with_two_caps_is_a_search():
    """Started at the uncapped peak, a bisection can need only the answer and the step below it."""
    records = [probe(40), probe(32, "oom-killed"), probe(40, repeat=2), probe(32, "oom-killed", repeat=2)]
    (search,) = cap_searches(records)
    assert search.answer == 40 * MB and search.failing == 32 * MB and search.confirmed and not search.noisy
