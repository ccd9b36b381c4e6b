"""The workers on the server engines: real PostgreSQL and MariaDB servers, real Django children, no mocks.

One embedded server per engine for the module, one tiny generated project
(Django 4.2 on Python 3.11, with the driver each engine's table picks),
migrated once per engine under capture_ddl.py. Then:
- the floor: execute_sql.py, run with the argv the engine gives it
  (`--url`), rebuilds the schema migrate built, with no Django;
- the write probe passes on the migrated database and, on PostgreSQL (where
  Django's foreign keys are DEFERRABLE INITIALLY DEFERRED), catches a foreign
  key pointed at the wrong table;
- `manage.py test migbench_testdb --noinput` creates NAME_test (dropping a
  leftover of that name without asking) and drops it again.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from support import engine_or_skip, environment_or_skip

from migbench.bench.engines.base import Database
from migbench.bench.engines.schema import diff
from migbench.bench.engines.server import ServerEngine
from migbench.bench.env.child import project_env
from migbench.bench.measure.worker import CAPTURE_DDL, EXECUTE_SQL, TESTDB_DIR, WRITE_ROWS
from migbench.targets import resolve_line

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("worker-engines")]

LINE, PYTHON = "4.2", "3.11"
ENGINES = ["postgresql", "mariadb"]


@dataclass
class Served:
    engine: ServerEngine
    env: object  # bench.env.environments.Environment
    project: Path
    migrated: Database  # migrated by capture_ddl.py
    ddl: Path  # what it captured
    workdir: Path

    def run(self, database: Database, argv: list[str], extra_env: dict | None = None):
        env = dict(project_env(database), **(extra_env or {}))
        return subprocess.run([str(self.env.python)] + [str(a) for a in argv], cwd=self.project, env=env,
                              capture_output=True, text=True, timeout=120)

    def databases(self) -> set[str]:
        with contextlib.closing(self.engine.connect(self.engine.server)) as connection:
            cursor = connection.cursor()
            if self.engine.name == "postgresql":
                cursor.execute("SELECT datname FROM pg_database")
            else:
                cursor.execute("SHOW DATABASES")
            return {row[0] for row in cursor.fetchall()}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A tiny generated project, the same for both engines."""
    from migbench.generator import build_project, resolve_scenario, write_project

    env = environment_or_skip(LINE, PYTHON)
    scenario = resolve_scenario("quick")
    params = scenario.generator
    params = replace(params, apps=2, models_per_app=(3, 3),
                     history=replace(params.history, migrations_per_app=(2, 3)))
    path = write_project(build_project(replace(scenario, generator=params), resolve_line(LINE)),
                         tmp_path_factory.mktemp("project") / "project")
    return env, path


def _serve(engine_class, name, project, tmp_path_factory):
    from migbench.bench.env import environments

    engine_or_skip(name)
    env, path = project
    engine = engine_class()
    spec = engine.driver(resolve_line(LINE), tuple(int(p) for p in PYTHON.split(".")))
    environments.ensure_driver(env, engine.name, spec.requirement, spec.module, spec.distribution,
                               spec.system_packages)
    workdir = tmp_path_factory.mktemp(name)
    with engine.serving():
        database = engine.fresh(workdir, "captured", resolve_line(LINE))
        try:
            ddl = workdir / "ddl.jsonl"
            served = Served(engine, env, path, database, ddl, workdir)
            done = served.run(database, [CAPTURE_DDL, "--out", ddl, "--project", path, "--settings",
                                         "benchproject.settings", "--", "migrate", "--noinput", "-v", "0"])
            assert done.returncode == 0, done.stdout + done.stderr
            yield served
        finally:
            engine.drop(database)


@pytest.fixture(scope="module")
def postgresql(project, tmp_path_factory):
    from migbench.bench.engines.postgresql import PostgresEngine

    yield from _serve(PostgresEngine, "postgresql", project, tmp_path_factory)


@pytest.fixture(scope="module")
def mariadb(project, tmp_path_factory):
    from migbench.bench.engines.mariadb import MariadbEngine

    yield from _serve(MariadbEngine, "mariadb", project, tmp_path_factory)


@pytest.fixture(params=ENGINES)
def served(request) -> Served:
    return request.getfixturevalue(request.param)


def _replayed(served: Served, label: str) -> tuple[Database, list[dict]]:
    """A fresh database rebuilt by execute_sql.py from the capture, with the engine's argv."""
    database = served.engine.fresh(served.workdir, label, resolve_line(LINE))
    events = served.workdir / ("%s-events.jsonl" % label)
    argv = database.replay_argv(served.env.python, served.ddl, events)
    assert argv[:3] == [str(served.env.python), str(EXECUTE_SQL), "--url"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)  # no Django settings at all
    assert done.returncode == 0, done.stderr
    return database, [json.loads(line) for line in events.read_text().splitlines()]


# -- the floor ---------------------------------------------------------------------------------

def test_the_floor_rebuilds_the_schema_migrate_built(served):
    entries = [json.loads(line) for line in served.ddl.read_text().splitlines()]
    markers = [e for e in entries if "migration" in e]
    assert markers and all(e["atomic"] is True for e in markers)
    assert markers[0]["migration"] == "contenttypes.0001_initial"
    assert "django_migrations" in entries[0]["sql"]  # the recorder's table, before any migration
    assert not any("params" in e for e in entries)  # every value inlined by the driver's own quoting
    database, events = _replayed(served, "floor")
    try:
        start, end = events[0], events[-1]
        module = "psycopg" if served.engine.name == "postgresql" else "MySQLdb"
        assert start["event"] == "start" and start["driver"].split()[0] == module
        assert end == dict(end, event="end", exit=0, statements=len(entries) - len(markers))
        applied = [e["migration"] for e in events if e["event"] == "apply_success"]
        assert applied == [e["migration"] for e in markers]
        assert diff(served.engine.snapshot(served.migrated), served.engine.snapshot(database)) == []
    finally:
        served.engine.drop(database)


# -- the write probe ---------------------------------------------------------------------------

def _write_rows(served: Served, database: Database) -> dict:
    done = served.run(database, [WRITE_ROWS, "--project", served.project, "--settings", "benchproject.settings"])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert (done.returncode == 0) == result["ok"], done.stderr
    return result


def test_write_rows_catches_a_foreign_key_to_the_wrong_table_on_postgresql(postgresql):
    """The FK keeps Django's DEFERRABLE INITIALLY DEFERRED: only checked at commit unless the probe
    asks for immediate checks; either way the probe must fail, naming the constraint."""
    engine = postgresql.engine
    database, _ = _replayed(postgresql, "broken")  # the same schema, no rows yet
    try:
        name = engine.database_name(database)
        with contextlib.closing(engine.connect(engine.server, name)) as connection:
            table, constraint, column = connection.execute(
                "SELECT c.conrelid::regclass::text, c.conname, a.attname FROM pg_constraint c"
                " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]"
                " WHERE c.contype = 'f' AND c.conrelid::regclass::text NOT LIKE 'auth%'"
                " AND c.conrelid::regclass::text NOT LIKE 'django%' AND a.atttypid = 'integer'::regtype"
                " ORDER BY 1, 2 LIMIT 1").fetchone()
            connection.execute('ALTER TABLE "%s" DROP CONSTRAINT "%s"' % (table, constraint))
            connection.execute('ALTER TABLE "%s" ADD CONSTRAINT migbench_broken_fk FOREIGN KEY ("%s")'
                               ' REFERENCES auth_group (id) DEFERRABLE INITIALLY DEFERRED' % (table, column))
        result = _write_rows(postgresql, database)
    finally:
        engine.drop(database)
    assert not result["ok"]
    assert any(e["error"].startswith("IntegrityError") and "migbench_broken_fk" in e["error"]
               for e in result["errors"]), result["errors"]


# -- the dev loop's test database --------------------------------------------------------------

def test_the_test_database_is_created_and_dropped(served):
    engine = served.engine
    name = engine.database_name(served.migrated)
    with contextlib.closing(engine.connect(engine.server)) as connection:  # a killed run's leftover
        connection.cursor().execute(engine.create_database_sql(name + "_test"))
    done = served.run(served.migrated, ["manage.py", "test", "migbench_testdb", "--noinput", "-v", "2"],
                      {"PYTHONPATH": str(TESTDB_DIR)})
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Creating test database for alias 'default' ('%s_test')" % name in output
    assert "Destroying old test database" in output and "Ran 1 test" in output
    left = served.databases()
    assert name in left and name + "_test" not in left
