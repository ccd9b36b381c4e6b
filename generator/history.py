"""The generated history: a global timeline of migrations, one app at a time.

Every app first gets its `0001_initial`, in app order; then the remaining
migrations of all apps are interleaved in a seeded order, each made of a few
operations drawn from the scenario's operation mix (one drawer per kind, in
mutations.py). Because the timeline is one sequence and every dependency
points at a migration recorded earlier, the dependency graph is acyclic by
construction, and because each operation is checked against the current state
before it is recorded, the history applies forwards from an empty database and
backwards to zero on every target.

Rules that keep it that way (each mirrors something Django or a database would
reject): relation targets exist before they are referenced; required foreign
keys only point at older models (so rows can always be inserted); fields added
later are nullable or have a default; uniqueness is never added to a table that
holds rows; renamed or removed fields are never named by Meta; models that are
renamed or deleted wait (by dependency) for every app that ever pointed at them.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace

from migbench.targets import DjangoLine

from . import mutations, operations as ops, plan as planning
from .fields import NO_INDEX, NUMERIC, UNIQUE_OK, FieldFactory, Weighted, skewed_choice
from .names import Namer
from .operations import ConstraintSpec, FieldSpec, IndexSpec, Migration, ModelOptions
from .rows import RowMaker
from .scenario import CONTRIB_MODELS, ON_DELETE, OPERATIONS, RELATION_KINDS, GeneratorParams
from .state import AbstractBase, AppState, ModelState, ProjectState


@dataclass
class History:
    """What the generator produced: the final state and every migration in timeline order."""

    state: ProjectState
    migrations: list[Migration]
    target: DjangoLine
    params: GeneratorParams

    def migrations_of(self, app: str) -> list[Migration]:
        return [m for m in self.migrations if m.app == app]

    def operation_counts(self) -> Counter:
        return Counter(op.kind for m in self.migrations for op in m.operations)


class _Recorder:
    """Collects one migration's operations and the dependencies they imply."""

    def __init__(self, app: AppState, latest: dict[str, str]):
        self.app = app
        self.latest = latest
        self.operations: list = []
        self.dependencies: set[tuple[str, str]] = set()
        # Models created or changed by this migration. Django defers some SQL
        # (indexes, unique constraints) to the end of a migration, so deleting or
        # renaming one of these in the same migration leaves that SQL pointing at
        # a table that is gone (seen on 1.8 forwards and 1.11 backwards).
        self.touched: set[int] = set()
        # Fields this migration created or altered (and models it created): not
        # renamed, altered or removed again in the same migration, where deferred
        # index SQL would still name the old column.
        self.fresh: set[tuple[int, str]] = set()
        self.created: set[int] = set()

    def is_fresh(self, model: ModelState, name: str) -> bool:
        return model.uid in self.created or (model.uid, name) in self.fresh

    def add(self, operation) -> None:
        self.operations.append(operation)

    def depend_on(self, app_label: str) -> None:
        """Depend on the other app's newest migration, as makemigrations does."""
        if app_label != self.app.label:
            self.dependencies.add((app_label, self.latest[app_label]))


_ON_DELETE_CODE = {"cascade": "CASCADE", "protect": "PROTECT", "set_null": "SET_NULL"}


class HistoryBuilder:
    """Designs one project's history from one seed: the timeline and the models it creates.

    The operations of later migrations are drawn by mutations.py, through the
    public methods here (pick_model, pick_target, create_model, relation_spec).
    """

    def __init__(self, params: GeneratorParams, target: DjangoLine):
        self.params = params
        self.target = target
        seed = params.seed
        self.rng = random.Random("%d:history" % seed)
        self.namer = Namer(params.names, random.Random("%d:names" % seed))
        self.fields = FieldFactory(params.fields, target)
        self.rows = RowMaker(seed)
        self.state = ProjectState()
        self.migrations: list[Migration] = []
        self.latest: dict[str, str] = {}
        kinds = [k for k in OPERATIONS if params.history.operations.get(k, 0) > 0]
        kinds = [k for k in kinds if not planning.unsupported(k, target)]
        if not kinds:  # e.g. only index operations, on a target without indexes
            self.operations = Weighted({"create_model": 1.0}, ["create_model"])
        else:
            self.operations = Weighted(params.history.operations, kinds)
        self.relation_kinds = Weighted(params.relations.kinds, RELATION_KINDS)
        self.on_delete = Weighted(params.relations.on_delete, ON_DELETE)

    # -- the timeline ----------------------------------------------------------
    def build(self) -> History:
        for index in range(self.params.apps):
            app = AppState(label=self.namer.app_label(), index=index)
            self.state.add_app(app)
            self._abstract_base(app)
        for app in self.state.apps:
            self._initial_migration(app)
        plan: list[AppState] = []
        for app in self.state.apps:
            migrations = self.per_app(app, "migrations", self.params.history.migrations_per_app)
            plan.extend([app] * (self.rng.randint(*migrations) - 1))
        self.rng.shuffle(plan)
        self.planned = planning.queues(self.params, self.state.apps, plan)
        for app in plan:
            self._later_migration(app)
        return History(self.state, self.migrations, self.target, self.params)

    def per_app(self, app: AppState, name: str, default):
        """The app's `[[generator.app]]` value for `name`, else the scenario-wide `default`."""
        value = getattr(self.params.app_params(app.index), name)
        return default if value is None else value

    def _finish(self, app: AppState, recorder: _Recorder, name: str) -> None:
        app.migrations += 1
        full_name = "%04d_%s" % (app.migrations, name)
        dependencies = set(recorder.dependencies)
        if app.migrations > 1:
            dependencies.add((app.label, self.latest[app.label]))
        migration = Migration(
            app=app.label,
            number=app.migrations,
            name=full_name,
            dependencies=tuple(sorted(dependencies)),
            operations=tuple(recorder.operations),
        )
        self.migrations.append(migration)
        self.latest[app.label] = full_name

    def _initial_migration(self, app: AppState) -> None:
        recorder = _Recorder(app, self.latest)
        for _ in range(self.rng.randint(*self.per_app(app, "models", self.params.models_per_app))):
            self.create_model(app, recorder, initial=True)
        self._finish(app, recorder, "initial")

    def _later_migration(self, app: AppState) -> None:
        recorder = _Recorder(app, self.latest)
        if self.planned.get(app.label):
            self._planned_migration(app, recorder, self.planned[app.label].pop(0))
            return
        names: list[str] = []
        for _ in range(self.rng.randint(*self.params.history.operations_per_migration)):
            for _attempt in range(12):
                kind = self.operations.draw(self.rng)
                fragment = mutations.BY_KIND[kind](self, app, recorder)
                if fragment:
                    names.append(fragment)
                    break
        if not recorder.operations:  # nothing applicable: a new model always is
            names.append(mutations.create_model(self, app, recorder))
        name = names[0] if len(names) == 1 else names[0] + "_and_more"
        self._finish(app, recorder, name[:52].rstrip("_"))

    def _planned_migration(self, app: AppState, recorder: _Recorder, kinds: list[str]) -> None:
        """A later migration with exactly `kinds` (plan.py); a kind that cannot apply falls back."""
        names = planning.record(self, app, recorder, kinds)
        name = "empty" if not names else names[0] if len(names) == 1 else names[0] + "_and_more"
        self._finish(app, recorder, name[:52].rstrip("_"))

    # -- picking things ----------------------------------------------------------
    def _reachable_apps(self, app: AppState, initial: bool) -> list[AppState]:
        """Apps a relation may cross into: a window of neighbours (clustering keeps
        dense projects from relating every model to every other)."""
        links = self.params.app_params(app.index).links
        if links is not None:
            found = [self.state.apps[p - 1] for p in links if p - 1 < len(self.state.apps)]
            return [a for a in found if a.models and (not initial or a.index < app.index)]
        window = self.params.relations.cross_app_window
        low = max(0, app.index - window)
        high = app.index if initial else min(len(self.state.apps), app.index + window + 1)
        return [a for a in self.state.apps[low:high] if a is not app and a.models]

    def _concrete(self, app: AppState) -> list[ModelState]:
        return [m for m in app.models.values() if m.concrete and not m.through_for]

    def pick_target(self, app: AppState, initial: bool, exclude: ModelState | None = None) -> ModelState | None:
        relations = self.params.relations
        if self.rng.random() < self.per_app(app, "cross_app_share", relations.cross_app_share):
            apps = self._reachable_apps(app, initial)
            if apps:
                candidates = self._concrete(self.rng.choice(apps))
                if candidates:
                    return skewed_choice(self.rng, candidates, relations.target_skew)
        candidates = [m for m in self._concrete(app) if m is not exclude]
        return skewed_choice(self.rng, candidates, relations.target_skew) if candidates else None

    def relation_target(self, app: AppState, initial: bool, exclude: ModelState | None = None):
        """A relation's target: a contrib model ([[generator.app]] contrib_share), else pick_target's."""
        share = self.per_app(app, "contrib_share", 0.0)
        if share and self.rng.random() < share:
            weights = self.params.app_params(app.index).contrib_targets or {"user": 1.0}
            label, name = CONTRIB_MODELS[Weighted(weights, tuple(CONTRIB_MODELS)).draw(self.rng)]
            self.latest.setdefault(label, "0001_initial")  # where the model is created, on every line
            return self.state.add_external(label, name)
        return self.pick_target(app, initial, exclude)

    def pick_model(self, app: AppState, predicate=lambda m: True,
                   touching: _Recorder | None = None) -> ModelState | None:
        """A concrete model of `app` that satisfies `predicate`.

        With `touching`, the caller is about to change the model's table, and the
        migration then waits for every app the table points into. The reason is
        SQLite: a RenameModel rebuilds each table that references the renamed
        model from the state as of the rename; were a later change to such a
        table not ordered after the rename, unapplying the rename first would
        rebuild the table without that change (the column silently vanishes).
        """
        candidates = [m for m in app.models.values() if m.concrete and predicate(m)]
        if not candidates:
            return None
        model = skewed_choice(self.rng, candidates, self.params.history.model_skew)
        if touching is not None:
            touching.touched.add(model.uid)
            for spec in model.fields.values():
                if spec.is_relation:
                    touching.depend_on(spec.to_app)
        return model

    # -- building models ---------------------------------------------------------
    def _abstract_base(self, app: AppState) -> None:
        if self.params.inheritance.abstract_share <= 0:
            return
        name = self.namer.abstract_base_name(app.names_lower())
        taken: set[str] = set()
        fields = []
        for _ in range(self.rng.randint(1, 3)):
            field_name = self.namer.field_name(taken)
            taken.add(field_name)
            fields.append(replace(self.fields.scalar(self.rng, field_name), inherited=True))
        app.abstract_base = AbstractBase(name=name, fields=tuple(fields))

    def create_model(self, app: AppState, recorder: _Recorder, initial: bool) -> ModelState:
        inheritance = self.params.inheritance
        roll = self.rng.random()
        # Parents come from this app or earlier ones only: a cross-app parent is an
        # import in models.py, and imports that only point backwards cannot cycle.
        if roll < self.per_app(app, "proxy_share", inheritance.proxy_share):
            base = self.pick_target(app, initial=True)
            if base is not None and base.parent is None:
                return self._create_proxy(app, recorder, base)
        parent = None
        if roll >= 1 - inheritance.multi_table_share:
            parent = self.pick_target(app, initial=True)
        model = self.state.add_model(app, self.namer.model_name(app.names_lower()))
        recorder.touched.add(model.uid)
        recorder.created.add(model.uid)
        if parent is not None:
            model.parent = parent.uid
            parent.children.add(model.uid)
            parent.referencing_apps.add(app.label)
            recorder.depend_on(parent.app)
        if app.abstract_base and self.rng.random() < inheritance.abstract_share and parent is None:
            model.abstract_base = app.abstract_base.name
            for spec in app.abstract_base.fields:
                model.fields[spec.name] = spec
        taken = self.state.family_field_names(model)  # kept up to date below
        for _ in range(self.rng.randint(*self.per_app(app, "fields_per_model", self.params.fields.per_model))):
            name = self.namer.field_name(taken)
            taken.add(name)
            model.fields[name] = self.fields.scalar(self.rng, name)
        through_later: list[tuple[str, ModelState]] = []
        for _ in range(self.rng.randint(*self.per_app(app, "relations_per_model", self.params.relations.per_model))):
            spec, through_target = self._new_relation(app, model, recorder, initial, taken)
            if spec is not None:
                self.state.set_field(model, spec)
            elif through_target is not None:
                through_later.append(through_target)
        self._draw_meta(model)
        recorder.add(ops.CreateModel(
            name=model.name,
            fields=tuple(model.fields.values()),
            options=ModelOptions(ordering=model.ordering, unique_together=model.unique_together),
            parent=(parent.app, parent.name) if parent else None,
        ))
        for index in model.indexes:
            recorder.add(ops.AddIndex(model.name, index))
        for constraint in model.constraints:
            recorder.add(ops.AddConstraint(model.name, constraint))
        for field_name, target in through_later:
            self._create_through(app, recorder, model, field_name, target)
        return model

    def _create_proxy(self, app: AppState, recorder: _Recorder, base: ModelState) -> ModelState:
        model = self.state.add_model(app, self.namer.model_name(app.names_lower()))
        recorder.touched.add(model.uid)
        recorder.created.add(model.uid)
        model.proxy_of = base.uid
        base.children.add(model.uid)
        base.referencing_apps.add(app.label)
        recorder.depend_on(base.app)
        recorder.add(ops.CreateModel(
            name=model.name, fields=(), options=ModelOptions(proxy=True), proxy_of=(base.app, base.name)
        ))
        return model

    def _new_relation(self, app: AppState, model: ModelState, recorder: _Recorder, initial: bool,
                      taken: set[str]):
        """A relation field for a model being created; M2M-through comes back as a to-do.

        `taken` holds the model's family field names (and pending M2M names); the
        new name is added to it."""
        relations = self.params.relations
        kind = self.relation_kinds.draw(self.rng)
        self_ref = self.rng.random() < relations.self_share
        target = model if self_ref else self.relation_target(app, initial, exclude=model)
        if target is None:
            return None, None  # nothing to point at yet (the first model of the first app)
        name = self.namer.field_name(taken)
        taken.add(name)
        if kind == "many_to_many" and not self_ref and self.rng.random() < relations.through_share:
            return None, (name, target)
        if self_ref and kind == "one_to_one":
            kind = "foreign_key"
        spec = self.relation_spec(app, model, name, kind, target, nullable=self_ref)
        recorder.depend_on(target.app)
        return spec, None

    def _ancestors(self, model: ModelState) -> set[int]:
        found = set()
        while model.parent is not None:
            found.add(model.parent)
            model = self.state.models[model.parent]
        return found

    def relation_spec(self, app, model, name, kind, target, nullable, through=None) -> FieldSpec:
        relations = self.params.relations
        if kind == "one_to_one" and target.uid in self._ancestors(model):
            kind = "foreign_key"  # before 2.0 an O2O to a parent silently becomes the parent link
        related_name = self.namer.related_name(app.label, model.name, name)
        if kind == "many_to_many":
            return FieldSpec(
                name=name, kind=kind, blank=True, to_app=target.app, to_model=target.name,
                related_name=related_name, through_model=through, self_reference=target is model,
            )
        on_delete = self.on_delete.draw(self.rng)
        null = nullable or on_delete == "set_null" or self.rng.random() < relations.null_share
        return FieldSpec(
            name=name, kind=kind, null=null, blank=null, to_app=target.app, to_model=target.name,
            on_delete=_ON_DELETE_CODE[on_delete], related_name=related_name,
            self_reference=target is model,
        )

    def _create_through(self, app, recorder, owner: ModelState, field_name: str, target: ModelState):
        through = self.state.add_model(app, self.namer.model_name(app.names_lower()))
        recorder.touched.add(through.uid)
        recorder.touched.add(owner.uid)
        recorder.created.add(through.uid)
        through.through_for = "%s.%s.%s" % (app.label, owner.name, field_name)
        for end in (owner, target):
            name = self.namer.field_name(self.state.family_field_names(through))
            spec = FieldSpec(
                name=name, kind="foreign_key", to_app=end.app, to_model=end.name,
                on_delete="CASCADE", related_name=self.namer.related_name(app.label, through.name, name),
            )
            self.state.set_field(through, spec)
        extra = self.namer.field_name(self.state.family_field_names(through))
        through.fields[extra] = self.fields.scalar(self.rng, extra)
        recorder.depend_on(target.app)
        recorder.add(ops.CreateModel(name=through.name, fields=tuple(through.fields.values())))
        spec = self.relation_spec(app, owner, field_name, "many_to_many", target, False, through.name)
        self.state.set_field(owner, spec)
        recorder.add(ops.AddField(owner.name, spec))

    def _draw_meta(self, model: ModelState) -> None:
        meta = self.params.meta
        local = model.scalar_fields(own_only=False)
        uniqueable = [f.name for f in local if f.kind in UNIQUE_OK]
        indexable = [f.name for f in local if f.kind not in NO_INDEX]
        rng = self.rng
        # Roll every die whatever the target supports, so that one seed gives the
        # same models on every target as far as the targets allow.
        wants_ordering = rng.random() < meta.ordering_share
        wants_unique = rng.random() < meta.unique_together_share
        wants_index = rng.random() < meta.indexes_share
        wants_constraint = rng.random() < meta.constraints_share
        if local and wants_ordering:
            chosen = rng.sample(local, min(len(local), rng.randint(1, 2)))
            model.ordering = tuple(("-" if rng.random() < 0.3 else "") + f.name for f in chosen)
        if len(uniqueable) >= 2 and wants_unique:
            model.unique_together = (tuple(rng.sample(uniqueable, 2)),)
        if self.target.has_indexes and indexable and wants_index:
            fields = tuple(rng.sample(indexable, min(len(indexable), rng.randint(1, 2))))
            model.indexes.append(IndexSpec(self.namer.db_object_name(model.app, model.name, "idx"), fields))
        if self.target.has_constraints and wants_constraint:
            numeric = [f.name for f in local if f.kind in NUMERIC]
            if numeric and (rng.random() < 0.5 or len(uniqueable) < 2):
                name = self.namer.db_object_name(model.app, model.name, "ck")
                model.constraints.append(ConstraintSpec(name, "check", (rng.choice(numeric),)))
            elif len(uniqueable) >= 2:
                name = self.namer.db_object_name(model.app, model.name, "uq")
                model.constraints.append(ConstraintSpec(name, "unique", tuple(rng.sample(uniqueable, 2))))


def build_history(params: GeneratorParams, target: DjangoLine) -> History:
    return HistoryBuilder(params, target).build()

