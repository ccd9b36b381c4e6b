"""`migbench compare`: pairing, the ratio arithmetic on known inputs, the exit rule, clean errors.

Pure records written with ResultStore into tmp_path: no Django runs.
"""

from __future__ import annotations

import json
import math
import re

import pytest
from support import make_record

from migbench.bench.records import ResultStore
from migbench.bench.report.compare import (PairKey, compare_cell, compute, decide, pair, parse_metrics,
                                           parse_threshold, render)
from migbench.cli import main
from migbench.errors import MigbenchError

T975 = {1: 12.706, 4: 2.776}  # Student's t, two-sided 95%, by degrees of freedom


def runs(walls, peaks=None, outcome="ok", start=1, **changes):
    """One record per wall time (repeats start..), same cell unless `changes` say otherwise."""
    peaks = peaks or [80 * 2**20] * len(walls)
    return [make_record(run_id="%s-%s-%d" % (changes.get("strategy", "all"), outcome, start + i),
                        repeat=start + i, wall_s=w, peak_rss_bytes=p, outcome=outcome, **changes)
            for i, (w, p) in enumerate(zip(walls, peaks))]


def store(directory, records):
    for record in records:
        ResultStore(directory).write(record)
    return str(directory)


def hand_ratio(baseline, candidate):
    """Ratio of geometric means and the Welch 95% interval on logs, written out longhand."""
    lb, lc = [math.log(v) for v in baseline], [math.log(v) for v in candidate]
    mb, mc = sum(lb) / len(lb), sum(lc) / len(lc)
    vb = sum((x - mb) ** 2 for x in lb) / (len(lb) - 1)
    vc = sum((x - mc) ** 2 for x in lc) / (len(lc) - 1)
    a, b = vb / len(lb), vc / len(lc)
    df = (a + b) ** 2 / (a * a / (len(lb) - 1) + b * b / (len(lc) - 1))
    return math.exp(mc - mb), math.sqrt(a + b), df


# -- arithmetic on known inputs --------------------------------------------------------


def test_doubled_time_is_2x_slower_beyond_noise():
    base, cand = [10, 10.5, 9.5], [20, 21, 19]
    ratio, se, df = hand_ratio(base, cand)
    assert ratio == pytest.approx(2.0) and df == pytest.approx(4.0)  # equal spreads on logs: df = 2(n-1)
    low, high = ratio * math.exp(-T975[4] * se), ratio * math.exp(T975[4] * se)
    assert (low, high) == pytest.approx((1.7855, 2.2402), abs=1e-4)  # computed by hand once, kept literal
    result = compare_cell(PairKey.of(make_record()), runs(base), runs(cand, start=4))
    time = result.metrics["time"]
    assert time.ratio.ratio == pytest.approx(2.0)
    assert (time.ratio.low, time.ratio.high) == pytest.approx((low, high), rel=1e-6)
    assert time.ratio.significant and time.describe() == "slower, beyond noise"
    assert (time.baseline.median, time.baseline.spread, time.candidate.median) == (10, 0.5, 20)
    assert result.metrics["peak"].ratio.ratio == 1 and result.metrics["peak"].describe() == "same, within noise"
    assert result.outcome_change is None and result.notes == []


def test_halved_peak_is_smaller():
    base = runs([5, 5, 5], peaks=[100 * 2**20, 102 * 2**20, 98 * 2**20])
    cand = runs([5, 5, 5], peaks=[50 * 2**20, 51 * 2**20, 49 * 2**20], start=4)
    peak = compare_cell(PairKey.of(base[0]), base, cand).metrics["peak"]
    assert peak.ratio.ratio == pytest.approx(0.5, rel=1e-3) and peak.describe() == "smaller, beyond noise"


def test_identical_sets_are_ratio_1_within_noise():
    time = compare_cell(PairKey.of(make_record()), runs([10, 10.5, 9.5]), runs([10, 10.5, 9.5])).metrics["time"]
    assert time.ratio.ratio == pytest.approx(1.0)
    assert time.ratio.low < 1 < time.ratio.high and time.ratio.significant is False
    assert time.noise == "within noise"


def test_single_runs_have_no_interval():
    time = compare_cell(PairKey.of(make_record()), runs([10]), runs([12])).metrics["time"]
    assert time.ratio.ratio == pytest.approx(1.2) and not time.ratio.has_interval
    assert time.describe() == "slower, no repeats: cannot tell noise"


def test_one_side_single_borrows_the_other_sides_variance_and_its_degrees_of_freedom():
    # The stored long-history `all` runs: r1, r2 vs r3. One variance estimate from 2 runs: df = 1.
    base, cand = [5.4064, 5.6093], [6.0987]
    lb = [math.log(v) for v in base]
    var = (lb[0] - lb[1]) ** 2 / 2
    se = math.sqrt(var / 2 + var / 1)
    ratio = 6.0987 / math.sqrt(5.4064 * 5.6093)
    time = compare_cell(PairKey.of(make_record()), runs(base), runs(cand, start=3)).metrics["time"]
    assert time.ratio.ratio == pytest.approx(ratio)
    assert (time.ratio.low, time.ratio.high) == pytest.approx(
        (ratio * math.exp(-T975[1] * se), ratio * math.exp(T975[1] * se)), rel=1e-6)
    assert time.noise == "within noise"  # 1.11x on 2 vs 1 runs cannot be told from noise


# -- pairing ---------------------------------------------------------------------------


def test_pairing_only_on_one_side_sha_mismatch_and_caps():
    base = runs([10, 10]) + runs([5], strategy="per-app") + runs([7], memory_limit_bytes=2**30)
    cand = (runs([10, 10], start=3, scenario={"name": "quick", "sha256": "e" * 64, "seed": 1, "source": "q"})
            + runs([7], memory_limit_bytes=None) + runs([3], strategy="backward"))
    pairing = pair(base, cand)
    assert [key.strategy for key, _, _ in pairing.pairs] == ["all"]
    assert [(k.strategy, k.memory_limit_bytes) for k in pairing.only_baseline] == [
        ("per-app", 512 * 2**20), ("all", 2**30)]
    assert [(k.strategy, k.memory_limit_bytes) for k in pairing.only_candidate] == [
        ("all", None), ("backward", 512 * 2**20)]
    comparisons = compute(pairing)
    assert any("scenario file differs (baseline ffffffff, candidate eeeeeeee)" in note
               for note in comparisons[0].notes)
    text = "\n".join(render(pairing, comparisons, decide(comparisons, None)))
    assert "only in baseline:  quick per-app django1.9.13 py2.7.18 mem512M sqlite" in text
    assert "only in baseline:  quick all django1.9.13 py2.7.18 mem1G sqlite" in text
    assert "only in candidate: quick all django1.9.13 py2.7.18 memnone sqlite" in text
    assert "apples vs oranges" in text


def test_other_hosts_are_noted():
    result = compare_cell(PairKey.of(make_record()), runs([1]), runs([1], host={"hostname": "ci-7"}))
    assert any("other machines (baseline h, candidate ci-7)" in note for note in result.notes)


# -- outcomes and the exit rule --------------------------------------------------------


@pytest.mark.parametrize("base, cand, change", [
    ({"ok": 3}, {"ok": 2, "oom-killed": 1}, "new crash"),
    ({"ok": 3}, {"oom-killed": 3}, "new crash"),
    ({"ok": 2, "oom-killed": 1}, {"oom-killed": 3}, "no longer runs"),
    ({"oom-killed": 3}, {"ok": 3}, "fixed"),
    ({"oom-killed": 3}, {"segfault": 3}, "outcome changed"),
    ({"ok": 2, "timeout": 1}, {"ok": 1, "timeout": 2}, "mixed outcomes"),
    ({"segfault": 1}, {"segfault": 1}, None),
])
def test_outcome_changes(base, cand, change):
    def side(outcomes, start):
        records = []
        for outcome, n in outcomes.items():
            records += runs([10] * n, outcome=outcome, start=start + len(records),
                            failed_during=None if outcome == "ok" else "rendering")
        return records

    result = compare_cell(PairKey.of(make_record()), side(base, 1), side(cand, 10))
    assert result.outcome_change == change
    assert result.newly_crashes == (change in ("new crash", "no longer runs"))
    if change:
        assert result.notes[0].startswith("outcome ") and change in result.notes[0]


def test_ok_to_oom_killed_is_a_regression_and_exit_1(tmp_path, capsys):
    base = store(tmp_path / "a", runs([10, 10.5, 9.5]))
    cand = store(tmp_path / "b", runs([3, 3, 3], outcome="oom-killed", failed_during="rendering"))
    assert main(["compare", base, cand, "--threshold", "5%"]) == 1
    out = capsys.readouterr().out
    assert "outcome ok 3/3 -> oom-killed 3/3: new crash (candidate failed during rendering)" in out
    assert "REGRESSION: new crash" in out and "no ok run in candidate" in out
    assert out.strip().splitlines()[-1].endswith("1 new crash; 1 over the 5% threshold: all")
    assert out.strip().splitlines()[-1].startswith("1 cell compared; ")
    assert main(["compare", base, cand]) == 0, "without --threshold: a report only"


def test_exit_status_follows_the_threshold(tmp_path, capsys):
    base = store(tmp_path / "a", runs([10, 10.5, 9.5]))
    slower = store(tmp_path / "b", runs([20, 21, 19]))
    assert main(["compare", base, slower, "--threshold", "5%"]) == 1
    out = capsys.readouterr().out
    assert "2.00x [1.79-2.24]" in out and "slower, beyond noise" in out and "REGRESSION: time 2.000x > 1.05" in out
    assert "beyond noise: 1 slower, 0 faster, 0 larger, 0 smaller" in out
    assert main(["compare", base, slower, "--threshold", "150%"]) == 0, "2x is within a 150% threshold"
    assert main(["compare", base, slower, "--threshold", "5%", "--metric", "peak"]) == 0, "peak did not move"
    assert main(["compare", slower, base, "--threshold", "0.05"]) == 0, "faster is never a regression"
    assert main(["compare", base, base, "--threshold", "0%"]) == 0


def test_slower_within_noise_does_not_fail(tmp_path):
    base = store(tmp_path / "a", runs([10, 14, 8]))
    cand = store(tmp_path / "b", runs([12, 9, 15]))
    assert main(["compare", base, cand, "--threshold", "5%"]) == 0


def test_single_runs_gate_on_the_point_ratio(tmp_path, capsys):
    base = store(tmp_path / "a", runs([10]))
    cand = store(tmp_path / "b", runs([11]))
    assert main(["compare", base, cand, "--threshold", "5%"]) == 1
    assert "time 1.100x > 1.05 (single runs: point ratio only)" in capsys.readouterr().out
    assert main(["compare", base, cand, "--threshold", "10%"]) == 0, "1.10 is not above 1.10"
    assert main(["compare", base, cand, "--threshold", "2.5%"]) == 1
    assert "time 1.100x > 1.025 (single runs" in capsys.readouterr().out


def test_decide_without_threshold_lists_crashes_but_exits_0():
    pairing = pair(runs([10, 10]), runs([10], outcome="segfault") + runs([20], start=2))
    decision = decide(compute(pairing), None)
    assert list(decision.regressions.values()) == [["new crash"]] and decision.status == 0


@pytest.mark.parametrize("text, value", [("5%", 0.05), ("0.05", 0.05), ("10 %", 0.10), ("150%", 1.5),
                                         ("0", 0.0), (None, None)])
def test_parse_threshold(text, value):
    if value is None:
        assert parse_threshold(text) is None
    else:
        assert parse_threshold(text) == pytest.approx(value)


@pytest.mark.parametrize("text, fragment", [
    ("five", "not a threshold"), ("-5%", "not a threshold"), ("nan", "not a threshold"),
    ("", "empty value ''; give a value or leave the option out"),  # refused by the parser, for every option
    ("5", "reads as a fraction (500%); write 5%"), ("1_0%", "not a threshold"),
])
def test_bad_threshold_is_one_line_exit_2(tmp_path, capsys, text, fragment):
    base = store(tmp_path / "a", runs([10]))
    try:
        status = main(["compare", base, base, "--threshold=" + text])  # = lets "-5%" through argparse
    except SystemExit as exit:  # the parser's own refusal
        status = exit.code
    assert status == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and re.match(r"migbench: error: (argument )?--threshold", lines[0]), lines
    assert fragment in lines[0]
    assert captured.out == ""


def test_bad_metric():
    assert parse_metrics("peak,time") == ("time", "peak")
    with pytest.raises(MigbenchError, match="choose from time, peak"):
        parse_metrics("time,rss")


# -- clean errors ----------------------------------------------------------------------


def unusable(tmp_path, kind):
    """A path of each kind load_results must refuse, and the words of its error."""
    contents = {"empty file": "", "malformed JSON": "{not json",
                "lacks": '{"schema": "migbench.run/1", "outcome": "ok"}'}
    if kind == "no such file or directory":
        return tmp_path / "missing"
    if kind == "no result records in this directory":
        (tmp_path / "empty").mkdir()
        return tmp_path / "empty"
    path = tmp_path / "bad.json"
    path.write_text(contents[kind])
    return path


@pytest.mark.parametrize("side", ["baseline", "candidate"])
@pytest.mark.parametrize("fragment", ["no such file or directory", "no result records in this directory",
                                      "empty file", "malformed JSON", "lacks"])
def test_unusable_input_is_one_line_naming_the_file(tmp_path, capsys, side, fragment):
    good = store(tmp_path / "good", runs([10]))
    bad = unusable(tmp_path, fragment)
    args = [good, str(bad)] if side == "candidate" else [str(bad), good]
    assert main(["compare", *args]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("migbench: error: %s: %s" % (side, bad)) and fragment in lines[0]


def test_bad_file_inside_a_directory_is_named(tmp_path, capsys):
    directory = tmp_path / "a"
    store(directory, runs([10]))
    (directory / "torn.json").write_text('{"schema": "migbench.run/1", "outc')
    assert main(["compare", str(directory), str(directory)]) == 2
    err = capsys.readouterr().err
    assert "torn.json: malformed JSON" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("side", ["baseline", "candidate"])
@pytest.mark.parametrize("in_directory", [False, True], ids=["named", "in a directory"])
@pytest.mark.parametrize("fields, words", [
    (dict(wall_s=None), "result record field wall_s is null, expected a number >= 0"),
    (dict(peak_rss_bytes="abc"), "result record field peak_rss_bytes is the string 'abc', expected an integer"),
    (dict(wall_s=math.nan), "result record field wall_s is NaN"),
    (dict(peak_rss_bytes=math.inf), "result record field peak_rss_bytes is infinite"),
])
def test_a_damaged_record_is_one_line_naming_the_side_and_file(tmp_path, capsys, side, in_directory, fields, words):
    good = store(tmp_path / "good", runs([10, 11]))
    bad_dir = tmp_path / "bad"
    store(bad_dir, runs([10]))
    data = json.loads(make_record(run_id="damaged", repeat=7).to_json())
    data.update(fields)
    bad = bad_dir / "damaged.json"
    bad.write_text(json.dumps(data))
    before = bad.read_bytes()
    damaged = str(bad_dir if in_directory else bad)
    assert main(["compare", *([good, damaged] if side == "candidate" else [damaged, good])]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1, captured.err
    assert captured.err.startswith("migbench: error: %s: %s: %s" % (side, bad, words)), captured.err
    assert bad.read_bytes() == before


def test_non_utf8_and_deep_json_are_one_line(tmp_path, capsys):
    good = store(tmp_path / "good", runs([10]))
    for name, content, words in (("latin.json", b'{"schema": "migbench.run/1", "run_id": "\xe9"}', "not UTF-8 text"),
                                 ("deep.json", b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply")):
        path = tmp_path / name
        path.write_bytes(content)
        assert main(["compare", good, str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("migbench: error: candidate: %s: %s" % (path, words)) and err.count("\n") == 1


def test_nothing_in_common_is_an_error(tmp_path, capsys):
    base = store(tmp_path / "a", runs([10]))
    cand = store(tmp_path / "b", runs([10], python_version="3.11.7"))
    assert main(["compare", base, cand]) == 2
    err = capsys.readouterr().err
    assert "no cell in common" in err and "py3.11.7" in err and len(err.strip().splitlines()) == 1


# -- output ----------------------------------------------------------------------------


def test_table_fits_120_columns_and_states_common_axes(tmp_path, capsys):
    base = store(tmp_path / "a", runs([10, 10.5, 9.5]) + runs([100, 120], strategy="per-app"))
    cand = store(tmp_path / "b", runs([10]) + runs([130, 150], strategy="per-app"))
    assert main(["compare", base, cand]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "every cell: scenario quick, Django 1.9.13, Python 2.7.18, cap 512M, sqlite" in lines
    assert all(len(line) <= 120 for line in lines), max(lines, key=len)
    table = [line for line in lines if line.split(" ")[0] in ("all", "per-app")]
    assert len(table) == 2 and "3/3 -> 1/1" in table[0]
    assert lines[-1].startswith("2 cells compared; ")


def test_many_regressions_keep_the_summary_within_120_columns(tmp_path, capsys):
    names = ["strategy-number-%d" % i for i in range(8)]
    base = store(tmp_path / "a", [r for name in names for r in runs([10], strategy=name)])
    cand = store(tmp_path / "b", [r for name in names for r in runs([20], strategy=name)])
    assert main(["compare", base, cand, "--threshold", "5%"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 120 for line in lines), max(lines, key=len)
    assert lines[-3].startswith("8 over the 5% threshold: strategy-number-0, ") and lines[-2].startswith("  ")
    assert lines[-1].startswith("8 cells compared; ") and lines[-1].endswith("8 over the 5% threshold")


def test_a_sweeps_sizes_are_cells_of_their_own():
    """One scenario at two sizes (migbench sweep's records) is two pairs, never one pooled cell."""
    def at(apps, django, wall, run_id):
        return make_record(run_id=run_id, django_version=django, wall_s=wall,
                           scenario={"name": "relations", "sha256": "%d" % apps * 8, "seed": 1, "source": "x",
                                     "vary": {"apps": apps}})

    base = [at(16, "6.0.10", 8.0, "a"), at(32, "6.0.10", 40.0, "b")]
    cand = [at(16, "6.1.3", 7.6, "c"), at(32, "6.1.3", 40.3, "d")]
    pairing = pair(base, cand, ["django"])
    assert [(key.size, [r.wall_s for r in b], [r.wall_s for r in c]) for key, b, c in pairing.pairs] == [
        ("apps=16", [8.0], [7.6]), ("apps=32", [40.0], [40.3])]
    assert pairing.pairs[0][0].label().startswith("relations[apps=16] ")
