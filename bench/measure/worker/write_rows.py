# -*- coding: utf-8 -*-
"""Post-migrate write probe: insert one row into every concrete model.

Runs INSIDE a target environment (a virtualenv holding only Django), after
``manage.py migrate``.  Stdlib + Django only; must run unchanged on
Python 2.7 .. 3.13 and Django 1.7 .. 6.1, so: no f-strings, no annotations,
no keyword-only arguments.

Why: Django 1.9-1.11 on SQLite >= 3.26 can finish ``migrate`` with exit 0 yet
leave foreign keys pointing at a dropped ``<table>__old``.  Only a write with
foreign-key enforcement on reveals it ("no such table: main.<table>__old").

Usage::

    python write_rows.py --project DIR --settings MODULE [--apps a,b,c]

``--apps`` takes app labels (or full app names), comma separated; the default
is every installed app whose name does not start with ``django.contrib.``.

For each concrete model (proxy, unmanaged and auto-created M2M through models
are skipped) one instance is created with every required field filled, FK /
OneToOne targets are created recursively (memoised per model; OneToOne and
other unique relations get a fresh target row each time), nullable relations
are pointed at a target row when that does not need a cycle, and each
auto-created M2M gets one link.  Everything is then read back.

Foreign keys, by engine (a broken FK must fail the probe, not pass unseen):
- SQLite: Django < 2.2 does not turn on ``PRAGMA foreign_keys``, and
  without it SQLite never looks at FK definitions on INSERT, so a dangling
  ``__old`` reference would go unnoticed.  The probe therefore switches
  enforcement on for its own SQLite connections, and additionally checks every
  in-scope table's ``PRAGMA foreign_key_list`` for references to tables that do
  not exist (the tables listed by Django's introspection).
- PostgreSQL: Django creates FKs DEFERRABLE INITIALLY DEFERRED, checked at
  commit.  Each model's block runs ``SET CONSTRAINTS ALL IMMEDIATE`` first,
  so a violation fails the INSERT that causes it (and names that object)
  instead of the commit; a reference to a missing table cannot exist there
  (DROP TABLE refuses, or CASCADE drops the FK).
- MySQL/MariaDB (InnoDB): FKs are checked on every statement; nothing to do.

Output: one JSON line on stdout::

    {"ok": bool, "models": N, "rows": N,
     "errors": [{"model": "app.Model", "error": "ExcType: message"}]}

``models`` is the number of in-scope models probed; ``rows`` counts objects
saved (recursively created targets included; a multi-table-inheritance child
counts once) plus M2M links added, in models that succeeded.
Exit status: 0 if everything succeeded, 1 otherwise.
"""
from __future__ import absolute_import, division, print_function, unicode_literals

import argparse
import datetime
import decimal
import json
import os
import random
import sys
import uuid


class ProbeError(Exception):
    """A model cannot be populated by this probe (unsupported field, ...)."""


class RelationCycle(ProbeError):
    """Creating a target would need a row of a model already being built."""


def _text(exc):
    try:
        return "%s" % (exc,)
    except Exception:  # Python 2: non-ASCII byte-string message
        try:
            return str(exc).decode("utf-8", "replace")
        except Exception:
            return repr(exc)


def _describe(exc):
    return "%s: %s" % (type(exc).__name__, _text(exc))


def _mark(exc, where):
    """Remember the innermost object whose write failed (first mark wins)."""
    if getattr(exc, "probe_where", None) is None:
        try:
            exc.probe_where = where
        except Exception:
            pass


def _base_save(obj, **kwargs):
    from django.db.models import Model
    Model.save(obj, **kwargs)


def _label(model):
    return "%s.%s" % (model._meta.app_label, model._meta.object_name)


def _rel(field):
    rel = getattr(field, "remote_field", None)  # Django >= 1.9
    if rel is None:
        rel = getattr(field, "rel", None)  # Django 1.7, 1.8
    return rel


def _is_relation(field):
    """field.is_relation is Django >= 1.8; on 1.7 a relation is a field with a `rel`."""
    flag = getattr(field, "is_relation", None)
    if flag is not None:
        return flag
    return getattr(field, "rel", None) is not None


def _related_model(field):
    """field.related_model is Django >= 1.8; 1.7 has only field.rel.to."""
    model = getattr(field, "related_model", None)
    if model is not None:
        return model
    return _rel(field).to


def _is_auto(field):
    from django.db import models

    if field.get_internal_type() in ("AutoField", "BigAutoField", "SmallAutoField"):
        return True
    mixin = getattr(models.fields, "AutoFieldMixin", None)  # Django >= 3.0
    if mixin is not None and isinstance(field, mixin):
        return True
    return isinstance(field, models.AutoField)


def _has_default(field):
    if field.has_default():
        return True
    db_default = getattr(field, "db_default", None)  # Django >= 5.0
    if db_default is None:
        return False
    from django.db.models.fields import NOT_PROVIDED

    return db_default is not NOT_PROVIDED


def _unique_field_names(model):
    """Names of fields that take part in any unique_together / UniqueConstraint
    of the model or of its multi-table-inheritance parents."""
    names = set()
    opts = model._meta
    for m in [model] + list(opts.get_parent_list()):
        for group in m._meta.unique_together or ():
            if isinstance(group, (list, tuple)):
                names.update(group)
            else:  # a single flat tuple not yet normalised
                names.add(group)
        for constraint in getattr(m._meta, "constraints", None) or ():  # Django >= 2.2
            names.update(getattr(constraint, "fields", None) or ())
    return names


class Writer(object):
    def __init__(self, seed=None):
        # Start at a random offset so that a second run on the same database
        # does not collide with the unique values of the first one.
        if seed is None:
            seed = random.SystemRandom().randrange(10 ** 8)
        self.counter = seed
        self.rows = 0
        self.memo = {}  # concrete model -> saved instance
        self.in_progress = []  # models currently being built (recursion stack)

    # -- values -----------------------------------------------------------

    def _next(self):
        self.counter += 1
        return self.counter

    def value_for(self, field):
        n = self._next()
        choices = [c[0] for c in (field.flatchoices or ()) if c[0] not in (None, "")]
        if choices:
            return choices[n % len(choices)]
        names = [k.__name__ for k in type(field).__mro__]
        names.append(field.get_internal_type())
        for name in names:
            gen = getattr(self, "_gen_" + name, None)
            if gen is not None:
                return gen(field, n)
        value = field.get_default()
        if value is None:
            raise ProbeError(
                "no value generator for required field %s (%s)"
                % (field.name, type(field).__name__)
            )
        return value

    @staticmethod
    def _fit(value, field):
        max_length = getattr(field, "max_length", None)
        if max_length and len(value) > max_length:
            value = value[-max_length:]  # keep the counter suffix
        return value

    def _gen_CharField(self, field, n):
        return self._fit("%s%d" % (field.name[:8], n), field)

    _gen_TextField = _gen_CharField
    _gen_FilePathField = _gen_CharField

    def _gen_SlugField(self, field, n):
        return self._fit("s-%d" % n, field)

    def _gen_EmailField(self, field, n):
        return self._fit("u%d@example.com" % n, field)

    def _gen_URLField(self, field, n):
        return self._fit("http://example.com/%d" % n, field)

    def _gen_FileField(self, field, n):
        return self._fit("f/%d.txt" % n, field)

    def _gen_CommaSeparatedIntegerField(self, field, n):
        return self._fit("%d,%d" % (n, n), field)

    def _gen_GenericIPAddressField(self, field, n):
        return "10.%d.%d.%d" % ((n >> 16) & 255, (n >> 8) & 255, n & 255)

    _gen_IPAddressField = _gen_GenericIPAddressField

    def _gen_IntegerField(self, field, n):
        return n

    _gen_BigIntegerField = _gen_IntegerField
    _gen_PositiveIntegerField = _gen_IntegerField
    _gen_PositiveBigIntegerField = _gen_IntegerField

    def _gen_SmallIntegerField(self, field, n):
        return 1 + n % 32766

    _gen_PositiveSmallIntegerField = _gen_SmallIntegerField

    def _gen_FloatField(self, field, n):
        return n + 0.5

    def _gen_DecimalField(self, field, n):
        places = field.decimal_places or 0
        whole_digits = (field.max_digits or 10) - places
        if whole_digits > 0:
            value = decimal.Decimal(1 + n % (10 ** whole_digits - 1))
        else:
            value = decimal.Decimal(1 + n % (10 ** places - 1)).scaleb(-places)
        return value.quantize(decimal.Decimal(1).scaleb(-places))

    def _gen_BooleanField(self, field, n):
        return True

    _gen_NullBooleanField = _gen_BooleanField

    def _gen_DateField(self, field, n):
        return datetime.date(2000, 1, 1) + datetime.timedelta(days=n % 2900000)

    def _gen_DateTimeField(self, field, n):
        from django.utils import timezone

        # naive or aware according to settings.USE_TZ
        return timezone.now() + datetime.timedelta(seconds=n)

    def _gen_TimeField(self, field, n):
        return (datetime.datetime(2000, 1, 1) + datetime.timedelta(seconds=n)).time()

    def _gen_DurationField(self, field, n):
        return datetime.timedelta(seconds=n)

    def _gen_UUIDField(self, field, n):
        return uuid.uuid4()

    def _gen_BinaryField(self, field, n):
        return self._fit(("bin%d" % n).encode("ascii"), field)

    def _gen_JSONField(self, field, n):
        return {"n": n, "list": [n]}

    # -- rows -------------------------------------------------------------

    def _must_fill(self, field, unique_names):
        if field.unique or field.name in unique_names:
            return True  # fresh value per row, even over a default
        return not field.null and not _has_default(field)

    def create(self, model, fresh=False):
        """Save (or reuse, unless ``fresh``) one row of ``model``."""
        model = model._meta.concrete_model
        if not fresh and model in self.memo:
            return self.memo[model]
        if model in self.in_progress:
            raise RelationCycle(
                "required relation cycle: %s"
                % " -> ".join(_label(m) for m in self.in_progress + [model])
            )
        self.in_progress.append(model)
        try:
            unique_names = _unique_field_names(model)
            kwargs = {}
            deferred = []
            for field in model._meta.concrete_fields:
                if getattr(field, "generated", False) or _is_auto(field):
                    continue
                if _is_relation(field):
                    rel = _rel(field)
                    if getattr(rel, "parent_link", False):
                        continue  # MTI: saving the child saves the parent
                    unique = field.unique or field.name in unique_names
                    try:
                        target = self.create(_related_model(field), fresh=unique)
                    except RelationCycle as exc:
                        if not field.null:
                            raise RelationCycle(
                                "%s.%s: %s" % (_label(model), field.name, _text(exc))
                            )
                        deferred.append(field)
                        continue
                    # By attname, so a proxy target model also accepts it.
                    to_field = field.foreign_related_fields[0]
                    kwargs[field.attname] = getattr(target, to_field.attname)
                    continue
                if self._must_fill(field, unique_names):
                    kwargs[field.attname] = self.value_for(field)
            obj = model(**kwargs)
            # Model.save, not obj.save: a real project's save() (a tree's bookkeeping, a
            # slug lookup) is application logic, not schema; the parents of a multi-table
            # child and the signals still run as in any save.
            _base_save(obj, force_insert=True)
        except Exception as exc:
            _mark(exc, _label(model))
            raise
        finally:
            self.in_progress.pop()
        self.rows += 1
        self.memo.setdefault(model, obj)
        # Nullable relations skipped because of a cycle (typically a self FK):
        # point them at an existing row now, so the column gets written too.
        update = []
        for field in deferred:
            target_model = _related_model(field)._meta.concrete_model
            unique = field.unique or field.name in unique_names
            if target_model is model and (unique or target_model not in self.memo):
                target = obj
            elif not unique and target_model in self.memo:
                target = self.memo[target_model]
            else:
                continue
            setattr(obj, field.attname, getattr(target, field.foreign_related_fields[0].attname))
            update.append(field.name)
        if update:
            _base_save(obj, update_fields=update)
        return obj

    def link_m2m(self, model, obj):
        for field in model._meta.many_to_many:
            rel = _rel(field)
            through = getattr(rel, "through", None)
            if through is None or not through._meta.auto_created:
                continue  # explicit through: a concrete model probed on its own
            target = self.create(_related_model(field))
            try:
                manager = getattr(obj, field.name)
                manager.add(target.pk)  # a pk is accepted for proxy targets too
                if manager.count() < 1:
                    raise ProbeError("link not read back")
            except Exception as exc:
                _mark(exc, "%s.%s (M2M)" % (_label(model), field.name))
                raise
            self.rows += 1

    def probe(self, model):
        from django.db import router, transaction

        db = router.db_for_write(model)
        memo = dict(self.memo)
        rows = self.rows
        try:
            with transaction.atomic(using=db):
                _immediate_constraints(db)
                obj = self.create(model)
                self.link_m2m(model, obj)
        except Exception:
            self.memo = memo  # rows created in the rolled-back block are gone
            self.rows = rows
            self.in_progress = []
            raise
        manager = model._base_manager.db_manager(db)
        if manager.count() < 1:
            raise ProbeError("row not read back (count() == 0)")
        manager.get(pk=obj.pk)


def _force_sqlite_fk():
    """Django < 2.2 leaves SQLite FK enforcement off; without it inserts never
    consult FK definitions.  Must run outside any transaction."""
    from django.db import connections

    for alias in connections:
        conn = connections[alias]
        if conn.vendor != "sqlite":
            continue
        cursor = conn.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys")
            if not cursor.fetchone()[0]:
                cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()


def _immediate_constraints(alias):
    """PostgreSQL: check deferred FKs at each statement for the rest of this transaction."""
    from django.db import connections

    conn = connections[alias]
    if conn.vendor != "postgresql":
        return
    cursor = conn.cursor()
    try:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    finally:
        cursor.close()


def _dangling_fks(models):
    """[(model, message)] for SQLite FK definitions naming a missing table."""
    from django.db import connections, router

    found = []
    tables_by_alias = {}
    for model in models:
        alias = router.db_for_write(model)
        conn = connections[alias]
        if conn.vendor != "sqlite":
            continue
        if alias not in tables_by_alias:
            cursor = conn.cursor()
            try:
                tables_by_alias[alias] = set(t.lower() for t in conn.introspection.table_names(cursor))
            finally:
                cursor.close()
        existing = tables_by_alias[alias]
        tables = [model._meta.db_table]
        for field in model._meta.local_many_to_many:
            through = getattr(_rel(field), "through", None)
            if through is not None and through._meta.auto_created:
                tables.append(through._meta.db_table)
        for table in tables:
            cursor = conn.cursor()
            try:
                cursor.execute('PRAGMA foreign_key_list("%s")' % table.replace('"', '""'))
                fks = cursor.fetchall()
            finally:
                cursor.close()
            for fk in fks:  # (id, seq, table, from, to, on_update, on_delete, match)
                if fk[2].lower() not in existing:
                    found.append((model, "%s.%s references missing table %s"
                                  % (table, fk[3], fk[2])))
    return found


def _models_in_scope(app_names):
    from django.apps import apps

    if app_names:
        configs = []
        for name in app_names:
            matches = [c for c in apps.get_app_configs() if name in (c.label, c.name)]
            if not matches:
                raise LookupError("no installed app with label or name %r" % name)
            configs.extend(matches)
    else:
        configs = [c for c in apps.get_app_configs()
                   if not c.name.startswith("django.contrib.")]
    models = []
    for config in configs:
        for model in config.get_models():  # auto-created / swapped excluded
            opts = model._meta
            if opts.proxy or not opts.managed or opts.auto_created or opts.abstract:
                continue
            if getattr(opts, "swapped", None):
                continue
            models.append(model)
    return models


def run(project, settings_module, app_names):
    result = {"ok": False, "models": 0, "rows": 0, "errors": []}
    errors = result["errors"]
    try:
        sys.path.insert(0, os.path.abspath(project))
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
        import django

        django.setup()
        models = _models_in_scope(app_names)
        _force_sqlite_fk()
    except Exception as exc:
        errors.append({"model": "<setup>", "error": _describe(exc)})
        return result
    writer = Writer()
    for model in models:
        try:
            writer.probe(model)
        except Exception as exc:
            message = _describe(exc)
            where = getattr(exc, "probe_where", None)
            if where and where != _label(model):
                message += " [while writing %s]" % where
            errors.append({"model": _label(model), "error": message})
    try:
        for model, message in _dangling_fks(models):
            errors.append({"model": _label(model), "error": "DanglingForeignKey: " + message})
    except Exception as exc:
        errors.append({"model": "<schema>", "error": _describe(exc)})
    result["models"] = len(models)
    result["rows"] = writer.rows
    result["ok"] = not errors
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", required=True, help="directory put at sys.path[0]")
    parser.add_argument("--settings", required=True, help="DJANGO_SETTINGS_MODULE")
    parser.add_argument("--apps", default="", help="comma-separated app labels")
    args = parser.parse_args(argv)
    app_names = [a.strip() for a in args.apps.split(",") if a.strip()]
    result = run(args.project, args.settings, app_names)
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
