"""The value checkers of scenario files: each takes a value and returns it parsed, or raises
`Bad` with the "what is allowed" half of a one-line message (scenario.py adds the file and key).

Kept apart from scenario.py so the per-app tables (apps.py) use the same rules without an
import cycle. Pure: no side effects.
"""

from __future__ import annotations

from typing import Any, Callable

from migbench.errors import MigbenchError
from migbench.targets import resolve_line
from migbench.units import show

MAX_WEIGHT = 1e6  # weights are relative; a bound keeps their sum finite

IntRange = tuple[int, int]


class Bad(Exception):
    """A value refused: the message says what is allowed and what was given."""


def integer(minimum: int = 0, maximum: int | None = None) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Bad("expected an integer, got %s" % show(value))
        if value < minimum or (maximum is not None and value > maximum):
            upper = "" if maximum is None else " and <= %d" % maximum
            raise Bad("expected an integer >= %d%s, got %d" % (minimum, upper, value))
        return value
    return check


def int_range(minimum: int = 0, maximum: int | None = None) -> Callable[[Any], IntRange]:
    single = integer(minimum, maximum)

    def check(value: Any) -> IntRange:
        if isinstance(value, list):
            if len(value) != 2:
                raise Bad("expected an integer or [min, max], got a list of %d" % len(value))
            low, high = (single(v) for v in value)
            if low > high:
                raise Bad("expected [min, max] with min <= max, got [%d, %d]" % (low, high))
            return (low, high)
        number = single(value)
        return (number, number)
    return check


def number(minimum: float, maximum: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not minimum <= value <= maximum:
            raise Bad("expected a number from %g to %g, got %s" % (minimum, maximum, show(value)))
        return float(value)
    return check


def share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Bad("expected a number between 0 and 1, got %s" % show(value))
    if not 0 <= value <= 1:
        raise Bad("expected a number between 0 and 1, got %s" % show(value))
    return float(value)


def weights(allowed: tuple[str, ...], require_positive: bool = True) -> Callable[[Any], dict]:
    """A table of non-negative weights; keys not given weigh 0."""

    def check(value: Any) -> dict[str, float]:
        if not isinstance(value, dict):
            raise Bad("expected a table of weights over %s" % ", ".join(allowed))
        weights = {name: 0.0 for name in allowed}
        for key, weight in value.items():
            if key not in allowed:
                raise Bad("unknown key %s; allowed: %s" % (show(key), ", ".join(allowed)))
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= MAX_WEIGHT:
                raise Bad("weight of %s must be a number >= 0 and <= 1e6, got %s" % (show(key), show(weight)))
            weights[key] = float(weight)
        if require_positive and not any(weights.values()):
            raise Bad("at least one weight must be > 0")
        return weights
    return check


def counts(allowed: tuple[str, ...]) -> Callable[[Any], dict]:
    """A table of exact counts (integers >= 0) over `allowed`; keys not given count 0."""
    count = integer(0, 100000)

    def check(value: Any) -> dict[str, int]:
        if not isinstance(value, dict):
            raise Bad("expected a table of counts over %s" % ", ".join(allowed))
        for key in value:
            if key not in allowed:
                raise Bad("unknown key %s; allowed: %s" % (show(key), ", ".join(allowed)))
        counts = {}
        for key in allowed:
            if key in value:
                try:
                    counts[key] = count(value[key])
                except Bad as bad:
                    raise Bad("count of %s: %s" % (key, bad)) from None
        return counts
    return check


def positions(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise Bad("expected a list of app positions (1 = the first [[generator.app]]), got %s" % show(value))
    return tuple(sorted(set(integer(1, 100000)(item) for item in value)))


def choice(allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise Bad("expected one of %s, got %s" % (", ".join(allowed), show(value)))
        return value
    return check


def subset(allowed: tuple[str, ...]) -> Callable[[Any], tuple[str, ...]]:
    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or any(v not in allowed for v in value):
            raise Bad("expected a list drawn from %s, got %s" % (", ".join(allowed), show(value)))
        if "auth" in value and "contenttypes" not in value:
            raise Bad("auth needs contenttypes")
        return tuple(v for v in allowed if v in value)
    return check


def string(value: Any) -> str:
    if not isinstance(value, str):
        raise Bad("expected a string, got %s" % show(value))
    return value


def django_line(value: Any) -> str:
    text = string(value)
    try:
        return resolve_line(text).line
    except MigbenchError as error:
        raise Bad(str(error)) from None
