"""PostgreSQL engine: a real embedded server (the machine's PostgreSQL binaries), no mocks.

One server for the module (started once, ~1 s); the lifecycle tests start their own.
The catalog tests build hand-written DDL in scratch databases and compare exact
neutral values; the equivalence tests write one schema two ways and expect no
difference, and one real difference each to be named. The e2e test migrates a
generated project with Django 4.2 on Python 3.11 and the driver `driver()` picks.

The driver table was checked by hand against PostgreSQL 15 (migrate forward, then the
last app back to zero, of the quick scenario): Django 1.8, 1.9, 1.10, 1.11 on Python 2.7
with psycopg2-binary 2.8.6; the same four on Python 3.11 (shim) with 2.9.10; 1.8 on 3.9
(shim) with 2.8.6; 1.11 on 3.13 (shim) with 2.9.10; 2.2 on 3.9 with 2.8.6 (and 2.9.10);
3.2 on 3.10 with 2.9.10; 4.2 on 3.9 and 3.11, 5.2 on 3.11 and 6.0 on 3.12 with psycopg
3.2.13. On 1.8 and 1.11 (Python 2.7), 2.2, 4.2 and 6.0 the migrated schema also equalled
one made by creating the final models directly (schema_editor.create_model), RenameModel's
old sequence names included (without the nextval() normalisation, 1.8 differs on two
renamed tables).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path

import psutil
import pytest
from support import engine_or_skip, environment_or_skip, gone

from migbench.bench.engines import embedded
from migbench.bench.engines.postgresql import PSYCOPG2_NEW, PSYCOPG2_OLD, PSYCOPG3, PostgresEngine, version_number
from migbench.bench.engines.schema import Column, ForeignKey, Index, diff
from migbench.targets import resolve_line

pytestmark = pytest.mark.xdist_group("postgresql")


@pytest.fixture(scope="module")
def engine():
    """A new engine instance (not the registry's: serving() keeps state on it)."""
    registered = engine_or_skip("postgresql")
    assert type(registered) is PostgresEngine
    return PostgresEngine()


@pytest.fixture(scope="module")
def served(engine):
    with engine.serving():
        yield engine


def build(served, ddl: str, label: str = "t"):
    """The snapshot of a scratch database made from `ddl` (dropped again)."""
    database = served.fresh(Path("/unused"), label)
    try:
        with contextlib.closing(served.connect(served.server, served.database_name(database))) as connection:
            connection.execute(ddl)
        return served.snapshot(database)
    finally:
        served.drop(database)


# -- the server's lifecycle --------------------------------------------------------------------

def test_serving_starts_a_private_server_and_stops_it(engine, tmp_path):
    with engine.serving():
        server = engine.server
        process = psutil.Process(server.pid)
        files = Path(server.extra["files"])
        assert server.embedded and server.version == version_number(server.version)
        assert (files / "data" / "PG_VERSION").is_file()
        assert (files / (".s.PGSQL.%d" % server.port)).is_socket()
        if os.geteuid() == 0:
            assert process.username() == "postgres" and server.user == "postgres"
        with contextlib.closing(engine.connect(server)) as connection:
            settings = dict(connection.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'fsync',"
                " 'synchronous_commit', 'full_page_writes')").fetchall())
        assert settings == {"listen_addresses": "", "fsync": "off", "synchronous_commit": "on",
                            "full_page_writes": "on"}  # no TCP; only fsync departs from the defaults
        described = engine.describe()
        assert described["server"] == "embedded" and described["server_version"] == server.version
        assert any("fsync=off" in note for note in engine.notes(resolve_line("4.2")))
        directory = server.directory
    assert gone(process)
    assert not files.exists() and not directory.exists()
    assert engine.server is None


def test_fresh_and_drop_make_and_remove_scratch_databases(served):
    database = served.fresh(Path("/unused"), "Fresh One")
    name = served.database_name(database)
    assert name.startswith("migbench_") and name.endswith("_fresh_one")
    assert database.url.startswith("postgres://%s@/%s?host=" % (served.server.user, name))
    with contextlib.closing(served.connect(served.server)) as admin:
        admin.execute('CREATE DATABASE "%s_test"' % name)  # what `manage.py test` would leave
        held = served.connect(served.server, name)  # a killed child's session, still open
        try:
            encoding = admin.execute("SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = %s",
                                     (name,)).fetchone()
            assert encoding == ("UTF8",)
            served.drop(database)
            left = admin.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                 (name + "%",)).fetchall()
        finally:
            held.close()
    assert left == []


def test_an_external_server_is_reached_by_its_url(served):
    server = served.server
    external = served.with_url("postgres://%s@/?host=%s&port=%d" % (server.user, server.host, server.port))
    with external.serving():
        assert external.describe()["server"] == "external"
        assert external.server.version == server.version
        database = external.fresh(Path("/unused"), "ext")
        external.drop(database)


def test_a_dead_owners_server_is_cleaned_up(engine, tmp_path):
    root = tmp_path / "servers"
    directory = root / "postgresql-1-dead"
    directory.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (directory / embedded.OWNER_FILE).write_text(json.dumps({"pid": dead.pid, "started": 0}))
    server = engine.start_embedded(directory, engine.find_binaries())  # as serving() does, then killed
    process = psutil.Process(server.pid)
    (directory / "server.json").write_text(json.dumps({"pid": server.pid, "files": server.extra["files"]}))
    try:
        assert embedded.cleanup_stale("postgresql", root) == [directory]
        assert gone(process)
        assert not directory.exists() and not Path(server.extra["files"]).exists()
    finally:
        engine.stop_embedded(server)  # reaps it (and stops it, if the cleanup failed)


# -- the catalog --------------------------------------------------------------------------------

BASE = """
CREATE TABLE shop_customer (
    id serial NOT NULL PRIMARY KEY,
    email varchar(254) NOT NULL UNIQUE,
    score smallint NULL CHECK (score >= 0)
);
CREATE INDEX shop_customer_email_like ON shop_customer (email varchar_pattern_ops);
CREATE TABLE shop_order (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    created timestamp with time zone NOT NULL,
    status varchar(10) NOT NULL DEFAULT 'new',
    total numeric(10, 2) NOT NULL,
    qty integer NOT NULL CHECK ("qty" >= 0),
    note text NULL,
    ratio double precision NULL,
    paid boolean NOT NULL DEFAULT false,
    code uuid NULL,
    data jsonb NULL,
    customer_id integer NOT NULL REFERENCES shop_customer (id) DEFERRABLE INITIALLY DEFERRED,
    referrer_id integer NULL,
    CONSTRAINT total_positive CHECK (total > 0)
);
ALTER TABLE shop_order ADD CONSTRAINT shop_order_referrer_fk FOREIGN KEY (referrer_id)
    REFERENCES shop_customer (id) ON DELETE SET NULL ON UPDATE CASCADE;
CREATE INDEX shop_order_created_status_1a2b ON shop_order (created, status DESC);
CREATE INDEX shop_order_customer_id_5e6f ON shop_order (customer_id);
CREATE UNIQUE INDEX shop_order_open_uniq ON shop_order (customer_id, status) WHERE status = 'open';
CREATE INDEX shop_order_upper_note ON shop_order (upper(note) DESC NULLS LAST);
CREATE TABLE shop_line (
    order_id bigint NOT NULL REFERENCES shop_order (id) ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
    n integer NOT NULL,
    PRIMARY KEY (order_id, n)
);
CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255) NOT NULL);
"""


@pytest.fixture(scope="module")
def base(served):
    return build(served, BASE, "base")


def test_read_schema_reads_every_kind_of_field(base):
    assert base.engine == "postgresql"
    assert base.table_names == ["shop_customer", "shop_line", "shop_order"]  # django_migrations excluded
    customer, line, order = base.tables
    assert customer.columns == (
        Column("id", "INTEGER", True, "nextval(<sequence>)", 1),
        Column("email", "CHARACTER VARYING(254)", True, None, 0),
        Column("score", "SMALLINT", False, None, 0))
    assert order.columns == (
        Column("id", "BIGINT", True, "GENERATED BY DEFAULT AS IDENTITY", 1),
        Column("created", "TIMESTAMP WITH TIME ZONE", True, None, 0),
        Column("status", "CHARACTER VARYING(10)", True, "'new'::character varying", 0),
        Column("total", "NUMERIC(10,2)", True, None, 0),
        Column("qty", "INTEGER", True, None, 0),
        Column("note", "TEXT", False, None, 0),
        Column("ratio", "DOUBLE PRECISION", False, None, 0),
        Column("paid", "BOOLEAN", True, "false", 0),
        Column("code", "UUID", False, None, 0),
        Column("data", "JSONB", False, None, 0),
        Column("customer_id", "INTEGER", True, None, 0),
        Column("referrer_id", "INTEGER", False, None, 0))
    assert (customer.primary_key, order.primary_key, line.primary_key) == (("id",), ("id",), ("order_id", "n"))
    assert [c.pk for c in line.columns] == [1, 2]
    assert order.foreign_keys == (
        ForeignKey(("customer_id",), "shop_customer", ("id",), "NO ACTION", "NO ACTION",
                   "DEFERRABLE INITIALLY DEFERRED"),
        ForeignKey(("referrer_id",), "shop_customer", ("id",), "CASCADE", "SET NULL", None))
    assert line.foreign_keys == (ForeignKey(("order_id",), "shop_order", ("id",), "NO ACTION", "CASCADE",
                                            "DEFERRABLE INITIALLY IMMEDIATE"),)
    assert customer.indexes == (
        Index("shop_customer_email_key", ("email",), True, None, "u"),
        Index("shop_customer_email_like", ("email varchar_pattern_ops",), False, None, "c"),
        Index("shop_customer_pkey", ("id",), True, None, "pk"))
    assert order.indexes == (
        Index("shop_order_created_status_1a2b", ("created", "status DESC"), False, None, "c"),
        Index("shop_order_customer_id_5e6f", ("customer_id",), False, None, "c"),
        Index("shop_order_open_uniq", ("customer_id", "status"), True, "status::text = 'open'::text", "c"),
        Index("shop_order_pkey", ("id",), True, None, "pk"),
        Index("shop_order_upper_note", ("(upper(note)) DESC NULLS LAST",), False, None, "c"))
    assert line.indexes == (Index("shop_line_pkey", ("order_id", "n"), True, None, "pk"),)
    assert customer.checks == ("CHECK (score >= 0)",)
    assert order.checks == ("CHECK (qty >= 0)", "CHECK (total > 0::numeric)")


def test_read_schema_reads_what_django_contrib_postgres_can_make(served):
    """Identity ALWAYS, a stored generated column, a column collation, a non-btree method,
    INCLUDE, a deferrable UNIQUE constraint, an exclusion constraint; NULLS NOT DISTINCT from 15."""
    major = int(served.server.version.split(".")[0])
    ddl = """
    CREATE TABLE tag (
        id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        name varchar(20) COLLATE "C" NOT NULL,
        slug varchar(20) NOT NULL,
        double_id integer GENERATED ALWAYS AS (id * 2) STORED,
        words tsvector NULL,
        span int4range NULL,
        CONSTRAINT tag_name_uniq UNIQUE (name) DEFERRABLE INITIALLY DEFERRED,
        CONSTRAINT tag_span_excl EXCLUDE USING gist (span WITH &&)
    );
    CREATE INDEX tag_words ON tag USING gin (words);
    CREATE INDEX tag_cover ON tag (slug) INCLUDE (name, id);
    CREATE INDEX tag_slug_c ON tag (slug COLLATE "C");
    """ + ("CREATE UNIQUE INDEX tag_slug_uniq ON tag (slug) NULLS NOT DISTINCT;" if major >= 15 else "")
    (tag,) = build(served, ddl, "contrib").tables
    assert tag.column("id").default == "GENERATED ALWAYS AS IDENTITY"
    assert tag.column("name").type == 'CHARACTER VARYING(20) COLLATE "C"'
    assert (tag.column("double_id").hidden, tag.column("double_id").default) == (3, "id * 2")
    assert {i.name: i.columns for i in tag.indexes if i.origin != "pk"} == {
        "tag_name_uniq": ("name", "DEFERRABLE INITIALLY DEFERRED"),
        "tag_words": ("words", "USING gin"),
        "tag_cover": ("slug", "INCLUDE (name, id)"),
        "tag_slug_c": ('slug COLLATE "C"',),
        **({"tag_slug_uniq": ("slug", "NULLS NOT DISTINCT")} if major >= 15 else {})}
    assert tag.checks == ("EXCLUDE USING gist (span WITH &&)",)


def variant(old: str, new: str, appended: str = "") -> str:
    assert old in BASE, old
    return BASE.replace(old, new) + appended


SAME = {
    "fk added later under another name": (
        "customer_id integer NOT NULL REFERENCES shop_customer (id) DEFERRABLE INITIALLY DEFERRED,",
        "customer_id integer NOT NULL,",
        "ALTER TABLE shop_order ADD CONSTRAINT shop_order_customer_id_fk_shop_customer_id FOREIGN KEY"
        " (customer_id) REFERENCES shop_customer (id) DEFERRABLE INITIALLY DEFERRED;"),
    "renamed table keeps its sequence and constraint names": (
        "CREATE TABLE shop_customer (\n    id serial",
        "CREATE TABLE shop_client (\n    id serial", ""),
    "checks and index written differently, other names": (
        'qty integer NOT NULL CHECK ("qty" >= 0),\n    note text NULL,',
        "qty integer NOT NULL,\n    note text NULL, CONSTRAINT qty_positive CHECK ((qty>=0)),",
        "ALTER INDEX shop_order_open_uniq RENAME TO shop_order_customer_status_open;"),
    "column order": (
        "    ratio double precision NULL,\n", "", "ALTER TABLE shop_order ADD COLUMN ratio double precision;"),
}


@pytest.mark.parametrize("old, new, appended", list(SAME.values()), ids=list(SAME))
def test_two_ways_to_the_same_schema_compare_equal(served, base, old, new, appended):
    ddl = variant(old, new, appended)
    if "shop_client" in new:  # renamed before anything else refers to it, as RenameModel does
        ddl = ddl.replace("CREATE INDEX shop_customer_email_like",
                          "ALTER TABLE shop_client RENAME TO shop_customer;\nCREATE INDEX shop_customer_email_like")
    assert diff(base, build(served, ddl, "same")) == []


DIFFERENT = {
    "missing index": ("CREATE INDEX shop_order_customer_id_5e6f ON shop_order (customer_id);", "", "",
                      "index on shop_order(customer_id) missing"),
    "on_delete": ("ON DELETE SET NULL ON UPDATE CASCADE", "ON DELETE CASCADE ON UPDATE CASCADE", "",
                  "on_delete SET NULL vs CASCADE"),
    "deferrable": ("DEFERRABLE INITIALLY IMMEDIATE", "", "", "deferrable DEFERRABLE INITIALLY IMMEDIATE vs (none)"),
    "serial vs identity": ("id serial NOT NULL PRIMARY KEY", "id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                           "", "default nextval(<sequence>) vs GENERATED BY DEFAULT AS IDENTITY"),
    "pattern ops": ("(email varchar_pattern_ops)", "(email)", "", "index on shop_customer(email varchar_pattern_ops)"
                    " missing"),
    "partial condition": ("WHERE status = 'open'", "WHERE status = 'paid'", "",
                          "where status::text = 'open'::text vs status::text = 'paid'::text"),
    "descending": ("(created, status DESC)", "(created, status)", "", "index on shop_order(created, status DESC)"),
    "check": ("CHECK (total > 0)", "CHECK (total >= 0)", "", "check on shop_order changed"),
    "varchar length": ("email varchar(254)", "email varchar(200)", "",
                       "type: CHARACTER VARYING(254) vs CHARACTER VARYING(200)"),
}


@pytest.mark.parametrize("old, new, appended, expected", list(DIFFERENT.values()), ids=list(DIFFERENT))
def test_a_real_difference_is_named(served, base, old, new, appended, expected):
    lines = [d.line() for d in diff(base, build(served, variant(old, new, appended), "diff"))]
    assert lines and any(expected in line for line in lines), lines


# -- drivers ------------------------------------------------------------------------------------

@pytest.mark.parametrize("line, python, requirement, module", [
    ("1.8", (2, 7), PSYCOPG2_OLD, "psycopg2"),
    ("1.11", "2.7", PSYCOPG2_OLD, "psycopg2"),
    ("1.8", (3, 9), PSYCOPG2_OLD, "psycopg2"),
    ("1.8", (3, 11), PSYCOPG2_NEW, "psycopg2"),
    ("2.2", (3, 9), PSYCOPG2_OLD, "psycopg2"),
    ("3.2", (3, 10), PSYCOPG2_NEW, "psycopg2"),
    ("3.2", (3, 6), PSYCOPG2_OLD, "psycopg2"),
    ("4.1", (3, 11), PSYCOPG2_NEW, "psycopg2"),
    ("4.2", (3, 8), PSYCOPG3, "psycopg"),
    ("6.0", (3, 13), PSYCOPG3, "psycopg"),
])
def test_driver_table(engine, line, python, requirement, module):
    spec = engine.driver(resolve_line(line), python)
    assert (spec.requirement, spec.module) == (requirement, module)
    assert spec.distribution == requirement.split("[")[0].split("==")[0]


def test_old_django_gets_psycopg2_29_only_because_projects_never_set_use_tz(engine):
    """psycopg2 2.9 breaks Django < 3.1.13 with USE_TZ=True only (psycopg/psycopg2#1293)."""
    from migbench.generator import build_project, resolve_scenario

    line = resolve_line("1.8")
    assert engine.driver(line, (3, 11)).requirement == PSYCOPG2_NEW
    settings = build_project(resolve_scenario("quick"), line).files["benchproject/settings.py"]
    assert "\nUSE_TZ = False\n" in settings


# -- a real Django ------------------------------------------------------------------------------

@pytest.mark.e2e
def test_django_migrates_a_generated_project(served, tmp_path):
    from migbench.bench.env import environments
    from migbench.bench.env.child import ProjectRunner
    from migbench.generator import build_project, resolve_scenario, write_project

    env = environment_or_skip("4.2", "3.11")
    line = resolve_line("4.2")
    spec = served.driver(line, (3, 11))
    installed = environments.ensure_driver(env, served.name, spec.requirement, spec.module, spec.distribution,
                                           spec.system_packages)
    assert installed["module"] == "psycopg" and spec.requirement.endswith("==" + installed["version"])
    scenario = resolve_scenario("quick")
    params = scenario.generator
    params = replace(params, apps=2, models_per_app=(2, 3),
                     history=replace(params.history, migrations_per_app=(2, 3), data_rows=(1, 2)))
    project = write_project(build_project(replace(scenario, generator=params), line), tmp_path / "project")
    apps = json.loads((project / "migbench.json").read_text())["apps"]
    database = served.fresh(tmp_path, "e2e", line)
    try:
        step = ProjectRunner(project, env.python, database).manage("migrate", "migrate", "--noinput")
        assert step.ok, step.output
        schema = served.snapshot(database)
        for label in apps:
            assert any(name.startswith(label + "_") for name in schema.table_names), (label, schema.table_names)
        assert "auth_user" in schema.table_names and "django_migrations" not in schema.table_names
        assert all(t.primary_key and t.column(t.primary_key[0]).default == "GENERATED BY DEFAULT AS IDENTITY"
                   for t in schema.tables if t.column("id"))  # Django >= 4.1 AutoFields
        recorded = served.recorded_migrations(database, apps)
        assert recorded and all(name.split(".")[0] in apps for name in recorded)
        served.forget_migrations(database, apps)
        assert served.recorded_migrations(database, apps) == []
    finally:
        served.drop(database)
