"""PostgreSQL: a throwaway server of the machine's own binaries, or the user's, one database per run.

What this engine knows that no other module may:
- where the server's programs live (PATH, then Debian's
  /usr/lib/postgresql/<major>/bin, newest major first) and how to start one
  that nobody else can reach: initdb as the server's system user (initdb and
  postgres refuse root), `postgres` started directly rather than through
  pg_ctl so migbench holds its pid (the memory sampler and the stale-server
  cleanup both need it), listening on a Unix socket in its private directory
  only (listen_addresses='', so no TCP port is opened; the port number only
  names the socket file);
- the one durability setting changed, fsync=off: the server is thrown away
  after the matrix, and what a run measures is Django and the server doing
  DDL, not how fast this machine's disk flushes (an SSD, an overlay
  filesystem and a CI runner's network disk would otherwise differ more
  than the strategies do). synchronous_commit=off would not be enough: it
  only stops commits waiting for the WAL, while every btree index build and
  every CREATE DATABASE still fsyncs its files directly, and a migration
  builds many indexes. Everything else (full_page_writes,
  synchronous_commit, shared_buffers) stays at its default, so the server
  still writes its WAL and pages as a production server does; only the wait
  for the storage device is gone. The records say so (notes(), describe()).
  (On a disk with a write cache it changes nothing measurable: 60 tables
  with their indexes took 0.34 s with and without it when this was written.)
- which driver each (Django, Python) environment gets (driver(); the table
  and the evidence for each row are beside it);
- how the catalog reads as schema.Schema (pg_catalog.py);
- how a test database is dumped and restored: pg_dump's custom format
  (-Fc, compressed, without owners and grants) and pg_restore into a new
  database, the programs taken from the server's own directory first (a
  pg_dump older than the server refuses to dump it).

Host-side, migbench talks to the server with psycopg 3, imported lazily (so
importing bench.engines stays cheap); children use their own environment's
driver, through Django.
"""

from __future__ import annotations

import contextlib
import getpass
import glob
import os
import random
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, Sequence

from migbench.errors import MigbenchError
from migbench.targets import DjangoLine

from . import server as srv
from .base import Database
from .schema import Schema
from .server import DriverSpec, Server, ServerEngine

BINARIES = ("initdb", "postgres")  # pg_ctl is found too (a hint for users) but not needed
START_TIMEOUT = 60
STOP_TIMEOUT = 30
# The one setting that departs from a default server (see the module docstring).
SERVER_SETTINGS = {"fsync": "off"}

# -- the children's drivers ------------------------------------------------------------------
# Exact pins, not ranges: the driver is part of what a run measures (and psycopg2 2.9 changed
# behaviour old Django relied on, below), so two machines and two months must get the same one.
# Each pin is the newest release with binary wheels for every Python of its rows, so no
# environment ever compiles it. Evidence: `migrate` of a generated project on PostgreSQL 15
# with each row (tests/bench/engines/test_postgresql.py runs the 4.2 row; the others were run
# by hand when the table was written; see the test module's docstring).
#
# psycopg2-binary 2.8.6: the last release with Python 2.7 wheels (cp27mu; also cp35-cp39), and
# the one the Django 1.x/2.x era was tested against. Django < 3.2 on Python <= 3.9 gets it.
PSYCOPG2_OLD = "psycopg2-binary==2.8.6"
# psycopg2-binary 2.9.10: the newest with wheels for Python 3.8 to 3.13 (2.9.11 dropped 3.8,
# 2.9.13 dropped 3.9). Django 3.2-4.1 (3.1.13/3.2.5 adapted to 2.9), and Django 1.8-1.11 on
# the shim's Pythons >= 3.10, where 2.8.6 has no wheel. What 2.9 broke in older Django
# (psycopg/psycopg2#1293: the tzinfo_factory offset became a timedelta, and Django's UTC
# check raises "database connection isn't set to UTC") runs only with USE_TZ=True, which
# generated projects never set.
PSYCOPG2_NEW = "psycopg2-binary==2.9.10"
# psycopg 3.2.13: the newest with wheels for Python 3.8 to 3.13 (3.3 needs 3.10+). Django
# 4.2+ prefers psycopg 3 when it is installed; 4.2 needs >= 3.1.8.
PSYCOPG3 = "psycopg[binary]==3.2.13"


class PostgresEngine(ServerEngine):
    name = "postgresql"
    aliases = ("postgres", "pg")
    scheme = "postgres"
    url_schemes = ("postgres", "postgresql")
    packages = "postgresql"
    client_packages = "postgresql-client"
    dump_suffix = ".pgdump"
    default_port = 5432
    stop_signal = signal.SIGINT  # fast shutdown: SIGTERM ("smart") would wait for a leftover session

    def __init__(self, url: str | None = None):
        super().__init__(url)
        self._processes: dict[int, subprocess.Popen] = {}  # embedded servers we spawned, to reap

    # -- the embedded server ---------------------------------------------------------------

    def find_binaries(self) -> dict[str, Path] | None:
        """initdb/postgres (and pg_ctl) from one directory: PATH first, then Debian's versioned dirs.

        All from the same directory, so initdb and the server are one version
        (a data directory of another major version does not start).
        """
        candidates = []
        on_path = shutil.which("postgres") or shutil.which("initdb")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
        versioned = glob.glob("/usr/lib/postgresql/*/bin")
        candidates += [Path(p) for p in sorted(versioned, key=_major_key, reverse=True)]
        for directory in candidates:
            found = {name: directory / name for name in BINARIES + ("pg_ctl",)}
            if all(os.access(found[name], os.X_OK) for name in BINARIES):
                return found
        return None

    def start_embedded(self, directory: Path, binaries: dict[str, Path]) -> Server:
        """initdb (trust auth, UTF8, C locale) in private files, then `postgres` on a socket only."""
        user = srv.run_as_user(("postgres",))
        files = srv.private_files(directory, user)
        role = user or getpass.getuser()
        data = files / "data"
        port = random.randint(20000, 60000)  # only the socket's name (.s.PGSQL.<port>)
        socket = files / (".s.PGSQL.%d" % port)
        if len(str(socket)) > 100:  # sun_path holds ~107 bytes
            raise MigbenchError("PostgreSQL's socket path would be too long (%s); set TMPDIR to a "
                                "shorter directory" % socket)
        env = _server_env()
        srv.run_tool([str(binaries["initdb"]), "-D", str(data), "--auth=trust", "-U", role, "-E", "UTF8",
                      "--locale=C", "--no-sync"], user, "initdb", env=env)
        argv = [str(binaries["postgres"]), "-D", str(data), "-k", str(files), "-p", str(port),
                "-c", "listen_addresses="]
        for key, value in SERVER_SETTINGS.items():
            argv += ["-c", "%s=%s" % (key, value)]
        log = directory / "server.log"
        process = srv.spawn(argv, user, log, env=env)
        self._processes[process.pid] = process
        server = Server(user=role, host=str(files), port=port, pid=process.pid, embedded=True,
                        directory=directory, extra={"files": str(files)})
        try:
            server.version = srv.wait_until(lambda: self.server_version(server), START_TIMEOUT,
                                            "PostgreSQL (%s)" % binaries["postgres"], process, log)
        except BaseException:
            self.stop_embedded(server)
            raise
        return server

    def stop_embedded(self, server: Server) -> None:
        """SIGINT is PostgreSQL's fast shutdown (abort sessions, checkpoint, exit); SIGKILL the
        whole process group (start_new_session made the server its leader) if it hangs."""
        if not server.pid:
            return
        process = self._processes.pop(server.pid, None)
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGINT)
        try:
            if process is not None:
                process.wait(STOP_TIMEOUT)
            else:
                _wait_gone(server.pid, STOP_TIMEOUT)
        except (subprocess.TimeoutExpired, TimeoutError):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(server.pid, signal.SIGKILL)
            if process is not None:
                process.wait(10)

    # -- talking to it ---------------------------------------------------------------------

    def connect(self, server: Server, dbname: str | None = None) -> Any:
        import psycopg

        params = {"dbname": dbname or "postgres", "user": server.user, "autocommit": True, "connect_timeout": 10}
        if server.host:
            params["host"] = server.host
        if server.port:
            params["port"] = server.port
        if server.password:
            params["password"] = server.password
        return psycopg.connect(**params)

    def server_version(self, server: Server) -> str:
        with contextlib.closing(self.connect(server)) as connection:
            (text,) = connection.execute("SHOW server_version").fetchone()
        return version_number(text)

    def quote_name(self, name: str) -> str:
        return '"%s"' % name.replace('"', '""')

    def create_database_sql(self, name: str) -> str:
        # template0: a user's server may have objects in template1; UTF8 whatever its default is.
        return "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8'" % self.quote_name(name)

    def table_names(self, cursor) -> list[str]:
        cursor.execute("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname")
        return [row[0] for row in cursor.fetchall()]

    def drop(self, database: Database) -> None:
        """DROP DATABASE refuses while anyone is connected: a child killed by its memory cap can
        leave its session behind for a moment, so end those sessions first (only on our own
        migbench_* databases: database_name() refuses any other)."""
        import psycopg

        name = self.database_name(database)
        with contextlib.closing(self.connect(self._serving())) as connection:
            with contextlib.suppress(psycopg.Error):  # not allowed on a user's server: DROP says why
                connection.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname IN (%s, %s) AND pid <> pg_backend_pid()", (name, name + "_test"))
        super().drop(database)

    # -- dumps (the dev loop's test database from a dump) ------------------------------------

    def client_tools(self) -> dict[str, Path | None]:
        """pg_dump and pg_restore beside the server's binaries (the same version), else on PATH."""
        binaries = self.find_binaries()
        found: dict[str, Path | None] = {}
        for role, program in (("dump", "pg_dump"), ("restore", "pg_restore")):
            beside = binaries["postgres"].parent / program if binaries else None
            if beside is not None and os.access(beside, os.X_OK):
                found[role] = beside
            else:
                on_path = shutil.which(program)
                found[role] = Path(on_path) if on_path else None
        return found

    def dump_command(self, tools, server: Server, name: str, path: Path) -> list[str]:
        return [str(tools["dump"]), "--format=custom", "--no-owner", "--no-acl", "--no-password",
                "--file=%s" % path] + _client_args(server) + [name]

    def restore_command(self, tools, server: Server, name: str, path: Path):
        return ([str(tools["restore"]), "--no-owner", "--no-acl", "--no-password", "--exit-on-error",
                 "--dbname=%s" % name] + _client_args(server) + [str(path)], None)

    def client_env(self, server: Server) -> dict[str, str]:
        env = _server_env()  # no PG* of the user's: the URL's server, nothing else
        if server.password:
            env["PGPASSWORD"] = server.password
        return env

    def read_schema(self, connection: Any, dbname: str, exclude: Sequence[str]) -> Schema:
        from .pg_catalog import read_schema

        return read_schema(connection, exclude)

    # -- what children get and what records say ----------------------------------------------

    def driver(self, line: DjangoLine, python_minor: tuple[int, int]) -> DriverSpec:
        """Which psycopg the (Django line, Python) environment gets (the pins are explained above)."""
        minor = _minor(python_minor)
        if line.at_least("4.2"):
            return DriverSpec(PSYCOPG3, "psycopg", "psycopg")
        if minor < (3, 8) or (minor < (3, 10) and not line.at_least("3.2")):
            return DriverSpec(PSYCOPG2_OLD, "psycopg2", "psycopg2-binary")
        return DriverSpec(PSYCOPG2_NEW, "psycopg2", "psycopg2-binary")

    def describe(self) -> dict:
        out = super().describe()
        if not self.url:
            out["settings"] = dict(SERVER_SETTINGS)  # what departs from a default server
        return out

    def notes(self, line: DjangoLine) -> list[str]:
        out = []
        if not self.url:
            out.append("embedded PostgreSQL server started with fsync=off (a throwaway server): commits "
                       "still write the WAL but never wait for the disk, so timings leave out the "
                       "machine's flush latency; every other setting is the default")
        out.append("PostgreSQL runs DDL inside transactions: each migration is applied atomically, and "
                   "Django creates foreign keys DEFERRABLE INITIALLY DEFERRED, checked at commit")
        out.append("Django adds a second, *_like index (varchar_pattern_ops/text_pattern_ops) to every "
                   "indexed or unique CharField/TextField on PostgreSQL")
        if line.at_least("4.1"):
            out.append("AutoFields are identity columns (GENERATED BY DEFAULT AS IDENTITY) from Django 4.1")
        else:
            out.append("AutoFields are serial columns (a sequence and a nextval() default) before Django 4.1")
        return out


# -- helpers -----------------------------------------------------------------------------------

def version_number(text: str) -> str:
    """'15.18 (Debian 15.18-1.pgdg120+1)' -> '15.18'; '16beta2' -> '16beta2'."""
    return text.split()[0] if text.split() else text


def _major_key(path: str) -> tuple:
    match = re.search(r"/(\d+)(?:\.(\d+))?/bin$", path)
    return tuple(int(g) for g in match.groups() if g) if match else (0,)


def _minor(python_minor) -> tuple[int, int]:
    """(3, 11), "3.11" or "3.11.7" -> (3, 11)."""
    if isinstance(python_minor, str):
        python_minor = tuple(int(p) for p in python_minor.split(".")[:2])
    return (int(python_minor[0]), int(python_minor[1]))


def _client_args(server: Server) -> list[str]:
    out = ["--username=%s" % server.user]
    if server.host:
        out.append("--host=%s" % server.host)  # a hostname, or the socket's directory
    if server.port:
        out.append("--port=%d" % server.port)
    return out


def _server_env() -> dict:
    """The server's environment: ours without libpq's PG* variables (a user's PGDATA or PGPORT
    must not steer the throwaway server) and in a known locale for its messages."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _wait_gone(pid: int, timeout: float) -> None:
    import psutil

    try:
        psutil.Process(pid).wait(timeout)
    except psutil.NoSuchProcess:
        return
    except psutil.TimeoutExpired:
        raise TimeoutError(pid) from None
