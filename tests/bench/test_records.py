"""The result record contract, the store (never overwrites, resumes), and the timeline."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest

from migbench.bench.measure import timeline
from migbench.bench.records import SCHEMA, ResultStore, RunRecord, load_record
from migbench.errors import MigbenchError

# The documented contract (docs/records.md): readers may rely on these keys.
CONTRACT = {
    "schema", "run_id", "repeat", "outcome", "outcome_reason", "exit_code", "signal", "wall_s",
    "cpu_user_s", "cpu_sys_s", "peak_rss_bytes", "peak_rss_detail", "limit_peak_bytes",
    "memory_limit_bytes", "limiter", "strategy", "django_version", "python_version", "shim",
    "database", "scenario", "project", "phases", "failed_during", "last_migration", "events",
    "samples", "error", "command", "host", "started_at", "migbench_version", "notes", "migbench_commit",
    "steps", "validation", "transform", "dev_loop", "deploy",
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
