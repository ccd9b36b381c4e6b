"""MariaDB/MySQL: a database's schema read from information_schema into schema.Schema.

Split from mariadb.py (the server's lifecycle) because reading the catalog is
its own craft: what the server reports is normalised here so that two
migration paths that mean the same schema compare equal under schema.diff,
and a real difference still shows. The rules, each with its reason:

- types are COLUMN_TYPE upper-cased outside quoted literals (enum values keep
  their case), plus what EXTRA says that changes a column's meaning:
  AUTO_INCREMENT (an AutoField and an IntegerField are both INT(11)),
  ON UPDATE ..., INVISIBLE, and a generated column's expression (also in
  `hidden`: 2 virtual, 3 stored, as SQLite's table_xinfo counts them); a
  collation other than the database's default is appended too;
- defaults: MariaDB >= 10.2.7 reports them as SQL (NULL, 'text', 0,
  current_timestamp()); MySQL and older MariaDB report the bare value. Both
  are brought to the SQL form, and a default of NULL is no default: a
  nullable column made with no DEFAULT says 'NULL', the same column after
  Django's `ALTER COLUMN ... DROP DEFAULT` says nothing, and they mean one
  thing;
- foreign keys: NO ACTION is RESTRICT (InnoDB checks both at once; MySQL and
  MariaDB even report the omitted clause differently); never deferrable;
- indexes: PRIMARY is origin "pk", every other unique index "u" (a UNIQUE
  constraint *is* a unique index here), "c" otherwise; parts carry their
  prefix length ("name(191)") and " DESC". MySQL has no partial indexes, so
  the `where` slot carries the index type when it is not BTREE ("USING
  FULLTEXT"): otherwise a FULLTEXT and a plain index on one column would be
  equal. The index InnoDB creates for a foreign key that has none is kept:
  InnoDB drops it by itself when another index covering the key's columns is
  added later, so "FK first, then unique_together" and the reverse end with
  the same indexes (checked in tests/bench/engines/test_mariadb.py);
- CHECK constraints: column-level and table-level mean the same, so both are
  "CHECK (<clause>)" with backquotes dropped from plain identifiers and
  whitespace collapsed; sorted by text (their names differ between paths),
  each text once: Django renaming a PositiveIntegerField on MariaDB renames
  the column (whose own CHECK follows it) and adds a second, identical CHECK
  for the new name, which a model created with that name does not have. Two
  identical checks mean what one does.

Not here: connecting (mariadb.py), comparing (schema.py). No writes.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from .schema import Column, ForeignKey, Index, Schema, Table, fk_sort_key

# Data types whose default MySQL reports unquoted and which are numbers in SQL.
_NUMERIC = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric", "float",
            "double", "real", "bit", "year"}
_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'")


def read_schema(connection: Any, dbname: str, exclude: Sequence[str] = (), engine: str = "mariadb") -> Schema:
    """The tables of `dbname` (BASE TABLEs, minus `exclude`) as seen by information_schema."""
    cursor = connection.cursor()
    sql_defaults = _reports_sql_defaults(_one(cursor, "SELECT VERSION()"))
    default_collation = _one(cursor, "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
                                      "WHERE SCHEMA_NAME = %s", (dbname,))
    excluded = set(exclude)
    names = sorted(row[0] for row in _rows(  # in Python's order: the server's collation ignores case
        cursor, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                "AND TABLE_TYPE = 'BASE TABLE'", (dbname,)) if row[0] not in excluded)
    columns = _by_table(_rows(cursor, "SELECT * FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                                      "ORDER BY TABLE_NAME, ORDINAL_POSITION", (dbname,), named=True))
    statistics = _by_table(_rows(cursor, "SELECT * FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
                                         "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX", (dbname,), named=True))
    fk_rows = _by_table(_rows(cursor, _FOREIGN_KEYS, (dbname,), named=True))
    check_rows = _by_table(_check_rows(cursor, dbname))
    tables = []
    for name in names:
        pk_positions = {row["COLUMN_NAME"]: row["SEQ_IN_INDEX"] for row in statistics.get(name, [])
                        if row["INDEX_NAME"] == "PRIMARY"}
        cols = tuple(_column(row, pk_positions.get(row["COLUMN_NAME"], 0), sql_defaults, default_collation)
                     for row in columns.get(name, []))
        primary_key = tuple(c for c, _ in sorted(pk_positions.items(), key=lambda item: item[1]))
        tables.append(Table(name, cols, primary_key, _foreign_keys(fk_rows.get(name, [])),
                            _indexes(statistics.get(name, [])),
                            tuple(sorted({check(row["CHECK_CLAUSE"]) for row in check_rows.get(name, [])}))))
    return Schema(engine, tuple(tables))


# A foreign key's columns in order (KEY_COLUMN_USAGE) with its actions (REFERENTIAL_CONSTRAINTS).
_FOREIGN_KEYS = """
SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.ORDINAL_POSITION,
       k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.REFERENTIAL_CONSTRAINTS r
  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
 AND r.TABLE_NAME = k.TABLE_NAME
WHERE k.TABLE_SCHEMA = %s AND k.REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""

def _check_rows(cursor, dbname: str) -> list[dict]:
    """Every CHECK with its table. MariaDB's CHECK_CONSTRAINTS names the table itself; a column-level
    check is named after its column, so joining by name alone would give a check named `qty` to
    every table with such a column. MySQL 8's has no TABLE_NAME: TABLE_CONSTRAINTS names it there."""
    try:
        return _rows(cursor, "SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                             "WHERE CONSTRAINT_SCHEMA = %s ORDER BY TABLE_NAME, CONSTRAINT_NAME", (dbname,), named=True)
    except Exception as error:  # MySQL: no TABLE_NAME column (the driver's own error class)
        if "TABLE_NAME" not in str(error):
            raise
        return _rows(cursor, _CHECKS, (dbname,), named=True)


# MySQL 8 (no TABLE_NAME in CHECK_CONSTRAINTS; check names are unique per schema there).
_CHECKS = """
SELECT t.TABLE_NAME, c.CONSTRAINT_NAME, c.CHECK_CLAUSE
FROM information_schema.TABLE_CONSTRAINTS t
JOIN information_schema.CHECK_CONSTRAINTS c
  ON c.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA AND c.CONSTRAINT_NAME = t.CONSTRAINT_NAME
WHERE t.TABLE_SCHEMA = %s AND t.CONSTRAINT_TYPE = 'CHECK'
ORDER BY t.TABLE_NAME, c.CONSTRAINT_NAME
"""


def _rows(cursor, sql: str, params=(), named: bool = False) -> list:
    """Rows as tuples, or (named) as dicts by upper-case column name: the catalog tables are read
    with SELECT * because MariaDB's and MySQL's have different optional columns (EXPRESSION,
    GENERATION_EXPRESSION...), and a missing one is then just absent, not an error."""
    cursor.execute(sql, params)
    rows = cursor.fetchall()
    if not named:
        return list(rows)
    keys = [d[0].upper() for d in cursor.description]
    return [dict(zip(keys, row)) for row in rows]


def _one(cursor, sql: str, params=()):
    rows = _rows(cursor, sql, params)
    return rows[0][0] if rows else None


def _by_table(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["TABLE_NAME"], []).append(row)
    return out


def _reports_sql_defaults(version: str) -> bool:
    """MariaDB >= 10.2.7 reports COLUMN_DEFAULT as an SQL expression; MySQL never does."""
    if "mariadb" not in (version or "").lower():
        return False
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    return bool(match) and tuple(int(p) for p in match.groups()) >= (10, 2, 7)


# -- columns ----------------------------------------------------------------------------------

def _column(row: dict, pk: int, sql_defaults: bool, default_collation: str | None) -> Column:
    extra = (row.get("EXTRA") or "").strip()
    words = [upper_outside_quotes(row["COLUMN_TYPE"])]
    collation = row.get("COLLATION_NAME")
    if collation and default_collation and collation != default_collation:
        words.append("COLLATE " + collation.upper())
    hidden = 0
    lowered = extra.lower()
    if "generated" in lowered and "default_generated" not in lowered:
        stored = "stored" in lowered or "persistent" in lowered
        hidden = 3 if stored else 2
        words.append("AS (%s) %s" % (compact(row.get("GENERATION_EXPRESSION") or ""),
                                     "STORED" if stored else "VIRTUAL"))
    if "auto_increment" in lowered:
        words.append("AUTO_INCREMENT")
    on_update = re.search(r"on update (.+)$", extra, re.I)
    if on_update:
        words.append("ON UPDATE " + _function(on_update.group(1)))
    if "invisible" in lowered:
        words.append("INVISIBLE")
    default = None if hidden else _default(row, sql_defaults)
    return Column(row["COLUMN_NAME"], " ".join(w for w in words if w), row["IS_NULLABLE"] == "NO",
                  default, pk, hidden)


def _default(row: dict, sql_defaults: bool) -> str | None:
    """The default as SQL text (NULL and none are both None); see the module docstring."""
    value = row.get("COLUMN_DEFAULT")
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if sql_defaults:
        return None if value == "NULL" else _function(value)
    data_type = (row.get("DATA_TYPE") or "").lower()
    if data_type in _NUMERIC or "DEFAULT_GENERATED" in (row.get("EXTRA") or "").upper():
        return _function(value)
    if value.upper().startswith("CURRENT_TIMESTAMP") and data_type in ("timestamp", "datetime"):
        return _function(value)
    return "'%s'" % value.replace("'", "''")


def _function(text: str) -> str:
    """CURRENT_TIMESTAMP / current_timestamp() / now() spellings of one default, as MariaDB writes it."""
    stripped = text.strip()
    if re.fullmatch(r"(?i)(current_timestamp|now|localtimestamp|localtime)(\(\s*(\d*)\s*\))?", stripped):
        digits = re.search(r"\((\d+)\)", stripped)
        return "current_timestamp(%s)" % (digits.group(1) if digits else "")
    return stripped


# -- keys and constraints ----------------------------------------------------------------------

def _rule(text: str | None) -> str:
    text = (text or "RESTRICT").upper()
    return "RESTRICT" if text == "NO ACTION" else text


def _foreign_keys(rows: list[dict]) -> tuple[ForeignKey, ...]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["CONSTRAINT_NAME"], []).append(row)
    out = []
    for parts in groups.values():
        parts.sort(key=lambda r: r["ORDINAL_POSITION"])
        out.append(ForeignKey(tuple(r["COLUMN_NAME"] for r in parts), parts[0]["REFERENCED_TABLE_NAME"],
                              tuple(r["REFERENCED_COLUMN_NAME"] for r in parts),
                              _rule(parts[0]["UPDATE_RULE"]), _rule(parts[0]["DELETE_RULE"]), None))
    return tuple(sorted(out, key=fk_sort_key))


def _indexes(rows: list[dict]) -> tuple[Index, ...]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["INDEX_NAME"], []).append(row)
    out = []
    for name, parts in groups.items():
        parts.sort(key=lambda r: r["SEQ_IN_INDEX"])
        columns = []
        for r in parts:
            part = r["COLUMN_NAME"] if r.get("COLUMN_NAME") is not None else "<expr>"
            if r.get("SUB_PART"):
                part += "(%d)" % int(r["SUB_PART"])
            if (r.get("COLLATION") or "").upper() == "D":
                part += " DESC"
            columns.append(part)
        kind = (parts[0].get("INDEX_TYPE") or "BTREE").upper()
        unique = str(parts[0]["NON_UNIQUE"]) == "0"
        origin = "pk" if name == "PRIMARY" else ("u" if unique else "c")
        out.append(Index(name, tuple(columns), unique, None if kind == "BTREE" else "USING " + kind, origin))
    return tuple(sorted(out, key=lambda i: i.name))


def check(clause: str) -> str:
    """A CHECK clause as the diff compares it: "CHECK (qty >= 0)" from "`qty` >= 0" or "(`qty` >= 0)"."""
    text = compact(clause)
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return "CHECK (%s)" % text


# -- text ---------------------------------------------------------------------------------------

def _outside_strings(text: str, change) -> str:
    """`change` applied to the parts of `text` outside single-quoted literals."""
    out, last = [], 0
    for match in _STRING.finditer(text):
        out.append(change(text[last:match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(change(text[last:]))
    return "".join(out)


def upper_outside_quotes(text: str) -> str:
    return _outside_strings(" ".join(text.split()), str.upper)


def compact(text: str) -> str:
    """Backquotes dropped around plain identifiers, whitespace collapsed; literals kept as written."""
    def plain(part: str) -> str:
        part = re.sub(r"`([A-Za-z_][A-Za-z0-9_$]*)`", r"\1", part)
        return re.sub(r"\s+", " ", part)
    return _outside_strings(text.strip(), plain).strip()


def _closing(text: str, start: int) -> int:
    """Index of the parenthesis closing the one at `start` (outside literals), or -1."""
    depth, quoted = 0, False
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1
