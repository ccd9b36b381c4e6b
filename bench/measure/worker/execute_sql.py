# -*- coding: utf-8 -*-
"""Replay captured DDL on a SQLite file with nothing but the sqlite3 module: the floor.

Runs INSIDE a target environment (its interpreter, hence its SQLite library),
stdlib only, Python 2.7 .. 3.13, and never imports Django: no settings, no
app registry, no migration graph, no model states.  Whatever a strategy costs
above this is Python-side work.  Usage::

    python execute_sql.py --database FILE --statements FILE [--events FILE] [--legacy-alter-table]

STATEMENTS is capture_ddl.py's output.  Every statement runs in one
transaction (Django wraps each migration in its own); foreign key enforcement
stays off, as Django's SQLite schema editor turns it off while migrating.
``--legacy-alter-table`` sets ``PRAGMA legacy_alter_table=ON`` first, as the
generated project does for Django < 2.2: their table rebuilds assume it.

Events (same format as measure.py, so timelines compare): start,
apply_start/apply_success around each migration's statements, error, end.
"""

import base64
import json
import os
import sqlite3
import sys
import time

USAGE = ("usage: execute_sql.py --database FILE --statements FILE [--events FILE] "
         "[--legacy-alter-table]")
EXIT_USAGE = 2


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
    options = {"database": None, "statements": None, "events": None, "legacy": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--legacy-alter-table":
            options["legacy"] = True
        elif arg in ("--database", "--statements", "--events") and i + 1 < len(argv):
            options[arg[2:]] = argv[i + 1]
            i += 1
        else:
            raise ValueError("unknown argument %s" % arg)
        i += 1
    if not options["database"] or not options["statements"]:
        raise ValueError("--database and --statements are required")
    return options


def _param(value):
    if isinstance(value, dict) and "base64" in value:
        return base64.b64decode(value["base64"])
    return value


def _qmark(sql):
    """Django's %s placeholders as sqlite3's ?, as Django's SQLite cursor does."""
    return sql.replace("%s", "?").replace("%%", "%")


def main(argv):
    try:
        options = parse(argv)
    except ValueError as exc:
        sys.stderr.write("execute_sql.py: %s\n%s\n" % (exc, USAGE))
        return EXIT_USAGE
    events = Events(options["events"])
    events.emit("start", {"python": "%d.%d.%d" % tuple(sys.version_info[:3]), "pid": os.getpid(),
                          "sqlite": sqlite3.sqlite_version})
    connection = sqlite3.connect(options["database"], isolation_level=None)
    cursor = connection.cursor()
    if options["legacy"]:
        cursor.execute("PRAGMA legacy_alter_table = ON")
    cursor.execute("PRAGMA foreign_keys = OFF")
    current = None
    executed = 0
    try:
        cursor.execute("BEGIN")
        with open(options["statements"]) as lines:
            for line in lines:
                entry = json.loads(line)
                if "migration" in entry:
                    if current is not None:
                        events.emit("apply_success", {"migration": current, "fake": False})
                    current = entry["migration"]
                    events.emit("apply_start", {"migration": current, "fake": False})
                    continue
                if "params" in entry:
                    cursor.execute(_qmark(entry["sql"]), [_param(p) for p in entry["params"]])
                else:
                    cursor.execute(entry["sql"])
                executed += 1
        if current is not None:
            events.emit("apply_success", {"migration": current, "fake": False})
        cursor.execute("COMMIT")
    except Exception as exc:
        events.emit("error", {"type": type(exc).__name__, "message": "%s" % (exc,)})
        events.emit("end", {"exit": 1})
        sys.stderr.write("execute_sql.py: statement %d (in %s) failed: %s: %s\n"
                         % (executed + 1, current, type(exc).__name__, exc))
        return 1
    finally:
        connection.close()
    events.emit("end", {"exit": 0, "statements": executed})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
