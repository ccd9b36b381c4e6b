# -*- coding: utf-8 -*-
"""Print the shape of a Django project's apps, models and migrations as one JSON object.

Runs INSIDE the project's own environment (Python 2.7 .. 3.13, Django 1.7 .. 6.x).
Stdlib + Django only: no f-strings, no annotations, no keyword-only arguments.
`migbench twin` turns this into a scenario (generator/twin.py); nothing here
decides what the twin looks like, it only counts.

Usage (cwd = the project)::

    python shape.py --project DIR --settings MODULE [--apps a,b,c]

Without --apps, every installed app with migrations on disk is described.
Models come from the app registry (the project's final state: what models.py
says); migrations from ``MigrationLoader(None)``, so a squashed migration
replaces the ones it names, as on a fresh database. Names are kept here (the
document stays on the user's machine); the twin never copies them.

Output, one line on stdout, exit status 0::

    {"ok": true, "django": "5.2.8", "project": "/abs/dir",
     "apps": [{"label": "shop", "kind": "own" | "third_party" | "contrib",
               "plan_index": 3,                      # first appearance in migrate's plan
               "models": [{"name": "Product", "fields": {"char": 3, ...},
                           "unmapped": {"ArrayField": 1},      # field classes mapped to "text"
                           "relations": [{"kind": "foreign_key", "to": "shop", "model": "Cart", "self": false,
                                          "through": false, "null": true, "on_delete": "CASCADE"}],
                           "abstract_parent": true, "parents": ["shop.Base"], "proxy": false,
                           "ordering": true, "indexes": 1, "unique_together": 0,
                           "constraints": {"check": 0, "unique": 1}}],
               "migrations": [{"name": "0001_initial", "initial": true,
                               "operations": {"create_model": 4, ...},   # OPERATIONS in scenario.py,
                                   # and: alter_field_noop (no column changes), add_relation,
                                   # alter_relation (an AddField, AlterField of a relation),
                                   # add_constraint, remove_constraint,
                                   # rename_index, alter_model_table, alter_index_together, other
                               "classes": {"CreateModel": 4, ...},       # Django's own names
                               "changed": {"product": 3},   # operations per model they change
                               "depends_on": ["auth"]}]}]}             # other apps' labels

On any error: ``{"ok": false, "error": "<ExceptionClass>: <one line>"}``, exit 1.
"""
from __future__ import absolute_import, print_function, unicode_literals

import argparse
import json
import os
import sys

# Django field classes (by name, searched along the MRO) -> migbench's FIELD_TYPES.
# The more specific classes come first in the MRO, so EmailField wins over CharField.
FIELD_CLASSES = {
    "CharField": "char", "FileField": "char", "ImageField": "char", "FilePathField": "char",
    "CommaSeparatedIntegerField": "char", "TextField": "text",
    "IntegerField": "integer", "BigIntegerField": "big_integer", "SmallIntegerField": "small_integer",
    "PositiveIntegerField": "positive_integer", "PositiveSmallIntegerField": "positive_integer",
    "PositiveBigIntegerField": "positive_integer", "FloatField": "float", "DecimalField": "decimal",
    "BooleanField": "boolean", "NullBooleanField": "boolean", "DateField": "date",
    "DateTimeField": "datetime", "TimeField": "time", "DurationField": "duration",
    "EmailField": "email", "URLField": "url", "SlugField": "slug", "UUIDField": "uuid",
    "GenericIPAddressField": "ip", "IPAddressField": "ip", "BinaryField": "binary", "JSONField": "json",
}
AUTO_FIELDS = ("AutoField", "BigAutoField", "SmallAutoField")

# Django operation classes -> migbench's OPERATIONS (generator/scenario.py). Operations
# with no counterpart keep their class name in "classes" only.
OPERATION_KINDS = {
    "CreateModel": "create_model", "DeleteModel": "delete_model", "AddField": "add_field",
    "RemoveField": "remove_field", "AlterField": "alter_field", "RenameField": "rename_field",
    "RenameModel": "rename_model", "AddIndex": "add_index", "RemoveIndex": "remove_index",
    "AlterUniqueTogether": "alter_unique_together", "RunPython": "run_python", "RunSQL": "run_sql",
    "AlterModelOptions": "alter_model_options", "AlterModelManagers": "alter_model_options",
    "AddConstraint": "add_constraint", "RemoveConstraint": "remove_constraint",
    "AlterIndexTogether": "alter_unique_together", "RenameIndex": "rename_index",
    "AlterModelTable": "alter_model_table", "AlterOrderWithRespectTo": "add_field",
}


def _text(exc):
    try:
        text = "%s" % (exc,)
    except Exception:  # Python 2: non-ASCII byte-string message
        try:
            text = str(exc).decode("utf-8", "replace")
        except Exception:
            text = repr(exc)
    return " ".join(text.split())


def _add(counter, key, amount=1):
    counter[key] = counter.get(key, 0) + amount


def field_type(field, unmapped):
    for klass in type(field).__mro__:
        kind = FIELD_CLASSES.get(klass.__name__)
        if kind:
            return kind
    internal = field.get_internal_type()
    kind = FIELD_CLASSES.get(internal)
    if not kind:
        _add(unmapped, type(field).__name__)
        kind = "text"
    return kind


def _is_relation(field):
    flag = getattr(field, "is_relation", None)  # Django >= 1.8; 1.7: a relation has a `rel`
    return flag if flag is not None else getattr(field, "rel", None) is not None


def _one_to_one(field):
    flag = getattr(field, "one_to_one", None)  # Django >= 1.8
    if flag is not None:
        return flag
    from django.db.models import OneToOneField
    return isinstance(field, OneToOneField)


def describe_model(model):
    meta = model._meta
    fields, unmapped, relations = {}, {}, []
    options = {"null": 0, "default": 0, "db_index": 0, "char_lengths": []}
    parent_links = set(id(f) for f in meta.parents.values() if f is not None)
    for field in meta.local_fields:
        if id(field) in parent_links or type(field).__name__ in AUTO_FIELDS:
            continue
        remote = getattr(field, "remote_field", None) or getattr(field, "rel", None)
        if remote is not None and _is_relation(field):
            if getattr(remote, "parent_link", False):
                continue
            kind = "one_to_one" if _one_to_one(field) else "foreign_key"
            relations.append(_relation(model, field, kind, False))
            continue
        kind = field_type(field, unmapped)
        _add(fields, kind)
        options["null"] += bool(field.null)
        options["default"] += bool(field.has_default())
        options["db_index"] += bool(field.db_index and not field.unique)
        if kind == "char" and isinstance(field.max_length, int):
            options["char_lengths"].append(field.max_length)
    for field in meta.local_many_to_many:
        remote = getattr(field, "remote_field", None) or getattr(field, "rel", None)
        through = remote.through
        explicit = through is not None and not isinstance(through, str) and not through._meta.auto_created
        relations.append(_relation(model, field, "many_to_many", explicit))
    abstract_parent = any(
        getattr(base, "_meta", None) is not None and base._meta.abstract
        for base in type.mro(model)[1:] if hasattr(base, "_meta")
    )
    constraints = {"check": 0, "unique": 0}
    for constraint in getattr(meta, "constraints", ()):
        _add(constraints, "unique" if type(constraint).__name__ == "UniqueConstraint" else "check")
    return {
        "name": meta.object_name,
        "fields": fields,
        "unmapped": unmapped,
        "options": options,
        "relations": relations,
        "abstract_parent": abstract_parent,
        "parents": sorted("%s.%s" % (p._meta.app_label, p._meta.object_name)
                          for p in meta.parents) if not meta.proxy else [],
        "proxy": bool(meta.proxy),
        "proxy_of": ("%s.%s" % (meta.concrete_model._meta.app_label, meta.concrete_model._meta.object_name)
                     if meta.proxy else None),
        "through": False,
        "ordering": bool(meta.ordering),
        "indexes": len(getattr(meta, "indexes", ()) or ()),
        "unique_together": len(meta.unique_together or ()),
        "constraints": constraints,
    }


def _relation(model, field, kind, through):
    remote = getattr(field, "remote_field", None) or getattr(field, "rel", None)
    target = getattr(field, "related_model", None) or remote.to  # related_model: Django >= 1.8
    if isinstance(target, str):  # unresolved lazy reference: keep what it names
        label = target.split(".")[0] if "." in target else model._meta.app_label
        name, same = target.split(".")[-1], False
    else:
        label, name = target._meta.app_label, target._meta.object_name
        same = target is model
    on_delete = getattr(remote, "on_delete", None) if kind != "many_to_many" else None
    return {"kind": kind, "to": label, "model": name, "self": same, "through": through, "null": bool(field.null),
            "on_delete": getattr(on_delete, "__name__", None)}


def _kind(config, project):
    name = config.name
    if name.startswith("django.contrib.") or name == "django.contrib":
        return "contrib"
    path = os.path.realpath(config.path) + os.sep
    return "own" if path.startswith(os.path.realpath(project) + os.sep) else "third_party"


def describe_migrations(loader, label, noop_alters):
    out = []
    nodes = sorted(node for node in loader.graph.nodes if node[0] == label)
    for node in nodes:
        migration = loader.graph.nodes[node]
        operations, classes, changed = {}, {}, {}
        for operation in migration.operations:
            _count_operation(operation, operations, classes, noop_alters)
            name = getattr(operation, "model_name", None)
            if name is None and type(operation).__name__ not in ("CreateModel", "DeleteModel", "RenameModel"):
                name = getattr(operation, "name", None)  # AlterModelOptions, AlterUniqueTogether...
            if name:
                _add(changed, name.lower())
        depends = sorted(set(app for app, _ in migration.dependencies if app not in (label, "__setting__")))
        initial = getattr(migration, "initial", None)
        if initial is None:  # Django < 1.9, or not set: inferred as the loader does
            initial = not any(app == label for app, _ in migration.dependencies)
        out.append({"name": node[1], "initial": bool(initial), "operations": operations,
                    "classes": classes, "changed": changed, "depends_on": depends})
    return out


# Field options that change no column: an AlterField of only these is skipped by the schema
# editor (Field.non_db_attrs from Django 4.1; the same list for the older lines' shapes).
NON_DB_ATTRS = ("blank", "choices", "editable", "error_messages", "help_text", "limit_choices_to",
                "on_delete", "related_name", "related_query_name", "validators", "verbose_name")


def noop_alter_fields(loader, plan):
    """ids of the AlterField operations that change no column: the state moves through the
    whole plan (state_forwards only, nothing rendered: cheap) so each AlterField's old field
    is at hand. None when the state cannot be followed (the twin then counts every AlterField)."""
    from django.db.migrations.operations import AlterField
    from django.db.migrations.state import ProjectState

    found = set()
    state = ProjectState()
    try:
        for node in plan:
            for operation in loader.graph.nodes[node].operations:
                if isinstance(operation, AlterField) and not _changes_column(state, node[0], operation):
                    found.add(id(operation))
                operation.state_forwards(node[0], state)
    except Exception:
        return None
    return found


def _changes_column(state, app, operation):
    model = state.models.get((app, operation.model_name.lower()))
    if model is None:
        return True
    fields = model.fields if isinstance(model.fields, dict) else dict(model.fields)
    old = fields.get(operation.name)
    if old is None:
        return True
    before, after = old.deconstruct()[1:], operation.field.deconstruct()[1:]
    for kwargs in (before[2], after[2]):
        for name in NON_DB_ATTRS:
            kwargs.pop(name, None)
    return before != after


def _count_operation(operation, operations, classes, noop_alters):
    name = type(operation).__name__
    _add(classes, name)
    if name == "SeparateDatabaseAndState":
        for inner in operation.state_operations:
            _count_operation(inner, operations, {}, noop_alters)
        return
    for klass in type(operation).__mro__:  # a project's own subclass counts as its base
        kind = OPERATION_KINDS.get(klass.__name__)
        if kind:
            if kind == "alter_field" and _is_relation(operation.field):
                kind = "alter_relation"  # column or not, Django reloads every related model
            elif kind == "alter_field" and id(operation) in noop_alters:
                kind = "alter_field_noop"
            elif kind == "add_field" and _is_relation(operation.field):
                kind = "add_relation"
            _add(operations, kind)
            return
    _add(operations, "other")


def describe(project, settings_module, only):
    sys.path.insert(0, os.path.abspath(project))
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from django.apps import apps as registry
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    graph = loader.graph
    plan, nodes, seen = [], [], set()
    for leaf in sorted(graph.leaf_nodes()):
        for node in graph.forwards_plan(leaf):
            if node not in seen:
                seen.add(node)
                nodes.append(node)
                if node[0] not in plan:
                    plan.append(node[0])
    noop_alters = noop_alter_fields(loader, nodes)
    labels = only if only else [config.label for config in registry.get_app_configs()
                                if config.label in plan]
    missing = [label for label in labels if label not in [c.label for c in registry.get_app_configs()]]
    if missing:
        raise LookupError("no installed app with label %s" % ", ".join(missing))
    apps = []
    for label in labels:
        config = registry.get_app_config(label)
        models = [describe_model(model) for model in config.get_models()]
        throughs = set()
        for model in config.get_models():
            for field in model._meta.local_many_to_many:
                through = field.remote_field.through if hasattr(field, "remote_field") else field.rel.through
                if through is not None and not isinstance(through, str) and not through._meta.auto_created:
                    throughs.add("%s.%s" % (through._meta.app_label, through._meta.object_name))
        for model in models:
            model["through"] = "%s.%s" % (label, model["name"]) in throughs
        apps.append({
            "label": label,
            "kind": _kind(config, project),
            "plan_index": plan.index(label) if label in plan else len(plan),
            "models": models,
            "migrations": describe_migrations(loader, label, noop_alters or set()),
        })
    return {"ok": True, "django": django.get_version(), "project": os.path.abspath(project), "apps": apps,
            "noop_alters_known": noop_alters is not None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", required=True, help="directory put at sys.path[0]")
    parser.add_argument("--settings", required=True, help="DJANGO_SETTINGS_MODULE")
    parser.add_argument("--apps", default="", help="comma-separated app labels (default: all with migrations)")
    args = parser.parse_args(argv)
    only = [label for label in args.apps.split(",") if label]
    stdout = sys.stdout
    sys.stdout = sys.stderr  # whatever Django or the project prints must not corrupt the JSON
    try:
        result = describe(args.project, args.settings, only)
    except Exception as exc:
        result = {"ok": False, "error": "%s: %s" % (type(exc).__name__, _text(exc))}
    finally:
        sys.stdout = stdout
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    sys.stdout.flush()
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
