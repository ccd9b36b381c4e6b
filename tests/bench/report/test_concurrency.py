"""Solo and concurrent timings kept apart, and the machines named, in `migbench compare` and the report.

Synthetic records (tests/support.py `make_record`): a record whose `concurrency` says other measured
runs shared its machine has concurrent times (bench/records/sharing.py); its peak is its own.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from support import make_record

from migbench.bench.records import ResultStore
from migbench.bench.records.sharing import timing_mode
from migbench.bench.report.build import build_report
from migbench.bench.report.compare import PairKey, compare_cell, compute, decide, pair, render
from migbench.bench.report.headline import headlines
from migbench.bench.report.load import ResultSet, load_results
from migbench.bench.report.tables import (CONCURRENT_TITLE, cell_table, concurrent_table, group_by_cell,
                                          provenance_table, strategy_tables)
from migbench.bench.report.terminal import summary_lines
from migbench.cli import main

MIB = 2**20


def shared(others=1, overlap=30.0, span=40.0):
    """A `concurrency` object: `others` measured runs overlapped this one for `overlap` of its `span` s."""
    return {"solo": False, "overlapping_runs": others, "overlap_s": overlap, "span_s": span, "machine_slots": 2,
            "others": ["other-%d" % i for i in range(others)]}


SOLO = {"solo": True, "overlapping_runs": 0, "overlap_s": 0.0, "span_s": 10.0, "machine_slots": 1, "others": []}


def runs(walls, peak=80 * MIB, concurrency=None, start=1, tag="", **changes):
    """One record per wall time (repeats start..), same cell unless `changes` say otherwise."""
    return [make_record(run_id="%s-%s%d" % (changes.get("strategy", "all"), tag, start + i), repeat=start + i,
                        wall_s=w, peak_rss_bytes=peak, concurrency=concurrency, **changes)
            for i, w in enumerate(walls)]


def store(directory, records):
    for record in records:
        ResultStore(directory).write(record)
    return str(directory)


KEY = PairKey.of(make_record())


# -- compare: like with like -----------------------------------------------------------


def test_solo_pairs_with_solo_and_concurrent_runs_stay_out_of_the_time_ratio():
    base = runs([10, 10.5, 9.5]) + runs([30], peak=90 * MIB, concurrency=shared(), start=4, tag="c")
    cand = runs([10, 10.5, 9.5], concurrency=SOLO, start=5) + runs([50, 60], peak=90 * MIB,
                                                                    concurrency=shared(2), start=8, tag="c")
    result = compare_cell(KEY, base, cand)
    time, peak = result.metrics["time"], result.metrics["peak"]
    assert time.timing == "solo" and time.ratio.ratio == pytest.approx(1.0)
    assert (time.baseline.n, time.candidate.n, time.baseline.median) == (3, 3, 10)
    assert peak.baseline.n == 4 and peak.candidate.n == 5, "the peak uses every ok run"
    assert peak.baseline.high == 90 * MIB
    assert any("times use the solo runs only: 3 concurrent runs left out of the time ratio" in n for n in result.notes)
    assert time.label == "time" and time.describe() == "same, within noise"


def test_concurrent_only_on_both_sides_is_compared_and_says_so():
    base = runs([20, 21, 19], concurrency=shared())
    cand = runs([40, 42, 38], concurrency=shared(3), start=4)
    comparisons = compute(pair(base, cand))
    time = comparisons[0].metrics["time"]
    assert time.timing == "concurrent" and time.ratio.ratio == pytest.approx(2.0) and time.ratio.significant
    assert time.label == "time (concurrent)"
    decision = decide(comparisons, 0.05)
    assert decision.status == 1 and "(concurrent timings)" in decision.regressions[comparisons[0].key][0]
    text = "\n".join(render(pair(base, cand), comparisons, decision))
    assert "time (concurrent)" in text and "! concurrent timings: times compare concurrent runs on both sides" in text
    assert text.splitlines()[-2] == "timings: 1 cell on concurrent timings"


def test_solo_against_concurrent_compares_the_peak_only_and_never_gates_on_time():
    base = runs([10, 10.5, 9.5])
    cand = runs([30, 31, 29], peak=81 * MIB, concurrency=shared(), start=4)
    comparisons = compute(pair(base, cand))
    time, peak = comparisons[0].metrics["time"], comparisons[0].metrics["peak"]
    assert time.ratio is None and time.timing is None
    assert time.describe() == "not compared: solo vs concurrent"
    assert peak.ratio is not None and peak.ratio.ratio == pytest.approx(81 / 80)
    assert ("times not compared: the baseline was measured solo, the candidate concurrently (other measured "
            "runs on its machine); peak compared") in comparisons[0].notes
    decision = decide(comparisons, 0.05)  # 3x the time, had it been compared
    assert decision.status == 0 and decision.regressions == {}, "a time ratio not computed never gates"
    text = "\n".join(render(pair(base, cand), comparisons, decide(comparisons, 0.05)))
    assert text.splitlines()[-2] == "timings: 1 cell with times not compared (solo vs concurrent)"
    assert all(len(line) <= 120 for line in text.splitlines()), max(text.splitlines(), key=len)
    # the other way round names the sides the other way round
    back = compute(pair(cand, base))[0]
    assert any(n.startswith("times not compared: the baseline was measured concurrently") for n in back.notes)


def test_no_peak_metric_leaves_the_peak_out_of_the_note():
    base, cand = runs([10]), runs([30], concurrency=shared(), start=2)
    result = compare_cell(KEY, base, cand, ("time",))
    assert result.notes == ["times not compared: the baseline was measured solo, the candidate concurrently "
                            "(other measured runs on its machine)"]


def test_runs_from_different_machines_are_warned_about_not_refused(tmp_path, capsys):
    base = store(tmp_path / "a", runs([10, 10.5, 9.5], host={"hostname": "box", "machine_id": "0123456789abcdef"}))
    cand = store(tmp_path / "b", runs([10, 10.5, 9.5], start=4,
                                      host={"hostname": "box", "machine_id": "fedcba9876543210"}))
    assert main(["compare", base, cand, "--threshold", "5%"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith("warning: 1 of 1 cells pair runs from different machines: box/0123456789ab "
                               "(baseline), box/fedcba987654 (candidate)"), lines[:4]
    assert any("! measured on other machines (baseline box/0123456789ab, candidate box/fedcba987654)" in line
               for line in lines)


def test_a_side_mixing_machines_is_noted_too():
    base = runs([10], host={"hostname": "a"}) + runs([10], host={"hostname": "b"}, start=2)
    cand = runs([10], host={"hostname": "a"}, start=3) + runs([10], host={"hostname": "b"}, start=4)
    result = compare_cell(KEY, base, cand)
    assert result.machines == (("a", "b"), ("a", "b"))
    assert any(n.startswith("measured on several machines (baseline a + b, candidate a + b)") for n in result.notes)
    text = render(pair(base, cand), [result], decide([result], None))
    assert any(line.startswith("warning: 1 of 1 cells pair runs from different machines: a (baseline and "
                               "candidate), b (baseline and candidate)") for line in text)
    same = compare_cell(KEY, runs([10]), runs([11], start=2))
    assert same.notes == [] and not any(l.startswith("warning") for l in render(
        pair(runs([10]), runs([11], start=2)), [same], decide([same], None)))


def test_older_records_without_the_fields_count_as_solo(tmp_path):
    directory = tmp_path / "old"
    store(directory, runs([10, 10.5]))
    for path in directory.glob("*.json"):
        data = json.loads(path.read_text())
        for name in ("concurrency", "cluster"):
            data.pop(name, None)
        data.get("host", {}).pop("machine_id", None)
        path.write_text(json.dumps(data))
    old = load_results([directory]).records
    assert [r.concurrency for r in old] == [None, None] and {timing_mode(r) for r in old} == {"solo"}
    result = compare_cell(KEY, old, runs([12, 12.5], concurrency=SOLO, start=3) + runs(
        [40], concurrency=shared(), start=5, tag="c"))
    assert result.metrics["time"].timing == "solo" and result.metrics["time"].ratio.ratio > 1.1


# -- the report ------------------------------------------------------------------------


def mixed_cells():
    """`all`: 3 solo runs at ~10 s and 2 concurrent at ~30 s; `zero`: 3 solo runs; `squash`: 2 concurrent only."""
    return (runs([10, 10.5, 9.5]) + runs([30, 32], peak=90 * MIB, concurrency=shared(), start=4, tag="c")
            + runs([5, 5.5, 4.5], strategy="zero") + runs([12, 14], strategy="squash", concurrency=shared(2)))


def test_the_cell_table_keeps_concurrent_runs_out_of_the_solo_median():
    by_cell = group_by_cell(mixed_cells())
    table = cell_table(by_cell)
    rows = {row[0]: row for row in table.rows}
    wall, shared_wall, peak = (table.columns.index(c) for c in ("wall s", "concurrent wall s", "peak MB"))
    assert rows["all"][wall] == "10.0 ±0.5" and rows["all"][shared_wall] == "31.0 ±1.0"
    assert rows["all"][peak] == "80 ±5", "peaks from every run"
    assert rows["zero"][shared_wall] == "-" and rows["squash"][wall] == "-"
    assert "never mixed into wall s" in table.note
    apart = concurrent_table(by_cell)
    assert apart.title == CONCURRENT_TITLE
    shown = {row[0]: row for row in apart.rows}
    assert set(shown) == {"all", "squash"}
    assert shown["all"][apart.columns.index("runs")] == "2 of 5"
    assert shown["all"][apart.columns.index("migrate s")] == "31.00 ±1.00"
    assert shown["squash"][apart.columns.index("x all")] == "0.42"  # 13 / 31: concurrent against concurrent
    assert concurrent_table(group_by_cell(runs([10]))) is None
    lines = summary_lines(by_cell, list(by_cell))
    assert CONCURRENT_TITLE in lines


def test_strategy_tables_take_times_from_solo_runs():
    [table] = strategy_tables(group_by_cell(mixed_cells()))
    rows = {row[0]: row for row in table.rows}
    migrate = table.columns.index("migrate s")
    assert rows["all"][migrate] == "10.00" and rows["zero"][migrate] == "5.00" and rows["squash"][migrate] == "-"
    assert "left out" in table.note and "concurrent timings" not in table.title
    [only] = strategy_tables(group_by_cell(runs([30, 31], concurrency=shared())
                                           + runs([15], strategy="zero", concurrency=shared())))
    assert "concurrent timings" in only.title and {row[0]: row[3] for row in only.rows}["zero"] == "0.49"


def test_the_headline_uses_solo_times_and_says_when_it_rests_on_concurrent_ones():
    [headline] = headlines(mixed_cells())
    assert headline.title.startswith("quick: zero is the fastest, 2.0x faster than all"), headline.title
    assert "(concurrent timings)" not in headline.title
    assert any("The times of squash rest on runs measured while other measured runs shared the machine" in line
               for line in headline.lines), headline.lines
    [all_shared] = headlines(runs([30, 31], concurrency=shared()) + runs([15], strategy="zero",
                                                                         concurrency=shared()))
    assert all_shared.title.endswith("(concurrent timings)")
    assert any(line.startswith("Every time here was measured while other measured runs shared the machine")
               for line in all_shared.lines)
    [solo_only] = headlines(runs([10]) + runs([5], strategy="zero"))
    assert not any("shared the machine" in line for line in solo_only.lines)


def test_the_report_shows_concurrent_timings_apart_and_names_the_machines():
    records = mixed_cells()
    records[-1] = replace(records[-1], host={"hostname": "w2", "machine_id": "abcdef0123456789"})
    report = build_report(ResultSet(records=records), ["synthetic"])
    sections = {s.title: s for s in report.sections}
    assert [t.title for t in sections["Runs"].tables] == ["Runs by cell", CONCURRENT_TITLE]
    assert CONCURRENT_TITLE in sections["Runs"].intro
    [machines] = [line for line in sections["Provenance"].lines if line.startswith("Measured on")]
    assert machines == ("Measured on 2 machines: h (9 records), w2/abcdef012345 (1 record); times from different "
                        "machines compare the machines as much as the code.")
    table = provenance_table(records)
    hosts = {row[table.columns.index("host")] for row in table.rows}
    timings = {row[table.columns.index("timing")] for row in table.rows}
    assert hosts == {"h", "w2/abcdef012345"} and timings == {"solo", "concurrent"}
    strategies = [c for c in report.charts() if c.kind == "strategies"]
    assert strategies and "left out of them" in strategies[0].caption


def test_scaling_fits_time_on_solo_runs_and_peak_on_every_run():
    from migbench.bench.report.charts import build_charts, scaling

    def size(models, wall, peak, concurrency=None, tag=""):
        scenario = {"name": "sweep", "sha256": "%064x" % models, "seed": 1, "source": "x"}
        return make_record(run_id="m%d%s" % (models, tag), wall_s=wall, peak_rss_bytes=peak, concurrency=concurrency,
                           scenario=scenario, project={"apps": 2, "models": models, "fields": 0, "migrations": 4})

    records = [size(m, 0.01 * m ** 2, int(MIB * m ** 0.5)) for m in (10, 20, 40)]
    records += [size(40, 99.0, int(MIB * 40 ** 0.5), shared(), "c"), size(80, 999.0, int(MIB * 80 ** 0.5), shared())]
    (series,) = scaling.series_for(records, ("models",))
    assert series.fit.time.exponents[0] == pytest.approx(2.0, abs=1e-6), "the concurrent times are not fitted"
    assert series.fit.peak.n == 4 and series.fit.peak.exponents[0] == pytest.approx(0.5, abs=1e-3)
    last = series.points[-1]
    assert last.sizes["models"] == 80 and last.values["time"] is None and last.values["peak"] is not None
    assert series.points[-2].values["time"].n == 1, "the solo run at 40 models only"
    [chart] = [c for c in build_charts(records) if c.kind == "scaling"]
    assert "Times are of solo runs: 2 runs measured while other measured runs shared the machine" in chart.caption


def test_stage_lines_say_when_a_solo_profiled_run_meets_a_concurrent_one():
    from migbench.bench.report.compare import stage_lines, stage_pairs

    def profiled(run_id, concurrency=None):
        profile = {"mode": "time", "wall_s": 10.0, "span_s": 9.9, "unattributed_s": 0.1,
                   "stages": {"setup": 1.0, "state": 8.9}}
        return make_record(run_id=run_id, profile=profile, concurrency=concurrency)

    [pair_] = stage_pairs([profiled("p1")], [profiled("p2", shared())])
    lines = stage_lines([pair_])
    assert ("  (baseline's profiled run was measured solo, candidate's concurrent: its stage seconds are not like "
            "with like)") in lines
    assert not any("like with like" in line for line in stage_lines(stage_pairs([profiled("p1")],
                                                                                [profiled("p2")])))
