"""Schema snapshot and diff: equivalent schemas compare equal, each kind of difference is named."""

from __future__ import annotations

import json
import sqlite3

import pytest
from support import environment_or_skip

from migbench.bench.engines.schema import Schema, diff
from migbench.bench.engines.sqlite import SqliteEngine, snapshot
from migbench.errors import MigbenchError

BASE = """
CREATE TABLE "shop_customer" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "email" varchar(254) NOT NULL UNIQUE);
CREATE TABLE "shop_order" (
    "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    "created" datetime NOT NULL,
    "status" varchar(10) NOT NULL DEFAULT 'new',
    "total" decimal NOT NULL,
    "qty" integer unsigned NOT NULL CHECK ("qty" >= 0),
    "note" text NULL,
    "customer_id" bigint NOT NULL REFERENCES "shop_customer" ("id") DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT "total_positive" CHECK ("total" > 0)
);
CREATE INDEX "shop_order_created_status_1a2b3c4d" ON "shop_order" ("created", "status");
CREATE INDEX "shop_order_customer_id_5e6f7a8b" ON "shop_order" ("customer_id");
CREATE UNIQUE INDEX "shop_order_open_uniq" ON "shop_order" ("customer_id", "status") WHERE "status" = 'open';
CREATE TABLE "django_migrations" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "app" varchar(255) NOT NULL);
"""


def build(tmp_path, ddl: str, name: str = "db.sqlite3"):
    path = tmp_path / name
    conn = sqlite3.connect(path)
    conn.executescript(ddl)
    conn.close()
    return path


def variant(tmp_path, old: str, new: str, name: str = "candidate.sqlite3"):
    assert old in BASE, old
    return build(tmp_path, BASE.replace(old, new), name)


def differences(tmp_path, old: str, new: str):
    return diff(snapshot(build(tmp_path, BASE)), snapshot(variant(tmp_path, old, new)))


def test_snapshot_reads_everything(tmp_path):
    schema = snapshot(build(tmp_path, BASE))
    assert schema.table_names == ["shop_customer", "shop_order"]  # django_migrations excluded
    order = schema.table("shop_order")
    assert [c.name for c in order.columns][:3] == ["id", "created", "status"]
    assert order.column("status").default == "'new'" and order.column("qty").type == "INTEGER UNSIGNED"
    assert order.column("note").notnull is False and order.primary_key == ("id",)
    (fk,) = order.foreign_keys
    assert (fk.columns, fk.table, fk.to_columns) == (("customer_id",), "shop_customer", ("id",))
    assert fk.deferrable == "DEFERRABLE INITIALLY DEFERRED" and fk.on_delete == "NO ACTION"
    assert order.checks == ("CHECK (qty>=0)", "CHECK (total>0)")
    partial = next(i for i in order.indexes if i.where)
    assert partial.where == "status='open'" and partial.unique and partial.columns == ("customer_id", "status")
    email = next(i for i in schema.table("shop_customer").indexes if i.origin == "u")
    assert email.columns == ("email",) and email.unique


def test_identical_schema_with_other_column_order_and_names_is_equal(tmp_path):
    other = """
CREATE TABLE shop_order (
    customer_id bigint NOT NULL REFERENCES shop_customer (id) DEFERRABLE INITIALLY DEFERRED,
    note TEXT,
    id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    qty INTEGER   UNSIGNED NOT NULL CHECK ( "qty"   >= 0 ),
    total decimal NOT NULL,
    status varchar(10) NOT NULL DEFAULT 'new',
    created datetime NOT NULL,
    CONSTRAINT "shop_order_total_positive_99" CHECK (  total
        > 0 )
);
CREATE TABLE shop_customer (email varchar(254) NOT NULL, id integer NOT NULL PRIMARY KEY AUTOINCREMENT,
    CONSTRAINT email_uniq UNIQUE (email));
CREATE INDEX "ix_a" ON shop_order (created, status);
CREATE INDEX "ix_b" ON shop_order (customer_id);
CREATE UNIQUE INDEX "ix_c" ON shop_order (customer_id, status) WHERE status='open';
"""
    assert diff(snapshot(build(tmp_path, BASE)), snapshot(build(tmp_path, other, "other.sqlite3"))) == []


@pytest.mark.parametrize("old, new, expected", [
    ('CREATE TABLE "shop_customer"', 'CREATE TABLE "shop_client"',
     [("table shop_client", "extra"), ("table shop_customer", "missing")]),
    ('"note" text NULL,', '"note" text NULL, "extra" integer NULL,', [("column shop_order.extra", "extra")]),
    ('"total" decimal', '"total" integer', [("column shop_order.total", "type", "DECIMAL vs INTEGER")]),
    ('"note" text NULL', '"note" text NOT NULL', [("column shop_order.note", "changed", "null: NULL vs NOT NULL")]),
    ("DEFAULT 'new'", "DEFAULT 'open'", [("column shop_order.status", "changed", "default 'new' vs 'open'")]),
    ('REFERENCES "shop_customer" ("id")', 'REFERENCES "django_migrations" ("id")',
     [("foreign key shop_order.customer_id", "changed", "target shop_customer(id) vs django_migrations(id)")]),
    ('("id") DEFERRABLE', '("id") ON DELETE CASCADE DEFERRABLE',
     [("foreign key shop_order.customer_id", "changed", "on_delete NO ACTION vs CASCADE")]),
    ('("id") DEFERRABLE INITIALLY DEFERRED', '("id")',
     [("foreign key shop_order.customer_id", "changed", "deferrable DEFERRABLE INITIALLY DEFERRED vs (none)")]),
    ('CREATE INDEX "shop_order_customer_id_5e6f7a8b"', 'CREATE UNIQUE INDEX "shop_order_customer_id_5e6f7a8b"',
     [("index on shop_order(customer_id)", "changed", "unique: no vs yes")]),
    ("""WHERE "status" = 'open'""", """WHERE "status" = 'closed'""",
     [("index on shop_order(customer_id, status)", "changed", "where status='open' vs status='closed'")]),
    ('CREATE INDEX "shop_order_created_status_1a2b3c4d" ON "shop_order" ("created", "status");', "",
     [("index on shop_order(created, status)", "missing")]),
    ('CHECK ("total" > 0)', 'CHECK ("total" >= 0)',
     [("check on shop_order", "changed", "CHECK (total>0) vs CHECK (total>=0)")]),
    ('"email" varchar(254) NOT NULL UNIQUE', '"email" varchar(254) NOT NULL',
     [("unique constraint on shop_customer(email)", "missing")]),
    ('"id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "email" varchar(254) NOT NULL UNIQUE',
     '"id" integer NOT NULL, "email" varchar(254) NOT NULL UNIQUE PRIMARY KEY',
     [("primary key shop_customer", "changed", "(id) vs (email)")]),
])
def test_each_difference_is_detected_and_named(tmp_path, old, new, expected):
    found = differences(tmp_path, old, new)
    got = [(d.object, d.kind, d.detail)[:len(e)] for d, e in zip(found, expected)]
    assert got == expected and len(found) == len(expected), [d.line() for d in found]


def test_diff_order_is_deterministic(tmp_path):
    a = snapshot(build(tmp_path, BASE))
    b = snapshot(variant(tmp_path, '"total" decimal', '"total" integer, "zz" int, "aa" int'))
    first = diff(a, b)
    assert [(d.object, d.kind) for d in first] == [
        ("column shop_order.aa", "extra"), ("column shop_order.total", "type"),  # a type change is its own kind
        ("column shop_order.total", "changed"), ("column shop_order.zz", "extra")]
    assert diff(a, b) == first and diff(b, a)[0].kind == "missing"


def test_json_round_trip(tmp_path):
    schema = snapshot(build(tmp_path, BASE))
    again = Schema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema and diff(schema, again) == []


def test_missing_file_is_one_clear_line(tmp_path):
    missing = tmp_path / "nowhere" / "db.sqlite3"
    with pytest.raises(MigbenchError) as caught:
        snapshot(missing)
    assert str(missing) in str(caught.value) and "\n" not in str(caught.value)
    assert not missing.parent.exists()  # read-only: nothing created


@pytest.mark.e2e
def test_two_migrates_of_a_generated_project_are_equivalent(tmp_path):
    django = pytest.importorskip("django")
    from migbench.bench.env.child import ProjectRunner
    from migbench.generator import build_project, resolve_scenario, write_project
    from migbench.targets import resolve_line

    env = environment_or_skip(django.get_version())
    project = build_project(resolve_scenario("quick"), resolve_line(django.get_version()))
    out = write_project(project, tmp_path / "project")
    schemas = []
    for n in (1, 2):
        db = tmp_path / ("db%d.sqlite3" % n)
        step = ProjectRunner(out, env.python, SqliteEngine().at(db)).manage("migrate", "migrate", "--noinput")
        assert step.ok, step
        schemas.append(snapshot(db))
    assert diff(*schemas) == []
    names = schemas[0].table_names
    for label in project.app_labels:
        assert any(name.startswith(label + "_") for name in names), (label, names)
    assert "django_migrations" not in names
