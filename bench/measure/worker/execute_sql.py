# -*- coding: utf-8 -*-
"""Replay captured DDL with nothing but a DB-API driver: the floor.

Runs INSIDE a target environment (its interpreter, its SQLite library, its
database driver), stdlib + that driver only, Python 2.7 .. 3.13, and never
imports Django: no settings, no app registry, no migration graph, no model
states.  Whatever a strategy costs above this is Python-side work.  Usage::

    python execute_sql.py --database FILE --statements FILE [--events FILE] [--legacy-alter-table]
    python execute_sql.py --url URL --statements FILE [--events FILE] [--driver MODULE]

STATEMENTS is capture_ddl.py's output.  Which database:

``--database FILE``
    a SQLite file, through the sqlite3 module.  Every statement runs in one
    transaction; foreign key enforcement stays off, as Django's SQLite schema
    editor turns it off while migrating.  ``--legacy-alter-table`` sets
    ``PRAGMA legacy_alter_table=ON`` first, as the generated project does for
    Django < 2.2: their table rebuilds assume it.
``--url postgres://USER[:PW]@HOST[:PORT]/NAME`` (or postgresql://)
    PostgreSQL through psycopg (3), else psycopg2: the one Django >= 4.2 would
    pick, and the only one older Django knows.  As Django does, each
    migration's statements run in one transaction (transactional DDL; the
    schema editor's deferred SQL was captured at the end of its migration),
    the statements before the first migration (django_migrations' table) in
    their own, and a migration captured with ``"atomic": false`` in
    autocommit.  psycopg 3 gets a ClientCursor (client-side binding: Django's
    default, and DDL takes no server-side parameters).
``--url mysql://USER[:PW]@HOST[:PORT]/NAME`` (or mariadb://)
    MySQL / MariaDB through MySQLdb (mysqlclient), else PyMySQL, in autocommit:
    they have no transactional DDL, and Django runs no migration in a
    transaction there.

A URL is read as the generated settings read MIGBENCH_DATABASE_URL
(generator/project.py): ``?host=`` and ``?port=`` win over the netloc's, so a
Unix socket goes in ``?host=`` (PostgreSQL: the socket's directory; MySQL:
the socket file, which Django passes as ``unix_socket`` since it starts with
"/").  ``--driver`` names the module to use instead of the first one found.

Statements without "params" are executed with no parameters (the driver does
no ``%`` interpolation, as for Django's ``execute(sql, None)``); with
"params", with those parameters and the driver's own ``%s`` style (sqlite3's
``?`` for SQLite, as Django's SQLite cursor converts them).

Events (same format as measure.py, so timelines compare): start (with
"sqlite" or "driver"), apply_start/apply_success around each migration's
statements (apply_success after its commit), error, end.
"""

import base64
import json
import os
import sys
import time

USAGE = ("usage: execute_sql.py (--database FILE [--legacy-alter-table] | --url URL [--driver MODULE]) "
         "--statements FILE [--events FILE]")
EXIT_USAGE = 2
POSTGRES_SCHEMES = ("postgres", "postgresql")
MYSQL_SCHEMES = ("mysql", "mariadb")


class Events(object):
    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if path else None
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def rss(self):
        try:
            with open("/proc/self/statm") as statm:
                return int(statm.read().split()[1]) * self.page
        except (IOError, OSError, ValueError, IndexError):
            return None

    def emit(self, event, fields=None):
        if self.fd is None:
            return
        entry = {"event": event, "t": time.time(), "rss": self.rss()}
        entry.update(fields or {})
        data = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
        while data:
            data = data[os.write(self.fd, data):]


def parse(argv):
    options = {"database": None, "url": None, "statements": None, "events": None, "driver": None,
               "legacy": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--legacy-alter-table":
            options["legacy"] = True
        elif arg in ("--database", "--url", "--statements", "--events", "--driver") and i + 1 < len(argv):
            options[arg[2:]] = argv[i + 1]
            i += 1
        else:
            raise ValueError("unknown argument %s" % arg)
        i += 1
    if not options["statements"] or bool(options["database"]) == bool(options["url"]):
        raise ValueError("--statements and one of --database, --url are required")
    if options["url"]:
        if options["legacy"]:
            raise ValueError("--legacy-alter-table is for SQLite (--database)")
        scheme = settings_from_url(options["url"])["scheme"]
        if scheme not in POSTGRES_SCHEMES + MYSQL_SCHEMES:
            raise ValueError("--url: unsupported scheme %r (postgres://, mysql://)" % scheme)
    elif options["driver"]:
        raise ValueError("--driver is for a server (--url)")
    return options


def settings_from_url(url):
    """NAME, USER, PASSWORD, HOST, PORT as generator/project.py's _database_from_url reads them."""
    try:  # imported here: the SQLite floor never pays for it
        from urllib.parse import parse_qs, unquote, urlsplit
    except ImportError:  # Python 2
        from urllib import unquote

        from urlparse import parse_qs, urlsplit
    parts = urlsplit(url)
    query = dict((key, values[-1]) for key, values in parse_qs(parts.query).items())
    return {
        "scheme": parts.scheme,
        "name": unquote(parts.path.lstrip("/")),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "host": query.get("host") or parts.hostname or "",
        "port": query.get("port") or str(parts.port or ""),
    }


def _import_first(names):
    error = None
    for name in names:
        try:
            return __import__(name)
        except ImportError as exc:
            error = exc
    raise ImportError("no database driver: tried %s (%s)" % (", ".join(names), error))


def _version(module):
    """"2.8.6" from psycopg2's "2.8.6 (dt dec pq3 ext lo64)"; mysqlclient 2.x has only version_info."""
    version = getattr(module, "__version__", None)
    if version:
        return ("%s" % (version,)).split(" ")[0]
    info = getattr(module, "version_info", None) or ()
    return ".".join("%s" % (part,) for part in info[:3])


class Replayer(object):
    """One database connection and the transaction policy of its engine."""

    whole = False  # one transaction around the whole replay (SQLite)
    transactional = True  # BEGIN/COMMIT around each migration (PostgreSQL)
    qmark = False  # %s placeholders become ? (sqlite3)

    def __init__(self, connection):
        self.connection = connection
        self.cursor = connection.cursor()
        self.open = False

    def begin(self):
        if not self.open:
            self.cursor.execute("BEGIN")
            self.open = True

    def commit(self):
        if self.open:
            self.cursor.execute("COMMIT")
            self.open = False

    def rollback(self):
        if self.open:
            self.open = False
            try:
                self.cursor.execute("ROLLBACK")
            except Exception:
                pass

    def execute(self, entry, atomic):
        if atomic and self.transactional:
            self.begin()
        if "params" in entry:
            sql = entry["sql"]
            if self.qmark:  # Django's %s placeholders as sqlite3's ?, as Django's SQLite cursor does
                sql = sql.replace("%s", "?").replace("%%", "%")
            self.cursor.execute(sql, [_param(p) for p in entry["params"]])
        else:
            self.cursor.execute(entry["sql"])

    def close(self):
        try:
            self.connection.close()
        except Exception:
            pass


def sqlite_driver(options):
    import sqlite3

    def open_database():
        replayer = Replayer(sqlite3.connect(options["database"], isolation_level=None))
        replayer.whole = True
        replayer.qmark = True
        if options["legacy"]:
            replayer.cursor.execute("PRAGMA legacy_alter_table = ON")
        replayer.cursor.execute("PRAGMA foreign_keys = OFF")
        return replayer

    return {"sqlite": sqlite3.sqlite_version}, open_database


def postgres_driver(settings, driver):
    module = _import_first([driver] if driver else ["psycopg", "psycopg2"])
    kwargs = {"dbname": settings["name"], "client_encoding": "UTF8"}  # Django sets UTF8 too
    for key in ("user", "password", "host", "port"):
        if settings[key]:
            kwargs[key] = settings[key]

    def open_database():
        if module.__name__ == "psycopg":
            connection = module.connect(autocommit=True, cursor_factory=getattr(module, "ClientCursor", None),
                                        **kwargs)
        else:
            connection = module.connect(**kwargs)
            connection.autocommit = True
        return Replayer(connection)

    return {"driver": "%s %s" % (module.__name__, _version(module))}, open_database


def mysql_driver(settings, driver):
    module = _import_first([driver] if driver else ["MySQLdb", "pymysql"])
    kwargs = {"db": settings["name"], "charset": "utf8mb4"}
    if settings["user"]:
        kwargs["user"] = settings["user"]
    if settings["password"]:
        kwargs["passwd"] = settings["password"]
    if settings["host"].startswith("/"):  # as Django reads HOST: a path is the socket file
        kwargs["unix_socket"] = settings["host"]
    elif settings["host"]:
        kwargs["host"] = settings["host"]
    if settings["port"]:
        kwargs["port"] = int(settings["port"])

    def open_database():
        connection = module.connect(**kwargs)
        connection.autocommit(True)
        # as the generated settings' init_command: RunSQL's "double-quoted" names are identifiers
        connection.cursor().execute("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',ANSI_QUOTES')")
        replayer = Replayer(connection)
        replayer.transactional = False
        return replayer

    return {"driver": "%s %s" % (module.__name__, _version(module))}, open_database


def load_driver(options):
    """(fields of the start event, a function opening the database): imports, but does not connect."""
    if options["database"]:
        return sqlite_driver(options)
    settings = settings_from_url(options["url"])
    if settings["scheme"] in POSTGRES_SCHEMES:
        return postgres_driver(settings, options["driver"])
    return mysql_driver(settings, options["driver"])


def _param(value):
    if isinstance(value, dict) and "base64" in value:
        return base64.b64decode(value["base64"])
    return value


def main(argv):
    try:
        options = parse(argv)
    except ValueError as exc:
        sys.stderr.write("execute_sql.py: %s\n%s\n" % (exc, USAGE))
        return EXIT_USAGE
    events = Events(options["events"])
    start = {"python": "%d.%d.%d" % tuple(sys.version_info[:3]), "pid": os.getpid()}
    started = False
    try:
        fields, open_database = load_driver(options)  # the import, before `start` as for sqlite3 always
        start.update(fields)
        events.emit("start", start)
        started = True
        replayer = open_database()
    except Exception as exc:
        if not started:
            events.emit("start", start)
        events.emit("error", {"type": type(exc).__name__, "message": "%s" % (exc,)})
        events.emit("end", {"exit": 1})
        sys.stderr.write("execute_sql.py: cannot connect: %s: %s\n" % (type(exc).__name__, exc))
        return 1
    current = None
    atomic = True  # the statements before the first migration: the recorder's own schema editor
    executed = 0
    try:
        if replayer.whole:
            replayer.begin()
        with open(options["statements"]) as lines:
            for line in lines:
                entry = json.loads(line)
                if "migration" in entry:
                    if not replayer.whole:
                        replayer.commit()
                    if current is not None:
                        events.emit("apply_success", {"migration": current, "fake": False})
                    current = entry["migration"]
                    atomic = entry.get("atomic", True)
                    events.emit("apply_start", {"migration": current, "fake": False})
                    continue
                replayer.execute(entry, atomic)
                executed += 1
        replayer.commit()
        if current is not None:
            events.emit("apply_success", {"migration": current, "fake": False})
    except Exception as exc:
        replayer.rollback()
        events.emit("error", {"type": type(exc).__name__, "message": "%s" % (exc,)})
        events.emit("end", {"exit": 1})
        sys.stderr.write("execute_sql.py: statement %d (in %s) failed: %s: %s\n"
                         % (executed + 1, current, type(exc).__name__, exc))
        return 1
    finally:
        replayer.close()
    events.emit("end", {"exit": 0, "statements": executed})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
