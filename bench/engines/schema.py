"""Snapshot a migrated SQLite database's schema, and diff two snapshots.

The basis of "proof of equivalence": every migration strategy (all at once,
per app, squashed, regenerated, raw SQL) must leave the same schema as the
baseline. "Same" means same meaning, not same bytes: Django's generated
index/constraint names (`app_model_field_1a2b3c4d`, `sqlite_autoindex_t_1`)
and the column order of a rebuilt table depend on the migration path, so
they are kept in the snapshot for display but never compared.

SQLite has no pragma for CHECK constraints or for DEFERRABLE, so those are
read from the CREATE TABLE text; everything else comes from PRAGMAs.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from migbench.errors import MigbenchError


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # declared type, upper case, single spaces ("" if none)
    notnull: bool
    default: str | None  # default expression text as written, None if no default
    pk: int  # position in the primary key (1-based), 0 if not part of it
    hidden: int = 0  # table_xinfo: 0 normal, 2/3 generated column


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    table: str  # referenced table
    to_columns: tuple[str | None, ...]  # None: the referenced table's primary key
    on_update: str
    on_delete: str
    deferrable: str | None  # e.g. "DEFERRABLE INITIALLY DEFERRED", None if not written


@dataclass(frozen=True)
class Index:
    name: str  # display only: generated names differ between migration paths
    columns: tuple[str, ...]  # in key order; "<expr>" for expression parts, " DESC" suffix
    unique: bool
    where: str | None  # partial index condition, normalised
    origin: str  # "c" CREATE INDEX, "u" UNIQUE constraint, "pk" PRIMARY KEY

    def key(self) -> tuple:
        return (self.columns, self.unique, self.where or "")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]  # in table order (kept, not compared)
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...]
    indexes: tuple[Index, ...]  # CREATE INDEX and the autoindexes behind UNIQUE / PRIMARY KEY
    checks: tuple[str, ...]  # normalised "CHECK (...)" texts, in SQL order

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class Schema:
    engine: str
    tables: tuple[Table, ...]  # sorted by name

    def table(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def table_names(self) -> list[str]:
        return [t.name for t in self.tables]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Schema":
        return cls(data["engine"], tuple(_table_from_dict(t) for t in data["tables"]))


def _table_from_dict(t: dict) -> Table:
    return Table(
        name=t["name"],
        columns=tuple(Column(**c) for c in t["columns"]),
        primary_key=tuple(t["primary_key"]),
        foreign_keys=tuple(ForeignKey(**{**f, "columns": tuple(f["columns"]), "to_columns": tuple(f["to_columns"])})
                           for f in t["foreign_keys"]),
        indexes=tuple(Index(**{**i, "columns": tuple(i["columns"])}) for i in t["indexes"]),
        checks=tuple(t["checks"]),
    )


@dataclass(frozen=True)
class Difference:
    object: str  # "table shop_order", "column shop_order.total", "index on shop_order(a, b)"...
    kind: str  # "missing" (in baseline only), "extra" (in candidate only), "changed"
    detail: str  # one line, baseline value first: "type DECIMAL vs INTEGER"

    def line(self) -> str:
        return "%s %s%s" % (self.object, self.kind, ": " + self.detail if self.detail else "")


# -- snapshot -----------------------------------------------------------------

def snapshot(path: Path, exclude_tables: Iterable[str] = ("django_migrations",)) -> Schema:
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
    return Table(name, columns, primary_key, tuple(sorted(foreign_keys, key=_fk_sort)),
                 tuple(sorted(indexes, key=lambda i: i.name)), checks)


def _fk_sort(fk: ForeignKey) -> tuple:
    return (fk.columns, fk.table, tuple(c or "" for c in fk.to_columns))


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


# -- diff -----------------------------------------------------------------------

def diff(baseline: Schema, candidate: Schema) -> list[Difference]:
    """What differs between two schemas, baseline first; empty means equivalent."""
    out: list[Difference] = []
    base, cand = {t.name: t for t in baseline.tables}, {t.name: t for t in candidate.tables}
    for name in sorted(set(base) | set(cand)):
        if name not in cand:
            out.append(Difference("table %s" % name, "missing", ""))
        elif name not in base:
            out.append(Difference("table %s" % name, "extra", ""))
        else:
            out.extend(_diff_table(base[name], cand[name]))
    return out


def _diff_table(a: Table, b: Table) -> list[Difference]:
    out: list[Difference] = []
    acols, bcols = {c.name: c for c in a.columns}, {c.name: c for c in b.columns}
    for name in sorted(set(acols) | set(bcols)):
        label = "column %s.%s" % (a.name, name)
        if name not in bcols:
            out.append(Difference(label, "missing", acols[name].type))
        elif name not in acols:
            out.append(Difference(label, "extra", bcols[name].type))
        else:
            x, y = acols[name], bcols[name]
            details = []
            if x.type != y.type:
                details.append("type %s vs %s" % (x.type or "(none)", y.type or "(none)"))
            if x.notnull != y.notnull:
                details.append("null: %s vs %s" % (_null(x), _null(y)))
            if x.default != y.default:
                details.append("default %s vs %s" % (_show(x.default), _show(y.default)))
            if x.hidden != y.hidden:
                details.append("generated %s vs %s" % (x.hidden, y.hidden))
            if details:
                out.append(Difference(label, "changed", "; ".join(details)))
    if a.primary_key != b.primary_key:
        out.append(Difference("primary key %s" % a.name, "changed",
                              "(%s) vs (%s)" % (", ".join(a.primary_key), ", ".join(b.primary_key))))
    out.extend(_diff_fks(a, b))
    out.extend(_diff_indexes(a, b))
    out.extend(_diff_checks(a, b))
    return out


def _null(c: Column) -> str:
    return "NOT NULL" if c.notnull else "NULL"


def _show(value) -> str:
    return "(none)" if value is None else str(value)


def _fk_text(fk: ForeignKey) -> str:
    to = ", ".join(c or "<pk>" for c in fk.to_columns)
    text = "-> %s(%s) ON DELETE %s ON UPDATE %s" % (fk.table, to, fk.on_delete, fk.on_update)
    return text + (" " + fk.deferrable if fk.deferrable else "")


def _diff_fks(a: Table, b: Table) -> list[Difference]:
    out = []
    groups_a: dict[tuple, list] = {}
    groups_b: dict[tuple, list] = {}
    for fk in a.foreign_keys:
        groups_a.setdefault(fk.columns, []).append(fk)
    for fk in b.foreign_keys:
        groups_b.setdefault(fk.columns, []).append(fk)
    for cols in sorted(set(groups_a) | set(groups_b)):
        label = "foreign key %s.%s" % (a.name, ",".join(cols))
        xs, ys = groups_a.get(cols, []), groups_b.get(cols, [])
        if sorted(xs, key=_fk_sort) == sorted(ys, key=_fk_sort):
            continue
        if len(xs) == 1 and len(ys) == 1:
            out.append(Difference(label, "changed", _fk_change(xs[0], ys[0])))
            continue
        for fk in xs:
            if fk not in ys:
                out.append(Difference(label, "missing", _fk_text(fk)))
        for fk in ys:
            if fk not in xs:
                out.append(Difference(label, "extra", _fk_text(fk)))
    return out


def _fk_change(x: ForeignKey, y: ForeignKey) -> str:
    details = []
    if (x.table, x.to_columns) != (y.table, y.to_columns):
        details.append("target %s(%s) vs %s(%s)" % (
            x.table, ", ".join(c or "<pk>" for c in x.to_columns),
            y.table, ", ".join(c or "<pk>" for c in y.to_columns)))
    if x.on_delete != y.on_delete:
        details.append("on_delete %s vs %s" % (x.on_delete, y.on_delete))
    if x.on_update != y.on_update:
        details.append("on_update %s vs %s" % (x.on_update, y.on_update))
    if x.deferrable != y.deferrable:
        details.append("deferrable %s vs %s" % (_show(x.deferrable), _show(y.deferrable)))
    return "; ".join(details)


def _index_label(table: str, index: Index) -> str:
    kind = "unique constraint" if index.origin == "u" else "index"
    return "%s on %s(%s)" % (kind, table, ", ".join(index.columns))


def _index_text(index: Index) -> str:
    text = "%s%s" % ("UNIQUE " if index.unique else "", index.name)
    return text + (" WHERE " + index.where if index.where else "")


def _diff_indexes(a: Table, b: Table) -> list[Difference]:
    """Matched by (columns, unique, where) as a multiset; leftovers on the same columns pair up as changes."""
    left = _leftover(a.indexes, b.indexes, Index.key)
    right = _leftover(b.indexes, a.indexes, Index.key)
    out = []
    for x in list(left):
        y = next((y for y in right if y.columns == x.columns), None)
        if y is None:
            continue
        left.remove(x)
        right.remove(y)
        details = []
        if x.unique != y.unique:
            details.append("unique: %s vs %s" % ("yes" if x.unique else "no", "yes" if y.unique else "no"))
        if x.where != y.where:
            details.append("where %s vs %s" % (_show(x.where), _show(y.where)))
        out.append(Difference(_index_label(a.name, x), "changed", "; ".join(details)))
    out += [Difference(_index_label(a.name, x), "missing", _index_text(x)) for x in left]
    out += [Difference(_index_label(a.name, y), "extra", _index_text(y)) for y in right]
    return sorted(out, key=lambda d: (d.object, d.kind, d.detail))


def _leftover(xs, ys, key) -> list:
    """Items of xs not matched one-for-one by an item of ys with the same key; in key order."""
    available = Counter(key(y) for y in ys)
    out = []
    for x in sorted(xs, key=lambda x: (key(x), getattr(x, "name", ""))):
        if available[key(x)]:
            available[key(x)] -= 1
        else:
            out.append(x)
    return out


def _diff_checks(a: Table, b: Table) -> list[Difference]:
    label = "check on %s" % a.name
    left = _leftover(a.checks, b.checks, lambda c: c)
    right = _leftover(b.checks, a.checks, lambda c: c)
    if len(left) == 1 and len(right) == 1:
        return [Difference(label, "changed", "%s vs %s" % (left[0], right[0]))]
    return ([Difference(label, "missing", c) for c in left]
            + [Difference(label, "extra", c) for c in right])


def fingerprint(schema: Schema) -> str:
    """A short digest of what `diff` compares: equal fingerprints, no differences.

    Names of indexes and the column order are left out, as in `diff`; records
    carry it so two runs can be seen to agree without storing whole schemas.
    """
    import hashlib
    import json

    comparable = []
    for table in schema.tables:
        comparable.append([
            table.name,
            sorted([c.name, c.type, c.notnull, c.default, bool(c.pk), c.hidden] for c in table.columns),
            list(table.primary_key),
            sorted([list(f.columns), f.table, [c or "" for c in f.to_columns], f.on_update, f.on_delete,
                    f.deferrable or ""] for f in table.foreign_keys),
            sorted([list(i.columns), i.unique, i.where or ""] for i in table.indexes),
            sorted(table.checks),
        ])
    text = json.dumps([schema.engine, comparable], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
