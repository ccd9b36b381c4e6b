"""The two extension points of docs/architecture.md, used as a newcomer would: a strategy and a
database engine, each defined in one place and registered, run through the real matrix.

Nothing else is edited for them: options accept their names, the matrix plans them, the
executor runs them, the record names them, the validation proves them. Real `migrate`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support import environment_or_skip

from migbench.bench import engines, strategies
from migbench.bench.engines.sqlite import SqliteEngine
from migbench.bench.measure.step import MEASURED, StepSpec
from migbench.bench.records import ResultStore
from migbench.bench.run.executor import run_matrix
from migbench.bench.run.matrix import plan_matrix
from migbench.bench.run.options import resolve_options
from migbench.bench.run.progress import Progress
from migbench.bench.strategies import registry
from migbench.bench.strategies.base import MIGRATE, Strategy
from migbench.generator.scenario import resolve_scenario
from migbench.targets import DEFAULT_LINE

pytestmark = pytest.mark.e2e


class MigrateTwice(Strategy):
    """`migrate`, then `migrate` again: the second finds nothing to do."""

    def steps(self, app_order, project_apps):
        return [StepSpec("migrate", MEASURED, MIGRATE), StepSpec("migrate again", MEASURED, MIGRATE)]


class SqliteElsewhere(SqliteEngine):
    """SQLite files kept in a folder of the engine's own, and every database it made and dropped."""

    name = "sqlite-elsewhere"
    aliases = ()

    def __init__(self, home: Path):
        self.home, self.made, self.dropped = home, [], []

    def fresh(self, workdir, label, line=None):
        self.made.append(label)
        return super().fresh(self.home, label, line)

    def drop(self, database):
        self.dropped.append(database.label)
        super().drop(database)


def measure(tmp_path: Path, **cli) -> list:
    """One matrix of quick on the default line, through options, plan and executor; its records."""
    environment_or_skip(DEFAULT_LINE)
    scenario = resolve_scenario("quick")
    options = resolve_options(dict(django=DEFAULT_LINE, **cli), {}, "test")
    matrix = plan_matrix(scenario, options, on_note=lambda _: None)
    store = ResultStore(tmp_path / "out")
    run_matrix(scenario, options, matrix, store, ["test"], Progress(open("/dev/null", "w")))
    return store.records()


def test_a_new_strategy_is_one_class_and_a_registration(tmp_path):
    strategies.register(MigrateTwice("migrate-twice", "migrate, then migrate again"))
    try:
        (record,) = measure(tmp_path, strategy="migrate-twice")
    finally:
        del registry.STRATEGIES["migrate-twice"]
    assert record.strategy == "migrate-twice" and record.outcome == "ok", record.outcome_reason
    assert [step["name"] for step in record.steps] == ["migrate", "migrate again"]
    assert record.validation["ok"] and record.validation["schema"] == "identical", record.validation


def test_a_new_engine_is_one_class_and_a_registration(tmp_path):
    engine = engines.register(SqliteElsewhere(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    try:
        (record,) = measure(tmp_path, database="sqlite-elsewhere")
    finally:
        del engines.ENGINES["sqlite-elsewhere"]
    assert record.outcome == "ok", record.outcome_reason
    assert record.database == {"engine": "sqlite-elsewhere", "fresh": True}
    assert record.cell().database == "sqlite-elsewhere"
    assert "main" in engine.made and sorted(engine.made) == sorted(engine.dropped), (engine.made, engine.dropped)
    assert not list((tmp_path / "home").glob("*.sqlite3")), "every database it made was dropped"
    assert record.validation["ok"], record.validation
