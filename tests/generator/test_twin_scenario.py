"""generator/twin.py: a shape (what bench/measure/worker/shape.py prints) in, scenario text out.

Pure: hand-written shapes, no Django. The round trip through a real project and a real
Django is tests/migbench/test_twin.py.
"""

from __future__ import annotations

import copy

import pytest

from migbench.errors import MigbenchError
from migbench.generator import build_project
from migbench.generator.scenario import parse_scenario
from migbench.generator.twin import twin_scenario
from migbench.targets import resolve_line


def model(name, fields=None, relations=(), proxy=False, through=False, parents=(), abstract=False, **meta):
    return {"name": name, "fields": fields or {"char": 2}, "unmapped": {},
            "options": {"null": 1, "default": 0, "db_index": 0, "char_lengths": [40, 80]},
            "relations": list(relations), "abstract_parent": abstract, "parents": list(parents), "proxy": proxy,
            "proxy_of": None, "through": through, "ordering": meta.get("ordering", False),
            "indexes": meta.get("indexes", 0), "unique_together": meta.get("unique_together", 0),
            "constraints": {"check": meta.get("checks", 0), "unique": 0}}


def relation(kind, to, model="Target", self=False, through=False, null=False, on_delete="CASCADE"):
    return {"kind": kind, "to": to, "model": model, "self": self, "through": through, "null": null,
            "on_delete": None if kind == "many_to_many" else on_delete}


def migration(name, **operations):
    return {"name": name, "initial": name.startswith("0001"), "operations": operations, "classes": {},
            "depends_on": []}


SHAPE = {
    "ok": True, "django": "5.2.19", "project": "/somewhere/secretproject",
    "apps": [
        {"label": "contenttypes", "kind": "contrib", "plan_index": 0, "models": [model("ContentType")],
         "migrations": [migration("0001_initial", create_model=1), migration("0002_x", run_python=1)]},
        {"label": "auth", "kind": "contrib", "plan_index": 1, "models": [model("User")],
         "migrations": [migration("0001_initial", create_model=3)]},
        {"label": "sessions", "kind": "contrib", "plan_index": 5, "models": [model("Session")],
         "migrations": [migration("0001_initial", create_model=1)]},
        {"label": "zebrashop", "kind": "own", "plan_index": 4, "models": [
            model("Giraffe", {"char": 3, "integer": 1}, [relation("foreign_key", "auth", "User", null=True)],
                  ordering=True),
            model("Okapi", {"text": 1}, [relation("foreign_key", "vendorthing", "Quokka"),
                                         relation("many_to_many", "zebrashop", "Giraffe", through=True),
                                         relation("foreign_key", "nomigrations", "Wombat")], abstract=True),
            model("OkapiLink", {"integer": 1}, [relation("foreign_key", "zebrashop", "Okapi"),
                                                relation("foreign_key", "zebrashop", "Giraffe")], through=True),
            model("Pangolin", {}, proxy=True)],
         "migrations": [migration("0001_initial", create_model=4, add_relation=1, alter_unique_together=1),
                        migration("0002_more", add_field=2, alter_field_noop=1, run_python=2),
                        migration("0003_more", add_constraint=1, alter_model_table=1, other=1)]},
        {"label": "vendorthing", "kind": "third_party", "plan_index": 2, "models": [
            model("Quokka", {"decimal": 2, "boolean": 1}, [relation("one_to_one", "vendorthing", "Quokka",
                                                                     self=True)])],
         "migrations": [migration("0001_initial", create_model=1), migration("0002_y", run_sql=1)]},
        {"label": "nomigrations", "kind": "third_party", "plan_index": 9, "models": [model("Wombat")],
         "migrations": []},
    ],
}
SECRETS = ("secretproject", "zebrashop", "vendorthing", "nomigrations", "Giraffe", "Okapi", "Pangolin",
           "Quokka", "Wombat", "giraffe", "okapi", "quokka")


def twin(shape=SHAPE, **kwargs) -> str:
    return twin_scenario(copy.deepcopy(shape), **kwargs)


def test_the_twin_is_a_valid_scenario_with_apps_in_plan_order():
    params = parse_scenario(twin(), "twin.toml").generator
    assert params.apps == 2 and params.names == "plain"
    assert params.contrib_apps == ("contenttypes", "auth")
    assert params.django == "5.2"
    third, own = params.app  # plan order: vendorthing (2) before zebrashop (4)
    assert third.migrations == (2, 2) and own.migrations == (3, 3)
    assert third.operations == {"run_sql": 1}


def test_operations_map_onto_the_generators_kinds():
    own = parse_scenario(twin(), "twin.toml").generator.app[1]
    # 0001's AddField of a relation moves into the later migrations; its unique_together is Meta.
    assert own.operations == {"add_field": 3, "rename_model": 1, "add_index": 1, "run_python": 2,
                              "alter_model_options": 2}
    assert own.added_relation_share == pytest.approx(1 / 3, abs=0.001)
    assert own.models == (3, 3)  # four created, one of them the M2M's through model
    assert own.links == (1,)  # the FK into vendorthing; the one into nomigrations stays inside the app
    assert own.contrib_share == pytest.approx(0.25) and own.contrib_targets == {"user": 1.0, "group": 0.0,
                                                                               "permission": 0.0, "content_type": 0.0}
    assert own.cross_app_share == pytest.approx(1 / 3, abs=0.001)  # of the relations that are not into contrib models


def test_no_name_of_the_original_is_kept():
    text = twin()
    for secret in SECRETS:
        assert secret not in text
    files = build_project(parse_scenario(text, "twin.toml"), resolve_line("5.2")).files
    everything = "\n".join(list(files) + list(files.values()))
    for secret in SECRETS:
        assert secret not in everything


def test_the_header_counts_the_original_by_kind_and_says_what_is_left_out():
    header = [line for line in twin().splitlines() if line.startswith("#")]
    text = "\n".join(header)
    assert "own            1 apps,    4 models,    3 migrations" in text
    assert "third-party    1 apps,    1 models,    2 migrations" in text  # an app without migrations: not counted
    assert "contrib        3 apps" in text
    assert "left out" in text and "sessions" in text
    assert "1 relations point into apps (or contrib models) the twin does not have" in text  # nomigrations


def test_the_same_shape_gives_the_same_text():
    assert twin() == twin()


def test_apps_chooses_and_orders_by_plan():
    params = parse_scenario(twin(apps=["zebrashop"]), "twin.toml").generator
    assert params.apps == 1 and params.app[0].migrations == (3, 3)
    assert params.app[0].links is None  # its only cross-app target is not twinned


def test_own_overrides_the_guess_of_shape_py():
    text = twin(own=["vendorthing"])
    assert "# app 1: own," in text and "# app 2: third-party," in text


@pytest.mark.parametrize("kwargs, fragment", [
    ({"apps": ["nope"]}, "--apps: nope not among"),
    ({"name": "a b"}, "expected a string of 1 to 64"),
])
def test_refusals_are_one_line(kwargs, fragment):
    with pytest.raises(MigbenchError) as error:
        twin(**kwargs)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_a_project_of_contrib_apps_only_has_nothing_to_twin():
    shape = dict(SHAPE, apps=SHAPE["apps"][:3])
    with pytest.raises(MigbenchError, match="nothing to twin"):
        twin(shape)


def test_an_unknown_django_line_leaves_the_target_to_the_command_line():
    params = parse_scenario(twin(dict(SHAPE, django="9.1")), "twin.toml").generator
    assert params.django is None
