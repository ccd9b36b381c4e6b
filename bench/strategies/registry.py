"""The strategies by name, in the order they are listed (`--strategy`, help texts, tables).

bench/strategies/__init__.py registers every shipped strategy when the package
is imported; what each one is and does is in its own module
(bench/strategies/base.py says what a strategy owns). Pure: no side effects beyond the table.
"""

from __future__ import annotations

from migbench.errors import MigbenchError

from .base import Strategy

STRATEGIES: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    STRATEGIES[strategy.name] = strategy
    return strategy


def names() -> tuple[str, ...]:
    return tuple(STRATEGIES)


def get(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise MigbenchError("unknown strategy %r; available: %s" % (name, ", ".join(STRATEGIES))) from None
