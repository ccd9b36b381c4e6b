"""Field types of a record, and the check a loader runs before a record is trusted.

Why: JSON parsing accepts records damaged in ways that only show later, as a
traceback in the middle of a report or `nan` in a table: a field edited to
null, a byte flipped inside a number (`1e3456789` parses as infinity), NaN or
Infinity (Python's json reads both), a key renamed. So each format's loader
checks the record against the types of its fields (formats.py holds the table
for migbench.run/1, docs/records.md documents it), and a damaged file is one
MigbenchError naming the file and the field instead.

The types here are small combinators: scalars (STR, INT, COUNT, NUMBER,
SECONDS, BOOL, ANY), `nullable(t)`, `ListOf(t)`, `MapOf(t)` (an object whose
keys are names: phases, dev_loop) and `Obj(keys, required)`. An Obj checks
the keys it lists when they are present, and requires only `required`: keys
inside a record's objects are passed through as written and the ones added
later are read with .get(), so absence is not damage, except for the few keys
readers have always relied on. Keys an Obj does not list are not checked.

Numbers must be finite. Integers are JSON integers (not 1.0, not true) within
64 bits; counts, sizes and durations are >= 0.

No side effects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

# Problems named in one error before "(and N more)".
SHOWN = 3
_INT64 = 2**63


@dataclass(frozen=True)
class Problem:
    """One field that does not have its type: where, what was found, what was expected."""

    path: str  # "wall_s", "samples.rss[17]", 'dev_loop["test database"].wall_s'
    found: str  # "null", "the string 'abc'", "NaN", "missing"
    expected: str  # "a number >= 0"

    def __str__(self) -> str:
        if self.found == "missing":
            return "field %s is missing, expected %s" % (self.path, self.expected)
        return "field %s is %s, expected %s" % (self.path, self.found, self.expected)


class Type:
    doc: str  # as the table in docs/records.md writes it: "str", "int or null", "list of str"
    expected: str  # in messages: "a string", "an integer >= 0 or null"

    def check(self, value: object, path: str, found: list[Problem]) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class Scalar(Type):
    doc: str
    expected: str
    accepts: Callable[[object], bool]

    def check(self, value, path, found):
        if not self.accepts(value):
            found.append(Problem(path, describe(value), self.expected))


def _is_int(value) -> bool:
    return type(value) is int and -_INT64 <= value < _INT64


def _is_count(value) -> bool:
    return type(value) is int and 0 <= value < _INT64


def _is_number(value) -> bool:
    return (type(value) is float and math.isfinite(value)) or _is_int(value)


def _is_seconds(value) -> bool:
    return _is_number(value) and value >= 0


STR = Scalar("str", "a string", lambda v: isinstance(v, str))
BOOL = Scalar("bool", "true or false", lambda v: isinstance(v, bool))
INT = Scalar("int", "an integer", _is_int)
COUNT = Scalar("int", "an integer >= 0", _is_count)  # sizes in bytes, counts, repeat numbers
NUMBER = Scalar("float", "a number", _is_number)
SECONDS = Scalar("float", "a number >= 0", _is_seconds)
ANY = Scalar("any", "anything", lambda v: True)


@dataclass(frozen=True)
class _Nullable(Type):
    inner: Type

    @property
    def doc(self) -> str:
        return self.inner.doc + " or null"

    @property
    def expected(self) -> str:
        return self.inner.expected + " or null"

    def check(self, value, path, found):
        if value is not None:
            before = len(found)
            self.inner.check(value, path, found)
            if len(found) > before and found[before].path == path:  # the value itself, not a key inside
                found[before] = Problem(path, found[before].found, self.expected)


def nullable(inner: Type) -> Type:
    return _Nullable(inner)


@dataclass(frozen=True)
class ListOf(Type):
    item: Type

    @property
    def doc(self) -> str:
        return "list" if self.item is ANY or not isinstance(self.item, Scalar) else "list of " + self.item.doc

    @property
    def expected(self) -> str:
        return "an array"

    def check(self, value, path, found):
        if not isinstance(value, list):
            found.append(Problem(path, describe(value), self.expected))
            return
        if self.item is ANY:
            return
        if isinstance(self.item, Scalar):  # the fast path: ~90,000 samples in a long run
            accepts = self.item.accepts
            for index, item in enumerate(value):
                if not accepts(item):
                    found.append(Problem("%s[%d]" % (path, index), describe(item), self.item.expected))
                    if len(found) > SHOWN:
                        return
            return
        for index, item in enumerate(value):
            self.item.check(item, "%s[%d]" % (path, index), found)
            if len(found) > SHOWN:
                return


@dataclass(frozen=True)
class MapOf(Type):
    """An object whose keys are names (phase names, dev-loop commands), each value of one type."""

    value: Type
    doc: str = "object"
    expected: str = "an object"

    def check(self, value, path, found):
        if not isinstance(value, dict):
            found.append(Problem(path, describe(value), self.expected))
            return
        for key, item in value.items():
            self.value.check(item, key_path(path, key), found)
            if len(found) > SHOWN:
                return


@dataclass(frozen=True)
class Obj(Type):
    """An object: the listed keys have their types when present; `required` ones must be present."""

    keys: Mapping[str, Type] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    doc: str = "object"
    expected: str = "an object"

    def __post_init__(self):
        unknown = set(self.required) - set(self.keys)
        assert not unknown, "required keys without a type: %s" % unknown

    def check(self, value, path, found):
        if not isinstance(value, dict):
            found.append(Problem(path, describe(value), self.expected))
            return
        for name in self.required:
            if name not in value:
                found.append(Problem(key_path(path, name), "missing", self.keys[name].expected))
        for name, kind in self.keys.items():
            if name in value:
                kind.check(value[name], key_path(path, name), found)
            if len(found) > SHOWN:
                return


def problems(data: dict, types: Mapping[str, Type]) -> list[Problem]:
    """The fields of `data` (a record's top level) that do not have their types; first ones only."""
    found: list[Problem] = []
    for name, kind in types.items():
        if name in data:
            kind.check(data[name], name, found)
        if len(found) > SHOWN:
            break
    return found


def summary(found: list[Problem]) -> str:
    """'field wall_s is null, expected a number; field ... (and 2 more)': one line."""
    text = "; ".join(str(p) for p in found[:SHOWN])
    if len(found) > SHOWN:
        text += " (and more)"
    return text


def key_path(path: str, key: str) -> str:
    """'scenario' + 'sha256' -> 'scenario.sha256'; keys that are not names are quoted."""
    shown = key if key.isidentifier() else '"%s"' % _clip(key, 40)
    if not path:
        return shown
    return "%s.%s" % (path, shown) if key.isidentifier() else "%s[%s]" % (path, shown)


def describe(value: object) -> str:
    """What a value is, for a message: 'null', 'NaN', 'the string \\'abc\\'', 'an array', '1.5'."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "infinite" if value > 0 else "-infinite"
        return repr(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**24 else "an integer of %d bits" % value.bit_length()
    if isinstance(value, str):
        return "the string %r" % _clip(value, 30)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."
