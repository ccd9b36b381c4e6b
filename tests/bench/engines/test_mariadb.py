"""bench/engines/mariadb.py + mysql_catalog.py on a real, throwaway mariadbd (no mocks).

One embedded server serves the module (started once: ~1.5 s); two tests start
their own (serving() start/stop, a dead owner's leftover). The catalog is
checked on hand-written DDL with exact neutral values, then two DDL paths that
mean one schema must compare equal while a real change is found; one e2e test
migrates a tiny generated project with Django 4.2 through mysqlclient.

Skipped when mariadbd is not installed (apt-get install mariadb-server),
except under CI=true, where a missing server is a broken machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from support import environment_or_skip, gone

from migbench.bench.engines import server as servers
from migbench.bench.engines.mariadb import MariadbEngine, driver_requirement
from migbench.bench.engines.schema import Column, ForeignKey, Index, Table, diff
from migbench.bench.engines.server import Server
from migbench.errors import MigbenchError
from migbench.targets import resolve_line

pytestmark = pytest.mark.xdist_group("mariadb")


def _binaries():
    found = MariadbEngine().find_binaries()
    if found is None:
        reason = "no mariadbd: apt-get install mariadb-server"
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide MariaDB: " + reason)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="module")
def engine():
    _binaries()
    engine = MariadbEngine()
    with engine.serving():
        yield engine


def execute(engine, database, script: str) -> None:
    with contextlib.closing(engine.connect(engine.server, engine.database_name(database))) as connection:
        for statement in script.split(";\n"):
            if statement.strip():
                connection.cursor().execute(statement)


def databases(engine) -> set[str]:
    with contextlib.closing(engine.connect(engine.server)) as connection:
        cursor = connection.cursor()
        cursor.execute("SHOW DATABASES")
        return {row[0] for row in cursor.fetchall()}


# -- the server's lifecycle ----------------------------------------------------------------------


def test_serving_starts_a_socket_only_server_and_stops_it_leaving_nothing():
    _binaries()
    engine = MariadbEngine()
    with engine.serving():
        server = engine.server
        files = Path(server.extra["files"])
        assert server.host == str(files / "mysqld.sock") and Path(server.host).is_socket()
        assert re.fullmatch(r"\d+\.\d+\.\d+", server.version) and server.extra["product"] == "MariaDB"
        process = psutil.Process(server.pid)
        assert process.username() == ("mysql" if os.geteuid() == 0 else psutil.Process().username())
        assert "--no-defaults" == process.cmdline()[1] and "--skip-networking" in process.cmdline()
        connections = getattr(process, "net_connections", None) or process.connections
        assert not [c for c in connections(kind="inet") if c.status == psutil.CONN_LISTEN]  # no TCP
        assert engine.describe() == {"engine": "mariadb", "fresh": True, "server": "embedded",
                                     "server_version": server.version, "server_product": "MariaDB",
                                     "charset": "utf8/utf8_general_ci"}
        directory = server.directory
    assert gone(process)
    assert not files.exists() and not directory.exists() and engine.server is None


def test_cleanup_stale_stops_the_server_of_a_dead_migbench(tmp_path):
    binaries = _binaries()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    directory = tmp_path / "servers" / ("mariadb-%s-abcdef" % dead.stdout.strip())
    directory.mkdir(parents=True)
    (directory / "owner.json").write_text(json.dumps({"pid": int(dead.stdout), "started": 1.0}))
    engine = MariadbEngine()
    server = engine.start_embedded(directory, binaries)
    process = psutil.Process(server.pid)
    try:
        info = json.loads((directory / "server.json").read_text())
        (directory / "server.json").write_text(json.dumps(dict(info, pid=server.pid)))  # as serving() writes it
        assert servers.cleanup_stale("mariadb", root=tmp_path / "servers") == [directory]
        assert gone(process)
        assert not directory.exists() and not Path(info["files"]).exists()
    finally:
        engine.stop_embedded(server)  # reaps it (a no-op kill when cleanup_stale did its work)
        servers._remove_files(directory)


def test_a_server_that_cannot_start_is_reported_with_its_log_and_not_left_running(tmp_path):
    binaries = _binaries()
    directory = tmp_path / "mariadb-1-abcdef"
    directory.mkdir()
    engine = MariadbEngine()
    try:
        with pytest.raises(MigbenchError, match=r"mariadbd did not start: .*Can't change dir") as caught:
            engine.start_embedded(directory, dict(binaries, install_db=Path("/bin/true")))  # no data directory
        assert "\n" not in str(caught.value)
        assert not engine._processes  # stopped and reaped
    finally:
        files = Path(json.loads((directory / "server.json").read_text())["files"])
        servers._remove_files(directory)  # what serving() does after a failed start
    assert not files.exists()


# -- scratch databases -----------------------------------------------------------------------------


def test_fresh_makes_an_empty_utf8_database_the_child_reaches_by_socket_and_drop_removes_it(engine, tmp_path):
    database = engine.fresh(tmp_path, "Run 1/a")
    name = engine.database_name(database)
    assert re.fullmatch(r"migbench_[0-9a-f]{8}_run_1_a", name)
    assert database.url == "mysql://root@/%s?host=%s" % (name, engine.server.host)
    assert database.child_env() == {"MIGBENCH_DATABASE_URL": database.url}
    with contextlib.closing(engine.connect(engine.server, name)) as connection:
        cursor = connection.cursor()
        cursor.execute("SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
                       "WHERE SCHEMA_NAME = %s", (name,))
        assert cursor.fetchone() == ("utf8mb3", "utf8mb3_general_ci")
        assert engine.table_names(cursor) == []
        cursor.execute("CREATE DATABASE `%s_test`" % name)  # what Django's test runner makes
    assert engine.recorded_migrations(database, ["shop"]) == []
    assert {name, name + "_test"} <= databases(engine)
    engine.drop(database)
    assert not {name, name + "_test"} & databases(engine)


def test_an_external_url_uses_the_users_server_without_starting_one(engine, tmp_path):
    external = engine.with_url("mysql://root@/?host=%s" % engine.server.host)
    with external.serving():
        assert external.server.embedded is False and external.server.version == engine.server.version
        database = external.fresh(tmp_path, "ext")
        assert engine.database_name(database) in databases(engine)
        external.drop(database)
        assert external.describe()["server"] == "external"
    with pytest.raises(MigbenchError, match="cannot connect"):
        with engine.with_url("mysql://root@/?host=/nonexistent/mysqld.sock").serving():
            pass


# -- the catalog -------------------------------------------------------------------------------------

SHOP = """
CREATE TABLE shop_customer (
  id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email varchar(254) NOT NULL UNIQUE,
  name varchar(255) NOT NULL,
  kind enum('Retail','b2b') NOT NULL DEFAULT 'Retail',
  KEY shop_customer_name_prefix (name(191)),
  FULLTEXT KEY shop_customer_name_ft (name)
);
CREATE TABLE shop_order (
  id bigint NOT NULL AUTO_INCREMENT,
  created datetime(6) NOT NULL DEFAULT current_timestamp(6),
  status varchar(10) NOT NULL DEFAULT 'it''s new',
  total decimal(10,2) NOT NULL DEFAULT 1.50,
  total_cents bigint AS (total * 100) STORED,
  qty int unsigned NOT NULL CHECK (qty >= 0),
  note longtext NULL,
  code char(8) COLLATE utf8mb3_bin NULL,
  customer_id int NOT NULL,
  parent_id bigint NULL,
  PRIMARY KEY (id),
  KEY shop_order_created_status (created, status DESC),
  UNIQUE KEY shop_order_customer_status_uniq (customer_id, status),
  CONSTRAINT total_positive CHECK (`total` > 0),
  CONSTRAINT shop_order_customer_fk FOREIGN KEY (customer_id) REFERENCES shop_customer (id) ON DELETE CASCADE,
  CONSTRAINT shop_order_parent_fk FOREIGN KEY (parent_id) REFERENCES shop_order (id)
    ON DELETE SET NULL ON UPDATE CASCADE
);
CREATE TABLE django_migrations (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, app varchar(255) NOT NULL)
"""


def test_read_schema_gives_exact_neutral_values(engine, tmp_path):
    database = engine.fresh(tmp_path, "catalog")
    try:
        execute(engine, database, SHOP)
        schema = engine.snapshot(database)
    finally:
        engine.drop(database)
    assert schema.engine == "mariadb" and schema.table_names == ["shop_customer", "shop_order"]
    assert schema.table("shop_customer") == Table(
        "shop_customer",
        (Column("id", "INT(11) AUTO_INCREMENT", True, None, 1), Column("email", "VARCHAR(254)", True, None, 0),
         Column("name", "VARCHAR(255)", True, None, 0),
         Column("kind", "ENUM('Retail','b2b')", True, "'Retail'", 0)),  # literals keep their case
        ("id",), (),
        (Index("PRIMARY", ("id",), True, None, "pk"), Index("email", ("email",), True, None, "u"),
         Index("shop_customer_name_ft", ("name",), False, "USING FULLTEXT", "c"),
         Index("shop_customer_name_prefix", ("name(191)",), False, None, "c")),
        ())
    order = schema.table("shop_order")
    assert order.columns == (
        Column("id", "BIGINT(20) AUTO_INCREMENT", True, None, 1),
        Column("created", "DATETIME(6)", True, "current_timestamp(6)", 0),
        Column("status", "VARCHAR(10)", True, "'it''s new'", 0),
        Column("total", "DECIMAL(10,2)", True, "1.50", 0),
        Column("total_cents", "BIGINT(20) AS (total * 100) STORED", False, None, 0, hidden=3),
        Column("qty", "INT(10) UNSIGNED", True, None, 0),
        Column("note", "LONGTEXT", False, None, 0),  # NULL default = no default
        Column("code", "CHAR(8) COLLATE UTF8MB3_BIN", False, None, 0),  # not the database's collation
        Column("customer_id", "INT(11)", True, None, 0),
        Column("parent_id", "BIGINT(20)", False, None, 0))
    assert order.primary_key == ("id",)
    assert order.foreign_keys == (
        ForeignKey(("customer_id",), "shop_customer", ("id",), "RESTRICT", "CASCADE", None),
        ForeignKey(("parent_id",), "shop_order", ("id",), "CASCADE", "SET NULL", None))
    # customer_id's FK uses the unique index it leads; parent_id's got InnoDB's own index, named after the FK
    assert order.indexes == (
        Index("PRIMARY", ("id",), True, None, "pk"),
        Index("shop_order_created_status", ("created", "status DESC"), False, None, "c"),
        Index("shop_order_customer_status_uniq", ("customer_id", "status"), True, None, "u"),
        Index("shop_order_parent_fk", ("parent_id",), False, None, "c"))
    assert order.checks == ("CHECK (qty >= 0)", "CHECK (total > 0)")  # column- and table-level alike


# One schema, two ways: everything in CREATE TABLE, or Django-style ALTERs in another order
# (AddField's temporary default, a NULL default dropped, a table-level CHECK, NO ACTION
# written out, the FK before its covering unique index, other names).
AT_ONCE = """
CREATE TABLE p (id int AUTO_INCREMENT PRIMARY KEY);
CREATE TABLE c (
  id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
  p_id int NOT NULL,
  kind varchar(20) NOT NULL,
  note varchar(50) NULL,
  qty int NOT NULL CHECK (qty >= 0),
  UNIQUE KEY c_p_id_kind_uniq (p_id, kind),
  CONSTRAINT c_p_id_fk FOREIGN KEY (p_id) REFERENCES p (id)
)
"""
STEP_BY_STEP = """
CREATE TABLE p (id int NOT NULL AUTO_INCREMENT, PRIMARY KEY (id));
CREATE TABLE c (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, kind varchar(%(kind)d) NOT NULL);
ALTER TABLE c ADD COLUMN note varchar(50) DEFAULT NULL;
ALTER TABLE c ALTER COLUMN note DROP DEFAULT;
ALTER TABLE c ADD COLUMN qty int DEFAULT 0 NOT NULL;
ALTER TABLE c ALTER COLUMN qty DROP DEFAULT;
ALTER TABLE c ADD CONSTRAINT c_qty_check CHECK (`qty` >= 0);
ALTER TABLE c ADD COLUMN p_id int NOT NULL;
ALTER TABLE c ADD CONSTRAINT c_p_id_1a2b3c_fk_p_id FOREIGN KEY (p_id) REFERENCES p (id) ON DELETE %(on_delete)s;
CREATE UNIQUE INDEX c_p_id_kind_5e6f_uniq ON c (p_id, kind)
"""


def test_two_ddl_paths_with_one_meaning_compare_equal_and_a_real_change_is_found(engine, tmp_path):
    schemas = []
    for label, script in (("a", AT_ONCE), ("b", STEP_BY_STEP % {"kind": 20, "on_delete": "NO ACTION"}),
                          ("c", STEP_BY_STEP % {"kind": 30, "on_delete": "CASCADE"})):
        database = engine.fresh(tmp_path, label)
        try:
            execute(engine, database, script)
            schemas.append(engine.snapshot(database))
        finally:
            engine.drop(database)
    at_once, step_by_step, changed = schemas
    assert [i.columns for i in at_once.table("c").indexes] == [("id",), ("p_id", "kind")]  # no FK index left
    assert diff(at_once, step_by_step) == []
    assert [d.line() for d in diff(at_once, changed)] == [
        "column c.kind type: VARCHAR(20) vs VARCHAR(30)",
        "foreign key c.p_id changed: on_delete RESTRICT vs CASCADE"]


# -- the children's side -------------------------------------------------------------------------------


def test_the_driver_table_the_notes_and_the_oldest_server_a_line_accepts():
    line = resolve_line
    assert driver_requirement(line("1.8"), (2, 7)) == "mysqlclient==1.4.6"
    assert driver_requirement(line("1.11"), (3, 11)) == "mysqlclient==1.4.6"  # 2.x: KeyError in Django's backend
    assert driver_requirement(line("2.2"), (3, 9)) == "mysqlclient==2.2.7"
    assert driver_requirement(line("2.2"), (3, 6)) == "mysqlclient==2.1.1"
    assert driver_requirement(line("6.0"), (3, 12)) == "mysqlclient==2.2.7"
    spec = MariadbEngine().driver(line("4.2"), (3, 11))
    assert (spec.module, spec.distribution) == ("MySQLdb", "mysqlclient")
    assert "default-libmysqlclient-dev" in spec.system_packages
    notes = MariadbEngine().notes(line("4.2"))
    assert any("not transactional" in n for n in notes) and any("innodb_flush_log_at_trx_commit=2" in n for n in notes)
    assert MariadbEngine().quote_name("a`b") == "`a``b`"
    old = MariadbEngine("mysql://root@db/")
    old.server = Server(user="root", version="10.4.34", extra={"product": "MariaDB"})
    assert old.unsupported(line("4.2")) is None and old.unsupported(line("1.8")) is None
    assert old.unsupported(line("5.2")) == "Django 5.2 requires MariaDB 10.5 or later; the server is MariaDB 10.4.34"
    old.server = Server(user="root", version="5.7.44", extra={"product": "MySQL"})
    assert old.unsupported(line("4.2")) == "Django 4.2 requires MySQL 8.0 or later; the server is MySQL 5.7.44"


@pytest.mark.e2e
def test_django_migrates_a_generated_project_into_a_fresh_database(engine, tmp_path):
    from migbench.bench.env import environments
    from migbench.bench.env.child import ProjectRunner
    from migbench.generator import build_project, resolve_scenario, write_project

    env = environment_or_skip("4.2", "3.11")
    line = resolve_line(env.django_version)
    spec = engine.driver(line, tuple(int(p) for p in env.python_version.split(".")[:2]))
    installed = environments.ensure_driver(env, engine.name, spec.requirement, spec.module, spec.distribution,
                                           spec.system_packages)
    assert installed["version"] == spec.requirement.split("==")[1]
    scenario = resolve_scenario("quick")
    history = scenario.generator.history
    history = replace(history, migrations_per_app=(2, 3), data_rows=(1, 2))
    scenario = replace(scenario, generator=replace(scenario.generator, apps=2, models_per_app=(2, 2),
                                                   history=history))
    project = build_project(scenario, line)
    out = write_project(project, tmp_path / "project")
    database = engine.fresh(tmp_path, "e2e")
    try:
        step = ProjectRunner(out, env.python, database).manage("migrate", "migrate", "--noinput")
        assert step.ok, step.output
        schema = engine.snapshot(database)
        apps = list(project.app_labels)
        recorded = engine.recorded_migrations(database, apps)
        engine.forget_migrations(database, apps)
        assert engine.recorded_migrations(database, apps) == []
    finally:
        engine.drop(database)
    names = schema.table_names
    assert "django_migrations" not in names and "auth_user" in names
    for label in apps:
        assert any(name.startswith(label + "_") for name in names), (label, names)
        files = list((out / "apps" / label / "migrations").glob("0*.py"))
        assert len([r for r in recorded if r.startswith(label + ".")]) == len(files)
    # Every column has the database's charset but JSONField's: MariaDB's JSON is LONGTEXT in utf8mb4_bin.
    assert {c.type for t in schema.tables for c in t.columns if "COLLATE" in c.type} <= {"LONGTEXT COLLATE UTF8MB4_BIN"}
