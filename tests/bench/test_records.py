"""The result record contract, its format versions, the store (never overwrites, resumes), the timeline."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import fields, replace
from pathlib import Path

import pytest

from migbench.bench.records import (LOADERS, SCHEMA, ResultStore, RunRecord, UnreadableVersion,
                                    events as timeline, load_record, record_from_dict)
from migbench.bench.records.formats import FAMILY, V1_ADDED, V1_FIELDS, V1_TYPES
from migbench.errors import MigbenchError

# The documented contract (docs/records.md): readers may rely on these keys.
CONTRACT = {
    "schema", "run_id", "repeat", "outcome", "outcome_reason", "exit_code", "signal", "wall_s",
    "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "peak_rss_detail", "limit_peak_bytes",
    "memory_limit_bytes", "limiter", "strategy", "django_version", "python_version", "shim",
    "database", "scenario", "project", "phases", "failed_during", "last_migration", "events",
    "samples", "error", "command", "host", "started_at", "migbench_version", "notes", "migbench_commit",
    "steps", "validation", "transform", "dev_loop", "deploy", "profile", "concurrency", "cluster",
    "django_source",
}


from support import make_record


def test_contract_fields():
    assert {f.name for f in fields(RunRecord)} == CONTRACT
    data = json.loads(make_record().to_json())
    assert data["schema"] == SCHEMA and set(data) == CONTRACT


def test_store_roundtrip_and_never_overwrites(tmp_path):
    store = ResultStore(tmp_path / "results")
    record = make_record()
    path = store.write(record)
    assert load_record(path) == record
    assert store.done(record.cell(), 1) and not store.done(record.cell(), 2)
    with pytest.raises(MigbenchError, match="never overwritten"):
        store.write(make_record(run_id="other"))
    assert load_record(path).run_id == "abc"
    assert [p.name for p in (tmp_path / "results").iterdir()] == [path.name], "no temp files left"


def test_torn_file_is_set_aside_not_trusted(tmp_path):
    store = ResultStore(tmp_path)
    record = make_record()
    path = store.path_for(record.cell(), 1)
    path.write_text('{"schema": "migbench.run/1", "outc')
    assert not store.done(record.cell(), 1)
    store.write(record)
    assert load_record(path) == record
    assert path.with_suffix(".json.broken").exists()


def test_cells_differ_by_every_axis():
    base = make_record().cell()
    variants = [replace(base, strategy="per-app"), replace(base, django_version="1.8.19"),
                replace(base, python_version="3.11.7"), replace(base, memory_limit_bytes=None),
                replace(base, scenario_sha256="e" * 64)]
    slugs = {base.slug(1)} | {v.slug(1) for v in variants}
    assert len(slugs) == 6
    assert "mem512M" in base.slug(1) and "memnone" in variants[3].slug(1)


@pytest.mark.parametrize("content, message", [
    ("", "empty file"),
    ("{not json", "malformed JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"schema": "other/2"}', "schema 'other/2'"),
    ('{"schema": "migbench.run/1", "outcome": "ok"}', "lacks"),
])
def test_bad_files_give_one_clear_line(tmp_path, content, message):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(MigbenchError, match=message) as info:
        load_record(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(MigbenchError, match="cannot read"):
        load_record(tmp_path / "nope.json")


# -- format versions ----------------------------------------------------------------------------

def record_dict(**changes) -> dict:
    """make_record() as the parsed JSON of its file."""
    return json.loads(make_record(**changes).to_json())


def write_json(path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_the_written_version_is_read_back_and_in_the_family():
    assert SCHEMA in LOADERS and all(version.startswith(FAMILY) for version in LOADERS)
    assert FAMILY == "migbench.run/", "report/load.py tells run records from other JSON by this prefix"


@pytest.mark.parametrize("version", list(LOADERS))
def test_each_known_version_loads(version):
    record = record_from_dict(record_dict(schema=version), "r.json")
    assert record == make_record(), "a loaded record is a current record"


def test_v1_loader_fills_every_field_of_the_current_record():
    """While v1 is the written version, its fields and later additions are all of RunRecord."""
    v1 = set(V1_FIELDS) | {added.field for added in V1_ADDED} | {"schema"}
    assert v1 == {f.name for f in fields(RunRecord)}
    assert not set(V1_FIELDS) & {added.field for added in V1_ADDED}


def test_record_round_trips_through_its_file(tmp_path):
    record = make_record(notes=["rlimit caps virtual memory"], migbench_commit="abc1234+dirty",
                         steps=[{"name": "migrate", "role": "measured"}], validation={"ok": True},
                         transform={"kind": "squash"},
                         dev_loop={"migrate --plan": {"verdict": "nothing to do", "wall_s": 0.4,
                                                      "peak_rss_bytes": 2**20}},
                         deploy={"ok": True, "verdict": "nothing to do"})
    path = tmp_path / "r.json"
    path.write_text(record.to_json())
    loaded = load_record(path)
    assert loaded == record and loaded.to_json() == record.to_json()


@pytest.mark.parametrize("added", V1_ADDED, ids=lambda a: a.field)
def test_v1_record_from_before_a_field_gets_its_documented_default(tmp_path, added):
    data = record_dict()
    del data[added.field]
    record = load_record(write_json(tmp_path / "r.json", data))
    assert getattr(record, added.field) == added.default()
    assert record == replace(make_record(), **{added.field: added.default()})


def test_the_first_v1_records_load(tmp_path):
    """f196292's records: none of the later fields, and the three-key peak_rss_detail."""
    data = record_dict(peak_rss_detail={"wait4_maxrss_bytes": 1, "sampled_tree_bytes": 1, "samples": 3})
    for added in V1_ADDED:
        del data[added.field]
    first = load_record(write_json(tmp_path / "a.json", data))
    second = load_record(write_json(tmp_path / "b.json", data))
    assert first.notes == [] and first.migbench_commit == "" and first.steps == []
    assert first.validation is first.transform is first.dev_loop is first.deploy is None
    assert first.peak_rss_detail == data["peak_rss_detail"], "keys inside objects pass through as written"
    first.steps.append({"name": "x"})
    assert second.steps == [], "each record gets a fresh default"


def test_fields_a_newer_v1_writer_added_are_ignored(tmp_path):
    data = record_dict()
    data["from_the_future"] = {"x": 1}
    assert load_record(write_json(tmp_path / "r.json", data)) == make_record()


@pytest.mark.parametrize("name", V1_FIELDS)
def test_v1_record_without_a_field_of_the_first_records_is_damaged(tmp_path, name):
    data = record_dict()
    del data[name]
    path = write_json(tmp_path / "r.json", data)
    with pytest.raises(MigbenchError, match="lacks %s; it was truncated or edited by hand" % name) as info:
        load_record(path)
    assert "\n" not in str(info.value) and path in str(info.value)


@pytest.mark.parametrize("schema, words", [
    ("migbench.run/2", "result record of schema 'migbench.run/2' (written by migbench 9.0), which this "
                       "migbench cannot read: it reads schema 'migbench.run/1'"),
    ("other/2", "not a migbench result record (schema 'other/2'; this migbench reads schema "
                "'migbench.run/1')"),
    (2, "not a migbench result record (schema 2; this migbench reads schema 'migbench.run/1')"),
    (["migbench.run/1"], "not a migbench result record (schema ['migbench.run/1']; this migbench reads"),
    (None, "not a migbench result record (schema None;"),
])
def test_an_unknown_version_is_refused_naming_the_ones_read(tmp_path, schema, words):
    path = write_json(tmp_path / "r.json", record_dict(schema=schema, migbench_version="9.0"))
    with pytest.raises(MigbenchError) as info:
        load_record(path)
    message = str(info.value)
    assert message.startswith("%s: %s" % (path, words)) and "\n" not in message, message
    assert all(repr(version) in message for version in LOADERS)
    assert isinstance(info.value, UnreadableVersion) == (schema == "migbench.run/2")


def test_a_record_without_schema_is_refused_naming_the_versions_read(tmp_path):
    data = record_dict()
    del data["schema"]
    path = write_json(tmp_path / "r.json", data)
    with pytest.raises(MigbenchError, match=r"not a migbench result record \(no schema field; this migbench "
                                            r"reads schema 'migbench.run/1'\)"):
        load_record(path)


def test_top_level_json_type_is_named(tmp_path):
    for content, found in (("[1, 2]", "an array"), ('"run"', "the string 'run'"), ("3", "3"),
                           ("null", "null")):
        (tmp_path / "r.json").write_text(content)
        with pytest.raises(MigbenchError, match=r"expected a JSON object, found %s\)$" % found):
            load_record(tmp_path / "r.json")


def test_resume_counts_records_of_every_stage_as_done(tmp_path):
    store = ResultStore(tmp_path)
    record = make_record()
    data = record_dict()
    for added in V1_ADDED:
        del data[added.field]
    write_json(store.path_for(record.cell(), 1), data)
    assert store.done(record.cell(), 1)
    with pytest.raises(MigbenchError, match="never overwritten"):
        store.write(record)


def test_a_newer_version_is_never_redone_nor_set_aside(tmp_path):
    """An older migbench meeting a record of a newer version stops with its name, and keeps the file."""
    store = ResultStore(tmp_path)
    record = make_record()
    path = store.path_for(record.cell(), 1)
    text = write_json(path, record_dict(schema="migbench.run/99"))
    before = path.read_text()
    with pytest.raises(UnreadableVersion, match="schema 'migbench.run/99'") as info:
        store.done(record.cell(), 1)
    assert text in str(info.value)
    with pytest.raises(MigbenchError, match="never overwritten"):
        store.write(record)
    assert path.read_text() == before and not path.with_suffix(".json.broken").exists()


# -- field types (bench/records/contract.py, docs/records.md) -----------------------------------

FIX = "; it was damaged or edited by hand (restore it, or move it aside and run its cell again)"
REPO = Path(__file__).resolve().parents[2]


def damaged(path, **fields) -> str:
    """make_record()'s file with `fields` replaced (a callable edits the parsed dict); its path."""
    data = record_dict()
    for name, value in fields.items():
        if callable(value):
            value(data)
        else:
            data[name] = value
    path.write_text(json.dumps(data))  # allow_nan: NaN and Infinity as Python's json writes them
    return str(path)


@pytest.mark.parametrize("fields, problem", [
    (dict(wall_s=None), "field wall_s is null, expected a number >= 0"),
    (dict(peak_rss_bytes="abc"), "field peak_rss_bytes is the string 'abc', expected an integer >= 0"),
    (dict(wall_s=math.nan), "field wall_s is NaN, expected a number >= 0"),
    (dict(cpu_user_s=math.inf), "field cpu_user_s is infinite, expected a number >= 0"),
    (dict(cpu_sys_s=-1.0), "field cpu_sys_s is -1.0, expected a number >= 0"),
    (dict(peak_rss_bytes=1.5), "field peak_rss_bytes is 1.5, expected an integer >= 0"),
    (dict(peak_rss_bytes=10**30), "field peak_rss_bytes is an integer of 100 bits, expected an integer >= 0"),
    (dict(repeat=True), "field repeat is true, expected an integer >= 0"),
    (dict(exit_code="0"), "field exit_code is the string '0', expected an integer or null"),
    (dict(memory_limit_bytes=-5), "field memory_limit_bytes is -5, expected an integer >= 0 or null"),
    (dict(shim="no"), "field shim is the string 'no', expected true or false"),
    (dict(outcome=["ok"]), "field outcome is an array, expected a string"),
    (dict(events={}), "field events is an object, expected an array"),
    (dict(notes=[{"x": 1}]), "field notes[0] is an object, expected a string"),
    (dict(scenario=lambda d: d["scenario"].pop("sha256")), "field scenario.sha256 is missing, expected a string"),
    (dict(database={"engine": None}), "field database.engine is null, expected a string"),
    (dict(project=lambda d: d["project"].update(models="16")),
     "field project.models is the string '16', expected an integer >= 0"),
    (dict(samples={"interval_s": 0.02, "t": [0.0, 0.02], "rss": [1, "x"]}),
     "field samples.rss[1] is the string 'x', expected an integer >= 0"),
    (dict(events=[{"event": "start", "rss": 1}]), "field events[0].t is missing, expected a number"),
    (dict(phases={"rendering": "slow"}), "field phases.rendering is the string 'slow', expected a number or null"),
    (dict(dev_loop={"test database": {"wall_s": None, "peak_rss_bytes": 1}}),
     'field dev_loop["test database"].wall_s is null, expected a number >= 0'),
    (dict(validation={"ok": False, "difference_count": 1, "differences": [{"kind": "missing"}]}),
     "field validation.differences[0].object is missing, expected a string"),
    (dict(host={"hostname": ["h"]}), "field host.hostname is an array, expected a string"),
])
def test_a_field_of_the_wrong_type_is_one_line_naming_the_file_and_field(tmp_path, fields, problem):
    path = damaged(tmp_path / "r.json", **fields)
    with pytest.raises(MigbenchError) as info:
        load_record(path)
    assert str(info.value) == "%s: result record %s%s" % (path, problem, FIX)


def test_several_wrong_fields_are_named_up_to_three(tmp_path):
    path = damaged(tmp_path / "r.json", wall_s=None, cpu_user_s=None, cpu_sys_s=None, peak_rss_bytes=None,
                   run_id=None)
    with pytest.raises(MigbenchError) as info:
        load_record(path)
    message = str(info.value)
    assert message.count("; field ") == 2 and message.endswith("(and more)" + FIX), message
    assert message.startswith(path + ": result record field run_id is null, expected a string; ")


def test_a_huge_list_of_samples_is_checked_quickly(tmp_path):
    n = 90_000  # a 30-minute run at 20 ms
    path = damaged(tmp_path / "r.json", samples={"interval_s": 0.02, "t": [i * 0.02 for i in range(n)],
                                                  "rss": [2**20 + i for i in range(n)]})
    started = time.perf_counter()
    assert len(load_record(path).samples["t"]) == n
    assert time.perf_counter() - started < 2.0


def test_keys_inside_objects_not_in_the_contract_pass_through(tmp_path):
    path = damaged(tmp_path / "r.json", limiter={"name": "rlimit", "reading": {"odd": math.nan, "x": [None]}},
                   project={"apps": 4, "path": None}, host={"hostname": "h", "load_1m": None})
    record = load_record(path)
    assert math.isnan(record.limiter["reading"]["odd"]) and record.project["path"] is None


def test_bytes_that_are_not_utf8_are_one_line(tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(make_record().to_json().encode()[:40] + b"\xff\xfe" + b"rest")
    with pytest.raises(MigbenchError) as info:
        load_record(path)
    assert str(info.value) == ("%s: not UTF-8 text (byte 0xff at offset 40); not a result record, which is "
                               "UTF-8 JSON" % path)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000,
                                  '{"schema": "migbench.run/1", "run_id": ' + "[" * 100_000])
def test_json_nested_100000_deep_is_one_line(tmp_path, text):
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(MigbenchError) as info:
        load_record(path)
    assert str(info.value) == "%s: JSON nested too deeply to parse; not a result record" % path


def test_a_damaged_record_is_not_done_and_is_set_aside_when_its_cell_runs_again(tmp_path):
    store = ResultStore(tmp_path)
    record = make_record()
    path = store.path_for(record.cell(), 1)
    damaged(path, wall_s=None)
    before = path.read_bytes()
    assert not store.done(record.cell(), 1)
    store.write(record)
    assert load_record(path) == record
    assert path.with_suffix(".json.broken").read_bytes() == before, "kept aside, byte for byte"


def test_readable_names_what_does_not_load_and_keeps_the_rest(tmp_path):
    store = ResultStore(tmp_path)
    store.write(make_record())
    bad = damaged(tmp_path / "zz.json", peak_rss_bytes="abc")
    (tmp_path / "torn.json").write_text('{"schema": "migbench.run/1", "outc')
    records, errors = store.readable()
    assert records == [make_record()]
    assert [str(e).split(": ")[0] for e in errors] == [str(tmp_path / "torn.json"), bad]
    with pytest.raises(MigbenchError, match="torn.json: malformed JSON"):
        store.records()


def test_every_documented_field_has_its_documented_type():
    """docs/records.md's Fields table and V1_TYPES say the same type for every top-level field."""
    documented = {}
    for line in (REPO / "docs" / "records.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([a-z0-9_]+)`", cells[0]):
                documented[name] = cells[1]
    assert set(V1_TYPES) == CONTRACT
    assert {name: kind.doc for name, kind in V1_TYPES.items()} == {name: documented.get(name) for name in V1_TYPES}


def test_every_stored_record_passes_the_type_check():
    """The records in results/ and tests/data/results/ (real runs of every stage) all load."""
    paths = [p for root in ("results", "tests/data/results") for p in sorted((REPO / root).rglob("*.json"))
             if "--bisect-" not in p.name and "/report/" not in p.as_posix()]
    loaded = 0
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and str(data.get("schema", "")).startswith(FAMILY):
            load_record(path)
            loaded += 1
    assert loaded >= 142


# -- timeline -----------------------------------------------------------------------------------

def write_events(path, events, torn=False):
    text = "".join(json.dumps(e) + "\n" for e in events)
    if torn:
        text += '{"event": "apply_st'
    path.write_text(text)


def test_phases_of_a_finished_migrate(tmp_path):
    base = 1000.0
    events = [("start", 0.1), ("setup_end", 0.5), ("render_start", 0.6), ("render_success", 2.6),
              ("apply_start", 2.6), ("apply_success", 3.0), ("apply_start", 3.0), ("apply_success", 4.0),
              ("post_migrate_start", 4.1), ("post_migrate_end", 4.6), ("end", 4.7)]
    write_events(tmp_path / "e", [{"event": n, "t": base + t, "rss": 1} for n, t in events])
    parsed = timeline.read_events(tmp_path / "e", base)
    phases = timeline.phases(parsed, 5.0)
    assert phases == pytest.approx({"startup": 0.1, "setup": 0.4, "loading": 0.1, "rendering": 2.0,
                                    "applying": 1.4, "post_migrate": 0.5})
    assert timeline.failed_during(parsed) is None


def test_setup_without_setup_end_stops_at_the_first_apply():
    """The floor's SQL replay reports no setup_end: setup must not overlap applying."""
    events = [{"event": "start", "t": 0.04}, {"event": "apply_start", "t": 0.05},
              {"event": "apply_success", "t": 0.9}, {"event": "end", "t": 1.0}]
    phases = timeline.phases(events, 1.1)
    assert phases["setup"] == pytest.approx(0.01) and phases["applying"] == pytest.approx(0.85)


def test_killed_while_rendering(tmp_path):
    events = [("start", 0.1), ("setup_end", 0.5), ("render_start", 0.6)]
    write_events(tmp_path / "e", [{"event": n, "t": t, "rss": 1} for n, t in events], torn=True)
    parsed = timeline.read_events(tmp_path / "e", 0.0)
    assert [e["event"] for e in parsed] == ["start", "setup_end", "render_start"]
    assert timeline.failed_during(parsed) == "rendering"
    assert timeline.phases(parsed, 10.0)["rendering"] == pytest.approx(9.4)


def test_killed_while_applying_names_the_migration(tmp_path):
    events = [{"event": "start", "t": 0.1}, {"event": "setup_end", "t": 0.2},
              {"event": "apply_start", "t": 0.3, "migration": "shop.0002_price"}]
    write_events(tmp_path / "e", events)
    parsed = timeline.read_events(tmp_path / "e", 0.0)
    assert timeline.failed_during(parsed) == "applying"
    assert timeline.last_migration(parsed) == "shop.0002_price"


def test_no_events_means_it_died_starting(tmp_path):
    assert timeline.read_events(tmp_path / "missing", 0.0) == []
    assert timeline.failed_during([]) == "startup"
