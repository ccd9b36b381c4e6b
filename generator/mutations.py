"""The operations of later migrations: one drawer per kind in the scenario's mix.

After every app's `0001_initial`, HistoryBuilder fills each later migration by
drawing an operation kind (weighted, from `[generator.history] operations`)
and calling `BY_KIND[kind](builder, app, recorder)`. A drawer picks what to
change through the builder (its rng, namer, state, field factory, row maker
and its `pick_model`/`pick_target`/`create_model`/`relation_spec`), checks
that the change is one Django and every database will apply and unapply,
records the operation on the recorder (with the dependencies it implies) and
updates the state. It returns a fragment for the migration's name, or None
when nothing in the app qualifies, and the builder then draws again.

Why plain functions in a table rather than methods or a mixin: the kind a
scenario names leads straight to its function, with no inheritance and no
method name built from a string; the builder is passed in, so what a drawer
uses of it is written at the call. The builder and recorder are not
annotated: history.py imports this module, and an import back would be a
cycle.

Not here: the timeline, models of initial migrations, relation fields and
Meta (history.py); the operation records themselves (operations.py). Every
drawer draws from the builder's one rng, in a fixed order: reordering calls
here changes every generated project of every seed.
"""

from __future__ import annotations

from dataclasses import replace

from . import operations as ops
from .fields import NO_INDEX, NUMERIC, UNIQUE_OK, default_for
from .operations import IndexSpec
from .state import ModelState, insertable

# Each drawer returns a name fragment for the migration, or None when not applicable.

ADDED_RELATION_SHARE = 0.3  # AddFields that add a relation, unless [[generator.app]] says otherwise


def create_model(builder, app, recorder):
    return builder.create_model(app, recorder, initial=False).lower


def delete_model(builder, app, recorder):
    def deletable(m: ModelState) -> bool:
        others = {uid for uid, _ in m.incoming if uid != m.uid}
        return not (others or m.children or m.parent or m.through_for or m.uid in recorder.touched)

    model = builder.pick_model(app, deletable)
    if model is None:
        return None
    for label in sorted(model.referencing_apps):
        recorder.depend_on(label)
    recorder.add(ops.DeleteModel(model.name))
    builder.state.delete_model(model)
    return "delete_" + model.lower


def add_field(builder, app, recorder):
    model = builder.pick_model(app, touching=recorder)
    if model is None:
        return None
    name = builder.namer.field_name(builder.state.family_field_names(model))
    # A through model must keep exactly one FK to each end: scalars only there.
    relation_share = builder.per_app(app, "added_relation_share", ADDED_RELATION_SHARE)
    if builder.params.relations.per_model[1] > 0 and not model.through_for and builder.rng.random() < relation_share:
        kind = builder.relation_kinds.draw(builder.rng)
        target = builder.relation_target(app, initial=False) or model
        if target is model and kind == "one_to_one":
            kind = "foreign_key"
        spec = builder.relation_spec(app, model, name, kind, target, nullable=True)
        recorder.depend_on(target.app)
    else:
        spec = builder.fields.scalar(builder.rng, name, addable=True)
    builder.state.set_field(model, spec)
    recorder.fresh.add((model.uid, name))
    recorder.add(ops.AddField(model.name, spec))
    return "%s_%s" % (model.lower, name)


def remove_field(builder, app, recorder):
    def removable(m: ModelState):
        referenced = m.meta_referenced()
        return [
            f for f in m.own_fields()
            if f.name not in referenced and not f.through_model and not recorder.is_fresh(m, f.name)
            and not (m.through_for and f.is_relation)  # an M2M needs both ends
            and (not m.has_rows or f.null or f.has_default or f.kind == "many_to_many")
        ]

    model = builder.pick_model(app, removable, recorder)
    if model is None:
        return None
    spec = builder.rng.choice(removable(model))
    recorder.add(ops.RemoveField(model.name, spec.name))
    builder.state.remove_field(model, spec.name)
    return "remove_%s_%s" % (model.lower, spec.name)


def alter_field(builder, app, recorder):
    def alterable(m: ModelState):
        return [f for f in m.scalar_fields() if not recorder.is_fresh(m, f.name)]

    model = builder.pick_model(app, alterable, recorder)
    if model is None:
        return None
    spec = builder.rng.choice(alterable(model))
    changes = []
    if spec.kind == "char":
        changes.append(replace(spec, max_length=spec.max_length + builder.rng.randint(10, 100)))
    if not spec.null and spec.kind != "boolean":
        changes.append(replace(spec, null=True, blank=True))
    if spec.kind not in NO_INDEX:
        changes.append(replace(spec, db_index=not spec.db_index))
    if not spec.has_default:
        changes.append(replace(spec, default=default_for(spec.kind, spec.decimal_places)))
    if not changes:
        return None
    new = builder.rng.choice(changes)
    builder.state.set_field(model, new)
    recorder.fresh.add((model.uid, new.name))
    recorder.add(ops.AlterField(model.name, new))
    return "alter_%s_%s" % (model.lower, spec.name)


def rename_field(builder, app, recorder):
    def renamable(m: ModelState):
        referenced = m.meta_referenced()
        return [f for f in m.scalar_fields() if f.name not in referenced and not recorder.is_fresh(m, f.name)]

    model = builder.pick_model(app, renamable, recorder)
    if model is None:
        return None
    spec = builder.rng.choice(renamable(model))
    new_name = builder.namer.field_name(builder.state.family_field_names(model))
    recorder.add(ops.RenameField(model.name, spec.name, new_name))
    builder.state.rename_field(model, spec.name, new_name)
    recorder.fresh.add((model.uid, new_name))
    return "rename_%s_%s" % (model.lower, new_name)


def rename_model(builder, app, recorder):
    def renamable(m: ModelState) -> bool:
        if m.parent or m.children or m.through_for or m.uid in recorder.touched:
            return False
        if any(f.kind == "many_to_many" for f in m.fields.values()):
            return False
        if m.incoming and builder.target.needs_sqlite_legacy_alter_table:
            # With the legacy ALTER TABLE those lines need, a renamed table keeps
            # other tables' FKs pointing at its old name (seen on 1.11).
            return False
        sources = [uid for uid, _ in m.incoming]
        if len(sources) != len(set(sources)):
            # Two FKs from one model: SQLite rebuilds that table once per FK from
            # the pre-rename state, and one FK keeps the old table name (2.2).
            return False
        for uid, name in m.incoming:
            if uid == m.uid or builder.state.models[uid].fields[name].kind == "many_to_many":
                return False
        return True

    model = builder.pick_model(app, renamable)
    if model is None:
        return None
    for label in sorted(model.referencing_apps):
        recorder.depend_on(label)
    if "contenttypes" in builder.params.contrib_apps and builder.target.renames_content_types:
        # migrate injects a RenameContentType after each RenameModel; unapplied,
        # it needs ContentType in the migration's state, which only a
        # dependency guarantees (else: "No installed app with label 'contenttypes'").
        recorder.dependencies.add(("contenttypes", "0002_remove_content_type_name"))
    old = model.name
    new = builder.namer.model_name(app.names_lower())
    recorder.add(ops.RenameModel(old, new))
    builder.state.rename_model(model, new)
    return "rename_%s_%s" % (old.lower(), new.lower())


def add_index(builder, app, recorder):
    def indexable(m: ModelState):
        return [f.name for f in m.scalar_fields(own_only=False) if f.kind not in NO_INDEX]

    model = builder.pick_model(app, indexable, recorder)
    if model is None:
        return None
    names = indexable(model)
    fields = tuple(builder.rng.sample(names, min(len(names), builder.rng.randint(1, 2))))
    index = IndexSpec(builder.namer.db_object_name(app.label, model.name, "idx"), fields)
    model.indexes.append(index)
    recorder.add(ops.AddIndex(model.name, index))
    return index.name


def remove_index(builder, app, recorder):
    model = builder.pick_model(app, lambda m: m.indexes, recorder)
    if model is None:
        return None
    index = builder.rng.choice(model.indexes)
    model.indexes.remove(index)
    recorder.add(ops.RemoveIndex(model.name, index.name))
    return "remove_" + index.name


def alter_unique_together(builder, app, recorder):
    def candidates(m: ModelState):
        return [f.name for f in m.scalar_fields(own_only=False) if f.kind in UNIQUE_OK]

    def alterable(m: ModelState) -> bool:
        if m.uid in recorder.created:  # CreateModel defers its unique SQL to the migration's end
            return False
        return bool(m.unique_together) or (not m.has_rows and len(candidates(m)) >= 2)

    model = builder.pick_model(app, alterable, recorder)
    if model is None:
        return None
    if model.unique_together:
        value: tuple = ()
    else:
        value = (tuple(builder.rng.sample(candidates(model), 2)),)
    model.unique_together = value
    recorder.add(ops.AlterUniqueTogether(model.name, value))
    return "alter_%s_unique_together" % model.lower


def run_python(builder, app, recorder):
    model = builder.pick_model(app, insertable)
    if model is None:
        return None
    scalars = model.scalar_fields(own_only=False)
    count = builder.rng.randint(*builder.params.history.data_rows)
    key = "%s.%s.%d.%d" % (app.label, model.name, app.migrations + 1, len(recorder.operations))
    rows = builder.rows.rows(key, scalars, count)
    textual = [f.name for f in scalars if f.kind in ("char", "text")]
    numeric = [f.name for f in scalars if f.kind in NUMERIC]
    transform = None
    if textual:
        transform = ("upper", builder.rng.choice(textual))
    elif numeric:
        transform = ("increment", builder.rng.choice(numeric))
    function = "insert_%s_rows_%d" % (model.lower, len(recorder.operations) + 1)
    recorder.add(ops.RunPython(function, model.name, rows, transform))
    model.has_rows = True
    return "%s_data" % model.lower


def run_sql(builder, app, recorder):
    def numeric(m: ModelState):
        return [f.name for f in m.scalar_fields(own_only=False) if f.kind in NUMERIC]

    model = builder.pick_model(app, numeric)
    if model is None:
        return None
    column = builder.rng.choice(numeric(model))
    statement = 'UPDATE "%s" SET "%s" = "%s" %s 1'
    recorder.add(ops.RunSQL(
        sql=statement % (model.table, column, column, "+"),
        reverse_sql=statement % (model.table, column, column, "-"),
    ))
    return "%s_sql" % model.lower


def alter_model_options(builder, app, recorder):
    model = builder.pick_model(app)
    if model is None:
        return None
    number = int(model.verbose_name.rsplit(" ", 1)[1]) + 1 if model.verbose_name else 1
    model.verbose_name = "%s %d" % (model.lower, number)
    recorder.add(ops.AlterModelOptions(model.name, model.ordering, model.verbose_name))
    return "alter_%s_options" % model.lower


def alter_relation(builder, app, recorder):
    """An AlterField of a foreign key (its on_delete): no SQL, but Django reloads every model
    related to it, directly or not, which is what such AlterFields cost a real history."""
    def alterable(m: ModelState):
        return [f for f in m.own_fields() if f.kind in ("foreign_key", "one_to_one") and not m.through_for
                and not recorder.is_fresh(m, f.name)]

    model = builder.pick_model(app, alterable, recorder)
    if model is None:
        return None
    spec = builder.rng.choice(alterable(model))
    choices = [c for c in ("CASCADE", "PROTECT", "SET_NULL") if c != spec.on_delete and (spec.null or c != "SET_NULL")]
    new = replace(spec, on_delete=builder.rng.choice(choices))
    builder.state.set_field(model, new)
    recorder.fresh.add((model.uid, new.name))
    recorder.add(ops.AlterField(model.name, new))
    return "alter_%s_%s" % (model.lower, spec.name)


def load_model(builder, app, recorder):
    """A data migration that writes nothing (a twin's RunPython where no table can take rows):
    it still loads the model, which is what a RunPython costs migrate."""
    model = builder.pick_model(app)
    if model is None:
        return None
    function = "load_%s_%d" % (model.lower, len(recorder.operations) + 1)
    recorder.add(ops.RunPython(function, model.name, (), None))
    return "%s_data" % model.lower


# Operation kind (scenario.OPERATIONS) -> its drawer.
BY_KIND = {
    "create_model": create_model,
    "delete_model": delete_model,
    "add_field": add_field,
    "remove_field": remove_field,
    "alter_field": alter_field,
    "rename_field": rename_field,
    "rename_model": rename_model,
    "add_index": add_index,
    "remove_index": remove_index,
    "alter_unique_together": alter_unique_together,
    "run_python": run_python,
    "run_sql": run_sql,
    "alter_model_options": alter_model_options,
    "alter_relation": alter_relation,
}
