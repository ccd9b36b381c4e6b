"""Server engines: a database that lives in a server, started here or the user's own.

Two ways to get a server, one interface (`ServerEngine`):
- embedded (`--database postgresql`): migbench finds the server's binaries
  the way it finds interpreters, starts a throwaway server under its cache
  for the length of one matrix (`serving()`), listening on a Unix socket
  only (no TCP port is opened: nothing on the network can reach it), and
  stops it on leaving, also after Ctrl-C or an error. A migbench killed
  outright leaves its server behind; the next one cleans it up
  (`cleanup_stale`), the way stale cgroups are cleaned.
- the user's (`--database postgresql://user@host:port/`): migbench creates
  its own scratch databases there (`migbench_<hex>`, and `..._test` for the
  dev loop's test database) and drops them; it never touches another database.

Each run gets a fresh database (`fresh`), dropped after it (`drop`). The dev
loop's kept test database is `<name>_test`, Django's own default, dropped with
it; its dumps are made and restored with the engine's client programs
(pg_dump/pg_restore, mariadb-dump/mariadb), run as migbench's user.

What a subclass provides (postgresql.py, mariadb.py): how to find, initialise,
start and stop its server; how to connect from migbench's own process (a
DB-API driver installed with migbench); how to read its catalog into
schema.Schema; which driver each (Python, Django) environment gets.

What this module is *not* responsible for: the children's connection
settings (generator/project.py reads MIGBENCH_DATABASE_URL) and installing
drivers into environments (bench/env/environments.ensure_driver).

Side effects: `serving()` starts and stops processes and writes under
cache_root()/servers; `cleanup_stale` kills servers whose owner is dead.
"""

from __future__ import annotations

import contextlib
import secrets
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator, Sequence
from urllib.parse import quote, unquote, urlsplit

from migbench.errors import MigbenchError
from migbench.targets import DjangoLine

from .base import MIGRATIONS_TABLE, Database, Engine
# What subclasses use to run their server, re-exported: one import for an engine module.
from .embedded import (_one_line, _remove_files, cleanup_stale,  # noqa: F401
                       owned_directory, private_files, record_server, run_as_user, run_tool, servers_root, spawn,
                       wait_until)
from .server_memory import MemoryMark, ServerMemory

SCRATCH_PREFIX = "migbench_"


@dataclass
class Server:
    """A running server and how to reach it (embedded: ours to stop; external: the user's)."""

    user: str
    password: str = ""
    host: str = ""  # a hostname, or a path: what the child's HOST needs (PostgreSQL: the socket's
    # directory; MySQL: the socket file itself)
    port: int | None = None
    version: str = ""
    embedded: bool = True
    pid: int | None = None  # the server's main process (embedded only)
    directory: Path | None = None  # the server's files (embedded only)
    extra: dict = field(default_factory=dict)

    @property
    def socket(self) -> str | None:
        return self.host if self.host.startswith("/") else None


@dataclass(frozen=True)
class DriverSpec:
    """The DB-API driver a (Python, Django) environment gets for an engine."""

    requirement: str  # what pip installs, e.g. "psycopg2-binary==2.8.6"
    module: str  # what Django imports, e.g. "psycopg2"
    distribution: str  # whose version is recorded, e.g. "psycopg2-binary"
    system_packages: tuple[str, ...] = ()  # Debian packages a source build needs


class ServerEngine(Engine):
    """An engine whose databases live in a server. Subclasses implement the hooks below."""

    scheme: ClassVar[str]  # URL scheme the children read ("postgres", "mysql")
    url_schemes: ClassVar[tuple[str, ...]]  # schemes accepted from users
    packages: ClassVar[str]  # Debian packages that provide the embedded server
    client_packages: ClassVar[str]  # Debian packages that provide the dump and restore programs
    default_port: ClassVar[int]
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM  # how a leftover server is asked to stop


    def __init__(self, url: str | None = None):
        self.url = url
        self.server: Server | None = None
        self._memory: ServerMemory | None = None

    def with_url(self, url: str) -> "ServerEngine":
        """This engine pointed at the user's server (`--database SCHEME://user@host:port/`)."""
        return type(self)(url)

    # -- hooks ---------------------------------------------------------------------------

    def find_binaries(self) -> dict[str, Path] | None:
        """The server's programs by role, or None when they are not installed."""
        raise NotImplementedError

    def start_embedded(self, directory: Path, binaries: dict[str, Path]) -> Server:
        """Initialise a data directory under `directory`, start the server, wait until it answers."""
        raise NotImplementedError

    def stop_embedded(self, server: Server) -> None:
        """Stop the embedded server (politely, then by force); its files are removed by the caller."""
        raise NotImplementedError

    def connect(self, server: Server, dbname: str | None = None) -> Any:
        """A DB-API connection from migbench's process (autocommit), to `dbname` or the admin database."""
        raise NotImplementedError

    def server_version(self, server: Server) -> str:
        raise NotImplementedError

    def read_schema(self, connection: Any, dbname: str, exclude: Sequence[str]):
        """The catalog of `dbname` as schema.Schema."""
        raise NotImplementedError

    def driver(self, line: DjangoLine, python_minor: tuple[int, int]) -> DriverSpec:
        """The driver this (Django line, Python) environment needs for this engine."""
        raise NotImplementedError

    def quote_name(self, name: str) -> str:
        raise NotImplementedError

    def create_database_sql(self, name: str) -> str:
        return "CREATE DATABASE %s" % self.quote_name(name)

    def client_tools(self) -> dict[str, Path | None]:
        """The dump and restore programs by role ("dump", "restore"); None for one not found."""
        raise NotImplementedError

    def dump_command(self, tools: dict[str, Path], server: Server, name: str, path: Path) -> list[str]:
        """argv that writes database `name` into the file `path`."""
        raise NotImplementedError

    def restore_command(self, tools: dict[str, Path], server: Server, name: str,
                        path: Path) -> tuple[list[str], Path | None]:
        """argv that loads the dump `path` into the existing, empty database `name`, and the file
        its standard input reads (None: the argv names the file)."""
        raise NotImplementedError

    def client_env(self, server: Server) -> dict[str, str]:
        """The client programs' environment (the password goes here, never into argv)."""
        raise NotImplementedError

    # -- Engine --------------------------------------------------------------------------

    def unavailable(self) -> str | None:
        if self.url:  # the user's server: answer now, before any environment is built or run made
            try:
                self.external(self.url)
            except MigbenchError as error:
                return str(error)
            return None
        if self.find_binaries() is None:
            return ("no %s server binaries found (looked on PATH and in the usual places); "
                    "install them with: apt-get install %s" % (self.name, self.packages))
        return None

    @contextlib.contextmanager
    def serving(self) -> Iterator["ServerEngine"]:
        if self.server is not None:  # nested: the outer serving() owns the server
            yield self
            return
        if self.url:
            self.server = self.external(self.url)
            try:
                yield self
            finally:
                self.server = None
            return
        binaries = self.find_binaries()
        if binaries is None:
            raise MigbenchError("--database %s: %s" % (self.name, self.unavailable()))
        with owned_directory(self.name) as directory:
            server = None
            try:
                server = self.start_embedded(directory, binaries)
                record_server(directory, server.pid, str(server.extra.get("files", "")), self.stop_signal.name)
                server.version = server.version or self.server_version(server)
                self.server = server
                self._memory = ServerMemory(server.pid)
                self._memory.start()
                yield self
            finally:
                if self._memory is not None:
                    self._memory.stop()
                    self._memory = None
                self.server = None
                if server is not None:
                    self.stop_embedded(server)

    def external(self, url: str) -> Server:
        """The user's server from its URL, checked by connecting once."""
        parts = urlsplit(url)
        if parts.path.strip("/"):
            raise MigbenchError("%s names a database; give the server only (%s://%s/): migbench makes its own "
                                "migbench_* databases there" % (redact(url), parts.scheme, parts.netloc))
        query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
        server = Server(user=unquote(parts.username or ""), password=unquote(parts.password or ""),
                        host=unquote(query.get("host", "")) or parts.hostname or "",
                        port=parts.port or (int(query["port"]) if query.get("port") else None), embedded=False)
        try:
            server.version = self.server_version(server)
        except Exception as error:  # the driver's own error types differ per engine
            raise MigbenchError("cannot connect to %s: %s" % (redact(url), _one_line(error))) from None
        return server

    def fresh(self, workdir: Path, label: str, line: DjangoLine | None = None) -> Database:
        server = self._serving()
        name = "%s%s_%s" % (SCRATCH_PREFIX, secrets.token_hex(4), _label(label))
        with contextlib.closing(self.connect(server)) as connection:
            cursor = connection.cursor()
            for each in (name, name + "_test"):  # a dead run's test database of the same name cannot exist
                cursor.execute("DROP DATABASE IF EXISTS %s" % self.quote_name(each))
            cursor.execute(self.create_database_sql(name))
        return Database(self, label, self.child_url(server, name), None, line)

    def drop(self, database: Database) -> None:
        name = self.database_name(database)
        server = self._serving()
        with contextlib.closing(self.connect(server)) as connection:
            cursor = connection.cursor()
            for each in (name, name + "_test"):
                cursor.execute("DROP DATABASE IF EXISTS %s" % self.quote_name(each))

    def snapshot(self, database: Database, exclude=(MIGRATIONS_TABLE,)):
        name = self.database_name(database)
        with contextlib.closing(self.connect(self._serving(), name)) as connection:
            return self.read_schema(connection, name, tuple(exclude))

    def recorded_migrations(self, database: Database, apps: Sequence[str]) -> list[str]:
        name = self.database_name(database)
        with contextlib.closing(self.connect(self._serving(), name)) as connection:
            cursor = connection.cursor()
            if MIGRATIONS_TABLE not in self.table_names(cursor):
                return []
            cursor.execute("SELECT app, name FROM %s WHERE app IN (%s)"
                           % (MIGRATIONS_TABLE, ",".join(["%s"] * len(apps))), list(apps))
            return ["%s.%s" % tuple(row) for row in cursor.fetchall()]

    def forget_migrations(self, database: Database, apps: Sequence[str]) -> None:
        name = self.database_name(database)
        with contextlib.closing(self.connect(self._serving(), name)) as connection:
            connection.cursor().execute("DELETE FROM %s WHERE app IN (%s)"
                                        % (MIGRATIONS_TABLE, ",".join(["%s"] * len(apps))), list(apps))

    def table_names(self, cursor) -> list[str]:
        raise NotImplementedError

    def replay_argv(self, database: Database, python, statements: Path, events: Path) -> list[str]:
        from migbench.bench.measure.worker import EXECUTE_SQL

        return [str(python), str(EXECUTE_SQL), "--url", database.url,
                "--statements", str(statements), "--events", str(events)]

    # -- the dev loop's test databases ------------------------------------------------------

    def test_database(self, database: Database) -> Database:
        name = self.database_name(database) + "_test"  # what the generated settings' TEST NAME says
        return Database(self, database.label + "_test", self.child_url(self._serving(), name), None,
                        database.line)

    def dump_unavailable(self) -> str | None:
        missing = [role for role, path in self.client_tools().items() if path is None]
        if not missing:
            return None
        return ("no %s program for %s found (looked on PATH and in the usual places); install it with: "
                "apt-get install %s" % (" or ".join(missing), self.name, self.client_packages))

    def dump(self, database: Database, path: Path) -> str:
        tools = self._tools()  # what is missing first: it names the package to install
        server, name = self._serving(), self.database_name(database)
        run_client(self.dump_command(tools, server, name, Path(path)), "%s of %s" % (tools["dump"].name, name),
                   self.client_env(server))
        return tools["dump"].name

    def restore(self, path: Path, database: Database) -> str:
        """CREATE DATABASE as `fresh` makes one, then the client loads the dump into it."""
        tools = self._tools()  # what is missing first: it names the package to install
        server, name = self._serving(), self.database_name(database)
        try:
            with contextlib.closing(self.connect(server)) as connection:
                connection.cursor().execute(self.create_database_sql(name))
        except Exception as error:  # the driver's own error types differ per engine
            raise MigbenchError("cannot create %s to restore into: %s" % (name, _one_line(error))) from None
        argv, stdin = self.restore_command(tools, server, name, Path(path))
        run_client(argv, "%s into %s" % (tools["restore"].name, name), self.client_env(server), stdin)
        return "CREATE DATABASE, then %s" % tools["restore"].name

    def _tools(self) -> dict[str, Path]:
        why = self.dump_unavailable()
        if why:
            raise MigbenchError(why)
        return self.client_tools()  # type: ignore[return-value]

    def cache_key(self) -> str:
        """Engine and major version (PostgreSQL 15, MariaDB 10.11): a patch release changes no catalog."""
        version = (self.server.version if self.server else "").split()
        if not version:
            return self.name
        parts = version[0].split(".")
        return "%s-%s" % (self.name, ".".join(parts[:-1] if len(parts) > 1 else parts))

    def describe(self) -> dict:
        server = self.server
        out = {"engine": self.name, "fresh": True,
               "server": "external" if self.url else "embedded",
               "server_version": server.version if server else None}
        if self.url:
            out["url"] = redact(self.url)
        return out

    def memory_mark(self) -> "MemoryMark | None":
        """Start watching the server's memory for one run; None when it cannot be watched (external)."""
        return self._memory.mark() if self._memory is not None else None

    # -- helpers -------------------------------------------------------------------------

    def _serving(self) -> Server:
        if self.server is None:
            raise MigbenchError("%s: no server: databases are made inside Engine.serving()" % self.name)
        return self.server

    def child_url(self, server: Server, name: str) -> str:
        """The URL a child's settings read (generator/project.py): a socket directory goes in ?host=."""
        auth = quote(server.user, safe="")
        if server.password:
            auth += ":" + quote(server.password, safe="")
        query = []
        if server.socket:
            query.append("host=" + quote(server.socket, safe="/"))
            netloc = auth + "@"
            if server.port:
                query.append("port=%d" % server.port)
        else:
            netloc = "%s@%s%s" % (auth, server.host or "localhost", ":%d" % server.port if server.port else "")
        return "%s://%s/%s%s" % (self.scheme, netloc, name, "?" + "&".join(query) if query else "")

    @staticmethod
    def database_name(database: Database) -> str:
        name = unquote(urlsplit(database.url).path.lstrip("/"))
        if not name.startswith(SCRATCH_PREFIX):  # the one guard against dropping a user's database
            raise MigbenchError("refusing to touch database %r: migbench only uses its own %s* databases"
                                % (name, SCRATCH_PREFIX))
        return name


def run_client(argv: list[str], what: str, env: dict[str, str], stdin: Path | None = None,
               timeout: float = 3600) -> None:
    """Run a client program (a dump, a restore); its error output, in one line, if it fails."""
    with (open(stdin, "rb") if stdin is not None else contextlib.nullcontext(subprocess.DEVNULL)) as source:
        try:
            done = subprocess.run(argv, stdin=source, capture_output=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise MigbenchError("%s did not finish in %ds" % (what, timeout)) from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).decode("utf-8", errors="replace")
        raise MigbenchError("%s failed (exit %d): %s" % (what, done.returncode, _one_line(said)))


def redact(url: str) -> str:
    """A URL without its password (records and messages never carry one)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _label(label: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in label.lower())[:24]


__all__ = ["SCRATCH_PREFIX", "DriverSpec", "MemoryMark", "Server", "ServerEngine", "ServerMemory", "cleanup_stale",
           "private_files", "redact", "run_as_user", "run_client", "run_tool", "servers_root", "spawn", "wait_until"]
