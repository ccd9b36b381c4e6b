"""`[[generator.app]]` tables: per-app sizes, exact operation counts, links (generator/scenario.py,
generator/plan.py, generator/history.py), and the alter_model_options kind.

Scenarios are parsed and built in memory (milliseconds each); one project using every
feature at once is checked on real Django 1.8 and 5.2 (check, makemigrations --check,
migrate, back to zero, migrate, rows), and a twin's in tests/migbench/test_twin.py.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from migbench.bench.run.check import validate_project
from migbench.errors import ScenarioError
from migbench.generator import build_project, write_project
from migbench.generator.plan import spread
from migbench.generator.scenario import (OPERATIONS, AppParams, GeneratorParams, HistoryParams,
                                         RelationParams, parse_scenario)
from migbench.targets import resolve_line

SOURCE = "twin.toml"

THREE_APPS = """
[generator]
seed = 3
names = "plain"

[[generator.app]]
models = 2
migrations = 4
operations = { add_field = 3, run_python = 2, alter_model_options = 2 }

[[generator.app]]
models = [3, 3]
migrations = 1
fields_per_model = 1
relations_per_model = 2
cross_app_share = 1
links = [1]

[[generator.app]]
models = 5
migrations = 6
operations = { create_model = 1, delete_model = 1, add_index = 2, remove_field = 1, run_sql = 1 }
proxy_share = 0
added_relation_share = 1
"""


def build(text: str, line: str = "5.2"):
    return build_project(parse_scenario(text, SOURCE), resolve_line(line))


def refusal(text: str) -> str:
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text, SOURCE)
    message = str(error.value)
    assert "\n" not in message and message.startswith(SOURCE + ": "), message
    return message


# -- parsing -------------------------------------------------------------------------------------------


def test_app_tables_parse_and_apps_defaults_to_their_number():
    params = parse_scenario(THREE_APPS, SOURCE).generator
    assert params.apps == 3
    assert params.app[0] == AppParams(models=(2, 2), migrations=(4, 4),
                                      operations={"add_field": 3, "run_python": 2, "alter_model_options": 2})
    assert params.app[1].links == (1,) and params.app[1].cross_app_share == 1.0
    assert params.app_params(7) == AppParams()  # apps beyond the tables: the [generator] values


def test_apps_may_exceed_the_tables():
    params = parse_scenario("[generator]\napps = 5\n[[generator.app]]\nmodels = 1\n", SOURCE).generator
    assert params.apps == 5 and len(params.app) == 1


def test_no_tables_is_what_it_always_was():
    assert parse_scenario("[generator]\n", SOURCE).generator == GeneratorParams()
    assert HistoryParams().operations["alter_model_options"] == 0  # a new kind weighs 0 unless named
    assert set(HistoryParams().operations) == set(OPERATIONS)


@pytest.mark.parametrize("text, fragments", [
    ("[generator]\napps = 1\n[[generator.app]]\n[[generator.app]]\n",
     ("generator.apps: 1, but 2 [[generator.app]] tables",)),
    ("[generator]\napp = 3\n", ("generator.app: expected one or more [[generator.app]] tables",)),
    ("[generator]\napp = []\n", ("generator.app: expected one or more",)),
    ("[[generator.app]]\nmodels = 0\n", ("generator.app[1].models", ">= 1")),
    ("[[generator.app]]\n[[generator.app]]\nbogus = 1\n", ("generator.app[2].bogus: unknown key", "links")),
    ("[[generator.app]]\nmigrations = 3\noperations = { squash = 1 }\n",
     ("generator.app[1].operations", "'squash'", "alter_model_options")),
    ("[[generator.app]]\nmigrations = 3\noperations = { add_field = 1.5 }\n",
     ("generator.app[1].operations", "count of add_field", "expected an integer")),
    ("[[generator.app]]\noperations = { add_field = 2 }\n",
     ("generator.app[1].operations", "migrations must be >= 2")),
    ("[[generator.app]]\n[[generator.app]]\nlinks = [2]\n", ("generator.app[2].links: 2 is not another app",)),
    ("[[generator.app]]\nlinks = [3]\n", ("generator.app[1].links: 3",)),
    ("[[generator.app]]\nlinks = 2\n", ("generator.app[1].links: expected a list of app positions",)),
    ("[[generator.app]]\ncross_app_share = 2\n", ("generator.app[1].cross_app_share", "between 0 and 1")),
    ("[generator.inheritance]\nmulti_table_share = 0.5\n[[generator.app]]\nproxy_share = 0.6\n",
     ("generator.app[1].proxy_share", "multi_table_share")),
    ("[generator]\ncontrib_apps = [\"contenttypes\"]\n[[generator.app]]\ncontrib_share = 0.5\n"
     "contrib_targets = { user = 1 }\n", ("generator.app[1].contrib_targets: user needs auth",)),
    ("[generator]\ncontrib_apps = []\n[[generator.app]]\ncontrib_share = 0.5\n",
     ("generator.app[1].contrib_share", "need auth in generator.contrib_apps")),
    ("[[generator.app]]\ncontrib_targets = { admin = 1 }\n", ("generator.app[1].contrib_targets", "'admin'")),
    ("[generator.relations]\ntarget_skew = -1\n", ("generator.relations.target_skew", "from 0 to 10")),
    ("[generator.history]\nmodel_skew = \"1\"\n", ("generator.history.model_skew", "from 0 to 10")),
])
def test_bad_app_tables_are_one_line(text, fragments):
    message = refusal(text)
    for fragment in fragments:
        assert fragment in message, message


# -- generation ----------------------------------------------------------------------------------------


def operations_of(project, app: str) -> Counter:
    return Counter(op.kind for m in project.history.migrations_of(app) for op in m.operations)


def test_each_app_gets_its_migrations_and_exactly_its_planned_operations():
    project = build(THREE_APPS)
    assert project.app_labels == ["app001", "app002", "app003"]
    assert [len(project.history.migrations_of(a)) for a in project.app_labels] == [4, 1, 6]
    first = operations_of(project, "app001")
    assert first["add_field"] == 3 and first["run_python"] == 2 and first["alter_model_options"] == 2
    assert first["create_model"] == 2  # the initial's two models, nothing else created
    later = sum(len(m.operations) for m in project.history.migrations_of("app003")[1:])
    assert later == 6  # the count holds even where a kind had to fall back


def test_every_later_migration_has_an_operation_when_there_are_enough():
    project = build(THREE_APPS)
    for app in project.app_labels:
        assert all(m.operations for m in project.history.migrations_of(app)[1:])


def test_links_choose_where_relations_cross():
    state = build(THREE_APPS).history.state
    second = state.app("app002")
    targets = {spec.to_app for model in second.models.values() for spec in model.fields.values() if spec.is_relation}
    assert targets and targets <= {"app001", "app002"}  # never app003, which links do not name
    assert all(len(model.scalar_fields()) == 1 for model in second.models.values() if model.concrete)


def test_a_data_migration_with_no_table_to_fill_only_loads_the_model():
    text = ("[generator]\nnames = \"plain\"\n[generator.relations]\nper_model = 0\n[generator.meta]\n"
            "unique_together_share = 1\n[[generator.app]]\nmodels = 1\nmigrations = 3\n"
            "operations = { run_python = 2 }\nfields_per_model = 2\n")
    project = build(text)
    data = [op for m in project.history.migrations for op in m.operations if op.kind == "run_python"]
    assert len(data) == 2 and all(op.rows == () for op in data)  # unique_together: no rows can go in
    source = next(text for path, text in project.files.items() if "0002_" in path)
    assert "bulk_create" not in source and "DELETE" not in source
    assert "apps.get_model('app001', " in source
    compile(source, "0002.py", "exec")


def test_alter_model_options_keeps_ordering_and_reaches_models_py():
    text = ("[generator]\nseed = 1\nnames = \"plain\"\n[generator.meta]\nordering_share = 1\n"
            "[generator.history]\nmigrations_per_app = 3\noperations = { alter_model_options = 1 }\n")
    project = build(text)
    options = [op for m in project.history.migrations for op in m.operations if op.kind == "alter_model_options"]
    assert options and all(op.ordering for op in options)  # AlterModelOptions drops what it is not given
    named = [m for m in project.history.state.iter_models() if m.verbose_name]
    assert named
    for model in named:
        models_py = project.files["apps/%s/models.py" % model.app]
        assert "        verbose_name = %r\n" % model.verbose_name in models_py
    assert "migrations.AlterModelOptions(" in "\n".join(project.files.values())


def test_index_operations_are_left_out_on_lines_without_meta_indexes():
    text = "[[generator.app]]\nmigrations = 3\noperations = { add_index = 2, remove_index = 1 }\n"
    project = build(text, "1.8")
    kinds = operations_of(project, project.app_labels[0])
    assert not kinds["add_index"] and not kinds["remove_index"]
    assert sum(len(m.operations) for m in project.history.migrations[1:]) == 3


def test_the_same_tables_give_the_same_bytes():
    assert build(THREE_APPS).files == build(THREE_APPS).files


@pytest.mark.parametrize("total, migrations", [(0, 3), (2, 5), (5, 5), (17, 4)])
def test_spread_deals_exactly_the_counts(total, migrations):
    counts = {"add_field": total - total // 2, "run_python": total // 2}
    dealt = spread(counts, migrations, random.Random(1))
    assert len(dealt) == migrations
    assert Counter(kind for kinds in dealt for kind in kinds) == Counter({k: v for k, v in counts.items() if v})
    if total >= migrations:
        assert all(dealt)


# -- what a twin needs besides counts ---------------------------------------------------------------------

FEATURES = """
[generator]
seed = 5
names = "plain"

[generator.relations]
target_skew = 1.5

[generator.meta]
unique_together_share = 0.8

[generator.history]
model_skew = 1

[[generator.app]]
models = 3
migrations = 5
operations = { add_field = 3, run_python = 3, alter_model_options = 2, alter_relation = 2 }
contrib_share = 0.8
contrib_targets = { user = 2, group = 1, permission = 1, content_type = 1 }
relations_per_model = 3

[[generator.app]]
models = 3
migrations = 5
operations = { add_field = 2, alter_relation = 2, delete_model = 1, add_index = 1, remove_index = 1, run_sql = 1 }
relations_per_model = 2
cross_app_share = 0.6
links = [1]
added_relation_share = 1
contrib_share = 0.3

[[generator.app]]
models = 2
migrations = 4
operations = { create_model = 1, alter_unique_together = 1, rename_model = 1, run_python = 2 }
fields_per_model = 1
links = [1, 2]
proxy_share = 0.3
"""


def test_relations_may_point_at_contrib_models_and_depend_on_their_first_migration():
    project = build(FEATURES)
    specs = [spec for m in project.history.migrations for op in m.operations
             for spec in (op.fields if op.kind == "create_model" else (getattr(op, "field", None),)) if spec]
    targets = {(spec.to_app, spec.to_model) for spec in specs if spec.to_app in ("auth", "contenttypes")}
    assert len(targets) >= 3 and ("auth", "User") in targets  # weights 2/1/1/1 over four models
    assert targets <= {("auth", "User"), ("auth", "Group"), ("auth", "Permission"), ("contenttypes", "ContentType")}
    dependencies = {dep for m in project.history.migrations for dep in m.dependencies}
    assert ("auth", "0001_initial") in dependencies and ("contenttypes", "0001_initial") in dependencies
    assert "'auth.User'" in project.files["apps/app001/models.py"]
    assert not project.history.state.apps_by_label.keys() & {"auth", "contenttypes"}  # never generated apps


def test_alter_relation_changes_only_on_delete():
    latest, changed = {}, 0
    for migration in build(FEATURES).history.migrations:
        for op in migration.operations:
            specs = op.fields if op.kind == "create_model" else (getattr(op, "field", None),)
            name = op.name if op.kind == "create_model" else getattr(op, "model", None)
            for spec in specs:
                if spec is None:
                    continue
                key = (migration.app, name, spec.name)
                if op.kind == "alter_field" and spec.is_relation:
                    assert replace(latest[key], on_delete=spec.on_delete) == spec != latest[key]
                    changed += 1
                latest[key] = spec
    assert changed


def test_skews_gather_relations_on_the_first_models():
    def incoming(skew: float) -> list[int]:
        text = ("[generator]\nseed = 2\napps = 1\nmodels_per_app = 12\nnames = \"plain\"\n[generator.relations]\n"
                "per_model = 3\nself_share = 0\ntarget_skew = %s\n[generator.inheritance]\nproxy_share = 0\n"
                "multi_table_share = 0\n" % skew)
        state = build(text).history.state
        models = list(state.apps[0].models.values())
        return [len({uid for uid, _ in m.incoming}) for m in models]

    assert incoming(3)[0] > 2 * max(incoming(0)[0], 1)
    assert RelationParams().target_skew == 0 and HistoryParams().model_skew == 0


@pytest.mark.e2e
@pytest.mark.parametrize("line", ["1.8", "5.2"])
def test_every_feature_at_once_is_a_valid_project(line, environment_for, tmp_path):
    env = environment_for(line)
    project = build(FEATURES, line)
    assert any(op.kind == "run_python" and op.rows == () for m in project.history.migrations for op in m.operations)
    out = write_project(project, tmp_path / "project")
    result = validate_project(out, env.python, project.target, project.app_labels, tmp_path / "work")
    assert result.ok, "\n".join(step.line() for step in result.steps) + "\n\n" + result.failures()
