"""The dev loop's test-database modes: with migrations, without, keepdb, from a dump.

The unit tests read the generated settings, the names and the dump cache on small real
data (SQLite files, a project tree of two migration files). The e2e tests run one `all`
cell with the dev loop through the executor (`run_once`) on a tiny generated project: on
SQLite with Django 5.2 (every mode), and on a real embedded PostgreSQL with Django 2.2
(no TEST MIGRATE there: the record's notes say why); the record is written and read back
through the store, so its shape passes the record contract.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from support import engine_or_skip, environment_or_skip, tiny_scenario

from migbench.bench import engines
from migbench.bench.env import environments
from migbench.bench.env.environments import Environment
from migbench.bench.engines import Database, Engine
from migbench.bench.measure.step import StepContext, StepResult
from migbench.bench.records import Cell, ResultStore
from migbench.bench.strategies import daily, dumps, testdb
from migbench.targets import resolve_line

DEV_CHECKS = ("makemigrations --check", "migrate --plan")


# -- names, lines, settings --------------------------------------------------------------------

def test_the_modes_are_named_once_and_the_dev_loop_times_the_first():
    assert testdb.STEP_NAMES == ("test database (migrations)", "test database (no migrations)",
                                 "test database (from dump)", "test database (keepdb)")
    *_, first = daily.dev_loop_steps(resolve_line("5.2"))
    assert first.name == testdb.MIGRATIONS and first.args == ("test", "migbench_testdb", "--noinput")
    assert testdb.KEEP == first.args + ("--keepdb",)
    assert testdb.FORMER_NAMES == {"test database": testdb.MIGRATIONS}


@pytest.mark.parametrize("line, supported", [("1.8", False), ("3.0", False), ("3.1", True), ("6.0", True)])
def test_no_migrations_needs_test_migrate(line, supported):
    why = testdb.no_migrations_unsupported(resolve_line(line))
    assert (why is None) == supported
    if why:
        assert "Django >= 3.1" in why and "Django %s" % line in why and "--nomigrations" in why


def test_the_generated_settings_read_the_test_database_variables(monkeypatch):
    from migbench.generator import project as generated

    namespace = {"os": os, "BASE_DIR": "/p", "_POSTGRES_BACKEND": "postgresql"}
    exec(generated._DATABASE_FROM_URL, namespace)
    read = namespace["_database_from_url"]
    monkeypatch.delenv("MIGBENCH_TEST_NAME", raising=False)
    monkeypatch.delenv("MIGBENCH_TEST_MIGRATE", raising=False)
    assert read("sqlite:////w/main.sqlite3")["TEST"] == {}  # Django's default: in memory
    assert read("postgres://u@/migbench_a_main?host=/s")["TEST"] == {"NAME": "migbench_a_main_test"}
    sqlite = engines.get("sqlite")
    main = sqlite.at(Path("/w/main.sqlite3"))
    for key, value in main.with_settings({"MIGBENCH_TEST_MIGRATE": "0", **sqlite.test_settings(main)}
                                         ).child_env().items():
        monkeypatch.setenv(key, value)
    assert read("sqlite:////w/main.sqlite3")["TEST"] == {"NAME": "/w/main_test.sqlite3", "MIGRATE": False}
    mysql = read("mysql://u@/migbench_a_main?host=/s")["TEST"]
    assert mysql["MIGRATE"] is False and mysql["CHARSET"] == "utf8"


def test_a_kept_database_that_applied_migrations_is_judged_so():
    fields = {name: None for name in StepResult.__dataclass_fields__}
    result = StepResult(**dict(fields, name=testdb.KEEPDB, role="dev", command=[], outcome="ok", outcome_reason="",
                               wall_s=0.1, cpu_user_s=0, cpu_sys_s=0, peak_rss_bytes=1, phases={}))
    assert testdb._judged(replace(result, last_migration=None)).verdict == "nothing to do"
    assert testdb._judged(replace(result, last_migration="shop.0002_x")).verdict == "applied migrations"
    assert testdb._judged(replace(result, outcome="failed")).verdict is None


def test_an_engine_without_kept_test_databases_is_noted_not_run(tmp_path):
    """A new engine that implements none of it still runs: the notes say what was not timed."""
    class Bare(Engine):
        name = "bare"

    bare = Bare()
    assert "implements no dump and restore" in bare.dump_unavailable()
    ctx = StepContext(python=Path("/unused"), projects={"variant": tmp_path, "original": tmp_path},
                      databases={"main": Database(bare, "main", "bare://x")}, workdir=tmp_path,
                      limiter_name="none", memory_limit_bytes=None, timeout_s=None, interval_s=0.02)
    timed = testdb.time_modes(ctx, None, bare, resolve_line("3.0"))  # 3.0: no "no migrations" child either
    assert timed.steps == {}
    assert [note.split(":")[0] for note in timed.notes] == [testdb.NO_MIGRATIONS, testdb.KEEPDB, testdb.FROM_DUMP]
    assert all("not timed" in note for note in timed.notes)


# -- the dump cache ----------------------------------------------------------------------------

def test_a_dump_is_made_once_and_made_again_when_the_migrations_change(own_cache, tmp_path):
    project = tmp_path / "project"
    (project / "apps" / "shop" / "migrations").mkdir(parents=True)
    migration = project / "apps" / "shop" / "migrations" / "0001_initial.py"
    migration.write_text("# one\n")
    (project / "apps" / "shop" / "models.py").write_text("# not a migration\n")
    env = Environment(own_cache / "envs" / "py3.11.7-django5.2.19", Path("/unused"), "3.11.7", "5.2.19")
    sqlite = engines.get("sqlite")
    source = sqlite.at(tmp_path / "kept.sqlite3")
    with contextlib.closing(sqlite3.connect(str(source.path))) as connection, connection:
        connection.execute("CREATE TABLE shop_item (id integer PRIMARY KEY)")
    assert dumps.find(project, env, sqlite) is None
    made = dumps.ensure(project, env, sqlite, source)
    assert made.made_now and made.path.is_file() and made.path.suffix == ".sqlite3"
    assert made.path.parent == dumps.directory(project, env, sqlite)
    assert dumps.ensure(project, env, sqlite, source) == replace(made, made_now=False)
    (project / "apps" / "shop" / "models.py").write_text("# changed, still not a migration\n")
    assert dumps.find(project, env, sqlite) == replace(made, made_now=False)
    migration.write_text("# two\n")  # a changed history never restores the old schema
    assert dumps.find(project, env, sqlite) is None
    again = dumps.ensure(project, env, sqlite, source)
    assert again.made_now and again.path != made.path and not made.path.exists()


# -- one dev loop, through the executor, per engine ----------------------------------------------

@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    """A cache root for the module (baselines, dumps); the shared environments and projects."""
    real, root = environments.cache_root(), tmp_path_factory.mktemp("cache")
    for shared in ("envs", "locks", "tools", "projects"):
        (real / shared).mkdir(parents=True, exist_ok=True)
        (root / shared).symlink_to(real / shared, target_is_directory=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MIGBENCH_CACHE", str(root))
        yield root


def _all_with_dev_loop(engine, line: str, tmp_path: Path):
    """One `all` run of the tiny project with the dev loop, stored and read back."""
    from migbench.bench.run import executor, matrix
    from migbench.bench.run.options import resolve_options

    env = environment_or_skip(line)
    scenario = tiny_scenario("tiny-testdb")
    project = matrix.prepare_project(scenario, line, on_note=lambda _: None)
    options = resolve_options({"django": line, "strategy": "all", "database": engine.name, "limiter": "none",
                               "dev_loop": "on"}, {}, "test")
    driver = matrix.install_driver(env, engine, resolve_line(line), lambda _: None)
    planned = matrix.PlannedCell(Cell(scenario.name, scenario.sha256, "all", env.django_version,
                                      env.python_version, None, engine.name), env, engine, driver)
    notes: list[str] = []
    record = executor.run_once(planned, 1, project, scenario, options, ["test"], on_note=notes.append,
                               dev_loop=True)
    store = ResultStore(tmp_path / "out")
    store.write(record)
    (stored,) = store.records()  # the record contract accepts the new keys
    assert stored.dev_loop == record.dev_loop
    return stored, notes, dumps.directory(project, env, engine)


def _check_modes(record, names):
    loop = record.dev_loop
    assert sorted(loop) == sorted(DEV_CHECKS + names), loop.keys()
    for name, step in loop.items():
        assert step["outcome"] == "ok", (name, step.get("stderr_tail"))
    assert record.problems() == []
    assert loop[testdb.MIGRATIONS]["last_migration"]  # it migrated its test database
    for name in (testdb.KEEPDB, testdb.FROM_DUMP):
        assert loop[name]["verdict"] == "nothing to do" and loop[name]["command"][-1] == "--keepdb"
        assert loop[name]["last_migration"] is None
    restore = loop[testdb.FROM_DUMP]["restore"]
    assert restore["made_now"] and restore["size_bytes"] > 0 and restore["wall_s"] >= 0
    assert loop[testdb.FROM_DUMP]["wall_s"] >= restore["wall_s"]
    return restore


@pytest.mark.e2e
def test_every_mode_on_sqlite(module_cache, tmp_path):
    sqlite = engines.get("sqlite")
    record, notes, cached = _all_with_dev_loop(sqlite, "5.2", tmp_path)
    restore = _check_modes(record, testdb.STEP_NAMES)
    assert restore["how"] == "sqlite3 online backup into a file" and restore["restored_with"] == "file copy"
    assert record.dev_loop[testdb.NO_MIGRATIONS]["last_migration"] is None  # tables from the models
    assert not any(testdb.NO_MIGRATIONS in note for note in record.notes)
    assert any("test database dump: made" in note for note in notes)
    assert [p.suffix for p in cached.glob("test-*")] == [".sqlite3"]


@pytest.mark.e2e
@pytest.mark.xdist_group("testdb-pg")
def test_postgresql_on_a_line_without_test_migrate(module_cache, tmp_path):
    registered = engine_or_skip("postgresql")
    engine = type(registered)()
    with engine.serving():
        record, _notes, cached = _all_with_dev_loop(engine, "2.2", tmp_path)
        with contextlib.closing(engine.connect(engine.server)) as connection:
            left = [row[0] for row in connection.execute("SELECT datname FROM pg_database").fetchall()
                    if row[0].startswith("migbench_")]
    names = tuple(n for n in testdb.STEP_NAMES if n != testdb.NO_MIGRATIONS)
    restore = _check_modes(record, names)
    assert restore["how"] == "pg_dump" and restore["restored_with"] == "CREATE DATABASE, then pg_restore"
    (note,) = [n for n in record.notes if n.startswith(testdb.NO_MIGRATIONS)]
    assert "not timed" in note and "Django >= 3.1" in note
    assert [p.suffix for p in cached.glob("test-*")] == [".pgdump"]
    assert left == []  # the run's database, its test database and the restored one: all dropped
