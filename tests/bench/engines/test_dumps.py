"""Dump and restore of a test database, per engine: real files, real servers, no Django.

What the dev loop's "test database (from dump)" relies on (bench/strategies/testdb.py):
a database dumped with `Engine.dump` and made again with `Engine.restore` has the same
schema and rows; the kept test database is where Django's settings put it; a failing
client program is one line naming it. One embedded server per engine for the module.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from support import engine_or_skip

from migbench.bench import engines
from migbench.bench.engines import Database, mariadb
from migbench.bench.engines.server import ServerEngine
from migbench.errors import MigbenchError
from migbench.targets import resolve_line

DDL = {
    "sqlite": ['CREATE TABLE "shop_item" ("id" integer NOT NULL PRIMARY KEY, "name" varchar(20) NOT NULL UNIQUE)',
               "CREATE INDEX shop_item_name_idx ON shop_item (name)"],
    "postgresql": ['CREATE TABLE "shop_item" ("id" serial PRIMARY KEY, "name" varchar(20) NOT NULL UNIQUE)',
                   'CREATE INDEX "shop_item_name_idx" ON "shop_item" ("name")'],
    "mariadb": ["CREATE TABLE `shop_item` (`id` integer AUTO_INCREMENT PRIMARY KEY, "
                "`name` varchar(20) NOT NULL UNIQUE) ENGINE=InnoDB",
                "CREATE INDEX `shop_item_name_idx` ON `shop_item` (`name`)"],
}
ROWS = [("caf\u00e9",), ("tea",)]


def test_sqlite_keeps_its_test_database_in_a_file_and_copies_it(tmp_path):
    engine = engines.get("sqlite")
    main = engine.fresh(tmp_path, "main", resolve_line("5.2"))
    kept = engine.test_database(main)
    assert kept.path == tmp_path / "main_test.sqlite3"
    assert engine.test_settings(main) == {"MIGBENCH_TEST_NAME": str(kept.path)}
    assert main.with_settings(engine.test_settings(main)).child_env() == {
        "MIGBENCH_DATABASE_URL": main.url, "MIGBENCH_TEST_NAME": str(kept.path)}
    _fill(engine, kept)
    dump = tmp_path / ("dump" + engine.dump_suffix)
    assert engine.dump(kept, dump) == "sqlite3 online backup into a file"
    before = engine.snapshot(kept)
    engine.drop(kept)
    assert not kept.path.exists()
    assert engine.restore(dump, kept) == "file copy"
    assert engine.snapshot(kept) == before
    with contextlib.closing(sqlite3.connect(str(kept.path))) as connection:
        assert connection.execute("SELECT name FROM shop_item ORDER BY id").fetchall() == ROWS


@pytest.fixture(scope="module", params=[pytest.param("postgresql", marks=pytest.mark.xdist_group("dumps-pg")),
                                        pytest.param("mariadb", marks=pytest.mark.xdist_group("dumps-mariadb"))])
def served(request):
    registered = engine_or_skip(request.param)
    engine = type(registered)()  # serving() keeps state on the instance: not the registry's
    with engine.serving():
        yield engine


def test_a_server_dump_restores_the_same_schema_and_rows(served, tmp_path):
    assert served.dump_unavailable() is None
    main = served.fresh(tmp_path, "dumped", resolve_line("5.2"))
    kept = served.test_database(main)
    assert served.database_name(kept) == served.database_name(main) + "_test"  # Django's default TEST NAME
    assert served.test_settings(main) == {}
    try:
        _fill(served, main)
        dump = tmp_path / ("main" + served.dump_suffix)
        assert served.dump(main, dump) in ("pg_dump", "mariadb-dump", "mysqldump")
        assert dump.stat().st_size > 0
        how = served.restore(dump, kept)
        assert how.startswith("CREATE DATABASE, then ")
        assert served.snapshot(kept) == served.snapshot(main)
        assert _rows(served, kept) == ROWS
        with pytest.raises(MigbenchError) as info:  # restore makes the database: it must not exist
            served.restore(dump, kept)
        assert "\n" not in str(info.value)
    finally:
        served.drop(main)  # drops <name>_test too
    assert _scratch(served, served.database_name(main)) == []


def test_a_failing_client_program_is_one_line_naming_it(served, tmp_path):
    main = served.fresh(tmp_path, "broken")
    garbage = tmp_path / "garbage.dump"
    garbage.write_bytes(b"\x00 this is no dump \x00 SELECT FROM;")
    kept = served.test_database(main)
    try:
        with pytest.raises(MigbenchError, match=r"(pg_restore|mariadb|mysql) into %s failed \(exit \d+\)"
                           % served.database_name(kept)) as info:
            served.restore(garbage, kept)
        assert "\n" not in str(info.value)
    finally:
        served.drop(main)


@pytest.mark.parametrize("name, package", [("postgresql", "postgresql-client"), ("mariadb", "mariadb-client")])
def test_missing_client_programs_name_the_package(name, package, monkeypatch):
    """As on a machine with the server's programs elsewhere and no client installed."""
    engine = type(engines.get(name))()
    assert isinstance(engine, ServerEngine)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(type(engine), "find_binaries", lambda self: None)
    monkeypatch.setattr(mariadb, "SEARCH_DIRS", ())
    why = engine.dump_unavailable()
    assert why and why.endswith("apt-get install %s" % package) and "\n" not in why
    with pytest.raises(MigbenchError, match="install %s" % package):
        engine.dump(Database(engine, "x", "%s://u@/migbench_x?host=/tmp" % engine.scheme), Path("/unused"))


# -- helpers ---------------------------------------------------------------------------------------

def _fill(engine, database) -> None:
    if engine.name == "sqlite":
        with contextlib.closing(sqlite3.connect(str(database.path))) as connection, connection:
            for statement in DDL["sqlite"]:
                connection.execute(statement)
            connection.executemany("INSERT INTO shop_item (name) VALUES (?)", ROWS)
        return
    with contextlib.closing(engine.connect(engine.server, engine.database_name(database))) as connection:
        cursor = connection.cursor()
        for statement in DDL[engine.name]:
            cursor.execute(statement)
        cursor.executemany("INSERT INTO shop_item (name) VALUES (%s)", ROWS)


def _rows(engine, database) -> list[tuple]:
    with contextlib.closing(engine.connect(engine.server, engine.database_name(database))) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT name FROM shop_item ORDER BY id")
        return [tuple(row) for row in cursor.fetchall()]


def _scratch(engine, prefix: str) -> list[str]:
    with contextlib.closing(engine.connect(engine.server)) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT datname FROM pg_database" if engine.name == "postgresql" else "SHOW DATABASES")
        return [row[0] for row in cursor.fetchall() if row[0].startswith(prefix)]
