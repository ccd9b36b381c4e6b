"""What every database engine provides: the one interface behind which a run's database lives.

A run never opens a database itself. It asks the cell's engine for a fresh
database (`Engine.fresh`), hands the children the settings fragment that
points Django at it (`Database.child_env`), and asks the engine again for
everything that reads or changes the database outside Django: the schema
snapshot the proof of equivalence compares, the rows of django_migrations,
the floor's replay of captured DDL. Adding an engine is one module that
subclasses Engine and one `register()` line in bench/engines/__init__.py.

What an engine is *not* responsible for: running Django (bench/measure/ does,
in a child), comparing schemas (bench/engines/schema.py compares what engines
read), or choosing which engine a cell uses (the matrix's --database).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar, Iterable, Iterator, Sequence
from urllib.parse import parse_qsl, urlsplit

from migbench.targets import DjangoLine

from .schema import Schema

MIGRATIONS_TABLE = "django_migrations"


@dataclass(frozen=True)
class Database:
    """One scratch database made for one run (or one check), and how a child reaches it.

    `url` is what the generated project's settings read from
    MIGBENCH_DATABASE_URL (generator/project.py parses sqlite:// and
    postgres:// URLs); `path` is the file of a file-based engine.
    """

    engine: "Engine" = field(repr=False, compare=False)
    label: str
    url: str
    path: Path | None = None
    line: DjangoLine | None = field(default=None, repr=False)  # the Django line the run uses
    # More of the settings fragment, as (variable, value) pairs: how `manage.py test` makes its
    # test database (MIGBENCH_TEST_NAME, MIGBENCH_TEST_MIGRATE; bench/strategies/testdb.py)
    settings: tuple[tuple[str, str], ...] = ()

    def child_env(self) -> dict[str, str]:
        """The settings fragment for a child process: environment variables only, no file edits."""
        env = {"MIGBENCH_DATABASE_URL": self.url}
        env.update(self.settings)
        return env

    def with_settings(self, values: dict[str, str]) -> "Database":
        """The same database with more of the settings fragment (the test database's settings)."""
        return replace(self, settings=tuple(sorted({**dict(self.settings), **values}.items())))

    def replay_argv(self, python: Path | str, statements: Path, events: Path) -> list[str]:
        """The floor: argv of a child that replays captured DDL on this database (no Django)."""
        return self.engine.replay_argv(self, python, statements, events)

    def host_paths(self) -> tuple[Path, ...]:
        """Host directories a child in a container or VM guest must reach to use this database:
        the file's directory (SQLite writes its journal beside the file), or the directory of
        a server's Unix socket (the URL's ?host=)."""
        if self.path is not None:
            return (Path(self.path).parent,)
        for key, value in parse_qsl(urlsplit(self.url).query):
            if key == "host" and value.startswith("/"):
                return (Path(value),)
        return ()

    @property
    def over_network(self) -> bool:
        """Reached over TCP (a server URL with a host name): a container then needs a network."""
        parts = urlsplit(self.url)
        return self.path is None and not self.host_paths() and bool(parts.hostname)


class Engine:
    """A database engine the matrix can run on. Subclasses set `name` and implement the methods."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()  # other spellings accepted by --database

    def unavailable(self) -> str | None:
        """Why this engine cannot run here (one line naming what to install), or None."""
        return None

    def unsupported(self, line: DjangoLine) -> str | None:
        """Why a Django line cannot run on this engine (the matrix skips those cells), or None."""
        return None

    def driver(self, line: DjangoLine, python_minor: tuple[int, int]):
        """The DB-API driver an environment needs for this engine (server.DriverSpec), or None:
        SQLite's module comes with every Python."""
        return None

    def memory_mark(self):
        """Start watching the server's own memory for one run (server.MemoryMark), or None when
        there is no server process of ours to watch (SQLite; a user's remote server)."""
        return None

    @contextlib.contextmanager
    def serving(self) -> Iterator["Engine"]:
        """Around a whole matrix: a server engine starts its throwaway server here and stops it
        on leaving, also on errors and Ctrl-C. File engines have nothing to start."""
        yield self

    def fresh(self, workdir: Path, label: str, line: DjangoLine | None = None) -> Database:
        """A new, empty database for one run; `label` tells several of one run apart."""
        raise NotImplementedError

    def drop(self, database: Database) -> None:
        """Remove a database made by `fresh` (runs are never left sharing one)."""
        raise NotImplementedError

    def snapshot(self, database: Database, exclude: Iterable[str] = (MIGRATIONS_TABLE,)) -> Schema:
        """The database's schema, read from the engine's catalog, in the engine-neutral form."""
        raise NotImplementedError

    def recorded_migrations(self, database: Database, apps: Sequence[str]) -> list[str]:
        """"app.name" of every row of django_migrations for `apps` ([] when the table is missing)."""
        raise NotImplementedError

    def forget_migrations(self, database: Database, apps: Sequence[str]) -> None:
        """Delete the django_migrations rows of `apps`: what a migrations-zero deploy does first."""
        raise NotImplementedError

    def replay_argv(self, database: Database, python: Path | str, statements: Path, events: Path) -> list[str]:
        """argv of the floor: a child replaying captured DDL with the engine's own client or driver."""
        raise NotImplementedError

    # -- the dev loop's test databases (bench/strategies/testdb.py) ----------------------------

    dump_suffix: ClassVar[str] = ".dump"  # the file name ending of this engine's dumps

    def test_database(self, database: Database) -> Database:
        """The test database `manage.py test --keepdb` keeps beside `database` when the child's
        settings are `database.with_settings(self.test_settings(database))`: it is dropped with
        `drop`, dumped with `dump`, made from a dump with `restore`."""
        raise NotImplementedError

    def test_settings(self, database: Database) -> dict[str, str]:
        """The settings fragment that makes `manage.py test` use `test_database(database)`
        ({}: Django's default test database already is it)."""
        return {}

    def dump_unavailable(self) -> str | None:
        """Why this engine cannot dump or restore here (one line naming what to install), or None."""
        if type(self).dump is Engine.dump:
            return "the %s engine implements no dump and restore (Engine.dump, Engine.restore)" % self.name
        return None

    def dump(self, database: Database, path: Path) -> str:
        """Write `database`'s schema and rows into the file `path`; return how (for the record)."""
        raise NotImplementedError

    def restore(self, path: Path, database: Database) -> str:
        """Make `database`, which must not exist, from the dump at `path`; return how."""
        raise NotImplementedError

    def cache_key(self) -> str:
        """What a cached baseline is kept under: schemas read on another engine (or another server
        version: a catalog's defaults and types change between releases) are not comparable."""
        return self.name

    def describe(self) -> dict:
        """The record's `database` field."""
        return {"engine": self.name, "fresh": True}

    def notes(self, line: DjangoLine) -> list[str]:
        """What a reader of a record made on this engine and line must know (record notes)."""
        return []
