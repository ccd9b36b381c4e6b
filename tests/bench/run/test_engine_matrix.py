"""Server engines through the real matrix: every strategy's schema equals its baseline on
PostgreSQL and MariaDB, on the old and the new Django lines, and the records say so.

One embedded server per engine for the module (the matrix's own `serving()` nests in it, so
the server is not restarted per test); each test has its own cache root (shared environments),
so baselines and variants are made by the test. What the engine modules do by themselves
(catalog reading, server start and stop, leftovers) is tested in tests/bench/engines/.
"""

from __future__ import annotations

import os
import re

import pytest
from support import drop_one_add_index, engine_or_skip, environment_or_skip, tiny_scenario

from migbench.bench import strategies
from migbench.bench.records import ResultStore
from migbench.bench.run.executor import run_matrix
from migbench.bench.run.matrix import plan_matrix
from migbench.bench.run.options import resolve_options
from migbench.bench.run.progress import Progress
from migbench.generator.scenario import resolve_scenario
from migbench.targets import resolve_line

# One xdist group per engine (set on the fixture's params): each worker that runs an engine's
# tests starts that engine's server once, and the two engines' tests run side by side.
pytestmark = pytest.mark.e2e

# Every strategy on the line with all of them; the old and new lines with the ones that touch the
# engine differently (the reference migrate and its capture, the floor's replay with that line's
# driver, the zero deploy flow). 6.0 also times the dev loop (test database). Per-app's order on
# 1.8 is an engine-independent Django matter (tests/bench/strategies/test_strategy_lines.py).
EVERY = ("all", "per-app", "backward", "squash", "squash-final", "zero", "optimize", "floor")
LINES = [("1.8", "2.7", ("all", "zero", "floor")), ("2.2", None, ("all", "floor")),
         ("4.2", None, EVERY), ("6.0", None, ("all", "floor"))]
# Left out on 4.2 for the suite's time, with where each is still run on that engine:
# - squash-final on both: its variant is squash's squashed migrations with the replaced files deleted
#   and `replaces` dropped, so the engine runs the same operations as for squash (run here); the
#   follow-up itself is checked on SQLite on 1.8 and 6.0 (tests/bench/strategies/test_strategy_lines.py)
#   and squash-final runs on PostgreSQL on a real project (tests/bench/projects/test_real_input.py,
#   test_the_same_project_migrates_on_postgresql_with_every_other_strategy, Django 5.2).
# - optimize on PostgreSQL: run there by the same real-project test; on MariaDB it stays here.
LEFT_OUT = {("postgresql", "4.2"): ("squash-final", "optimize"), ("mariadb", "4.2"): ("squash-final",)}


def tiny():
    return tiny_scenario("tiny-engines")


@pytest.fixture(scope="module", params=[pytest.param("postgresql", marks=pytest.mark.xdist_group("engine-pg")),
                                        pytest.param("mariadb", marks=pytest.mark.xdist_group("engine-mariadb"))])
def served(request):
    engine = engine_or_skip(request.param)
    with engine.serving():
        yield engine


def _run(served, line, python, tmp_path, names, dev_loop="off"):
    environment_or_skip(line, python)
    options = resolve_options({"django": line, "python": python, "strategy": ",".join(names),
                               "database": served.name, "dev_loop": dev_loop}, {}, "test")
    matrix = plan_matrix(tiny(), options, on_note=lambda _: None)
    store = ResultStore(tmp_path / "out")
    with open(os.devnull, "w") as quiet:
        run_matrix(tiny(), options, matrix, store, ["test"], Progress(quiet))
    return matrix, {record.strategy: record for record in store.records()}


@pytest.mark.parametrize("line, python, names", LINES, ids=["1.8-py2.7", "2.2", "4.2", "6.0"])
def test_every_strategy_matches_the_baseline_on(served, line, python, names, own_cache, tmp_path):
    target = resolve_line(line)
    assert all(strategies.get(n).unsupported(target) is None for n in names)
    names = tuple(n for n in names if n not in LEFT_OUT.get((served.name, line), ()))
    dev_loop = "on" if line == "6.0" else "off"  # the test database made on the server, once per engine
    _matrix, records = _run(served, line, python, tmp_path, names, dev_loop)
    assert sorted(records) == sorted(names)
    for name, record in records.items():
        assert record.outcome == "ok", (name, record.outcome_reason, record.error)
        proof = record.validation
        assert proof["ok"] and proof["difference_count"] == 0, (name, proof)
        expected = {"all": "became the baseline", "backward": "emptied"}.get(name, "identical")
        assert proof["schema"] == expected, (name, proof)
        if name != "backward":
            assert proof["rows"].startswith("ok:"), (name, proof["rows"])
        assert record.problems() == [], (name, record.problems())
        database = record.database
        assert database["engine"] == served.name and database["server"] == "embedded"
        assert re.match(r"^\d+\.\d+", database["server_version"]), database
        assert database["driver"]["module"] in ("psycopg", "psycopg2", "MySQLdb"), database
        assert database["driver"]["version"], database
        memory = database["server_memory"]
        assert memory["peak_bytes"] and memory["peak_bytes"] > 1024 * 1024, memory
        assert memory["peak_bytes"] != record.peak_rss_bytes
        if name == "zero":
            assert record.deploy["ok"], record.deploy
        if dev_loop == "on" and strategies.get(name).dev_loop:
            assert record.dev_loop["test database (migrations)"]["outcome"] == "ok", record.dev_loop
    assert len({records[n].validation["fingerprint"] for n in names if n != "backward"}) == 1
    # nothing of ours is left on the server: every scratch database (and _test) was dropped
    assert _scratch_databases(served) == []


def _scratch_databases(engine) -> list[str]:
    import contextlib

    with contextlib.closing(engine.connect(engine.server)) as connection:
        cursor = connection.cursor()
        if engine.name == "postgresql":
            cursor.execute("SELECT datname FROM pg_database")
        else:
            cursor.execute("SHOW DATABASES")
        return sorted(row[0] for row in cursor.fetchall() if row[0].startswith("migbench_"))


@pytest.mark.xdist_group("engine-pg")
def test_a_broken_squash_is_caught_on_postgresql(own_cache, tmp_path, monkeypatch):
    """A real squash with one AddIndex deleted by hand: migrate succeeds on PostgreSQL, the schema
    proof (read from pg_catalog) finds the missing index and names its table."""
    from migbench.bench.records import Cell
    from migbench.bench.run import executor as runner, matrix
    from migbench.bench.strategies import variants
    from migbench.bench.strategies.transforms import transform

    engine = engine_or_skip("postgresql")
    env = environment_or_skip("4.2")
    scenario = resolve_scenario("quick")
    project = matrix.prepare_project(scenario, "4.2", on_note=lambda _: None)
    broken = tmp_path / "squashed"
    report = transform("squash", project, broken, env, on_note=lambda _: None)
    removed = drop_one_add_index(broken, "apps/*/migrations/*_squashed_*.py")
    monkeypatch.setattr(variants, "ensure", lambda *a, **k: variants.Variant(broken, report.to_dict()))
    options = resolve_options({"django": "4.2", "strategy": "squash", "database": "postgresql",
                               "limiter": "none", "dev_loop": "off"}, {}, "test")
    driver = matrix.install_driver(env, engine, resolve_line("4.2"), lambda _: None)
    planned = matrix.PlannedCell(Cell(scenario.name, scenario.sha256, "squash", env.django_version,
                                      env.python_version, None, "postgresql"), env, engine, driver)
    with engine.serving():
        record = runner.run_once(planned, 1, project, scenario, options, ["test"], on_note=lambda _: None)
    assert record.outcome == "ok"  # migrate itself succeeded...
    assert not record.validation["ok"]  # ...but the schema is not the baseline's
    objects = [d["object"] for d in record.validation["differences"]]
    assert any(removed in o for o in objects), (removed, objects)

