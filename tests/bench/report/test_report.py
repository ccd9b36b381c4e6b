"""`migbench report`: built from recorded fixtures (real runs, tests/data/results/README.md).

Every chart written and non-empty, the HTML parsed with its images present,
the Markdown's images on disk, tables from stored figures, and one clean
error line for missing, empty, malformed or damaged result files (the end of
`migbench run` names a damaged file and goes on).
"""

from __future__ import annotations

import base64
import json
import math
import shutil
from html.parser import HTMLParser

import pytest
from support import DATA, make_record

from migbench.bench.records import ResultStore
from migbench.bench.report.load import load_results
from migbench.bench.report.tables import (cell_table, group_by_cell, provenance_table, render_text,
                                          strategy_tables)
from migbench.bench.report.terminal import records_by_cell, summary_lines
from migbench.cli import main
from migbench.commands.common import report_after_run
from migbench.errors import MigbenchError

pytestmark = pytest.mark.xdist_group("test_report")

FIXTURES = [DATA / name for name in ("versions", "strategies", "scaling")]
PNG = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """The parts of the report page a reader sees: headings, images, captions, tables."""

    def __init__(self):
        super().__init__()
        self.images: list[dict] = []
        self.headings: list[str] = []
        self.tables = 0
        self.captions = 0
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag == "h2":
            self._in_h2 = True
        elif tag == "table":
            self.tables += 1
        elif tag == "figcaption":
            self.captions += 1

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.headings.append(data.strip())


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "all"
    assert main(["report"] + [str(p) for p in FIXTURES] + ["--out", str(out)]) == 0
    return out


def test_fixtures_are_real_recorded_runs():
    results = load_results(FIXTURES)
    assert len(results.records) >= 30
    for record in results.records:
        assert record.command["migbench"][:2] == ["migbench", "run"], "made by migbench run"
        assert record.samples["t"] and record.events, "a real timeline"
    outcomes = {r.outcome for r in results.records}
    assert {"ok", "oom-killed"} <= outcomes, "the versions fixture holds the small 2015 crash"


def test_html_is_self_contained_with_every_chart(report_dir):
    page = _Page()
    page.feed((report_dir / "report.html").read_text(encoding="utf-8"))
    assert page.images, "charts embedded"
    for image in page.images:
        assert image["src"].startswith("data:image/png;base64,"), "nothing referenced outside the file"
        data = base64.b64decode(image["src"].split(",", 1)[1])
        assert data.startswith(PNG) and len(data) > 2000
        assert image["alt"]
    assert page.captions == len(page.images), "every chart has a caption"
    for heading in ("Memory over time", "By Django and Python version", "Crash matrix", "Strategies",
                    "Scaling", "Runs", "Provenance"):
        assert heading in page.headings
    assert page.tables >= 3


def test_markdown_images_exist_and_match_the_html(report_dir):
    text = (report_dir / "report.md").read_text(encoding="utf-8")
    images = [line.split("](", 1)[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert images
    for name in images:
        data = (report_dir / name).read_bytes()
        assert data.startswith(PNG) and len(data) > 2000
    page = _Page()
    page.feed((report_dir / "report.html").read_text(encoding="utf-8"))
    assert len(images) == len(page.images) == len(list((report_dir / "charts").glob("*.png")))
    assert "| strategy |" in text and "**Provenance**" in text


def test_tables_come_from_the_stored_figures():
    results = load_results([DATA / "strategies"])
    by_cell = group_by_cell(results.records)
    table = cell_table(by_cell)
    assert {row[0] for row in table.rows} == {"all", "per-app", "backward", "squash", "zero", "floor"}
    for row in table.rows:
        assert row[table.columns.index("runs")] == "2" and "±" in row[table.columns.index("wall s")]
    [strategies] = strategy_tables(by_cell)
    ratios = {row[0]: row[strategies.columns.index("x all")] for row in strategies.rows}
    assert ratios["all"] == "1.00"
    applied = {row[0]: row[strategies.columns.index("migrations")] for row in strategies.rows}
    assert applied == {"all": "29", "per-app": "29", "backward": "15", "squash": "18", "zero": "18", "floor": "29"}
    assert not {"tdb MB", "mm chk s", "plan s"} & set(strategies.columns), "words a reader understands"
    lines = render_text(provenance_table(results.records))
    assert "migbench run quick" in "\n".join(lines)


def test_report_of_one_directory_lives_beside_its_records(tmp_path, capsys):
    results = tmp_path / "versions"
    shutil.copytree(DATA / "versions", results)
    assert main(["report", str(results), "--format", "html"]) == 0
    assert (results / "report" / "report.html").exists() and not (results / "report" / "report.md").exists()
    assert main(["report", str(results)]) == 0, "a rebuild replaces the previous report"
    assert (results / "report" / "report.md").exists()
    assert "records from" in capsys.readouterr().out
    assert len(load_results([results]).records) == len(list(results.glob("*.json"))), "report dir has no JSON"


def test_results_tree_skips_other_benchmarks(tmp_path):
    store = ResultStore(tmp_path / "run")
    store.write(make_record())
    store.write(make_record(run_id="second", repeat=2))
    (tmp_path / "generation.json").write_text(json.dumps({"command": "python benchmarks/generation.py"}))
    results = load_results([tmp_path, tmp_path / "run"])
    assert len(results.records) == 2, "a record reached twice counts once"
    assert [p.name for p in results.skipped] == ["generation.json"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file or directory"),
    ("", "empty file"),
    ('{"schema": "migbench.run/1", "outc', "malformed JSON"),
    ('{"schema": "migbench.run/1", "outcome": "ok"}', "truncated or edited"),
    ("[1, 2]", "not a migbench result record"),
])
def test_bad_result_files_are_one_clean_error(tmp_path, capsys, content, message):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and str(path) in err
    assert not (tmp_path / "out").exists(), "nothing written"


def test_a_torn_record_inside_a_directory_is_reported_not_skipped(tmp_path):
    store = ResultStore(tmp_path)
    store.write(make_record())
    (tmp_path / "x.json").write_text('{"schema": "migbench.run/1", "run_id": "x", "outc')
    with pytest.raises(MigbenchError, match="x.json: malformed JSON"):
        load_results([tmp_path])


def damaged_record(**fields) -> bytes:
    """make_record()'s file with `fields` replaced, written the way Python's json writes NaN."""
    data = json.loads(make_record().to_json())
    data.update(fields)
    return json.dumps(data).encode()


DAMAGED = [
    ("null", damaged_record(wall_s=None), "result record field wall_s is null, expected a number >= 0; it was "
                                          "damaged or edited by hand (restore it, or move it aside and run its "
                                          "cell again)"),
    ("string", damaged_record(peak_rss_bytes="abc"),
     "result record field peak_rss_bytes is the string 'abc', expected an integer >= 0"),
    ("NaN", damaged_record(wall_s=math.nan), "result record field wall_s is NaN, expected a number >= 0"),
    ("Infinity", damaged_record(cpu_user_s=math.inf), "field cpu_user_s is infinite"),
    ("1e999", damaged_record(wall_s=1.5).replace(b'"wall_s": 1.5', b'"wall_s": 1e999'), "field wall_s is infinite"),
    ("not UTF-8", make_record().to_json().encode()[:30] + b"\xff" + make_record().to_json().encode()[30:],
     "not UTF-8 text (byte 0xff at offset 30); not a result record"),
    ("nested", b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply to parse; not a result record"),
]


@pytest.mark.parametrize("in_directory", [False, True], ids=["named", "in a directory"])
@pytest.mark.parametrize("content, message", [d[1:] for d in DAMAGED], ids=[d[0] for d in DAMAGED])
def test_a_damaged_record_is_refused_in_one_line_naming_it(tmp_path, capsys, content, message, in_directory):
    results = tmp_path / "results"
    ResultStore(results).write(make_record(run_id="intact"))
    bad = results / "bad.json"
    bad.write_bytes(content)
    before = {p: p.read_bytes() for p in results.iterdir()}
    assert main(["report", str(results if in_directory else bad), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.startswith("migbench: error: %s: " % bad)
    assert message in captured.err and len(captured.err.splitlines()) == 1, captured.err
    assert not (tmp_path / "out").exists(), "nothing written"
    assert {p: p.read_bytes() for p in results.iterdir()} == before, "the files are untouched"


def test_the_end_of_a_run_names_a_damaged_file_and_goes_on(tmp_path, capsys):
    """What commands/run.py does after the runs: the summary from the store, then OUT/report."""
    out = tmp_path / "quick"
    store = ResultStore(out)
    fresh = make_record(run_id="fresh")
    store.write(fresh)
    (out / "older.json").write_bytes(damaged_record(wall_s=None))
    by_cell, left_out = records_by_cell(store, [fresh.cell()])
    assert by_cell == {fresh.cell(): [fresh]}, "the run just measured is summarized"
    assert left_out == ["left out of the summary: %s: result record field wall_s is null, expected a number "
                        ">= 0; it was damaged or edited by hand (restore it, or move it aside and run its cell "
                        "again)" % (out / "older.json")]
    assert "1.5" in "\n".join(summary_lines(by_cell, [fresh.cell()]))
    report_after_run(out)
    err = capsys.readouterr().err
    assert err.startswith("migbench: report not written: %s: result record field wall_s is null" % (out / "older.json"))
    assert err.rstrip().endswith("the records are intact (`migbench report %s`)" % out)
    assert len(err.splitlines()) == 1 and not (out / "report").exists()


def test_empty_directory_and_bad_options(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no result records in this directory" in capsys.readouterr().err
    assert main(["report", str(DATA / "versions"), "--format", "pdf", "--out", str(tmp_path / "r")]) == 2
    assert "unknown format pdf" in capsys.readouterr().err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    assert main(["report", str(DATA / "versions"), "--out", str(tmp_path / "mine")]) == 2
    assert "not a migbench report" in capsys.readouterr().err
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"
