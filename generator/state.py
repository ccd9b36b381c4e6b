"""The project as it stands at one point of the generated history.

The history builder mutates this state as it records operations, the way
Django's ProjectState moves forward through `state_forwards`, and keeps the
bookkeeping Django itself does not need but a generator does to stay valid:
who points at whom (for dependencies, deletes and renames), which Meta items
name a field (so it is never renamed away from under them), which tables hold
rows (so no later operation can fail on existing data).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator

from .operations import ConstraintSpec, FieldSpec, IndexSpec


@dataclass
class AbstractBase:
    """An app's abstract base class; its fields are copied into each child."""

    name: str
    fields: tuple[FieldSpec, ...]


@dataclass
class ModelState:
    uid: int
    app: str
    name: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)  # no "id", no parent pointer
    ordering: tuple[str, ...] = ()
    indexes: list[IndexSpec] = field(default_factory=list)
    unique_together: tuple[tuple[str, ...], ...] = ()
    constraints: list[ConstraintSpec] = field(default_factory=list)
    parent: int | None = None  # multi-table inheritance parent uid
    proxy_of: int | None = None
    abstract_base: str | None = None
    verbose_name: str | None = None  # set by AlterModelOptions only
    has_rows: bool = False
    through_for: str | None = None  # "app.Model.field" when this is an M2M through model
    incoming: set[tuple[int, str]] = field(default_factory=set)  # (model uid, field) pointing here
    referencing_apps: set[str] = field(default_factory=set)  # apps that ever pointed here
    children: set[int] = field(default_factory=set)  # MTI children and proxies

    @property
    def lower(self) -> str:
        return self.name.lower()

    @property
    def table(self) -> str:
        return "%s_%s" % (self.app, self.lower)

    @property
    def concrete(self) -> bool:
        return self.proxy_of is None

    def own_fields(self) -> Iterator[FieldSpec]:
        """Fields declared on this model (not copied in from the abstract base)."""
        return (f for f in self.fields.values() if not f.inherited)

    def scalar_fields(self, own_only: bool = True) -> list[FieldSpec]:
        return [
            f for f in self.fields.values()
            if not f.is_relation and (not own_only or not f.inherited)
        ]

    def meta_referenced(self) -> set[str]:
        """Field names that Meta options name: renaming or removing them breaks Meta."""
        names = {name.lstrip("-") for name in self.ordering}
        for index in self.indexes:
            names.update(index.fields)
        for group in self.unique_together:
            names.update(group)
        for constraint in self.constraints:
            names.update(constraint.fields)
        return names

    def has_uniqueness(self) -> bool:
        return bool(self.unique_together) or any(c.kind == "unique" for c in self.constraints) or any(
            f.kind == "one_to_one" and not f.null for f in self.fields.values()
        )


@dataclass
class AppState:
    label: str
    index: int  # position in the app list: cross-app relations are clustered by it
    models: dict[int, ModelState] = field(default_factory=dict)
    abstract_base: AbstractBase | None = None
    migrations: int = 0  # how many have been recorded

    def names_lower(self) -> set[str]:
        taken = {m.lower for m in self.models.values()}
        if self.abstract_base:
            taken.add(self.abstract_base.name.lower())
        return taken


@dataclass
class ProjectState:
    apps: list[AppState] = field(default_factory=list)
    apps_by_label: dict[str, AppState] = field(default_factory=dict)
    models: dict[int, ModelState] = field(default_factory=dict)
    next_uid: int = 1
    # Contrib models relations point at (auth.User...): targets only, never changed, never in `apps`.
    external: dict[tuple[str, str], ModelState] = field(default_factory=dict)

    def app(self, label: str) -> AppState:
        return self.apps_by_label[label]

    def add_app(self, app: AppState) -> None:
        self.apps.append(app)
        self.apps_by_label[app.label] = app

    def add_model(self, app: AppState, name: str) -> ModelState:
        model = ModelState(uid=self.next_uid, app=app.label, name=name)
        self.next_uid += 1
        app.models[model.uid] = model
        self.models[model.uid] = model
        return model

    def add_external(self, app: str, name: str) -> ModelState:
        if (app, name) not in self.external:
            self.external[(app, name)] = ModelState(uid=-1 - len(self.external), app=app, name=name)
        return self.external[(app, name)]

    def find(self, app: str, name: str) -> ModelState:
        if (app, name) in self.external:
            return self.external[(app, name)]
        for model in self.app(app).models.values():
            if model.name == name:
                return model
        raise KeyError((app, name))

    def target_of(self, spec: FieldSpec) -> ModelState:
        return self.find(spec.to_app, spec.to_model)

    def family_field_names(self, model: ModelState) -> set[str]:
        """Names a new field of `model` must avoid: its own, its MTI ancestors' and descendants'."""
        taken = set(model.fields)
        up = model
        while up.parent is not None:
            up = self.models[up.parent]
            taken.update(up.fields)
            taken.add(up.lower + "_ptr")
        stack = list(model.children)
        while stack:
            child = self.models[stack.pop()]
            taken.update(child.fields)
            taken.add(child.lower)  # the parent's reverse accessor to the child
            stack.extend(child.children)
        app = self.app(model.app)
        if app.abstract_base:
            taken.update(f.name for f in app.abstract_base.fields)
        return taken

    # -- relation bookkeeping --------------------------------------------------
    def link(self, source: ModelState, spec: FieldSpec) -> None:
        if spec.is_relation:
            target = self.target_of(spec)
            target.incoming.add((source.uid, spec.name))
            target.referencing_apps.add(source.app)

    def unlink(self, source: ModelState, spec: FieldSpec) -> None:
        if spec.is_relation:
            self.target_of(spec).incoming.discard((source.uid, spec.name))

    def set_field(self, model: ModelState, spec: FieldSpec) -> None:
        old = model.fields.get(spec.name)
        if old is not None:
            self.unlink(model, old)
        model.fields[spec.name] = spec
        self.link(model, spec)

    def remove_field(self, model: ModelState, name: str) -> FieldSpec:
        spec = model.fields.pop(name)
        self.unlink(model, spec)
        return spec

    def rename_field(self, model: ModelState, old: str, new: str) -> None:
        spec = model.fields.pop(old)
        self.unlink(model, spec)
        model.fields = {**model.fields, new: replace(spec, name=new)}
        self.link(model, model.fields[new])

    def rename_model(self, model: ModelState, new_name: str) -> None:
        """Rename and repoint every relation at it, as RenameModel.state_forwards does."""
        old_name = model.name
        model.name = new_name
        for source_uid, field_name in sorted(model.incoming):
            source = self.models[source_uid]
            spec = source.fields[field_name]
            if spec.to_app == model.app and spec.to_model == old_name:
                source.fields[field_name] = replace(spec, to_model=new_name)

    def delete_model(self, model: ModelState) -> None:
        for spec in list(model.fields.values()):
            self.unlink(model, spec)
        del self.app(model.app).models[model.uid]
        del self.models[model.uid]

    def iter_models(self) -> Iterable[ModelState]:
        for app in self.apps:
            yield from app.models.values()


def insertable(model: ModelState) -> bool:
    """Can a data migration insert rows here with no related rows and no uniqueness risk?"""
    if not model.concrete or model.parent is not None or model.children or model.through_for:
        return False
    if model.has_uniqueness():
        return False
    for spec in model.fields.values():
        if spec.kind in ("foreign_key", "one_to_one") and not spec.null:
            return False
    return True

