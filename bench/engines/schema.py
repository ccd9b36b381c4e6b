"""A database schema as data, and the diff of two: the engine-neutral half of "proof of equivalence".

Every migration strategy (all at once, per app, squashed, regenerated, raw SQL)
must leave the same schema as the baseline. "Same" means same meaning, not
same bytes: Django's generated index/constraint names
(`app_model_field_1a2b3c4d`, `sqlite_autoindex_t_1`) and the column order of a
rebuilt table depend on the migration path, so they are kept in the snapshot
for display but never compared.

What this module is *not* responsible for: reading a live database. Each
engine (bench/engines/sqlite.py, ...) introspects its own catalog into these
dataclasses; this module only compares them. Pure, no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass


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


def fk_sort_key(fk: ForeignKey) -> tuple:
    """The order foreign keys are kept and compared in (a table may have several per column)."""
    return (fk.columns, fk.table, tuple(c or "" for c in fk.to_columns))


@dataclass(frozen=True)
class Index:
    name: str  # display only: generated names differ between migration paths
    columns: tuple[str, ...]  # in key order; an expression part as "<expr>" or the engine's own text, " DESC" suffix
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
    kind: str  # "missing" (in baseline only), "extra" (in candidate only), "type" (a column's), "changed"
    detail: str  # one line, baseline value first: "type DECIMAL vs INTEGER"

    def line(self) -> str:
        return "%s %s%s" % (self.object, self.kind, ": " + self.detail if self.detail else "")


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
            if x.type != y.type:  # its own kind: a reader lists column type changes (zero's cost)
                out.append(Difference(label, "type", "%s vs %s" % (x.type or "(none)", y.type or "(none)")))
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
        if sorted(xs, key=fk_sort_key) == sorted(ys, key=fk_sort_key):
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
