"""What a generated project contains, counted from its final state and history."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from .scenario import FIELD_TYPES, Scenario


@dataclass
class Summary:
    scenario: str
    seed: int
    django: str
    apps: int = 0
    models: int = 0
    proxies: int = 0
    multi_table_children: int = 0
    abstract_children: int = 0
    through_models: int = 0
    fields: Counter = field(default_factory=Counter)  # scalar fields by type (columns)
    relations: Counter = field(default_factory=Counter)  # by kind, plus "self", "cross_app", "through"
    migrations: int = 0
    operations: Counter = field(default_factory=Counter)
    rows_inserted: int = 0

    def as_dict(self) -> dict:
        return {
            "apps": self.apps,
            "models": self.models,
            "proxies": self.proxies,
            "multi_table_children": self.multi_table_children,
            "abstract_children": self.abstract_children,
            "through_models": self.through_models,
            "fields": dict(sorted(self.fields.items())),
            "relations": dict(sorted(self.relations.items())),
            "migrations": self.migrations,
            "operations": dict(sorted(self.operations.items())),
            "rows_inserted": self.rows_inserted,
        }

    def lines(self) -> list[str]:
        scalar = sum(self.fields.values())
        relations = sum(self.relations[k] for k in ("foreign_key", "one_to_one", "many_to_many"))
        return [
            "%s (seed %d) for Django %s" % (self.scenario, self.seed, self.django),
            "  apps        %d" % self.apps,
            "  models      %d (%d proxy, %d multi-table child, %d with abstract base, %d M2M through)"
            % (self.models, self.proxies, self.multi_table_children, self.abstract_children, self.through_models),
            "  fields      %d: %s" % (scalar, _counts(self.fields, FIELD_TYPES)),
            "  relations   %d: %s" % (relations, _counts(self.relations)),
            "  migrations  %d" % self.migrations,
            "  operations  %d: %s" % (sum(self.operations.values()), _counts(self.operations)),
        ]


def _counts(counter: Counter, order=None) -> str:
    keys = [k for k in (order or sorted(counter)) if counter.get(k)]
    return ", ".join("%s %d" % (key, counter[key]) for key in keys) or "none"


def summarize(scenario: Scenario, history) -> Summary:
    state = history.state
    summary = Summary(scenario=scenario.name, seed=scenario.generator.seed, django=history.target.line)
    summary.apps = len(state.apps)
    for model in state.iter_models():
        summary.models += 1
        summary.proxies += model.proxy_of is not None
        summary.multi_table_children += model.parent is not None
        summary.abstract_children += model.abstract_base is not None
        summary.through_models += model.through_for is not None
        for spec in model.fields.values():
            if spec.is_relation:
                summary.relations[spec.kind] += 1
                summary.relations["self"] += spec.self_reference
                summary.relations["cross_app"] += spec.to_app != model.app
                summary.relations["through"] += spec.through_model is not None
            else:
                summary.fields[spec.kind] += 1
    summary.migrations = len(history.migrations)
    for migration in history.migrations:
        for operation in migration.operations:
            summary.operations[operation.kind] += 1
            summary.rows_inserted += len(getattr(operation, "rows", ()))
    return summary
