"""Immutable descriptions of fields, Meta items, operations and migrations.

Everything here is a frozen snapshot: an operation keeps the field definitions
and model names as they were when it was recorded, exactly as a migration file
does, while the project state (state.py) moves on. The writer turns these into
source text; nothing here knows about files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RELATIONS = ("foreign_key", "one_to_one", "many_to_many")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Any = _NoDefault()


@dataclass(frozen=True)
class Expr:
    """A default that is code, not a value (uuid.uuid4, dict, timezone.now)."""

    code: str  # as written in a migration, e.g. "uuid.uuid4"
    imports: tuple[str, ...] = ()  # modules the code needs, e.g. ("uuid",)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str  # one of scenario.FIELD_TYPES or RELATIONS
    null: bool = False
    blank: bool = False
    default: Any = NO_DEFAULT
    db_index: bool = False
    max_length: int | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    # relations: the target as it is named when this snapshot was taken
    to_app: str | None = None
    to_model: str | None = None
    on_delete: str | None = None  # "CASCADE", "PROTECT", "SET_NULL"
    related_name: str | None = None
    through_model: str | None = None  # same app as the field's model
    self_reference: bool = False
    inherited: bool = False  # declared on the app's abstract base, not on the model

    @property
    def is_relation(self) -> bool:
        return self.kind in RELATIONS

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT


@dataclass(frozen=True)
class IndexSpec:
    name: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class ConstraintSpec:
    name: str
    kind: str  # "check" (field >= 0) or "unique"
    fields: tuple[str, ...]


@dataclass(frozen=True)
class ModelOptions:
    ordering: tuple[str, ...] = ()
    unique_together: tuple[tuple[str, ...], ...] = ()
    proxy: bool = False


# -- operations -------------------------------------------------------------


@dataclass(frozen=True)
class CreateModel:
    name: str
    fields: tuple[FieldSpec, ...]
    options: ModelOptions = ModelOptions()
    parent: tuple[str, str] | None = None  # (app, Model) for multi-table inheritance
    proxy_of: tuple[str, str] | None = None
    kind = "create_model"


@dataclass(frozen=True)
class DeleteModel:
    name: str
    kind = "delete_model"


@dataclass(frozen=True)
class AddField:
    model: str
    field: FieldSpec
    kind = "add_field"


@dataclass(frozen=True)
class RemoveField:
    model: str
    name: str
    kind = "remove_field"


@dataclass(frozen=True)
class AlterField:
    model: str
    field: FieldSpec
    kind = "alter_field"


@dataclass(frozen=True)
class RenameField:
    model: str
    old_name: str
    new_name: str
    kind = "rename_field"


@dataclass(frozen=True)
class RenameModel:
    old_name: str
    new_name: str
    kind = "rename_model"


@dataclass(frozen=True)
class AddIndex:
    model: str
    index: IndexSpec
    kind = "add_index"


@dataclass(frozen=True)
class RemoveIndex:
    model: str
    name: str
    kind = "remove_index"


@dataclass(frozen=True)
class AlterUniqueTogether:
    model: str
    unique_together: tuple[tuple[str, ...], ...]
    kind = "alter_unique_together"


@dataclass(frozen=True)
class AlterModelOptions:
    """A state-only change (verbose_name), written with every alterable option the model has:
    Django's AlterModelOptions drops the alterable options it is not given."""

    model: str
    ordering: tuple[str, ...]
    verbose_name: str
    kind = "alter_model_options"


@dataclass(frozen=True)
class AddConstraint:
    model: str
    constraint: ConstraintSpec
    kind = "add_constraint"


@dataclass(frozen=True)
class RunPython:
    """Insert Faker-made rows into a model, then transform them (a data migration).
    No rows: a data migration that only loads the model (a twin's RunPython where no table
    can take rows); its reverse deletes nothing."""

    function: str  # module-level function name in the migration file
    model: str
    rows: tuple[tuple[tuple[str, Any], ...], ...]  # ((field, value), ...) per row
    transform: tuple[str, str] | None  # ("upper", field) or ("increment", field)
    elidable: bool = False  # it creates data: a fresh database needs it
    kind = "run_python"


@dataclass(frozen=True)
class RunSQL:
    sql: str
    reverse_sql: str
    elidable: bool = True  # it only rewrites existing rows: squashing may drop it
    kind = "run_sql"


Operation = Any  # one of the classes above


@dataclass(frozen=True)
class Migration:
    app: str
    number: int
    name: str  # "0002_add_title_to_book"
    dependencies: tuple[tuple[str, str], ...]
    operations: tuple[Operation, ...] = field(default=())

    @property
    def initial(self) -> bool:
        return self.number == 1
