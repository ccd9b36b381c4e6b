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

from migbench.errors import MigbenchError, ScenarioError
from migbench.targets import resolve_line
from migbench.units import show

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
    "alter_unique_together", "run_python", "run_sql",
)
CONTRIB_APPS = ("contenttypes", "auth")
NAME_SCHEMES = ("faker", "plain")

# A name is part of directory, file and record names: a plain file name that record slugs keep.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "a string of 1 to 64 characters from A-Z a-z 0-9 . _ -, the first a letter or a digit"
MAX_DESCRIPTION = 500  # characters, on one line (`migbench scenarios`, reports)
MAX_WEIGHT = 1e6  # weights are relative; a bound keeps their sum finite

IntRange = tuple[int, int]


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
    operations: Mapping[str, float] = field(default_factory=lambda: {op: 1.0 for op in OPERATIONS})
    data_rows: IntRange = (3, 8)


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


# -- value checkers ---------------------------------------------------------
# Each takes (where, value) and returns the parsed value or raises _Bad with
# the "what is allowed" half of the message.


class _Bad(Exception):
    pass


def _int(minimum: int = 0, maximum: int | None = None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad("expected an integer, got %s" % show(value))
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else " and <= %d" % maximum
            raise _Bad("expected an integer >= %d%s, got %d" % (minimum, upper, value))
        return value
    return check


def _int_range(minimum: int = 0, maximum: int | None = None) -> Callable[[Any], IntRange]:
    single = _int(minimum, maximum)

    def check(value: Any) -> IntRange:
        if isinstance(value, list):
            if len(value) != 2:
                raise _Bad("expected an integer or [min, max], got a list of %d" % len(value))
            low, high = (single(v) for v in value)
            if low > high:
                raise _Bad("expected [min, max] with min <= max, got [%d, %d]" % (low, high))
            return (low, high)
        number = single(value)
        return (number, number)
    return check


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad("expected a number between 0 and 1, got %s" % show(value))
    if not 0 <= value <= 1:
        raise _Bad("expected a number between 0 and 1, got %s" % show(value))
    return float(value)


def _weights(allowed: tuple[str, ...], require_positive: bool = True) -> Callable[[Any], dict]:
    """A table of non-negative weights; keys not given weigh 0."""

    def check(value: Any) -> dict[str, float]:
        if not isinstance(value, dict):
            raise _Bad("expected a table of weights over %s" % ", ".join(allowed))
        weights = {name: 0.0 for name in allowed}
        for key, weight in value.items():
            if key not in allowed:
                raise _Bad("unknown key %s; allowed: %s" % (show(key), ", ".join(allowed)))
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= MAX_WEIGHT:
                raise _Bad("weight of %s must be a number >= 0 and <= 1e6, got %s" % (show(key), show(weight)))
            weights[key] = float(weight)
        if require_positive and not any(weights.values()):
            raise _Bad("at least one weight must be > 0")
        return weights
    return check


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


def _choice(allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise _Bad("expected one of %s, got %s" % (", ".join(allowed), show(value)))
        return value
    return check


def _subset(allowed: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or any(v not in allowed for v in value):
            raise _Bad("expected a list drawn from %s, got %s" % (", ".join(allowed), show(value)))
        if "auth" in value and "contenttypes" not in value:
            raise _Bad("auth needs contenttypes")
        return tuple(v for v in allowed if v in value)
    return check


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("expected a string, got %s" % show(value))
    return value


def _django_line(value: Any) -> str:
    text = _string(value)
    try:
        return resolve_line(text).line
    except MigbenchError as error:
        raise _Bad(str(error)) from None


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
    },
    InheritanceParams: dict.fromkeys(("abstract_share", "multi_table_share", "proxy_share"), _share),
    MetaParams: dict.fromkeys(("ordering_share", "indexes_share", "unique_together_share", "constraints_share"),
                              _share),
    HistoryParams: {
        "migrations_per_app": _int_range(1, 9999),
        "operations_per_migration": _int_range(1, 200),
        "operations": _weights(OPERATIONS),
        "data_rows": _int_range(1, 10000),
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


def _build(cls: type, table: Any, where: str, source: str):
    if not isinstance(table, dict):
        raise ScenarioError("%s: %s: expected a table" % (source, where))
    checkers = _TABLES[cls]
    subtables = _SUBTABLES.get(cls, {})
    values: dict[str, Any] = {}
    for key, value in table.items():
        path = "%s.%s" % (where, key)
        if key in subtables:
            values[key] = _build(subtables[key], value, path, source)
        elif key in checkers:
            try:
                values[key] = checkers[key](value)
            except _Bad as bad:
                raise ScenarioError("%s: %s: %s" % (source, path, bad)) from None
        else:
            allowed = sorted(list(checkers) + list(subtables))
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
