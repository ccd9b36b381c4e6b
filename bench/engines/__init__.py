"""Database engines: everything that knows which database a run uses, behind one interface.

- base: the Engine interface and the Database handle a run passes around;
- schema: a schema as engine-neutral data, and the diff of two (pure);
- sqlite: the embedded default (a fresh file per run).

A new engine is one module with an Engine subclass and one `register()` line
below; `--database NAME` then accepts it (its name or aliases) and every run,
check and validation goes through it.

Side effects: engines make and drop scratch databases (sqlite: files in the
run's scratch directory) and read their catalogs; importing this package
has none.
"""

from __future__ import annotations

from migbench.errors import MigbenchError

from .base import MIGRATIONS_TABLE, Database, Engine
from .sqlite import SqliteEngine

ENGINES: dict[str, Engine] = {}
DEFAULT = "sqlite"


def register(engine: Engine) -> Engine:
    ENGINES[engine.name] = engine
    return engine


def names() -> tuple[str, ...]:
    return tuple(ENGINES)


def resolve_name(value: str) -> str | None:
    """The engine's name for a spelling given by a user ("sqlite3" -> "sqlite"), or None."""
    wanted = value.strip().lower()
    for engine in ENGINES.values():
        if wanted == engine.name or wanted in engine.aliases:
            return engine.name
    return None


def get(name: str) -> Engine:
    found = resolve_name(name)
    if found is None:
        raise MigbenchError("unknown database engine %r; available: %s" % (name, ", ".join(ENGINES)))
    return ENGINES[found]


register(SqliteEngine())

__all__ = ["DEFAULT", "ENGINES", "MIGRATIONS_TABLE", "Database", "Engine", "get", "names", "register",
           "resolve_name"]
