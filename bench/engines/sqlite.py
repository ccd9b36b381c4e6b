"""SQLite: a fresh file per run, its schema read from PRAGMAs, the floor replayed with sqlite3.

The embedded default: nothing to install or start. What it knows that no
other module may:
- a run's database is a file in the run's scratch directory, removed with it;
- the schema comes from PRAGMA table_xinfo / foreign_key_list / index_list /
  index_xinfo; SQLite has no pragma for CHECK constraints or for DEFERRABLE,
  so those are read from the CREATE TABLE text;
- the floor replays captured DDL with the target interpreter's own sqlite3
  module (bench/measure/worker/execute_sql.py), with
  `PRAGMA legacy_alter_table=ON` on Django < 2.2: SQLite >= 3.26 rewrites
  foreign keys on ALTER TABLE RENAME, which breaks those lines' table rebuilds
  (the generated project's compat app sets the same pragma for Django itself);
- the dev loop's kept test database is a file beside the run's
  (`<label>_test.sqlite3`): Django's default SQLite test database lives in
  memory, which `test --keepdb` cannot keep; a dump is a copy of that file
  made with SQLite's online backup, restored by copying it into place.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path
from typing import Iterable, Sequence

from migbench.bench.measure.worker import EXECUTE_SQL
from migbench.errors import MigbenchError
from migbench.targets import DjangoLine

from .base import MIGRATIONS_TABLE, Database, Engine
from .schema import Column, ForeignKey, Index, Schema, Table, fk_sort_key


class SqliteEngine(Engine):
    name = "sqlite"
    aliases = ("sqlite3",)

    def fresh(self, workdir: Path, label: str, line: DjangoLine | None = None) -> Database:
        path = Path(workdir) / ("%s.sqlite3" % label)
        self.drop_file(path)
        return Database(self, label, "sqlite:///%s" % path, path, line)

    def at(self, path: Path, line: DjangoLine | None = None) -> Database:
        """The database in an SQLite file of the caller's choosing (scripts, tests); not emptied."""
        return Database(self, Path(path).stem, "sqlite:///%s" % Path(path), Path(path), line)

    def drop(self, database: Database) -> None:
        self.drop_file(database.path)

    @staticmethod
    def drop_file(path: Path) -> None:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)

    def snapshot(self, database: Database, exclude: Iterable[str] = (MIGRATIONS_TABLE,)) -> Schema:
        return snapshot(database.path, exclude)

    def recorded_migrations(self, database: Database, apps: Sequence[str]) -> list[str]:
        try:
            with sqlite3.connect(str(database.path)) as connection:
                rows = connection.execute(
                    "SELECT app, name FROM %s WHERE app IN (%s)" % (MIGRATIONS_TABLE, ",".join("?" * len(apps))),
                    list(apps)).fetchall()
        except sqlite3.DatabaseError:  # no django_migrations table: nothing is recorded
            return []
        return ["%s.%s" % row for row in rows]

    def forget_migrations(self, database: Database, apps: Sequence[str]) -> None:
        with sqlite3.connect(str(database.path)) as connection:
            connection.execute("DELETE FROM %s WHERE app IN (%s)" % (MIGRATIONS_TABLE, ",".join("?" * len(apps))),
                               list(apps))

    def replay_argv(self, database: Database, python: Path | str, statements: Path, events: Path) -> list[str]:
        argv = [str(python), str(EXECUTE_SQL), "--database", str(database.path),
                "--statements", str(statements), "--events", str(events)]
        if database.line is not None and database.line.needs_sqlite_legacy_alter_table:
            argv.append("--legacy-alter-table")
        return argv

    # -- the dev loop's test databases ---------------------------------------------------------

    dump_suffix = ".sqlite3"

    def test_database(self, database: Database) -> Database:
        path = Path(database.path)
        return self.at(path.with_name("%s_test%s" % (path.stem, path.suffix)), database.line)

    def test_settings(self, database: Database) -> dict[str, str]:
        return {"MIGBENCH_TEST_NAME": str(self.test_database(database).path)}

    def dump(self, database: Database, path: Path) -> str:
        """SQLite's online backup into a new file: a consistent copy even if someone writes."""
        Path(path).unlink(missing_ok=True)
        source = sqlite3.connect("file:%s?mode=ro" % database.path, uri=True)
        try:
            target = sqlite3.connect(str(path))
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
        return "sqlite3 online backup into a file"

    def restore(self, path: Path, database: Database) -> str:
        self.drop_file(database.path)
        shutil.copyfile(path, database.path)
        return "file copy"

    def notes(self, line: DjangoLine) -> list[str]:
        if line.needs_sqlite_legacy_alter_table:
            return ["SQLite >= 3.26 rewrites foreign keys on ALTER TABLE RENAME, which breaks "
                    "Django < 2.2 table rebuilds: the project's compat app sets "
                    "PRAGMA legacy_alter_table=ON on every connection"]
        return []


# -- the schema, from the catalog ---------------------------------------------------------

def snapshot(path: Path, exclude_tables: Iterable[str] = (MIGRATIONS_TABLE,)) -> Schema:
    """The schema of the SQLite database at `path`, opened read-only."""
    path = Path(path)
    if not path.is_file():
        raise MigbenchError("no SQLite database at %s: the file does not exist" % path)
    excluded = set(exclude_tables)
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        try:
            rows = conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                " ORDER BY name").fetchall()
            tables = tuple(_table(conn, name, sql or "") for name, sql in rows if name not in excluded)
        finally:
            conn.close()
    except sqlite3.DatabaseError as error:
        raise MigbenchError("cannot read %s as an SQLite database: %s" % (path, error)) from None
    return Schema("sqlite", tables)


def _q(name: str) -> str:
    return '"%s"' % name.replace('"', '""')


def _table(conn: sqlite3.Connection, name: str, sql: str) -> Table:
    columns = tuple(
        Column(cname, _norm_space(ctype).upper(), bool(notnull),
               None if default is None else _norm_space(default), pk, hidden)
        for _cid, cname, ctype, notnull, default, pk, hidden
        in conn.execute("PRAGMA table_xinfo(%s)" % _q(name)))
    primary_key = tuple(c.name for c in sorted((c for c in columns if c.pk), key=lambda c: c.pk))
    definitions = _definitions(sql)
    deferrable = _deferrables(definitions)
    fk_rows: dict[int, list] = {}
    for fid, seq, target, frm, to, on_update, on_delete, _match in conn.execute(
            "PRAGMA foreign_key_list(%s)" % _q(name)):
        fk_rows.setdefault(fid, []).append((seq, target, frm, to, on_update, on_delete))
    foreign_keys = []
    for rows in fk_rows.values():
        rows.sort()
        cols = tuple(r[2] for r in rows)
        foreign_keys.append(ForeignKey(cols, rows[0][1], tuple(r[3] for r in rows),
                                       rows[0][4].upper(), rows[0][5].upper(), deferrable.get(cols)))
    index_sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
                                  (name,)).fetchall())
    indexes = []
    for _seq, iname, unique, origin, _partial in conn.execute("PRAGMA index_list(%s)" % _q(name)):
        parts = []
        for _seqno, _cid, cname, desc, coll, key in conn.execute("PRAGMA index_xinfo(%s)" % _q(iname)):
            if not key:
                continue
            part = cname if cname is not None else "<expr>"
            if coll and coll.upper() != "BINARY":
                part += " COLLATE " + coll.upper()
            parts.append(part + (" DESC" if desc else ""))
        indexes.append(Index(iname, tuple(parts), bool(unique), _where(index_sql.get(iname)), origin))
    checks = tuple(c for d in definitions for c in _checks(d))
    return Table(name, columns, primary_key, tuple(sorted(foreign_keys, key=fk_sort_key)),
                 tuple(sorted(indexes, key=lambda i: i.name)), checks)


# -- reading CREATE TABLE / CREATE INDEX text ---------------------------------

_QUOTES = {'"': '"', "`": "`", "[": "]", "'": "'"}


def _tokens(sql: str):
    """(char_index, piece) pieces: quoted strings/identifiers whole, other characters one by one."""
    i = 0
    while i < len(sql):
        ch = sql[i]
        if ch in _QUOTES:
            close = _QUOTES[ch]
            j = i + 1
            while j < len(sql):
                if sql[j] == close:
                    if close != "]" and j + 1 < len(sql) and sql[j + 1] == close:  # doubled quote
                        j += 2
                        continue
                    break
                j += 1
            yield i, sql[i:j + 1]
            i = j + 1
        else:
            yield i, ch
            i += 1


def _definitions(sql: str) -> list[str]:
    """The comma-separated column and constraint definitions inside CREATE TABLE (...)."""
    out, depth, current = [], 0, []
    for _i, piece in _tokens(sql):
        if piece == "(":
            depth += 1
            if depth == 1:
                continue
        elif piece == ")":
            depth -= 1
            if depth == 0:
                out.append("".join(current))
                current = []
                break
        if depth == 1 and piece == ",":
            out.append("".join(current))
            current = []
        elif depth >= 1:
            current.append(piece)
    return [d.strip() for d in out if d.strip()]


def _unquote(piece: str) -> str:
    if piece[:1] in _QUOTES and piece[:1] != "'":
        inner = piece[1:-1]
        return inner.replace(piece[0] * 2, piece[0]) if piece[0] != "[" else inner
    return piece


def _normalise(text: str) -> str:
    """Identifiers unquoted, whitespace collapsed, none around operators; string literals kept as written."""
    out = "".join(_unquote(p) if len(p) > 1 else p for _i, p in _tokens(text))
    # Collapse whitespace outside string literals only.
    pieces, buf = [], []
    for _i, p in _tokens(out):
        if len(p) > 1 and p[0] == "'":
            pieces.append(_compact("".join(buf)))
            pieces.append(p)
            buf = []
        else:
            buf.append(p)
    pieces.append(_compact("".join(buf)))
    return "".join(pieces).strip()


def _compact(text: str) -> str:
    """No whitespace around operators and punctuation ("a >= 0", "a>=0" alike); single spaces between words."""
    return re.sub(r"\s*([^\w\s])\s*", r"\1", re.sub(r"\s+", " ", text))


def _norm_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _balanced(text: str, start: int) -> int:
    """Index just past the parenthesis group opening at or after `start` (quote-aware)."""
    depth = 0
    for i, piece in _tokens(text):
        if i < start:
            continue
        if piece == "(":
            depth += 1
        elif piece == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def _keyword_at(text: str, word: str) -> list[int]:
    """Positions of `word` as a bare keyword (not inside quotes or part of a longer name)."""
    found = []
    for i, piece in _tokens(text):
        if (piece[:1].upper() == word[0] and text[i:i + len(word)].upper() == word
                and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] in "_$"))
                and not (text[i + len(word):i + len(word) + 1].isalnum()
                         or text[i + len(word):i + len(word) + 1] in ("_", "$"))):
            found.append(i)
    return found


def _checks(definition: str) -> list[str]:
    out = []
    for i in _keyword_at(definition, "CHECK"):
        end = _balanced(definition, i)
        out.append("CHECK " + _normalise(definition[i + len("CHECK"):end]))
    return out


_DEFERRABLE = re.compile(r"\b(NOT\s+)?DEFERRABLE(\s+INITIALLY\s+(DEFERRED|IMMEDIATE))?", re.I)


def _deferrables(definitions: list[str]) -> dict[tuple[str, ...], str]:
    """Foreign key columns -> their DEFERRABLE clause, read from the table's SQL."""
    out = {}
    for d in definitions:
        if not _keyword_at(d, "REFERENCES"):
            continue
        match = _DEFERRABLE.search(d)
        if not match:
            continue
        fk = _keyword_at(d, "FOREIGN")
        if fk:
            start = d.index("(", fk[0])
            cols = d[start + 1:_balanced(d, start) - 1]
            key = tuple(_unquote(c.strip()) for c in cols.split(","))
        else:
            key = (_first_name(d),)
        out[key] = _norm_space(match.group(0)).upper()
    return out


def _first_name(definition: str) -> str:
    """The column name a column definition starts with (quoted or bare)."""
    for _i, piece in _tokens(definition):
        if len(piece) > 1:
            return _unquote(piece)
        break
    return re.match(r"[^\s(]+", definition).group(0)


def _where(sql: str | None) -> str | None:
    if not sql:
        return None
    positions = _keyword_at(sql, "WHERE")
    return _normalise(sql[positions[-1] + len("WHERE"):]) if positions else None


