"""Database engines: everything that knows which database a run uses, behind one interface.

- base: the Engine interface and the Database handle a run passes around;
- schema: a schema as engine-neutral data, and the diff of two (pure);
- sqlite: the embedded default (a fresh file per run);
- server: what the server engines share (an embedded throwaway server or the
  user's, scratch databases, leftovers of dead runs);
- embedded: an embedded server's processes and files, leftovers of dead runs;
- server_memory: the server's own memory during a run, apart from the child's;
- postgresql, mariadb: the two server engines.

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
from .mariadb import MariadbEngine
from .postgresql import PostgresEngine
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
    """The engine for a name, an alias, or a server URL (a new engine pointed at that server)."""
    if "://" in name:
        spec = spec_of(name)
        if spec is None:
            raise MigbenchError("unknown database URL scheme in %r; available: %s" % (name, ", ".join(_schemes())))
        return _by_scheme(spec).with_url(spec)
    found = resolve_name(name)
    if found is None:
        raise MigbenchError("unknown database engine %r; available: %s" % (name, ", ".join(ENGINES)))
    return ENGINES[found]


def spec_of(value: str) -> str | None:
    """What --database VALUE means: an engine's name, a server URL as given, or None (unknown).

    A URL must name the server only (migbench makes its own databases there) and
    use a scheme a server engine reads; anything else is an error naming the fix.
    """
    value = value.strip()
    if "://" not in value:
        return resolve_name(value)
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if _by_scheme(value) is None:
        return None
    if parts.path.strip("/"):
        raise MigbenchError("%s names a database; give the server only (%s://%s/): migbench creates and drops "
                            "its own migbench_* databases there" % (_redacted(value), parts.scheme, parts.netloc))
    try:
        parts.port
    except ValueError:
        raise MigbenchError("%s: the port is not a number from 0 to 65535" % _redacted(value)) from None
    return value


def name_of(spec: str) -> str:
    """The engine name of a spec from spec_of (a record's `database` engine)."""
    return _by_scheme(spec).name if "://" in spec else spec


def _by_scheme(url: str):
    scheme = url.split("://", 1)[0].lower()
    for engine in ENGINES.values():
        if scheme in getattr(engine, "url_schemes", ()):
            return engine
    return None


def _schemes() -> list[str]:
    return [s for engine in ENGINES.values() for s in getattr(engine, "url_schemes", ())]


def _redacted(url: str) -> str:
    from .server import redact

    return redact(url)


register(SqliteEngine())
register(PostgresEngine())
register(MariadbEngine())

__all__ = ["DEFAULT", "ENGINES", "MIGRATIONS_TABLE", "Database", "Engine", "get", "names", "register",
           "resolve_name", "spec_of", "name_of"]
