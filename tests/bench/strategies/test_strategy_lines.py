"""Every strategy on the old and the new Django lines, through the real matrix.

The other strategy tests run on the default line only, which is how per-app's
failure on Django 1.8 slipped through (issue 14: `migrate contenttypes` alone
fails there in auth's post_migrate handler). Here a tiny project (2 apps of 2
models, 2 migrations each, one cross-app dependency and one RunPython) goes
through options, the matrix and the executor on each line with every strategy
the line has (on the oldest, 1.7, and the newest, 6.1; the lines in between run the ones
whose code paths differ there, see LINES), into a ResultStore; every record must be ok and valid, and
per-app's must say the order it used and why.

Each test gets a cache root of its own (the environments are shared through
symlinks), so the baseline, per-app's order and the transformed variants are
made by the test, every time, and nothing is left behind.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from support import environment_or_skip, tiny_scenario

from migbench.bench import strategies
from migbench.bench.records import ResultStore
from migbench.bench.run.executor import run_matrix
from migbench.bench.run.matrix import plan_matrix
from migbench.bench.run.options import resolve_options
from migbench.bench.run.progress import Progress
from migbench.bench.strategies.per_app import arrange
from migbench.targets import resolve_line

pytestmark = pytest.mark.e2e

STRATEGIES = ("all", "per-app", "backward", "squash", "squash-final", "zero", "optimize", "floor")
CONTRIB = ("contenttypes", "auth")


def tiny(target=None):
    """The tiny project; 1.7 (no RunSQL: another draw of the history) gets the seed that keeps its
    cross-app dependency and RunPython there."""
    if target is not None and not target.has_run_sql_lists:
        return tiny_scenario("tiny-lines", seed=2027)
    return tiny_scenario("tiny-lines")


# Every strategy the line has on the oldest (1.7) and the newest (6.1) line; on the lines in between,
# the ones whose code paths differ there (for the suite's time):
# - 1.8 (Python 2.7): per-app, whose failure there was issue 14 (1.7 takes the same < 1.10 rule: auth
#   first); zero's stubs without `initial = True` (< 1.9) checked by showmigrations (1.8-1.10; 1.7 lists
#   with `migrate --list`), a pair no other line has.
# - 1.11 (Python 2.7, the last 1.x): per-app's >= 1.10 order rule and the shim's >= 1.11 model-base
#   path under Python 2; zero's stubs with `initial = True` (>= 1.9) checked by showmigrations (< 4.0),
#   a pair no other line has; floor's replay with SQLite's legacy ALTER TABLE (< 2.2) on a 1.x > 1.8.
# - 2.2 (Python 3, the first line without legacy ALTER TABLE): per-app, floor's replay without it,
#   squash by that Django's squashmigrations.
# What the middle lines leave out is still run elsewhere: squash and squash-final by Python 2.7's port,
# backward and floor with legacy ALTER TABLE on 1.7 here; backward and squash-final on 6.1
# here, on 4.2 on PostgreSQL and MariaDB (tests/bench/run/test_engine_matrix.py) and backward on 5.2
# (test_strategies.py); squash on 1.7, 2.2, 6.1 and 4.2 on both engines; zero on 1.7, 1.8, 6.1 and
# 1.8 on both engines; 4.2 runs every strategy on PostgreSQL and MariaDB and 5.2 on SQLite
# (test_strategies.py, the four without a transform): 4.2 and 5.2 are left out here, and 6.0, whose
# strategies take the paths 6.1's do (1.8 and 6.0 were the ends until 1.7 and 6.1 joined).
EVERY = None  # every strategy the line supports
LINES = [("1.7", "2.7", EVERY), ("1.8", "2.7", ("per-app", "zero")),
         ("1.11", "2.7", ("all", "per-app", "zero", "floor")),
         ("2.2", None, ("all", "per-app", "squash", "floor")), ("6.1", None, EVERY)]


@pytest.mark.parametrize("line, python, only", LINES, ids=["1.7-2.7", "1.8-2.7", "1.11-2.7", "2.2", "6.1"])
def test_every_strategy_is_ok_and_valid_on(line, python, only, own_cache, tmp_path):
    environment_or_skip(line, python)
    target = resolve_line(line)
    names = [name for name in STRATEGIES if strategies.get(name).unsupported(target) is None]
    assert ("optimize" in names) == target.at_least("4.1")
    if only is not EVERY:
        assert set(only) <= set(names), (line, only, names)
        names = [name for name in names if name in only]
    scenario = tiny(target)
    options = resolve_options({"django": line, "python": python, "strategy": ",".join(names),
                               "dev_loop": "off"}, {}, "test")
    matrix = plan_matrix(scenario, options, on_note=lambda _: None)
    _check_tiny(matrix.project)
    store = ResultStore(tmp_path / "out")
    with open(os.devnull, "w") as quiet:
        run_matrix(scenario, options, matrix, store, ["test"], Progress(quiet))
    records = {record.strategy: record for record in store.records()}
    assert sorted(records) == sorted(names)

    for name, record in records.items():
        assert record.django_version.startswith(line + "."), record.django_version
        assert record.outcome == "ok", (name, record.outcome_reason, record.error)
        proof = record.validation
        assert proof["ok"] and proof["difference_count"] == 0, (name, proof)
        # `all` runs first on a fresh cache: its schema becomes the baseline the others must equal
        expected = {"backward": "emptied", "all": "became the baseline"}.get(name, "identical")
        assert proof["schema"] == expected, (name, proof["schema"])
        if name != "backward":
            assert proof["rows"].startswith("ok:"), (name, proof["rows"])
        assert record.problems() == [], (name, record.problems())
    assert len({records[n].validation["fingerprint"] for n in names if n != "backward"}) == 1

    if "per-app" in records:
        _check_per_app_order(records["per-app"], matrix.project, target)


def _check_per_app_order(record, project, target):
    """The steps follow the rule, and the record's note says the order and the rule."""
    migrated = [step["command"][1] for step in record.steps]
    project_apps = [app for app in migrated if app not in CONTRIB]
    assert sorted(project_apps) == sorted(_project_apps(project))
    (note,) = [n for n in record.notes if n.startswith("per-app order: ")]
    assert note.startswith("per-app order: %s. Rule: the full plan's order" % ", ".join(migrated)), note
    if target.at_least("1.10"):
        # post_migrate handlers see the migrated state: contenttypes migrates by itself
        assert migrated[:2] == ["contenttypes", "auth"], migrated
        assert "first app, contenttypes, migrates by itself" in note, note
    else:
        # auth's create_permissions queries auth_permission after every migrate: auth goes first,
        # and its step applies contenttypes' migrations, which it depends on
        assert migrated[:2] == ["auth", "contenttypes"], migrated
        assert "migrate contenttypes alone fails: " in note and "auth_permission" in note, note
        assert "migrate auth also applies contenttypes" in note, note
        applied = [e["migration"] for e in record.events
                   if e["event"] == "apply_success" and e["step"] == "migrate auth"]
        assert applied and applied[0].startswith("contenttypes."), applied


def _project_apps(project):
    return json.loads((project / "migbench.json").read_text(encoding="utf-8"))["apps"]


def _check_tiny(project):
    """What the tiny project must still exercise: a cross-app dependency and a RunPython."""
    apps = _project_apps(project)
    assert len(apps) == 2
    cross = run_python = False
    for path in sorted(project.glob("apps/*/migrations/0*.py")):
        text, app = path.read_text(encoding="utf-8"), path.parent.parent.name
        cross |= any(dep in apps and dep != app for dep in re.findall(r"\('(\w+)', '\d{4}_", text))
        run_python |= "RunPython(" in text
    assert cross and run_python, "the tiny project lost its cross-app dependency or its RunPython"


def test_the_order_rule_without_running_django():
    """What per-app does with what the tries found (the e2e tests above get it from Django)."""
    plan = ["contenttypes", "auth", "shop", "blog"]
    moved = arrange(plan, {"first": "auth", "fails": {"contenttypes": "OperationalError: no such table: "
                                                                      "auth_permission"},
                           "carries": ["contenttypes"]})
    assert moved.apps == ["auth", "contenttypes", "shop", "blog"]
    assert "migrate contenttypes alone fails: OperationalError: no such table: auth_permission" in moved.note
    assert arrange(plan, {"first": "contenttypes", "fails": {}, "carries": []}).apps == plan
    kept = arrange(plan, {"first": None, "fails": {app: "boom" for app in plan}, "carries": []})
    assert kept.apps == plan and "no app migrates by itself" in kept.note
    assert [s.args for s in strategies.get("per-app").steps(moved.apps, ["shop", "blog"])][0] == (
        "migrate", "auth", "--noinput")


def test_17_lists_migrations_with_migrate_list():
    """1.7 has no showmigrations (1.8 moved `migrate --list` there) and no `test --keepdb`: the dev
    loop's plan step and zero's deploy check list with `migrate --list` (the dev loop keeps the
    step's name, `showmigrations`, for the reports), and the kept test-database modes are skipped."""
    from migbench.bench.strategies.daily import dev_loop_steps
    from migbench.bench.strategies.zero import deploy_steps

    listings = (("1.7", ("migrate", "--list")), ("1.8", ("showmigrations",)), ("2.1", ("showmigrations",)))
    for line, listing in listings:
        target = resolve_line(line)
        plan = [step for step in dev_loop_steps(target) if step.verdict == "nothing-to-do"]
        assert [(step.name, step.args) for step in plan] == [("showmigrations", listing)]
        assert deploy_steps(target)[2].args == listing
    assert not resolve_line("1.7").has_keepdb and resolve_line("1.8").has_keepdb


@pytest.mark.parametrize("line, python", [("6.1", None)])  # 1.7 (--strategy rollback on quick) and 1.8-5.2
# ran it in the studies (results/)
def test_rollback_unapplies_one_leaf_and_times_its_reapply(line, python, own_cache, tmp_path):
    """#34841's shape: one migration unapplied (measured), then re-applied (its forward counterpart,
    in the steps, not in the wall); the database ends at the full schema, validated."""
    environment_or_skip(line, python)
    scenario = tiny()
    options = resolve_options({"django": line, "python": python, "strategy": "rollback", "dev_loop": "off"},
                              {}, "test")
    matrix = plan_matrix(scenario, options, on_note=lambda _: None)
    store = ResultStore(tmp_path / "out")
    with open(os.devnull, "w") as quiet:
        run_matrix(scenario, options, matrix, store, ["test"], Progress(quiet))
    [record] = store.records()
    assert record.outcome == "ok" and record.validation["ok"], (record.outcome_reason, record.validation)
    assert record.validation["schema"] in ("identical", "became the baseline")
    setup, unapply, reapply = record.steps
    assert (setup["role"], unapply["role"], reapply["role"]) == ("setup", "measured", "counterpart")
    assert unapply["name"].startswith("unapply ") and reapply["name"] == "re-apply " + unapply["name"][8:]
    assert record.wall_s == unapply["wall_s"]  # the counterpart is timed apart, not counted
    undone = [e["migration"] for e in record.events if e["event"] == "unapply_success"]
    assert undone == [unapply["name"][8:]]  # a leaf: nothing else had to go with it
    assert any(note.startswith("rollback: %s, the project's leaf migration earliest" % undone[0])
               for note in record.notes)
