"""Scenario files: strict validation and defaults (generator/scenario.py).

Every refusal must be a ScenarioError whose message is ONE line naming the
file, the dotted key and what is allowed; everything not given falls back to
the dataclass defaults.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import fields
from importlib import resources

import pytest

from migbench.errors import MigbenchError, ScenarioError
from migbench.generator.scenario import (CONTRIB_APPS, FIELD_TYPES, NAME_SCHEMES, ON_DELETE, OPERATIONS,
                                         RELATION_KINDS, FieldParams, GeneratorParams, HistoryParams,
                                         InheritanceParams, MetaParams, RelationParams, Scenario,
                                         describe_defaults, load_scenario, parse_scenario, resolve_scenario,
                                         shipped_scenarios)
from migbench.targets import LINES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SOURCE = "scenarios/bad-example.toml"


def refusal(text: str, source: str = SOURCE) -> str:
    """The one-line message parse_scenario refuses `text` with."""
    with pytest.raises(ScenarioError) as error:
        parse_scenario(text, source)
    return checked(error, source)


def checked(error: pytest.ExceptionInfo, source: str) -> str:
    message = str(error.value)
    assert "\n" not in message and "\r" not in message, "not one line: %r" % message
    assert source in message, message
    return message


# -- shipped scenarios ----------------------------------------------------------


def test_there_are_shipped_scenarios():
    assert "quick" in shipped_scenarios()
    assert shipped_scenarios() == sorted(shipped_scenarios())


@pytest.mark.parametrize("name", shipped_scenarios())
def test_shipped_scenario_parses_and_has_a_run_table(name):
    text = resources.files("migbench.scenarios").joinpath(name + ".toml").read_text(encoding="utf-8")
    document = tomllib.loads(text)
    assert isinstance(document.get("run"), dict), "%s.toml has no [run] table" % name
    assert isinstance(document.get("generator"), dict)

    scenario = resolve_scenario(name)
    assert isinstance(scenario, Scenario)
    assert scenario.name == name  # the file's own name = its file name
    assert scenario.description
    assert isinstance(scenario.run, dict)
    assert scenario.source == "scenarios/%s.toml" % name
    assert scenario.sha256 == hashlib.sha256(text.encode("utf-8")).hexdigest()
    # The same text parsed directly gives the same parameters.
    assert parse_scenario(text, "x.toml").generator == scenario.generator


def test_resolve_scenario_defaults_to_quick():
    assert resolve_scenario(None).name == "quick"


# -- refusals -------------------------------------------------------------------

G = "[generator]\n"

# (id, toml text, dotted key that must be named, fragments of the allowed form)
REFUSALS = [
    # unknown keys
    ("top-level-key", 'bogus = 1\n' + G, "bogus", ("name, description, generator, run",)),
    ("top-level-table", G + "[runner]\nx = 1\n", "runner", ("name, description, generator, run",)),
    # wrong types / impossible values for integers and ranges
    ("string-for-int", G + 'apps = "4"\n', "generator.apps", ("expected an integer",)),
    ("bool-for-int", G + "apps = true\n", "generator.apps", ("expected an integer",)),
    ("float-for-int", G + "apps = 4.0\n", "generator.apps", ("expected an integer",)),
    ("zero-apps", G + "apps = 0\n", "generator.apps", (">= 1",)),
    ("too-many-apps", G + "apps = 100001\n", "generator.apps", ("<= 100000",)),
    ("negative-seed", G + "seed = -1\n", "generator.seed", (">= 0",)),
    ("string-seed", G + 'seed = "1"\n', "generator.seed", ("expected an integer",)),
    ("bool-in-range", G + "models_per_app = [true, 3]\n", "generator.models_per_app", ("expected an integer",)),
    ("range-of-3", G + "models_per_app = [1, 2, 3]\n", "generator.models_per_app", ("[min, max]", "list of 3")),
    ("range-of-0", G + "models_per_app = []\n", "generator.models_per_app", ("[min, max]",)),
    ("reversed-range", G + "models_per_app = [5, 2]\n", "generator.models_per_app", ("min <= max", "[5, 2]")),
    ("range-below-min", G + "models_per_app = [0, 2]\n", "generator.models_per_app", (">= 1",)),
    ("string-range", "[generator.fields]\nper_model = \"3\"\n", "generator.fields.per_model", ("expected an integer",)),
    ("range-above-max", "[generator.fields]\nper_model = [1, 501]\n", "generator.fields.per_model", ("<= 500",)),
    ("char-length-0", "[generator.fields]\nchar_max_length = 0\n", "generator.fields.char_max_length", (">= 1",)),
    ("reversed-history-range", "[generator.history]\nmigrations_per_app = [6, 2]\n",
     "generator.history.migrations_per_app", ("min <= max",)),
    ("zero-migrations", "[generator.history]\nmigrations_per_app = 0\n",
     "generator.history.migrations_per_app", (">= 1",)),
    ("window-0", "[generator.relations]\ncross_app_window = 0\n", "generator.relations.cross_app_window", (">= 1",)),
    ("window-range", "[generator.relations]\ncross_app_window = [1, 2]\n",
     "generator.relations.cross_app_window", ("expected an integer",)),
    # shares
    ("share-above-1", "[generator.fields]\nnull_share = 1.5\n", "generator.fields.null_share", ("between 0 and 1",)),
    ("negative-share", "[generator.fields]\nnull_share = -0.1\n", "generator.fields.null_share", ("between 0 and 1",)),
    ("string-share", "[generator.meta]\nindexes_share = \"0.5\"\n", "generator.meta.indexes_share", ("between 0 and 1",)),
    ("bool-share", "[generator.inheritance]\nproxy_share = true\n", "generator.inheritance.proxy_share",
     ("between 0 and 1",)),
    ("nan-share", "[generator.relations]\nnull_share = nan\n", "generator.relations.null_share", ("between 0 and 1",)),
    ("int-share-2", "[generator.relations]\nself_share = 2\n", "generator.relations.self_share", ("between 0 and 1",)),
    ("default-share-above-1", "[generator.fields]\ndefault_share = 1.1\n", "generator.fields.default_share",
     ("between 0 and 1",)),
    ("default-share-table-bad-value", "[generator.fields]\ndefault_share = { char = -1 }\n",
     "generator.fields.default_share", ("between 0 and 1",)),
    ("default-share-list", "[generator.fields]\ndefault_share = [0.5]\n", "generator.fields.default_share",
     ("between 0 and 1",)),
    # weights tables
    ("unknown-field-type", "[generator.fields]\ntypes = { char = 1, string = 2 }\n", "generator.fields.types",
     ("'string'", ", ".join(FIELD_TYPES))),
    ("unknown-default-share-type", "[generator.fields]\ndefault_share = { chr = 0.5 }\n",
     "generator.fields.default_share", ("'chr'", ", ".join(FIELD_TYPES))),
    ("all-zero-types", "[generator.fields]\ntypes = { char = 0, text = 0 }\n", "generator.fields.types",
     ("at least one weight must be > 0",)),
    ("empty-types", "[generator.fields]\ntypes = {}\n", "generator.fields.types", ("at least one weight must be > 0",)),
    ("negative-weight", "[generator.fields]\ntypes = { char = -1, text = 2 }\n", "generator.fields.types",
     (">= 0",)),
    ("string-weight", "[generator.fields]\ntypes = { char = \"1\" }\n", "generator.fields.types", (">= 0",)),
    ("bool-weight", "[generator.fields]\ntypes = { char = true }\n", "generator.fields.types", (">= 0",)),
    ("types-not-table", "[generator.fields]\ntypes = 1\n", "generator.fields.types", (", ".join(FIELD_TYPES),)),
    ("unknown-relation-kind", "[generator.relations]\nkinds = { foreign_key = 1, generic = 1 }\n",
     "generator.relations.kinds", ("'generic'", ", ".join(RELATION_KINDS))),
    ("all-zero-kinds", "[generator.relations]\nkinds = { foreign_key = 0 }\n", "generator.relations.kinds",
     ("at least one weight must be > 0",)),
    ("unknown-on-delete", "[generator.relations]\non_delete = { cascade = 1, set_default = 1 }\n",
     "generator.relations.on_delete", ("'set_default'", ", ".join(ON_DELETE))),
    ("unknown-operation", "[generator.history]\noperations = { add_field = 1, squash = 1 }\n",
     "generator.history.operations", ("'squash'", ", ".join(OPERATIONS))),
    ("unknown-operation-subtable", "[generator.history.operations]\nadd_constraint = 1\n",
     "generator.history.operations", ("'add_constraint'", ", ".join(OPERATIONS))),
    ("all-zero-operations", "[generator.history]\noperations = { add_field = 0 }\n",
     "generator.history.operations", ("at least one weight must be > 0",)),
    # choices and subsets
    ("bad-names", G + 'names = "random"\n', "generator.names", (", ".join(NAME_SCHEMES), "'random'")),
    ("names-not-string", G + "names = 1\n", "generator.names", (", ".join(NAME_SCHEMES),)),
    ("unknown-contrib-app", G + 'contrib_apps = ["contenttypes", "admin"]\n', "generator.contrib_apps",
     (", ".join(CONTRIB_APPS), "'admin'")),
    ("contrib-apps-not-list", G + 'contrib_apps = "auth"\n', "generator.contrib_apps", (", ".join(CONTRIB_APPS),)),
    ("auth-without-contenttypes", G + 'contrib_apps = ["auth"]\n', "generator.contrib_apps",
     ("auth needs contenttypes",)),
    # django target line
    ("unknown-django", G + 'django = "7.3"\n', "generator.django", ("unknown Django version 7.3", ", ".join(LINES))),
    ("not-a-version", G + 'django = "abc"\n', "generator.django", ("not a Django version", "4.2")),
    ("django-float", G + "django = 5.2\n", "generator.django", ("expected a string",)),
    # consistency across keys
    ("inheritance-over-1", "[generator.inheritance]\nmulti_table_share = 0.6\nproxy_share = 0.5\n",
     "generator.inheritance", ("multi_table_share + proxy_share must be <= 1",)),
    # shape of the document
    ("invalid-toml", "[generator\nseed = 1\n", "not valid TOML", ("line 1",)),
    ("duplicate-key", G + "seed = 1\nseed = 2\n", "not valid TOML", ()),
    ("missing-generator", 'name = "x"\n', "[generator]", ("missing",)),
    ("empty-document", "", "[generator]", ("missing",)),
    ("generator-not-table", "generator = 1\n", "generator", ("expected a table",)),
    ("subtable-not-table", G + "fields = 1\n", "generator.fields", ("expected a table",)),
    ("run-not-table", G + "run = 1\n", "generator.run", ("unknown key",)),
    ("top-run-not-table", "run = 1\n" + G, "run", ("expected a table",)),
    ("name-not-string", "name = 1\n" + G, "name", ("expected a string",)),
    ("description-not-string", "description = [1]\n" + G, "description", ("expected a string",)),
]


@pytest.mark.parametrize("text, key, allowed", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_refusal_is_one_line_naming_file_key_and_allowed_form(text, key, allowed):
    message = refusal(text)
    assert message.startswith(SOURCE + ": "), message
    assert key in message, message
    for fragment in allowed:
        assert fragment in message, message


SUBTABLES = [
    ("generator", GeneratorParams),
    ("generator.fields", FieldParams),
    ("generator.relations", RelationParams),
    ("generator.inheritance", InheritanceParams),
    ("generator.meta", MetaParams),
    ("generator.history", HistoryParams),
]


@pytest.mark.parametrize("table, cls", SUBTABLES, ids=[t for t, _ in SUBTABLES])
def test_unknown_key_in_each_table_lists_the_allowed_keys(table, cls):
    message = refusal("[%s]\nbogus_key = 1\n" % table)
    assert "%s.bogus_key" % table in message
    allowed = sorted(item.name for item in fields(cls))
    assert "allowed in [%s]: %s" % (table, ", ".join(allowed)) in message, message


def test_scenario_error_is_a_migbench_error():
    with pytest.raises(MigbenchError):
        parse_scenario("bogus = 1\n", SOURCE)


# Non-finite weights would pass a "< 0" test and crash the build later.
@pytest.mark.parametrize("text", [
    "[generator.fields]\ntypes = { char = nan }\n",
    "[generator.fields]\ntypes = { char = inf, text = 1 }\n",
    "[generator.relations]\nkinds = { foreign_key = inf }\n",
], ids=["nan", "inf", "inf-kinds"])
def test_non_finite_weights_are_refused(text):
    refusal(text)


# A newline inside a quoted key or value must not split the one-line message.
@pytest.mark.parametrize("text", [
    G + 'django = "7.3\\n"\n',
    G + '"se\\ned" = 1\n',
    '"bo\\ngus" = 1\n' + G,
], ids=["django-value", "generator-key", "top-level-key"])
def test_refusal_stays_one_line_with_newline_in_value_or_key(text):
    refusal(text)


# -- files and names --------------------------------------------------------------


def test_load_scenario_missing_file(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    message = checked(error, str(path))
    assert "no such scenario file" in message
    assert ", ".join(shipped_scenarios()) in message


def test_load_scenario_names_the_file_in_validation_errors(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text("[generator]\napps = -1\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert "generator.apps" in checked(error, str(path))


def test_load_scenario_undecodable_file(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes(b'name = "caf\xe9"\n[generator]\n')
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert "cannot read scenario" in checked(error, str(path))


def test_load_scenario_name_defaults_to_file_stem(tmp_path):
    path = tmp_path / "my-bench.toml"
    path.write_text("[generator]\nseed = 3\n", encoding="utf-8")
    scenario = load_scenario(path)
    assert scenario.name == "my-bench"
    assert scenario.source == str(path)
    assert scenario.generator.seed == 3


def test_resolve_scenario_unknown_name():
    with pytest.raises(ScenarioError) as error:
        resolve_scenario("no-such-scenario")
    message = checked(error, "no-such-scenario")
    assert "no such scenario file or shipped scenario" in message
    assert ", ".join(shipped_scenarios()) in message


def test_resolve_scenario_missing_toml_path(tmp_path):
    path = tmp_path / "quick.toml"  # a path, not the shipped name
    with pytest.raises(ScenarioError) as error:
        resolve_scenario(str(path))
    assert "no such scenario file" in checked(error, str(path))


def test_resolve_scenario_prefers_an_existing_file(tmp_path):
    path = tmp_path / "custom"  # no .toml suffix: found because it exists
    path.write_text('name = "custom-one"\n[generator]\napps = 2\n', encoding="utf-8")
    scenario = resolve_scenario(str(path))
    assert scenario.name == "custom-one"
    assert scenario.generator.apps == 2
    assert scenario.source == str(path)


# -- defaults ----------------------------------------------------------------------


def test_minimal_scenario_yields_dataclass_defaults():
    scenario = parse_scenario("[generator]\nseed = 1\n", "min.toml")
    assert scenario.generator == GeneratorParams(seed=1)
    assert scenario.name == "scenario"
    assert scenario.description == ""
    assert scenario.run == {}
    assert scenario.source == "min.toml"
    defaults = scenario.generator
    assert defaults.fields == FieldParams()
    assert defaults.relations == RelationParams()
    assert defaults.inheritance == InheritanceParams()
    assert defaults.meta == MetaParams()
    assert defaults.history == HistoryParams()
    assert defaults.contrib_apps == CONTRIB_APPS
    assert defaults.django is None
    assert set(defaults.fields.types) == set(FIELD_TYPES)
    assert set(defaults.history.operations) == set(OPERATIONS)


def test_empty_generator_table_is_enough():
    assert parse_scenario("[generator]\n", "x.toml").generator == GeneratorParams()


def test_describe_defaults_matches_dataclasses():
    described = describe_defaults()
    assert described["apps"] == GeneratorParams().apps
    assert described["fields"]["per_model"] == FieldParams().per_model
    assert set(described) == {item.name for item in fields(GeneratorParams)}


@pytest.mark.parametrize("text, get, expected", [
    (G + "models_per_app = 5\n", lambda g: g.models_per_app, (5, 5)),
    (G + "models_per_app = [2, 7]\n", lambda g: g.models_per_app, (2, 7)),
    (G + "models_per_app = [3, 3]\n", lambda g: g.models_per_app, (3, 3)),
    ("[generator.fields]\nper_model = 0\n", lambda g: g.fields.per_model, (0, 0)),
    ("[generator.fields]\nchar_max_length = 200\n", lambda g: g.fields.char_max_length, (200, 200)),
    ("[generator.relations]\nper_model = 2\n", lambda g: g.relations.per_model, (2, 2)),
    ("[generator.history]\nmigrations_per_app = 4\n", lambda g: g.history.migrations_per_app, (4, 4)),
    ("[generator.history]\noperations_per_migration = 2\n", lambda g: g.history.operations_per_migration, (2, 2)),
    ("[generator.history]\ndata_rows = 9\n", lambda g: g.history.data_rows, (9, 9)),
], ids=["models", "models-range", "models-equal", "fields", "char", "relations", "migrations", "ops", "rows"])
def test_fixed_ints_become_ranges(text, get, expected):
    assert get(parse_scenario(text, "x.toml").generator) == expected


def test_default_share_number_expands_to_every_type():
    params = parse_scenario("[generator.fields]\ndefault_share = 0.5\n", "x.toml").generator.fields
    assert params.default_share == {name: 0.5 for name in FIELD_TYPES}


def test_default_share_table_zeroes_unnamed_types():
    params = parse_scenario("[generator.fields]\ndefault_share = { integer = 1 }\n", "x.toml").generator.fields
    assert params.default_share["integer"] == 1.0
    assert all(params.default_share[name] == 0.0 for name in FIELD_TYPES if name != "integer")
    assert set(params.default_share) == set(FIELD_TYPES)


def test_weights_not_given_weigh_zero():
    params = parse_scenario("[generator.fields]\ntypes = { json = 5, char = 1 }\n", "x.toml").generator.fields
    assert params.types["json"] == 5.0 and params.types["char"] == 1.0
    assert sum(params.types.values()) == 6.0
    assert set(params.types) == set(FIELD_TYPES)


def test_shares_accept_integer_bounds():
    meta = parse_scenario("[generator.meta]\nordering_share = 1\nindexes_share = 0\n", "x.toml").generator.meta
    assert meta.ordering_share == 1.0 and meta.indexes_share == 0.0


def test_inheritance_shares_summing_to_exactly_1_are_accepted():
    text = "[generator.inheritance]\nmulti_table_share = 0.5\nproxy_share = 0.5\n"
    assert parse_scenario(text, "x.toml").generator.inheritance.proxy_share == 0.5


@pytest.mark.parametrize("given, expected", [
    ('["auth", "contenttypes"]', ("contenttypes", "auth")),
    ('["contenttypes"]', ("contenttypes",)),
    ("[]", ()),
])
def test_contrib_apps_are_normalised(given, expected):
    assert parse_scenario(G + "contrib_apps = %s\n" % given, "x.toml").generator.contrib_apps == expected


@pytest.mark.parametrize("given, expected", [("5.2", "5.2"), ("4.2.11", "4.2"), ("1.8", "1.8")])
def test_django_maps_to_its_line(given, expected):
    assert parse_scenario(G + 'django = "%s"\n' % given, "x.toml").generator.django == expected


def test_names_plain_accepted():
    assert parse_scenario(G + 'names = "plain"\n', "x.toml").generator.names == "plain"


def test_sha256_follows_the_text():
    base = "[generator]\nseed = 1\n"
    first = parse_scenario(base, "a.toml")
    assert first.sha256 == hashlib.sha256(base.encode("utf-8")).hexdigest()
    assert parse_scenario(base, "elsewhere.toml").sha256 == first.sha256  # identity is the text, not the path
    assert parse_scenario(base + "# a comment\n", "a.toml").sha256 != first.sha256
    assert parse_scenario("[generator]\nseed = 2\n", "a.toml").sha256 != first.sha256


def test_with_seed_only_changes_the_seed():
    scenario = resolve_scenario("quick")
    reseeded = scenario.with_seed(99)
    assert reseeded.generator.seed == 99
    assert reseeded.generator == GeneratorParams(**{
        **{item.name: getattr(scenario.generator, item.name) for item in fields(GeneratorParams)}, "seed": 99})
    assert reseeded.sha256 == scenario.sha256 and reseeded.name == scenario.name


# -- names, and other hostile values (issue 14) ------------------------------------


@pytest.mark.parametrize("name", ["quick", "my-bench_2", "a", "A.b-c_d", "x" * 64, "2015"])
def test_names_that_are_plain_file_names_are_accepted(name):
    assert parse_scenario('name = "%s"\n' % name + G, SOURCE).name == name


# A name becomes a directory (the cached project, results/NAME), file and record names, and a
# comment in the generated settings: none of these may escape a directory or break a line.
@pytest.mark.parametrize("name", ["../../x", "/tmp/abs", "a/b", "a\\\\b", "a\\nb", "a\\u0000b", "x" * 65, "", " ",
                                  ".", "..", ".hidden", "-rf", "café", "a b", "a*b", "a[1]"])
def test_names_that_could_escape_or_break_a_path_are_refused(name):
    message = refusal('name = "%s"\n' % name + G)
    assert "name: expected a string of 1 to 64 characters from A-Z a-z 0-9 . _ -" in message
    assert len(message) < 300


def test_a_file_name_that_cannot_be_a_name_says_to_rename_it_or_set_name(tmp_path):
    path = tmp_path / "my bench.toml"
    path.write_text(G, encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert 'the file name \'my bench\' cannot be a scenario name' in checked(error, str(path))
    path.write_text('name = "my-bench"\n' + G, encoding="utf-8")
    assert load_scenario(path).name == "my-bench"


@pytest.mark.parametrize("text, fragment", [
    ('description = "a\\nb"\n' + G, "description: expected a string on one line"),
    ('description = "%s"\n' % ("x" * 501) + G, "at most 500 printable characters"),
    (G + "[generator.fields.types]\nchar = 1.7e308\ntext = 1.7e308\n", "<= 1e6, got 1.7e+308"),
    (G + "seed = 9223372036854775807\n[generator.history]\noperations = { add_field = 1e6 }\n", None),
    ("[generator]\nseed = 9223372036854775807\n", None),
    ("\ufeff" + G, "starts with a byte-order mark; save the file as UTF-8 without BOM"),
    (G + "[run]\nmemory = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply to read"),
    (G + "[run]\nmemory = " + "{a=" * 5000 + "1" + "}" * 5000 + "\n", "nested too deeply to read"),
    ("%s = 1\n" % ("k" * 100000) + G, "'kkkk"),
], ids=["newline-description", "long-description", "huge-weights", "largest-weight", "largest-seed", "bom",
        "deep-list", "deep-inline-table", "long-key"])
def test_hostile_values_are_one_line(text, fragment):
    if fragment is None:
        parse_scenario(text, SOURCE)  # at the bound: accepted
        return
    message = refusal(text)
    assert fragment in message and len(message) < 400, message


def test_a_directory_or_non_utf8_file_is_one_line(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    (tmp_path / "latin.toml").write_bytes(b'name = "caf\xe9"\n[generator]\n')
    for path in (tmp_path / "dir.toml", tmp_path / "latin.toml"):
        with pytest.raises(ScenarioError) as error:
            load_scenario(path)
        assert "cannot read scenario" in checked(error, str(path)) and "UTF-8" in str(error.value)
