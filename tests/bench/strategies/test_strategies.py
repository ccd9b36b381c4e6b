"""Strategies end to end (real `migrate` children, real schema comparisons) and their parts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import drop_one_add_index, environment_or_skip

from migbench.bench import engines, strategies
from migbench.bench.engines.schema import diff
from migbench.bench.engines.sqlite import snapshot
from migbench.bench.measure.step import judge
from migbench.bench.measure.worker import EXECUTE_SQL
from migbench.bench.records import load_record
from migbench.bench.run import options as plan
from migbench.bench.strategies import baseline, daily, zero
from migbench.errors import MigbenchError
from migbench.generator import build_project, write_project
from migbench.generator.scenario import resolve_scenario
from migbench.targets import DEFAULT_LINE, resolve_line

pytestmark = pytest.mark.xdist_group("test_strategies")

MIGBENCH = [sys.executable, "-m", "migbench"]


def migbench(*args, timeout=900):
    return subprocess.run(MIGBENCH + list(args), capture_output=True, text=True, timeout=timeout)


# -- what each strategy runs -------------------------------------------------------------------


ORDER = ["contenttypes", "auth", "shop", "blog"]


def test_per_app_migrates_every_app_in_plan_order():
    specs = strategies.get("per-app").steps(ORDER, ["shop", "blog"])
    assert [s.args for s in specs] == [("migrate", app, "--noinput") for app in ORDER]
    assert {s.role for s in specs} == {"measured"}


def test_backward_unapplies_the_project_apps_dependents_first():
    specs = strategies.get("backward").steps(ORDER, ["shop", "blog"])
    assert specs[0].role == "setup" and specs[0].args == ("migrate", "--noinput")
    assert [s.args for s in specs[1:]] == [("migrate", "blog", "zero", "--noinput"),
                                           ("migrate", "shop", "zero", "--noinput")]


def test_floor_replays_sql_and_the_others_migrate():
    assert strategies.get("floor").steps(ORDER, [])[0].kind == "sql"
    for name in ("all", "squash", "squash-final", "zero", "optimize"):
        (only,) = strategies.get(name).steps(ORDER, [])
        assert only.args == ("migrate", "--noinput") and only.role == "measured"


@pytest.mark.parametrize("line, makemigrations, plan_args", [
    ("1.8", ("makemigrations", "--dry-run"), ("showmigrations",)),
    ("1.11", ("makemigrations", "--check", "--dry-run"), ("showmigrations",)),
    ("5.2", ("makemigrations", "--check", "--dry-run"), ("migrate", "--plan")),
])
def test_dev_loop_uses_what_each_line_has(line, makemigrations, plan_args):
    mm, plan_step, testdb = daily.dev_loop_steps(resolve_line(line))
    assert mm.args == makemigrations and mm.verdict == "no-changes"
    assert plan_step.args == plan_args and plan_step.verdict == "nothing-to-do"
    assert testdb.args == ("test", "migbench_testdb", "--noinput")


def test_zero_deploy_checks_with_migrate_check_where_it_exists():
    assert zero.deploy_steps(resolve_line("5.2"))[2].args == ("migrate", "--check", "--noinput")
    assert zero.deploy_steps(resolve_line("2.2"))[2].args == ("showmigrations",)
    setup, fake, _ = zero.deploy_steps(resolve_line("5.2"))
    assert setup.project == "original" and setup.database == fake.database == "deploy"


def test_optimize_needs_django_4_1():
    assert strategies.get("optimize").unsupported(resolve_line("5.2")) is None
    assert "Django >= 4.1" in strategies.get("optimize").unsupported(resolve_line("2.2"))
    with pytest.raises(MigbenchError, match="unknown strategy 'fast'"):
        strategies.get("fast")


@pytest.mark.parametrize("rule, code, out, verdict", [
    ("no-changes", 0, "No changes detected\n", "no changes"),
    ("no-changes", 1, "Migrations for 'shop':\n  0002_x.py\n", "changes detected"),
    ("no-changes", 0, "Migrations for 'shop':\n", "changes detected"),  # 1.8's dry run exits 0
    ("nothing-to-do", 0, "Planned operations:\n  No planned migration operations.\n", "nothing to do"),
    ("nothing-to-do", 0, "Planned operations:\nshop.0002_x\n    Add field\n", "unapplied migrations"),
    ("nothing-to-do", 0, "shop\n [X] 0001_initial\n [ ] 0002_x\n", "unapplied migrations"),
    ("nothing-to-do", 1, "", "unapplied migrations"),  # migrate --check
    ("nothing-to-do", 0, "shop\n [X] 0001_initial\n", "nothing to do"),
])
def test_check_verdicts(rule, code, out, verdict):
    assert judge(rule, code, out) == verdict


def test_dev_loop_option():
    options = plan.resolve_options({"strategy": "all,zero"}, {}, "x.toml")
    assert options.dev_loop == "auto"
    with pytest.raises(MigbenchError, match="x.toml: run.dev_loop: 'sometimes'"):
        plan.resolve_options({}, {"dev_loop": "sometimes"}, "x.toml")
    with pytest.raises(MigbenchError, match="unknown strategy 'fastest'"):
        plan.resolve_options({"strategy": "fastest"}, {}, "x.toml")


# -- real runs -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def four_strategies(tmp_path_factory):
    """quick on the default line with the four strategies that need no transformation."""
    environment_or_skip(DEFAULT_LINE)
    out = tmp_path_factory.mktemp("results") / "quick"
    proc = migbench("run", "quick", "--django", DEFAULT_LINE, "--strategy", "all,per-app,backward,floor",
                    "--dev-loop", "on", "--out", str(out))
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return {load_record(p).strategy: load_record(p) for p in out.glob("*.json")}, proc


@pytest.mark.e2e
def test_every_strategy_ends_with_the_baseline_schema(four_strategies):
    records, proc = four_strategies
    assert set(records) == {"all", "per-app", "backward", "floor"}
    for name in ("all", "per-app", "floor"):
        validation = records[name].validation
        assert validation["ok"] and validation["difference_count"] == 0, (name, validation)
        assert validation["rows"].startswith("ok:")
        assert records[name].problems() == []
    assert records["backward"].validation["schema"] == "emptied"
    assert len({records[n].validation["fingerprint"] for n in ("all", "per-app", "floor")}) == 1
    assert "strategies vs all" in proc.stdout and "x all" in proc.stdout


@pytest.mark.e2e
def test_per_app_records_each_step_and_the_worst(four_strategies):
    record = four_strategies[0]["per-app"]
    manifest = json.loads((Path(record.project["path"]) / "migbench.json").read_text())
    migrated = [s["command"][1] for s in record.steps]
    assert set(manifest["apps"]) <= set(migrated) and "contenttypes" in migrated
    assert record.wall_s == pytest.approx(sum(s["wall_s"] for s in record.steps), abs=0.01)
    assert record.peak_rss_bytes == max(s["peak_rss_bytes"] for s in record.steps)
    assert "peaks the worst step's" in record.notes[-1]
    assert {e["step"] for e in record.events} == {s["name"] for s in record.steps}
    times = [e["t"] for e in record.events]
    assert times == sorted(times)


@pytest.mark.e2e
def test_backward_counts_only_the_way_back(four_strategies):
    record = four_strategies[0]["backward"]
    setup, *back = record.steps
    assert setup["role"] == "setup" and all(s["role"] == "measured" for s in back)
    assert record.wall_s == pytest.approx(sum(s["wall_s"] for s in back), abs=0.01)
    assert any(e["event"] == "unapply_success" for e in record.events)


@pytest.mark.e2e
def test_floor_never_imports_django(four_strategies):
    record = four_strategies[0]["floor"]
    assert record.command["child"][1] == str(EXECUTE_SQL)
    assert not any(e["event"] == "setup_end" for e in record.events)
    assert any(e["event"] == "apply_success" for e in record.events)


@pytest.mark.e2e
def test_dev_loop_is_timed_only_where_the_project_changes(four_strategies):
    records = four_strategies[0]
    loop = records["all"].dev_loop
    assert {"makemigrations --check", "migrate --plan", "test database (migrations)"} <= set(loop)
    assert loop["makemigrations --check"]["verdict"] == "no changes"
    assert loop["migrate --plan"]["verdict"] == "nothing to do"
    tests = loop["test database (migrations)"]
    assert tests["outcome"] == "ok" and tests["phases"]["applying"] > 0
    assert records["per-app"].dev_loop is None and records["floor"].dev_loop is None


@pytest.mark.e2e
@pytest.mark.parametrize("line, python", [("1.9", "2.7"), ("6.0", None)])
def test_captured_ddl_rebuilds_the_schema_without_django(tmp_path, line, python):
    """The floor's replay equals migrate on old Django (legacy ALTER TABLE) and the newest."""
    env = environment_or_skip(line, python)
    project = tmp_path / "project"
    write_project(build_project(resolve_scenario("quick"), resolve_line(line)), project)
    reference = baseline.ensure(project, env, engines.get("sqlite"), need_capture=True, on_note=lambda _: None)
    assert reference.ddl is not None and reference.app_order[:2] == ["contenttypes", "auth"]
    floor = tmp_path / "floor.sqlite3"
    argv = [str(env.python), str(EXECUTE_SQL), "--database", str(floor), "--statements", str(reference.ddl)]
    if resolve_line(line).needs_sqlite_legacy_alter_table:
        argv.append("--legacy-alter-table")
    done = subprocess.run(argv, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert diff(reference.schema, snapshot(floor)) == []
    shutil.rmtree(baseline.directory(project, env, engines.get("sqlite")), ignore_errors=True)


@pytest.mark.e2e
def test_a_broken_squash_fails_validation_and_names_the_object(tmp_path, monkeypatch):
    """A real squash of quick, then one AddIndex deleted from a squashed migration by hand:
    migrate still succeeds, the validation catches the missing index and names it."""
    from migbench.bench.records import Cell
    from migbench.bench.run import executor as runner, matrix
    from migbench.bench.run.options import RunOptions
    from migbench.bench.strategies import variants
    from migbench.bench.strategies.transforms import transform

    env = environment_or_skip(DEFAULT_LINE)
    scenario = resolve_scenario("quick")
    project = matrix.prepare_project(scenario, DEFAULT_LINE, on_note=lambda _: None)
    broken = tmp_path / "squashed"
    report = transform("squash", project, broken, env, on_note=lambda _: None)
    assert any(a.status == "squashed" for a in report.apps)
    removed = drop_one_add_index(broken, "apps/*/migrations/*_squashed_*.py")
    monkeypatch.setattr(variants, "ensure", lambda *a, **k: variants.Variant(broken, report.to_dict()))
    planned = matrix.PlannedCell(Cell(scenario.name, scenario.sha256, "squash", env.django_version,
                                      env.python_version, None, "sqlite"), env)
    options = RunOptions((DEFAULT_LINE,), (None,), (None,), ("squash",), 1, ("sqlite",), "none", None, 0.05)
    record = runner.run_once(planned, 1, project, scenario, options, ["test"], on_note=lambda _: None,
                             dev_loop=True)
    assert record.outcome == "ok"  # migrate itself succeeded...
    assert not record.validation["ok"]  # ...but the schema is not the baseline's
    objects = [d["object"] for d in record.validation["differences"]]
    assert any(removed in o for o in objects), (removed, objects)
    assert any("schema differs" in p for p in record.problems())
    assert record.dev_loop["makemigrations --check"]["verdict"] == "changes detected"


def test_a_cell_that_cannot_be_prepared_does_not_stop_the_others(tmp_path, monkeypatch):
    """A transformation that fails outright: no record for that cell, the rest run, one error at the end."""
    from support import make_record

    from migbench.bench.records import Cell, ResultStore
    from migbench.bench.run import executor as runner
    from migbench.bench.run.matrix import Matrix, PlannedCell
    from migbench.bench.run.progress import Progress

    scenario = resolve_scenario("quick")
    env = object()
    cells = [PlannedCell(Cell(scenario.name, scenario.sha256, name, "5.2.19", "3.11.7", None, "sqlite"), env)
             for name in ("all", "zero", "floor")]
    matrix = Matrix(cells, [], tmp_path, "5.2")

    def run_once(planned, repeat, *args, **kwargs):
        if planned.cell.strategy == "zero":
            raise MigbenchError("makemigrations failed")
        cell = planned.cell
        return make_record(strategy=cell.strategy, repeat=repeat, django_version=cell.django_version,
                           python_version=cell.python_version, memory_limit_bytes=None,
                           scenario={"name": cell.scenario, "sha256": cell.scenario_sha256, "seed": 2015,
                                     "source": "quick.toml"})

    monkeypatch.setattr(runner, "run_once", run_once)
    options = plan.resolve_options({"strategy": "all,zero,floor", "repeat": "2", "django": "5.2"}, {}, "x")
    store = ResultStore(tmp_path / "out")
    with pytest.raises(runner.UnpreparedCells, match=r"1 cell\(s\) could not be prepared.*zero.*makemigrations failed"):
        runner.run_matrix(scenario, options, matrix, store, ["test"], Progress(open("/dev/null", "w")))
    assert sorted(r.strategy for r in store.records()) == ["all", "all", "floor", "floor"]
