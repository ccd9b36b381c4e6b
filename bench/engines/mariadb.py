"""MariaDB (and MySQL): a throwaway mariadbd on a Unix socket, or the user's server.

`--database mariadb` starts one server per matrix (server.ServerEngine runs the
lifecycle); `--database mysql://user:pw@host:3306/` uses the user's. What this
module knows that no other may:

- the embedded server: mariadb-install-db then mariadbd, both with
  --no-defaults first so /etc/mysql is never read (a machine's my.cnf would
  otherwise change every timing), run as the `mysql` system user when
  migbench is root (mariadbd would accept --user=root, but the data then
  belongs to root and PostgreSQL cannot do it anyway: one rule for both),
  root with no password on a socket only (--skip-networking: no TCP port);
- its speed settings, which change timings and are therefore in `notes`:
  innodb_flush_log_at_trx_commit=2 (a commit is written to the OS, fsynced
  once a second: Django commits after every DDL statement and every
  django_migrations row, and per-commit fsyncs would measure the disk's
  latency, not the migration; a crash loses the last second of a database
  that is thrown away anyway), no binary log, a fixed 128M buffer pool (the
  server's own default, written out so a record says what the server had);
- the character set: utf8 (utf8mb3) with utf8_general_ci, on the databases
  migbench makes and as the server's default (Django creates the dev loop's
  test database with the server's default). Django connects with
  charset "utf8" up to 5.1 and "utf8mb4" from 5.2; a utf8mb3 database
  stores characters of the Basic Multilingual Plane only, which is all the
  generated rows hold (Faker's en_US words), so a 5.2+ run writes the same
  bytes (a real project with emoji would need utf8mb4: a user's server keeps
  what its URL's defaults give Django's test database); 255-character unique VARCHARs (auth's username,
  contenttypes' model) fit InnoDB's 767-byte key limit of COMPACT tables on
  old external servers (255 x 3 = 765), where utf8mb4's 1020 bytes do not
  (on 10.11 the DYNAMIC row format allows 3072, so both would fit here); and
  it is what Django's documentation told 1.8 users to create;
- the drivers: mysqlclient (MySQLdb) for the children, built from source
  (driver_requirement says which version each Python/Django pair gets and why),
  PyMySQL (pure Python) for migbench's own process;
- the catalog: mysql_catalog.py;
- dumps of a test database: mariadb-dump (or mysqldump) in one consistent
  transaction, loaded by the mariadb (or mysql) client into a new database;
  both with --no-defaults, like the server, and utf8mb4 on the wire.

Side effects: `serving()` starts and stops mariadbd; the catalog reading and
the driver table have none.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any, Sequence

from migbench.targets import DjangoLine

from . import server as servers
from .mysql_catalog import read_schema
from .server import DriverSpec, Server, ServerEngine

SEARCH_DIRS = ("/usr/sbin", "/usr/bin", "/usr/libexec", "/usr/local/mysql/bin", "/usr/local/bin")
CHARSET, COLLATION = "utf8", "utf8_general_ci"
START_TIMEOUT = 60
STOP_TIMEOUT = 30
# Server options that change timings (also in notes()); --no-defaults must stay first.
SPEED_OPTIONS = ("--innodb-flush-log-at-trx-commit=2", "--skip-log-bin", "--innodb-buffer-pool-size=128M")
# Building mysqlclient: a C compiler, the client library's headers and mysql_config
# (default-libmysqlclient-dev), pkg-config (mysqlclient >= 2.2 asks it instead).
BUILD_PACKAGES = ("build-essential", "default-libmysqlclient-dev", "pkg-config")


def driver_requirement(line: DjangoLine, python_minor: tuple[int, int]) -> str:
    """The mysqlclient a (Django line, Python) pair gets, pinned so records are reproducible.

    - Django 1.8-1.11, on any Python: 1.4.6. Their backend copies private
      MySQLdb state at connect (`conn.encoders[six.text_type]`): with 2.2.7
      every connection fails with KeyError: <class 'str'> (mysqlclient 2.0
      "dropped Django 1.11 support"). 1.4.6 is the last 1.x and the last
      release for Python 2.7, and builds on 3.11-3.13 too (checked).
    - Python 3.5: 2.0.3; 3.6-3.7: 2.1.1 (the last releases for them).
    - Python >= 3.8: 2.2.7: every Django from 2.0 accepts it (2.2 asks >= 1.3.13,
      4.2 >= 1.4.3, 6.0 >= 2.2.1).
    """
    if not line.at_least("2.0") or python_minor < (3, 0):
        return "mysqlclient==1.4.6"
    if python_minor < (3, 6):
        return "mysqlclient==2.0.3"
    if python_minor < (3, 8):
        return "mysqlclient==2.1.1"
    return "mysqlclient==2.2.7"


# The oldest server each Django line accepts: (MariaDB, MySQL). Django refuses older ones at
# connect from 4.1 on (DatabaseFeatures.minimum_database_version; 4.2, 5.2 and 6.0 read from
# their sources, the others from their release notes). Lines not listed check nothing.
MINIMUM_SERVER = {
    "4.1": ((10, 3), (5, 7)),
    "4.2": ((10, 4), (8, 0)),
    "5.0": ((10, 4), (8, 0, 11)),
    "5.1": ((10, 5), (8, 0, 11)),
    "5.2": ((10, 5), (8, 0, 11)),
    "6.0": ((10, 6), (8, 0, 11)),
}


class MariadbEngine(ServerEngine):
    name = "mariadb"
    aliases = ("mysql",)
    scheme = "mysql"
    url_schemes = ("mysql", "mariadb")
    packages = "mariadb-server"
    client_packages = "mariadb-client"
    dump_suffix = ".sql"
    default_port = 3306

    def __init__(self, url: str | None = None):
        super().__init__(url)
        self._processes: dict[int, subprocess.Popen] = {}

    # -- the embedded server ------------------------------------------------------------------

    def find_binaries(self) -> dict[str, Path] | None:
        found = {"server": _which(("mariadbd", "mysqld")),
                 "install_db": _which(("mariadb-install-db", "mysql_install_db"))}
        return None if None in found.values() else found  # type: ignore[return-value]

    def start_embedded(self, directory: Path, binaries: dict[str, Path]) -> Server:
        user = servers.run_as_user(("mysql",))
        files = servers.private_files(directory, user)
        # One log: what mariadbd prints before it opens --log-error (a bad option) and after.
        data, socket, log = files / "data", files / "mysqld.sock", files / "server.log"
        as_user = ["--user=%s" % user] if user else []
        servers.run_tool([str(binaries["install_db"]), "--no-defaults", "--datadir=%s" % data,
                          "--auth-root-authentication-method=normal", "--skip-test-db"] + as_user,
                         user, "mariadb-install-db", env=_tool_env())
        argv = [str(binaries["server"]), "--no-defaults", "--datadir=%s" % data, "--socket=%s" % socket,
                "--skip-networking", "--pid-file=%s" % (files / "mysqld.pid"), "--log-error=%s" % log,
                "--character-set-server=%s" % CHARSET, "--collation-server=%s" % COLLATION,
                # a table rebuild's temporary files go with the server's, not into the machine's /tmp
                "--tmpdir=%s" % files] + list(SPEED_OPTIONS) + as_user
        process = servers.spawn(argv, user, log, env=_tool_env(), directory=directory)
        self._processes[process.pid] = process
        # Django reads a HOST starting with "/" as the socket file itself (not its directory):
        # Server.host is what child_url puts in ?host=, so it is the file.
        found = Server(user="root", host=str(socket), pid=process.pid, directory=directory, embedded=True,
                       extra={"files": str(files)})
        try:
            servers.wait_until(lambda: self._answers(found), START_TIMEOUT, "mariadbd", process, log)
        except BaseException:
            self.stop_embedded(found)  # serving() only stops a server start_embedded returned
            raise
        return found

    def _answers(self, server: Server) -> bool:
        with contextlib.closing(self.connect(server)) as connection:
            connection.cursor().execute("SELECT 1")
        return True

    def stop_embedded(self, server: Server) -> None:
        process = self._processes.pop(server.pid, None) if server.pid else None
        if process is None:
            return self._stop_pid(server.pid)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)  # mariadbd's clean shutdown
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    @staticmethod
    def _stop_pid(pid: int | None) -> None:
        """A server this object did not start (another engine instance's): by pid, via psutil."""
        import psutil

        if not pid:
            return
        try:
            process = psutil.Process(pid)
            process.terminate()
            process.wait(timeout=STOP_TIMEOUT)
        except psutil.TimeoutExpired:
            with contextlib.suppress(psutil.Error):
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        except psutil.Error:  # already gone
            pass

    # -- connecting -------------------------------------------------------------------------

    def connect(self, server: Server, dbname: str | None = None) -> Any:
        import pymysql

        kwargs: dict[str, Any] = {"user": server.user, "password": server.password, "charset": "utf8mb4",
                                  "autocommit": True, "connect_timeout": 10}
        if server.host.startswith("/"):
            kwargs["unix_socket"] = server.host
        else:
            kwargs["host"] = server.host or "localhost"
            kwargs["port"] = server.port or self.default_port
        if dbname:
            kwargs["database"] = dbname
        return pymysql.connect(**kwargs)

    def server_version(self, server: Server) -> str:
        """"10.11.18" from "10.11.18-MariaDB-0+deb12u1"; the product goes in server.extra."""
        with contextlib.closing(self.connect(server)) as connection:
            cursor = connection.cursor()
            cursor.execute("SELECT VERSION()")
            full = cursor.fetchone()[0]
        server.extra["product"] = "MariaDB" if "mariadb" in full.lower() else "MySQL"
        server.extra["version_string"] = full
        match = re.match(r"\d+(\.\d+)*", full)
        return match.group(0) if match else full

    def describe(self) -> dict:
        out = super().describe()
        if self.server is not None:
            out["server_product"] = self.server.extra.get("product")
            out["charset"] = "%s/%s" % (CHARSET, COLLATION)
        return out

    # -- SQL ------------------------------------------------------------------------------

    def quote_name(self, name: str) -> str:
        return "`%s`" % name.replace("`", "``")

    def create_database_sql(self, name: str) -> str:
        return "CREATE DATABASE %s CHARACTER SET %s COLLATE %s" % (self.quote_name(name), CHARSET, COLLATION)

    def table_names(self, cursor) -> list[str]:
        cursor.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
        return [row[0] for row in cursor.fetchall()]

    def read_schema(self, connection: Any, dbname: str, exclude: Sequence[str]):
        return read_schema(connection, dbname, exclude, self.name)

    # -- dumps (the dev loop's test database from a dump) ---------------------------------------

    def client_tools(self) -> dict[str, Path | None]:
        return {"dump": _which(("mariadb-dump", "mysqldump")), "restore": _which(("mariadb", "mysql"))}

    def dump_command(self, tools, server: Server, name: str, path: Path) -> list[str]:
        # InnoDB only: one consistent snapshot, no locks; no tablespaces (a user's MySQL 8 would
        # ask for the PROCESS privilege); Django makes no routines, so none are asked for.
        return [str(tools["dump"])] + _client_args(server) + [
            "--single-transaction", "--no-tablespaces", "--skip-comments", "--result-file=%s" % path, name]

    def restore_command(self, tools, server: Server, name: str, path: Path):
        return [str(tools["restore"])] + _client_args(server) + [name], path

    def client_env(self, server: Server) -> dict[str, str]:
        env = _tool_env()
        if server.password:
            env["MYSQL_PWD"] = server.password  # read by both programs; never in argv
        return env

    # -- the children -----------------------------------------------------------------------

    def driver(self, line: DjangoLine, python_minor: tuple[int, int]) -> DriverSpec:
        return DriverSpec(driver_requirement(line, python_minor), "MySQLdb", "mysqlclient", BUILD_PACKAGES)

    def unsupported(self, line: DjangoLine) -> str | None:
        """A Django line that refuses this server's version (known once serving); every line
        from 1.8 to 6.0 migrates on the embedded MariaDB 10.11."""
        server, minimum = self.server, MINIMUM_SERVER.get(line.line)
        if server is None or minimum is None or not server.version:
            return None
        product = server.extra.get("product", "MariaDB")
        wanted = minimum[0] if product == "MariaDB" else minimum[1]
        found = tuple(int(part) for part in server.version.split(".")[:3])
        if found >= wanted:
            return None
        return "Django %s requires %s %s or later; the server is %s %s" % (
            line.line, product, ".".join(map(str, wanted)), product, server.version)

    def notes(self, line: DjangoLine) -> list[str]:
        out = ["MySQL/MariaDB DDL is not transactional: each statement commits, so a migration that "
               "fails half-way leaves its earlier statements applied and itself unrecorded",
               "an ALTER TABLE that changes a column's type or nullability rebuilds the table inside the "
               "server (InnoDB): its cost is in the server's time and memory, not the child's"]
        if not line.at_least("3.0"):
            out.append("Django %s predates Django's MariaDB support (3.0): its MySQL backend reads MariaDB "
                       "10.x as a MySQL version number when choosing features" % line.line)
        if not self.url:
            out.append("embedded server settings that change timings: innodb_flush_log_at_trx_commit=2 "
                       "(no fsync per commit), no binary log, 128M buffer pool, character set %s/%s"
                       % (CHARSET, COLLATION))
        return out


def _which(names: Sequence[str]) -> Path | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
        for directory in SEARCH_DIRS:
            path = Path(directory) / name
            if path.is_file() and os.access(path, os.X_OK):
                return path
    return None


def _client_args(server: Server) -> list[str]:
    """--no-defaults first (no my.cnf of this machine's), then where the server is."""
    out = ["--no-defaults", "--user=%s" % server.user, "--default-character-set=utf8mb4"]
    if server.host.startswith("/"):
        return out + ["--socket=%s" % server.host]
    return out + ["--host=%s" % (server.host or "localhost"), "--port=%d" % (server.port or 3306),
                  "--protocol=tcp"]


def _tool_env() -> dict[str, str]:
    """The parent's environment minus what would point the server at another configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL", "MARIADB"))}
    env.setdefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    return env


__all__ = ["MariadbEngine", "driver_requirement"]
