"""Scenario files: parse and validate `scenarios/*.toml` into typed parameters.

A scenario says what project to build (`[generator]`) and how the runner should
measure it (`[run]`, reserved here and validated by the runner). Validation is
strict on purpose: a typo in a benchmark definition silently measuring the
wrong thing is worse than a refusal, so every unknown key, wrong type or
impossible value is refused with one line naming the file, the key and what is
allowed.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from migbench.errors import ScenarioError
from migbench.units import show

from .checks import (Bad as _Bad, IntRange, choice as _choice, counts as _counts, django_line as _django_line,
                     int_range as _int_range, integer as _int, number as _number, positions as _positions,
                     share as _share, subset as _subset, weights as _weights)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

FIELD_TYPES = (
    "char", "text", "integer", "big_integer", "small_integer", "positive_integer",
    "float", "decimal", "boolean", "date", "datetime", "time", "duration",
    "email", "url", "slug", "uuid", "ip", "binary", "json",
)
RELATION_KINDS = ("foreign_key", "one_to_one", "many_to_many")
ON_DELETE = ("cascade", "protect", "set_null")
OPERATIONS = (
    "create_model", "delete_model", "add_field", "remove_field", "alter_field",
    "rename_field", "rename_model", "add_index", "remove_index",
    "alter_unique_together", "run_python", "run_sql", "alter_model_options", "alter_relation",
)
# Kinds added after the first scenarios were written weigh 0 unless a scenario names them,
# so that every existing scenario draws exactly what it drew before.
LATER_OPERATIONS = ("alter_model_options", "alter_relation")
CONTRIB_APPS = ("contenttypes", "auth")
# Models of the contrib apps a relation may point at ([[generator.app]] contrib_targets) -> (app, model).
CONTRIB_MODELS = {"user": ("auth", "User"), "group": ("auth", "Group"), "permission": ("auth", "Permission"),
                  "content_type": ("contenttypes", "ContentType")}
NAME_SCHEMES = ("faker", "plain")

# A name is part of directory, file and record names: a plain file name that record slugs keep.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "a string of 1 to 64 characters from A-Z a-z 0-9 . _ -, the first a letter or a digit"
MAX_DESCRIPTION = 500  # characters, on one line (`migbench scenarios`, reports)


@dataclass(frozen=True)
class FieldParams:
    per_model: IntRange = (2, 8)
    types: Mapping[str, float] = field(default_factory=lambda: {t: 1.0 for t in FIELD_TYPES})
    null_share: float = 0.2
    default_share: Mapping[str, float] = field(default_factory=lambda: {t: 0.2 for t in FIELD_TYPES})
    char_max_length: IntRange = (20, 255)
    db_index_share: float = 0.05


@dataclass(frozen=True)
class RelationParams:
    per_model: IntRange = (0, 2)
    kinds: Mapping[str, float] = field(
        default_factory=lambda: {"foreign_key": 6.0, "one_to_one": 1.0, "many_to_many": 2.0}
    )
    through_share: float = 0.3
    self_share: float = 0.05
    cross_app_share: float = 0.3
    cross_app_window: int = 3
    null_share: float = 0.3
    on_delete: Mapping[str, float] = field(
        default_factory=lambda: {"cascade": 6.0, "protect": 2.0, "set_null": 2.0}
    )
    target_skew: float = 0.0  # 0: targets drawn uniformly; s: the k-th model of an app weighs 1/k**s


@dataclass(frozen=True)
class InheritanceParams:
    abstract_share: float = 0.1
    multi_table_share: float = 0.05
    proxy_share: float = 0.05


@dataclass(frozen=True)
class MetaParams:
    ordering_share: float = 0.3
    indexes_share: float = 0.2
    unique_together_share: float = 0.1
    constraints_share: float = 0.1


@dataclass(frozen=True)
class HistoryParams:
    migrations_per_app: IntRange = (1, 1)
    operations_per_migration: IntRange = (1, 3)
    operations: Mapping[str, float] = field(
        default_factory=lambda: {op: 0.0 if op in LATER_OPERATIONS else 1.0 for op in OPERATIONS})
    data_rows: IntRange = (3, 8)
    model_skew: float = 0.0  # 0: later operations pick their model uniformly; s: the k-th weighs 1/k**s


@dataclass(frozen=True)
class AppParams:
    """One `[[generator.app]]` table: what differs for this app (None: the [generator] value).

    `operations` are exact counts for the app's later migrations, not weights: a twin says
    how many of each kind the original has (generator/plan.py spreads them)."""

    models: IntRange | None = None
    migrations: IntRange | None = None
    operations: Mapping[str, int] | None = None
    fields_per_model: IntRange | None = None
    relations_per_model: IntRange | None = None
    cross_app_share: float | None = None
    proxy_share: float | None = None
    added_relation_share: float | None = None  # of later AddFields (default 0.3)
    contrib_share: float | None = None  # relations into contrib models (default 0)
    contrib_targets: Mapping[str, float] | None = None  # weights over CONTRIB_MODELS (default user)
    links: tuple[int, ...] | None = None  # 1-based positions of the apps relations may cross into


@dataclass(frozen=True)
class GeneratorParams:
    seed: int = 0
    apps: int = 4
    models_per_app: IntRange = (3, 6)
    names: str = "faker"
    contrib_apps: tuple[str, ...] = CONTRIB_APPS
    django: str | None = None  # default target line when --django is not given
    fields: FieldParams = field(default_factory=FieldParams)
    relations: RelationParams = field(default_factory=RelationParams)
    inheritance: InheritanceParams = field(default_factory=InheritanceParams)
    meta: MetaParams = field(default_factory=MetaParams)
    history: HistoryParams = field(default_factory=HistoryParams)
    app: tuple[AppParams, ...] = ()  # [[generator.app]]: the first len(app) apps, in order

    def app_params(self, index: int) -> AppParams:
        return self.app[index] if index < len(self.app) else _NO_APP_PARAMS


_NO_APP_PARAMS = AppParams()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    generator: GeneratorParams
    run: Mapping[str, Any]  # validated by the runner
    source: str  # path or "<embedded quick>", for messages
    sha256: str  # of the file's bytes: the scenario's identity in results
    # Sizes set by `migbench sweep` (e.g. {"apps": 20}); the sha256 is then derived from the
    # file's and these (bench/run/sweep.py), and records carry them as scenario.vary. Empty otherwise.
    vary: Mapping[str, int] = field(default_factory=dict)

    def with_seed(self, seed: int) -> "Scenario":
        return replace(self, generator=replace(self.generator, seed=seed))


def _shares_by_type(value: Any) -> dict[str, float]:
    """One share for every field type, or a table of shares per type."""
    if isinstance(value, dict):
        shares = {name: 0.0 for name in FIELD_TYPES}
        for key, share in value.items():
            if key not in FIELD_TYPES:
                raise _Bad("unknown field type %s; allowed: %s" % (show(key), ", ".join(FIELD_TYPES)))
            shares[key] = _share(share)
        return shares
    share = _share(value)
    return {name: share for name in FIELD_TYPES}


# -- tables -----------------------------------------------------------------

_TABLES: dict[type, dict[str, Callable[[Any], Any]]] = {
    FieldParams: {
        "per_model": _int_range(0, 500),
        "types": _weights(FIELD_TYPES),
        "null_share": _share,
        "default_share": _shares_by_type,
        "char_max_length": _int_range(1, 4000),
        "db_index_share": _share,
    },
    RelationParams: {
        "per_model": _int_range(0, 50),
        "kinds": _weights(RELATION_KINDS),
        "through_share": _share,
        "self_share": _share,
        "cross_app_share": _share,
        "cross_app_window": _int(1),
        "null_share": _share,
        "on_delete": _weights(ON_DELETE),
        "target_skew": _number(0, 10),
    },
    InheritanceParams: dict.fromkeys(("abstract_share", "multi_table_share", "proxy_share"), _share),
    MetaParams: dict.fromkeys(("ordering_share", "indexes_share", "unique_together_share", "constraints_share"),
                              _share),
    HistoryParams: {
        "migrations_per_app": _int_range(1, 9999),
        "operations_per_migration": _int_range(1, 200),
        "operations": _weights(OPERATIONS),
        "data_rows": _int_range(1, 10000),
        "model_skew": _number(0, 10),
    },
    AppParams: {
        "models": _int_range(1, 10000),
        "migrations": _int_range(1, 9999),
        "operations": _counts(OPERATIONS),
        "fields_per_model": _int_range(0, 500),
        "relations_per_model": _int_range(0, 50),
        "cross_app_share": _share,
        "proxy_share": _share,
        "added_relation_share": _share,
        "contrib_share": _share,
        "contrib_targets": _weights(tuple(CONTRIB_MODELS)),
        "links": _positions,
    },
    GeneratorParams: {
        "seed": _int(0, 2**63 - 1),  # TOML's largest integer
        "apps": _int(1, 100000),
        "models_per_app": _int_range(1, 10000),
        "names": _choice(NAME_SCHEMES),
        "contrib_apps": _subset(CONTRIB_APPS),
        "django": _django_line,
    },
}

_SUBTABLES = {
    GeneratorParams: {"fields": FieldParams, "relations": RelationParams, "inheritance": InheritanceParams,
                      "meta": MetaParams, "history": HistoryParams},
}
# Arrays of tables ([[generator.app]]): key -> the class of each table.
_LISTS = {GeneratorParams: {"app": AppParams}}


def _build(cls: type, table: Any, where: str, source: str):
    if not isinstance(table, dict):
        raise ScenarioError("%s: %s: expected a table" % (source, where))
    checkers = _TABLES[cls]
    subtables = _SUBTABLES.get(cls, {})
    lists = _LISTS.get(cls, {})
    values: dict[str, Any] = {}
    for key, value in table.items():
        path = "%s.%s" % (where, key)
        if key in subtables:
            values[key] = _build(subtables[key], value, path, source)
        elif key in lists:
            if not isinstance(value, list) or not value:
                raise ScenarioError("%s: %s: expected one or more [[%s]] tables" % (source, path, path))
            values[key] = tuple(_build(lists[key], item, "%s[%d]" % (path, number), source)
                                for number, item in enumerate(value, 1))
        elif key in checkers:
            try:
                values[key] = checkers[key](value)
            except _Bad as bad:
                raise ScenarioError("%s: %s: %s" % (source, path, bad)) from None
        else:
            allowed = sorted(list(checkers) + list(subtables) + list(lists))
            raise ScenarioError("%s: %s.%s: unknown key; allowed in [%s]: %s"
                                % (source, where, show(key, bare=True), where, ", ".join(allowed)))
    return cls(**values)


_TOP_LEVEL = ("name", "description", "generator", "run")


def parse_scenario(text: str, source: str, default_name: str = "scenario") -> Scenario:
    """Parse scenario TOML text; `source` names the file in every error, `default_name` (the
    file's name) is the name when the file sets none."""
    if text.startswith("\ufeff"):
        raise ScenarioError("%s: starts with a byte-order mark; save the file as UTF-8 without BOM" % source)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError("%s: not valid TOML: %s" % (source, error)) from None
    except RecursionError:  # tomllib recurses per level; a scenario needs 4
        raise ScenarioError("%s: tables or lists nested too deeply to read (a scenario needs 4 levels)"
                            % source) from None
    for key in document:
        if key not in _TOP_LEVEL:
            raise ScenarioError("%s: %s: unknown key; allowed at the top level: %s"
                                % (source, show(key, bare=True), ", ".join(_TOP_LEVEL)))
    name, description = _name_and_description(document, default_name, source)
    if "generator" not in document:
        raise ScenarioError("%s: missing [generator] table; see scenarios/quick.toml for one" % source)
    generator = _build(GeneratorParams, document["generator"], "generator", source)
    run = document.get("run", {})
    if not isinstance(run, dict):
        raise ScenarioError("%s: run: expected a table" % source)
    if generator.app and "apps" not in document["generator"]:
        generator = replace(generator, apps=len(generator.app))
    _check_consistency(generator, source)
    return Scenario(name=name, description=description, generator=generator, run=run, source=source,
                    sha256=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())


def _name_and_description(document: Mapping[str, Any], default_name: str, source: str) -> tuple[str, str]:
    """The scenario's name (NAME_RE) and its one-line description, or one line saying what they may be."""
    description = document.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION or not description.isprintable():
        raise ScenarioError("%s: description: expected a string on one line, at most %d printable characters, got %s"
                            % (source, MAX_DESCRIPTION, show(description)))
    name = document.get("name", default_name)
    if isinstance(name, str) and NAME_RE.fullmatch(name):
        return name, description
    if "name" not in document:
        raise ScenarioError('%s: the file name %s cannot be a scenario name (expected %s); rename the file '
                            'or set name = "..." in it' % (source, show(name), NAME_RULE))
    raise ScenarioError("%s: name: expected %s (it names directories, files and records), got %s"
                        % (source, NAME_RULE, show(name)))


def _check_consistency(params: GeneratorParams, source: str) -> None:
    """Refuse combinations no project can satisfy (each key alone was fine)."""
    inheritance = params.inheritance
    if inheritance.multi_table_share + inheritance.proxy_share > 1:
        raise ScenarioError(
            "%s: generator.inheritance: multi_table_share + proxy_share must be <= 1 "
            "(a model is either a multi-table child, a proxy or neither)" % source
        )
    if params.apps < len(params.app):
        raise ScenarioError("%s: generator.apps: %d, but %d [[generator.app]] tables describe more apps; "
                            "leave apps out (it defaults to the number of tables) or raise it"
                            % (source, params.apps, len(params.app)))
    for number, app in enumerate(params.app, 1):
        where = "%s: generator.app[%d]" % (source, number)
        for position in app.links or ():
            if position > len(params.app) or position == number:
                raise ScenarioError("%s.links: %d is not another app's position; give positions from 1 to %d, "
                                    "not its own (%d)" % (where, position, len(params.app), number))
        if app.proxy_share is not None and app.proxy_share + inheritance.multi_table_share > 1:
            raise ScenarioError("%s.proxy_share: with generator.inheritance.multi_table_share it must be <= 1"
                                % where)
        for model in (app.contrib_targets or {}) if app.contrib_share else ():
            if app.contrib_targets[model] and CONTRIB_MODELS[model][0] not in params.contrib_apps:
                raise ScenarioError("%s.contrib_targets: %s needs %s in generator.contrib_apps"
                                    % (where, model, CONTRIB_MODELS[model][0]))
        if app.contrib_share and not app.contrib_targets and "auth" not in params.contrib_apps:
            raise ScenarioError("%s.contrib_share: relations into contrib models need auth in generator.contrib_apps "
                                "(the default target is auth's User), or give contrib_targets" % where)
        migrations = app.migrations or params.history.migrations_per_app
        if app.operations and sum(app.operations.values()) and migrations[0] < 2:
            raise ScenarioError("%s.operations: they go into the app's later migrations, so migrations must be "
                                ">= 2 (it is %d at least)" % (where, migrations[0]))


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file; a missing or unreadable file is one clear line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            "%s: no such scenario file; shipped ones: %s" % (path, ", ".join(shipped_scenarios()))
        ) from None
    except (OSError, UnicodeDecodeError) as error:  # a directory, no permission, not UTF-8
        raise ScenarioError("%s: cannot read scenario (%s); give a UTF-8 scenario file"
                            % (path, getattr(error, "strerror", None) or error)) from None
    return parse_scenario(text, str(path), default_name=path.stem)


def shipped_scenarios() -> list[str]:
    from importlib import resources

    return sorted(
        entry.name[: -len(".toml")]
        for entry in resources.files("migbench.scenarios").iterdir()
        if entry.name.endswith(".toml")
    )


def resolve_scenario(name_or_path: str | None) -> Scenario:
    """A path to a TOML file, or the name of a shipped scenario ("quick" by default)."""
    from importlib import resources

    if name_or_path is None:
        name_or_path = "quick"
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        return load_scenario(candidate)
    resource = resources.files("migbench.scenarios").joinpath(name_or_path + ".toml")
    if not resource.is_file():
        raise ScenarioError(
            "%s: no such scenario file or shipped scenario; shipped: %s"
            % (name_or_path, ", ".join(shipped_scenarios()))
        )
    text = resource.read_text(encoding="utf-8")
    return parse_scenario(text, "scenarios/%s.toml" % name_or_path, default_name=name_or_path)


def describe_defaults() -> dict[str, Any]:
    """Every key with its default, for docs and `migbench scenario --defaults`."""

    def walk(instance) -> dict[str, Any]:
        out = {}
        for item in fields(instance):
            value = getattr(instance, item.name)
            out[item.name] = walk(value) if hasattr(value, "__dataclass_fields__") else value
        return out

    return walk(GeneratorParams())
