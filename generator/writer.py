"""Source text for models.py and migration files, from the recorded history.

Field definitions are rendered by one function for both files, so a model and
the migration that created it can never disagree by construction: that is
what makes `makemigrations --check` find nothing. Migration files follow the
layout makemigrations itself writes for the target line (coding line and
`unicode_literals` before 2.0, `initial = True` from 1.9).
"""

from __future__ import annotations

from typing import Iterable

from migbench import __version__
from migbench.targets import DjangoLine

from . import operations as ops
from .literals import Imports, literal
from .operations import ConstraintSpec, FieldSpec, IndexSpec, Migration
from .state import AppState, ModelState, ProjectState

APPS_PACKAGE = "apps"

_FIELD_CLASSES = {
    "char": "CharField", "text": "TextField", "integer": "IntegerField",
    "big_integer": "BigIntegerField", "small_integer": "SmallIntegerField",
    "positive_integer": "PositiveIntegerField", "float": "FloatField",
    "decimal": "DecimalField", "boolean": "BooleanField", "date": "DateField",
    "datetime": "DateTimeField", "time": "TimeField", "duration": "DurationField",
    "email": "EmailField", "url": "URLField", "slug": "SlugField", "uuid": "UUIDField",
    "ip": "GenericIPAddressField", "binary": "BinaryField", "json": "JSONField",
    "foreign_key": "ForeignKey", "one_to_one": "OneToOneField", "many_to_many": "ManyToManyField",
}


class FieldRenderer:
    """Renders one FieldSpec as `models.X(...)` for a migration or for models.py."""

    def __init__(self, imports: Imports, in_migration: bool, app: str, target: DjangoLine):
        self.imports = imports
        self.in_migration = in_migration
        self.app = app  # the file's app: same-app targets are written by bare name in models.py
        self.target = target

    def __call__(self, spec: FieldSpec) -> str:
        kwargs: list[tuple[str, str]] = []
        positional: list[str] = []
        if spec.is_relation:
            target = self._target(spec)
            if self.in_migration:
                kwargs.append(("to", target))
            else:
                positional.append(target)
            if spec.on_delete:
                if self.in_migration:
                    self.imports.need("django.db.models.deletion")
                    kwargs.append(("on_delete", "django.db.models.deletion." + spec.on_delete))
                else:
                    kwargs.append(("on_delete", "models." + spec.on_delete))
            if spec.related_name:
                kwargs.append(("related_name", repr(spec.related_name)))
            if spec.through_model:  # always in the field's own app
                through = spec.through_model
                if self.in_migration:
                    through = "%s.%s" % (self.app, through)  # case kept, as Django writes it
                kwargs.append(("through", repr(through)))
        if spec.max_length is not None:
            kwargs.append(("max_length", str(spec.max_length)))
        if spec.max_digits is not None:
            kwargs.append(("max_digits", str(spec.max_digits)))
            kwargs.append(("decimal_places", str(spec.decimal_places)))
        if spec.null and spec.kind != "many_to_many":
            kwargs.append(("null", "True"))
        if spec.blank:
            kwargs.append(("blank", "True"))
        if spec.has_default:
            kwargs.append(("default", literal(spec.default, self.imports)))
        if spec.db_index:
            kwargs.append(("db_index", "True"))
        arguments = positional + ["%s=%s" % item for item in sorted(kwargs)]
        return "models.%s(%s)" % (_FIELD_CLASSES[spec.kind], ", ".join(arguments))

    def _target(self, spec: FieldSpec) -> str:
        if self.in_migration:
            return repr(model_label(spec.to_app, spec.to_model, self.target))
        # Self references are written by class name, not "self": a self M2M named so
        # is not symmetrical, exactly like the migration's (whose to= is a label).
        if spec.to_app == self.app:
            return repr(spec.to_model)
        return repr("%s.%s" % (spec.to_app, spec.to_model))


def model_label(app: str, model: str, target: DjangoLine) -> str:
    """A model reference in a migration, spelled as the target's makemigrations does."""
    return "%s.%s" % (app, model.lower() if target.lowercase_model_labels else model)


def _index(index: IndexSpec) -> str:
    return "models.Index(fields=%s, name=%r)" % (_list(index.fields), index.name)


def _constraint(constraint: ConstraintSpec, target: DjangoLine) -> str:
    if constraint.kind == "check":
        if target.check_constraint_kwarg == "condition":
            return "models.CheckConstraint(condition=models.Q(%s__gte=0), name=%r)" % (
                constraint.fields[0], constraint.name)
        # A project generated for an older line also runs on the newer lines of its matrix, and 6.0
        # removed `check=` (5.1 renamed it `condition=`): the keyword is picked where it runs.
        return ("models.CheckConstraint(name=%r, **{(\"condition\" if __import__(\"django\").VERSION >= (5, 1) "
                "else \"check\"): models.Q(%s__gte=0)})" % (constraint.name, constraint.fields[0]))
    return "models.UniqueConstraint(fields=%s, name=%r)" % (_list(constraint.fields), constraint.name)


def _list(items: Iterable[str]) -> str:
    return "[%s]" % ", ".join(repr(item) for item in items)


def _together(groups: tuple[tuple[str, ...], ...]) -> str:
    if not groups:
        return "set()"
    return "{%s}" % ", ".join("(%s)" % ", ".join(repr(name) for name in group) for group in groups)


def header(target: DjangoLine, what: str) -> list[str]:
    lines = []
    if target.python2_compatible:
        lines.append("# -*- coding: utf-8 -*-")
    lines.append("# Generated by migbench %s for Django %s: %s. Do not edit." % (__version__, target.line, what))
    if target.python2_compatible:
        lines.append("from __future__ import unicode_literals")
    return lines


# -- migrations --------------------------------------------------------------


class MigrationWriter:
    def __init__(self, migration: Migration, target: DjangoLine):
        self.migration = migration
        self.target = target
        self.imports = Imports()
        self.functions: list[str] = []
        self.field = FieldRenderer(self.imports, in_migration=True, app=migration.app, target=target)

    def as_string(self) -> str:
        operations = [self._operation(op) for op in self.migration.operations]
        lines = header(self.target, "migration %s.%s" % (self.migration.app, self.migration.name))
        lines.append("")
        lines.append("from django.db import migrations, models")
        lines.extend(self.imports.lines())
        if self.functions:
            lines.append("")
            lines.extend(self.functions)
        lines.append("")
        lines.append("")
        lines.append("class Migration(migrations.Migration):")
        lines.append("")
        if self.migration.initial and self.target.at_least("1.9"):
            lines.append("    initial = True")
            lines.append("")
        lines.append("    dependencies = [")
        for app, name in self.migration.dependencies:
            lines.append("        (%r, %r)," % (app, name))
        lines.append("    ]")
        lines.append("")
        lines.append("    operations = [")
        for operation in operations:
            lines.append(operation)
        lines.append("    ]")
        return "\n".join(lines) + "\n"

    def _operation(self, op) -> str:
        return getattr(self, "_" + op.kind)(op)

    def _create_model(self, op: ops.CreateModel) -> str:
        out = ["        migrations.CreateModel(", "            name=%r," % op.name, "            fields=["]
        if op.parent:
            parent_app, parent_name = op.parent
            self.imports.need("django.db.models.deletion")
            out.append(
                "                (%r, models.OneToOneField(auto_created=True, "
                "on_delete=django.db.models.deletion.CASCADE, parent_link=True, primary_key=True, "
                "serialize=False, to=%r))," % (parent_name.lower() + "_ptr", model_label(parent_app, parent_name, self.target))
            )
        elif not op.options.proxy:
            out.append(
                "                ('id', models.AutoField(auto_created=True, primary_key=True, "
                "serialize=False, verbose_name='ID')),"
            )
        for spec in op.fields:
            if spec.kind == "many_to_many" and spec.through_model:
                continue  # added after its through model, by an AddField
            out.append("                (%r, %s)," % (spec.name, self.field(spec)))
        out.append("            ],")
        options = []
        if op.options.ordering:
            options.append("'ordering': %s" % _list(op.options.ordering))
        if op.options.unique_together:
            options.append("'unique_together': %s" % _together(op.options.unique_together))
        if op.options.proxy:
            options.append("'proxy': True")
        if options:
            out.append("            options={")
            out.extend("                %s," % option for option in options)
            out.append("            },")
        base = op.parent or op.proxy_of
        if base:
            out.append("            bases=(%r,)," % ("%s.%s" % (base[0], base[1].lower())))
        out.append("        ),")
        return "\n".join(out)

    def _delete_model(self, op: ops.DeleteModel) -> str:
        return "        migrations.DeleteModel(\n            name=%r,\n        )," % op.name

    def _add_field(self, op: ops.AddField) -> str:
        return _call("AddField", [
            ("model_name", repr(op.model.lower())), ("name", repr(op.field.name)), ("field", self.field(op.field)),
        ])

    def _alter_field(self, op: ops.AlterField) -> str:
        return _call("AlterField", [
            ("model_name", repr(op.model.lower())), ("name", repr(op.field.name)), ("field", self.field(op.field)),
        ])

    def _remove_field(self, op: ops.RemoveField) -> str:
        return _call("RemoveField", [("model_name", repr(op.model.lower())), ("name", repr(op.name))])

    def _rename_field(self, op: ops.RenameField) -> str:
        return _call("RenameField", [
            ("model_name", repr(op.model.lower())), ("old_name", repr(op.old_name)), ("new_name", repr(op.new_name)),
        ])

    def _rename_model(self, op: ops.RenameModel) -> str:
        return _call("RenameModel", [("old_name", repr(op.old_name)), ("new_name", repr(op.new_name))])

    def _add_index(self, op: ops.AddIndex) -> str:
        return _call("AddIndex", [("model_name", repr(op.model.lower())), ("index", _index(op.index))])

    def _remove_index(self, op: ops.RemoveIndex) -> str:
        return _call("RemoveIndex", [("model_name", repr(op.model.lower())), ("name", repr(op.name))])

    def _alter_model_options(self, op: ops.AlterModelOptions) -> str:
        options = ["'verbose_name': %r" % op.verbose_name]
        if op.ordering:
            options.insert(0, "'ordering': %s" % _list(op.ordering))
        return _call("AlterModelOptions", [("name", repr(op.model.lower())), ("options", "{%s}" % ", ".join(options))])

    def _add_constraint(self, op: ops.AddConstraint) -> str:
        return _call("AddConstraint", [
            ("model_name", repr(op.model.lower())), ("constraint", _constraint(op.constraint, self.target)),
        ])

    def _alter_unique_together(self, op: ops.AlterUniqueTogether) -> str:
        return _call("AlterUniqueTogether", [
            ("name", repr(op.model.lower())), ("unique_together", _together(op.unique_together)),
        ])

    def _run_python(self, op: ops.RunPython) -> str:
        rows_name = op.function.upper()
        rows = ["%s = [" % rows_name]
        for row in op.rows:
            rows.append("    {%s}," % ", ".join("%r: %s" % (name, literal(value, self.imports)) for name, value in row))
        rows.append("]")
        body = [
            "def %s(apps, schema_editor):" % op.function,
            "    Model = apps.get_model(%r, %r)" % (self.migration.app, op.model),
            "    rows = Model.objects.using(schema_editor.connection.alias)",
            "    rows.bulk_create([Model(**row) for row in %s])" % rows_name,
        ]
        if op.transform:
            how, field = op.transform
            if how == "upper" and not self.target.has_db_functions:
                # 1.7 has no django.db.models.functions: the same one UPDATE, through a cursor
                body.extend([
                    "    column = schema_editor.quote_name(Model._meta.get_field(%r).column)" % field,
                    "    with schema_editor.connection.cursor() as cursor:",
                    '        cursor.execute("UPDATE %s SET %s = UPPER(%s)" % (schema_editor.quote_name('
                    'Model._meta.db_table), column, column))',
                ])
            elif how == "upper":
                body.append("    rows.update(%s=django.db.models.functions.Upper(%r))" % (field, field))
            else:
                body.append("    rows.update(%s=models.F(%r) + 1)" % (field, field))
        body.append("    _check_foreign_keys_now(schema_editor)")
        if not op.rows:  # loads the model (what a data migration costs migrate), writes nothing
            load = "    apps.get_model(%r, %r)" % (self.migration.app, op.model)
            return self._data_migration(op, [], ["def %s(apps, schema_editor):" % op.function, load],
                                        ["def %s_reverse(apps, schema_editor):" % op.function, load])
        # A plain DELETE: nothing references these rows, and the ORM's cascade
        # collector would render every related historical model for nothing.
        reverse = [
            "def %s_reverse(apps, schema_editor):" % op.function,
            "    Model = apps.get_model(%r, %r)" % (self.migration.app, op.model),
            # Through a cursor: rows are data, and MySQL refuses schema_editor.execute of anything
            # inside the migration's transaction from Django 1.11 ("Executing DDL statements while
            # in a transaction on databases that can't perform a rollback is prohibited").
            "    with schema_editor.connection.cursor() as cursor:",
            '        cursor.execute("DELETE FROM %s" % schema_editor.quote_name(Model._meta.db_table))',
            "    _check_foreign_keys_now(schema_editor)",
        ]
        if _CHECK_NOW not in self.functions:
            self.functions.extend(["", _CHECK_NOW, ""])
        return self._data_migration(op, rows, body, reverse)

    def _data_migration(self, op: ops.RunPython, rows: list[str], body: list[str], reverse: list[str]) -> str:
        if op.transform and op.transform[0] == "upper" and self.target.has_db_functions:
            self.imports.need("django.db.models.functions")
        chunks = ["", "\n".join(rows), "", ""] if rows else [""]
        self.functions.extend(chunks + ["\n".join(body), "", "", "\n".join(reverse), ""])
        arguments = [("code", op.function), ("reverse_code", op.function + "_reverse")]
        if self.target.has_elidable and op.elidable:
            arguments.append(("elidable", "True"))
        return _call("RunPython", arguments)

    def _run_sql(self, op: ops.RunSQL) -> str:
        # Lists, not strings: Django < 2.0 needs sqlparse to split a string.
        arguments = [("sql", "[%r]" % op.sql), ("reverse_sql", "[%r]" % op.reverse_sql)]
        if self.target.has_elidable and op.elidable:
            arguments.append(("elidable", "True"))
        return _call("RunSQL", arguments)


# PostgreSQL checks Django's foreign keys (DEFERRABLE INITIALLY DEFERRED) at commit, and a
# migration is one transaction: rows written by a RunPython leave "pending trigger events",
# and a later operation of the same migration that alters or drops one of those tables fails
# ("cannot ALTER TABLE ... because it has pending trigger events"). A hand-written project
# would split the migration; the generator keeps one history for every engine (and for the
# results already recorded), so it checks the keys at once instead. Through a cursor, not
# schema_editor.execute: it is not DDL, and the floor's captured statements stay the same.
_CHECK_NOW = '''def _check_foreign_keys_now(schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")'''


def _call(name: str, arguments: list[tuple[str, str]]) -> str:
    out = ["        migrations.%s(" % name]
    out.extend("            %s=%s," % item for item in arguments)
    out.append("        ),")
    return "\n".join(out)


# -- models.py -----------------------------------------------------------------


def models_source(app: AppState, state: ProjectState, target: DjangoLine) -> str:
    imports = Imports()
    field = FieldRenderer(imports, in_migration=False, app=app.label, target=target)
    cross_app_bases: set[tuple[str, str]] = set()
    classes: list[str] = []
    if app.abstract_base:
        body = ["    %s = %s" % (spec.name, field(spec)) for spec in app.abstract_base.fields]
        body += ["", "    class Meta:", "        abstract = True"]
        classes.append("class %s(models.Model):\n%s" % (app.abstract_base.name, "\n".join(body)))
    for model in app.models.values():
        classes.append(_model_class(model, app, state, field, target, cross_app_bases))
    lines = header(target, "models of app %s" % app.label)
    lines.append("")
    lines.extend(imports.lines())
    lines.append("from django.db import models")
    for other_app, name in sorted(cross_app_bases):
        lines.append("from %s.%s.models import %s" % (APPS_PACKAGE, other_app, name))
    for source in classes:
        lines.extend(["", "", source])
    return "\n".join(lines) + "\n"


def _model_class(model: ModelState, app: AppState, state: ProjectState, field: FieldRenderer,
                 target: DjangoLine, cross_app_bases: set) -> str:
    base_uid = model.parent if model.parent is not None else model.proxy_of
    if base_uid is not None:
        base = state.models[base_uid]
        if base.app != app.label:
            cross_app_bases.add((base.app, base.name))
        base_name = base.name
    elif model.abstract_base:
        base_name = model.abstract_base
    else:
        base_name = "models.Model"
    body = ["    %s = %s" % (spec.name, field(spec)) for spec in model.own_fields()]
    meta = []
    if model.proxy_of is not None:
        meta.append("        proxy = True")
    if model.verbose_name:
        meta.append("        verbose_name = %r" % model.verbose_name)
    if model.ordering:
        meta.append("        ordering = %s" % _list(model.ordering))
    if model.unique_together:
        meta.append("        unique_together = [%s]" % ", ".join(
            "(%s)" % ", ".join(repr(name) for name in group) for group in model.unique_together))
    if model.indexes:
        meta.append("        indexes = [%s]" % ", ".join(_index(index) for index in model.indexes))
    if model.constraints:
        meta.append("        constraints = [%s]" % ", ".join(_constraint(c, target) for c in model.constraints))
    if meta:
        if body:
            body.append("")
        body.append("    class Meta:")
        body.extend(meta)
    if not body:
        body = ["    pass"]
    return "class %s(%s):\n%s" % (model.name, base_name, "\n".join(body))
