"""The report of a transformation, stored (as to_dict()) in result records."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class AppResult:
    app: str
    status: str  # "squashed", "unchanged", "failed", "regenerated", "optimized"
    reason: str = ""  # one line
    migrations_before: int = 0  # migrations the loader uses (a squashed one counts 1)
    migrations_after: int = 0
    operations_before: int | None = None  # operations of those migrations
    operations_after: int | None = None
    files_before: int | None = None  # migration files on disk (a squash keeps the replaced ones)
    files_after: int | None = None
    # "tagging.0002_x -> shop.0003_y": migrations of apps not transformed (third-party) that name a
    # migration this transformation removed; the app's new migration keeps `replaces` for them
    # (zero, squash-final), so on a database migrated with the old history it counts as applied.
    outside_dependents: list[str] = field(default_factory=list)


@dataclass
class TransformReport:
    kind: str
    django_version: str
    python_version: str
    wall_s: float  # seconds spent in the transforming commands (not in the checks)
    apps: list[AppResult]
    migrations_before: int
    migrations_after: int
    notes: list[str] = field(default_factory=list)
    # zero: each RunPython / RunSQL it drops, in plan order: {"app", "migration", "operation"
    # ("RunPython" | "RunSQL"), "name" (the function, or the SQL's first line), "reversible", "elidable"}
    losses: list[dict] = field(default_factory=list)

    def failed(self) -> list[AppResult]:
        return [a for a in self.apps if a.status == "failed"]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TransformReport":
        """Keys this version does not know (a newer record) are ignored."""
        known = {f.name for f in fields(AppResult)}
        apps = [AppResult(**{k: v for k, v in a.items() if k in known}) for a in data.get("apps", [])]
        mine = {f.name for f in fields(cls)} - {"apps"}
        return cls(apps=apps, **{k: v for k, v in data.items() if k in mine})
