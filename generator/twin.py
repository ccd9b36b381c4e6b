"""A real project's shape in, a scenario that reproduces it out: `migbench twin`'s pure half.

The shape is what bench/measure/worker/shape.py printed inside the project's own
environment: per app its models (fields by type, relations, inheritance, Meta)
and its migrations (operations by kind). The scenario keeps the counts and
drops every name: apps, models and fields are the generator's counters
(`names = "plain"`), apps are numbered in the order `migrate` first meets them.

What is reproduced where:
- per app, in `[[generator.app]]` tables: the models its first migration
  creates, its migrations, the exact operations of the later ones (plan.py),
  fields and relations per model, the share of relations that cross into other
  twinned apps and which apps those are (`links`), its proxy share and the
  share of its AddFields that add a relation;
- project-wide, in the usual tables: the field-type mix and field options,
  relation kinds, self and through shares, on_delete, inheritance and Meta
  shares (fractions of the original's models);
- contenttypes and auth as contrib_apps when the original installs them.

Not reproduced (the header comment says how much of each the original has):
other django.contrib apps, relations into apps that are not twinned (they stay
inside their app), field classes migbench has no type for (drawn as text).
The generator draws, and a small project can miss a whole kind of relation in
one draw: of seeds 1 to SEEDS the twin keeps the one whose history (built in
memory, never written) comes closest to the original's counts.
Pure: a dict in, text out, the same text for the same shape.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from migbench.errors import MigbenchError
from migbench.targets import DEFAULT_LINE, resolve_line

from .scenario import (CONTRIB_APPS, CONTRIB_MODELS, FIELD_TYPES, NAME_RE, NAME_RULE, OPERATIONS,
                       RELATION_KINDS)

# shape.py's operation kinds -> the scenario's OPERATIONS (the nearest in what migrate does).
TWIN_KINDS = dict({kind: kind for kind in OPERATIONS}, **{
    "alter_field_noop": "alter_model_options",  # no column changes: state only, as AlterModelOptions
    "add_relation": "add_field",  # with the app's added_relation_share
    "add_constraint": "add_index", "remove_constraint": "remove_index",
    "rename_index": "alter_model_options", "alter_model_table": "rename_model",
    "alter_index_together": "alter_unique_together", "alter_order_with_respect_to": "add_field",
    "other": "alter_model_options",
})
# Operations of an app's first migration the twin's 0001 already has: its models, their Meta.
FIRST_MIGRATION_OWN = ("create_model", "add_index", "add_constraint", "alter_unique_together",
                       "alter_index_together")
ON_DELETE = {"CASCADE": "cascade", "DO_NOTHING": "cascade", "PROTECT": "protect", "RESTRICT": "protect",
             "SET_NULL": "set_null", "SET_DEFAULT": "set_null", "SET": "set_null"}
KINDS = ("own", "third_party", "contrib")
SEEDS = 8  # seeds tried; each is one build of the twin's history (milliseconds to a second)
SEED_MARK = "seed = <closest>"


@dataclass
class _App:
    """One twinned app, measured from the shape."""

    position: int
    kind: str
    models: list = field(default_factory=list)
    migrations: list = field(default_factory=list)
    label: str = ""  # the original's: never written

    def concrete(self) -> list:
        return [m for m in self.models if not m["proxy"] and not m["through"]]

    def later_operations(self, mapped: bool = True) -> Counter:
        """The operations the twin's later migrations get (shape.py's kinds unless `mapped`)."""
        later = Counter()
        for number, migration in enumerate(self.migrations):
            for kind, count in migration["operations"].items():
                if number == 0 and kind in FIRST_MIGRATION_OWN:
                    continue
                later[TWIN_KINDS.get(kind, "alter_model_options") if mapped else kind] += count
        return later

    def first_creates(self) -> int:
        return self.migrations[0]["operations"].get("create_model", 0) if self.migrations else 0


def twin_scenario(shape: dict, name: str = "twin", apps: list[str] | None = None,
                  own: list[str] | None = None) -> str:
    """The scenario TOML for `shape`: every app with migrations except django.contrib's, or `apps`.
    `own` names the project's own apps when the caller knows better than shape.py's guess; of
    seeds 1 to SEEDS, the one whose project comes closest to the original's counts is kept."""
    if not NAME_RE.fullmatch(name):
        raise MigbenchError("--name %r: expected %s" % (name, NAME_RULE))
    shape = dict(shape, apps=[dict(app) for app in shape["apps"]])  # kinds may change: not the caller's
    described = {app["label"]: app for app in shape["apps"]}
    for app in described.values():
        if own is not None and app["kind"] != "contrib":
            app["kind"] = "own" if app["label"] in own else "third_party"
    if apps:
        unknown = [label for label in apps if label not in described]
        if unknown:
            raise MigbenchError("--apps: %s not among the project's apps with migrations (%s)"
                                % (", ".join(unknown), ", ".join(sorted(described))))
        chosen = [described[label] for label in apps]
    else:
        chosen = [a for a in described.values() if a["kind"] != "contrib" and a["migrations"]]
    if not chosen:
        raise MigbenchError("nothing to twin: the project has no app with migrations besides django.contrib's")
    chosen.sort(key=lambda a: (a["plan_index"], a["label"]))
    position = {a["label"]: number for number, a in enumerate(chosen, 1)}
    twins = [_App(position[a["label"]], a["kind"], a["models"], a["migrations"], a["label"]) for a in chosen]
    contrib = [label for label in CONTRIB_APPS if label in described and described[label]["kind"] == "contrib"]
    if "auth" in contrib and "contenttypes" not in contrib:
        contrib.remove("auth")
    lines = _header(shape, chosen, twins, contrib)
    lines += ['name = "%s"' % name, 'description = "%s"' % _description(shape, twins), ""]
    lines += _generator(shape, twins, contrib)
    models = [m for app in twins for m in app.models]
    room = 1 - round(sum(1 for m in models if m["parents"]) / max(1, len(models)), 3)  # 1 - multi_table_share
    for app, source in zip(twins, chosen):
        lines += [""] + _app_table(app, source, position, room, contrib)
    text = "\n".join(lines) + "\n"
    return text.replace(SEED_MARK, "seed = %d" % closest_seed(text, twins))


def _counts(models_per_app: list[list[dict]]) -> tuple[list[int], Counter, int]:
    """What the seed is chosen on: models per app, relations by kind, scalar fields."""
    relations, fields = Counter(), 0
    for models in models_per_app:
        for model in models:
            relations.update(r["kind"] for r in model["relations"])
            fields += sum(model["fields"].values())
    return [len(models) for models in models_per_app], relations, fields


def closest_seed(text: str, twins: list[_App]) -> int:
    """Of seeds 1..SEEDS, the one whose generated history is closest to the original's counts
    (relative errors of models per app, relations by kind and fields, summed); the first on a tie.
    On a small project one draw can miss a kind of relation altogether: this is what keeps it."""
    from .history import build_history
    from .scenario import parse_scenario
    from .summary import summarize

    models, relations, fields = _counts([app.models for app in twins])
    best, best_score = 1, None
    for seed in range(1, SEEDS + 1):
        scenario = parse_scenario(text.replace(SEED_MARK, "seed = %d" % seed), "twin.toml")
        target = resolve_line(scenario.generator.django or DEFAULT_LINE)
        history = build_history(scenario.generator, target)
        summary = summarize(scenario, history)
        got = [len(app.models) for app in history.state.apps]
        relation_error = sum(abs(summary.relations[k] - relations[k]) for k in RELATION_KINDS)
        score = (sum(abs(a - b) for a, b in zip(got, models)) / max(1, sum(models))
                 + relation_error / max(1, sum(relations.values()))
                 + abs(sum(summary.fields.values()) - fields) / max(1, fields))
        if best_score is None or score < best_score - 1e-9:
            best, best_score = seed, score
    return best


# -- the header: what the original had, and what the twin leaves out ---------------------------------


def _summary(apps: list[dict]) -> tuple[int, int, int, int, int]:
    models = sum(len(a["models"]) for a in apps)
    migrations = sum(len(a["migrations"]) for a in apps)
    operations = sum(sum(m["operations"].values()) for a in apps for m in a["migrations"])
    run_python = sum(m["operations"].get("run_python", 0) for a in apps for m in a["migrations"])
    return len(apps), models, migrations, operations, run_python


def _header(shape: dict, chosen: list[dict], twins: list[_App], contrib: list[str]) -> list[str]:
    lines = ["# A twin written by `migbench twin` from a Django %s project's models and migrations." % shape["django"],
             "# No name of the original is kept: apps, models and fields are counters (names = \"plain\").",
             "# The original, by kind of app (apps with migrations):"]
    twinned = {a["label"] for a in chosen}
    for kind in KINDS:
        apps = [a for a in shape["apps"] if a["kind"] == kind and a["migrations"]]
        if apps:
            count, models, migrations, operations, run_python = _summary(apps)
            done = sum(1 for a in apps if a["label"] in twinned)
            lines.append("#   %-12s %3d apps, %4d models, %4d migrations, %5d operations, %3d RunPython; %d twinned"
                         % (kind.replace("_", "-"), count, models, migrations, operations, run_python, done))
    left = sorted(a["label"] for a in shape["apps"] if a["kind"] == "contrib" and a["migrations"]
                  and a["label"] not in contrib and a["label"] not in twinned)
    if contrib:
        lines.append("# django.contrib apps the twin installs: %s" % ", ".join(contrib))
    if left:
        lines.append("# django.contrib apps left out (the generator installs contenttypes and auth only): %s"
                     % ", ".join(left))
    outside = sum(1 for app in twins for m in app.models for r in m["relations"]
                  if r["to"] not in twinned and not _contrib_key(r, contrib))
    unmapped = sum(sum(m["unmapped"].values()) for app in twins for m in app.models)
    if outside:
        lines.append("# %d relations point into apps (or contrib models) the twin does not have: they stay inside "
                     "their app" % outside)
    if unmapped:
        lines.append("# %d fields of classes migbench has no type for are drawn as text" % unmapped)
    lines.append("# The seed is the one of 1 to %d whose project comes closest to the original's models per app,"
                 % SEEDS)
    lines.append("# relations by kind and fields (the generator draws; a small project can miss a whole kind).")
    lines.append("")
    return lines


def _description(shape: dict, twins: list[_App]) -> str:
    models = sum(len(a.models) for a in twins)
    migrations = sum(len(a.migrations) for a in twins)
    return "Twin of a Django %s project: %d apps, %d models, %d migrations" % (
        shape["django"], len(twins), models, migrations)


# -- [generator] and its project-wide tables ---------------------------------------------------------


def _generator(shape: dict, twins: list[_App], contrib: list[str]) -> list[str]:
    models = [m for app in twins for m in app.models]
    concrete = [m for app in twins for m in app.concrete()]
    fields = Counter()
    for model in models:
        fields.update(model["fields"])
    scalars = sum(fields.values())
    options = Counter()
    lengths: list[int] = []
    for model in models:
        opts = model.get("options", {})
        options.update({k: opts.get(k, 0) for k in ("null", "default", "db_index")})
        lengths += opts.get("char_lengths", [])
    relations = [r for m in concrete for r in m["relations"]]
    kinds = Counter(r["kind"] for r in relations)
    keyed = [r for r in relations if r["kind"] != "many_to_many"]
    m2m = [r for r in relations if r["kind"] == "many_to_many"]
    on_delete = Counter(ON_DELETE.get(r.get("on_delete") or "CASCADE", "cascade") for r in keyed)
    later = Counter()
    for app in twins:
        later.update(app.later_operations())
    lines = ["[generator]", SEED_MARK, "apps = %d" % len(twins), 'names = "plain"',
             "contrib_apps = [%s]" % ", ".join('"%s"' % c for c in contrib)]
    try:
        lines.append('django = "%s"' % resolve_line(shape["django"]).line)
    except MigbenchError:
        pass  # a Django line migbench does not know: the twin is generated for --django or the default
    lines += ["", "[generator.fields]",
              "per_model = %s" % _range(_ratio(scalars, len(concrete))),
              "types = %s" % _weights(fields, FIELD_TYPES),
              "null_share = %s" % _share(options["null"], scalars),
              "default_share = %s" % _share(options["default"], scalars),
              "db_index_share = %s" % _share(options["db_index"], scalars)]
    if lengths:
        lengths.sort()
        low = min(4000, max(1, lengths[len(lengths) // 10]))
        high = min(4000, max(low, lengths[(len(lengths) * 9) // 10]))
        lines.append("char_max_length = [%d, %d]" % (low, high))
    lines += ["", "[generator.relations]",
              "per_model = %s" % _range(_ratio(len(relations), len(concrete)))]
    if relations:
        lines += ["kinds = %s" % _weights(kinds, RELATION_KINDS),
                  "through_share = %s" % _share(sum(r["through"] for r in m2m), len(m2m)),
                  "self_share = %s" % _share(sum(r["self"] for r in relations), len(relations)),
                  "null_share = %s" % _share(sum(r["null"] for r in keyed), len(keyed))]
        if keyed:
            lines.append("on_delete = %s" % _weights(on_delete, ("cascade", "protect", "set_null")))
        skew = target_skew(twins)
        if skew:
            lines.append("target_skew = %g" % skew)
    # (the relations' skew shapes where relations point, this one which models later migrations change)
    mti = sum(1 for m in models if m["parents"])
    proxies = sum(1 for m in models if m["proxy"])
    total = max(1, len(models))
    lines += ["", "[generator.inheritance]",
              "abstract_share = %s" % _share(sum(m["abstract_parent"] for m in concrete), len(concrete)),
              "multi_table_share = %s" % _fraction(mti / total),
              "proxy_share = %s" % _fraction(min(proxies / total, 1 - round(mti / total, 3)))]
    # (each app's own proxy_share replaces the last one: proxies cluster, e.g. 12 in one app)
    lines += ["", "[generator.meta]"]
    for key, test in (("ordering_share", lambda m: m["ordering"]), ("indexes_share", lambda m: m["indexes"]),
                      ("unique_together_share", lambda m: m["unique_together"]),
                      ("constraints_share", lambda m: sum(m["constraints"].values()))):
        lines.append("%s = %s" % (key, _share(sum(1 for m in concrete if test(m)), len(concrete))))
    lines += ["", "[generator.history]", "migrations_per_app = 1"]
    if model_skew(twins):
        lines.append("model_skew = %g" % model_skew(twins))
    if sum(later.values()):
        lines.append("operations = %s" % _weights(later, OPERATIONS))
    return lines


def target_skew(twins: list[_App]) -> float:
    """How much relations gather on a few models of their target app (a project's main models:
    its Product, its Order), fitted on each app's incoming relations per model."""
    incoming = Counter()
    for app in twins:
        for model in app.models:
            incoming.update((r["to"], r["model"].lower()) for r in model["relations"]
                            if not r["self"] and r.get("model"))
    return fit_skew([[incoming[(app.label, m["name"].lower())] for m in app.concrete()] for app in twins])


def model_skew(twins: list[_App]) -> float:
    """How much later operations gather on a few models of their app (the main ones again: a
    real history changes its Product far more often than its ProductAttributeValue)."""
    observed = []
    for app in twins:
        changed = Counter()
        for migration in app.migrations[1:]:
            changed.update(migration.get("changed", {}))
        observed.append([changed[m["name"].lower()] for m in app.concrete()])
    return fit_skew(observed)


def fit_skew(observed: list[list[int]]) -> float:
    """The skew (0 to 3, by quarters) whose expected counts, the k-th model weighing 1/k**skew,
    are closest (least squares) to each app's counts sorted from the largest."""
    observed = [sorted(counts, reverse=True) for counts in observed if sum(counts) >= 2]
    best, best_loss = 0.0, None
    for step in range(13):  # 0, 0.25 .. 3
        skew = step / 4
        loss = 0.0
        for counts in observed:
            weights = [1.0 / (k ** skew) for k in range(1, len(counts) + 1)]
            total = sum(counts)
            loss += sum((c - total * w / sum(weights)) ** 2 for c, w in zip(counts, weights))
        if best_loss is None or loss < best_loss - 1e-9:
            best, best_loss = skew, loss
    return best


# -- one [[generator.app]] per twinned app -------------------------------------------------------------


def _app_table(app: _App, source: dict, position: dict[str, int], room: float, contrib: list[str]) -> list[str]:
    concrete = app.concrete()
    throughs = sum(1 for m in app.models if m["through"])
    proxies = sum(1 for m in app.models if m["proxy"])
    later, raw = app.later_operations(), app.later_operations(mapped=False)
    # Through models of explicit M2Ms come with their M2M in the twin: not among the models to draw.
    first = max(1, app.first_creates() - min(throughs, max(0, app.first_creates() - 1)))
    adds, removes = later.get("add_field", 0), later.get("remove_field", 0)
    added_relations = _ratio(raw.get("add_relation", 0), adds)
    scalars = sum(sum(m["fields"].values()) for m in concrete)
    relations = [r for m in concrete for r in m["relations"]]
    abstract = sum(1 for m in concrete if m["abstract_parent"])
    # Later AddFields add fields too, and the app's abstract base gives each child 1 to 3.
    drawn_fields = scalars - (1 - added_relations) * (adds - removes) - 2 * abstract
    drawn_relations = len(relations) - added_relations * (adds - removes)
    crossing = [r for r in relations if r["to"] != source["label"] and r["to"] in position]
    into_contrib = Counter(_contrib_key(r, contrib) for r in relations if _contrib_key(r, contrib))
    targets = sorted({position[r["to"]] for m in app.models for r in m["relations"]
                      if r["to"] != source["label"] and r["to"] in position})
    run_python = sum(m["operations"].get("run_python", 0) for m in app.migrations)
    lines = ["# app %d: %s, %d models (%d proxy, %d M2M through), %d migrations, %d RunPython"
             % (app.position, app.kind.replace("_", "-"), len(app.models), proxies, throughs,
                len(app.migrations), run_python),
             "[[generator.app]]",
             "models = %d" % first,
             "migrations = %d" % max(1, len(app.migrations))]
    planned = {kind: count for kind, count in later.items() if count}
    if planned and len(app.migrations) >= 2:
        lines.append("operations = { %s }" % ", ".join("%s = %d" % (k, planned[k]) for k in OPERATIONS
                                                      if k in planned))
    # At least one field each: a RunPython inserting rows into a model of no field fails on Django 1.8.
    lines.append("fields_per_model = %s" % _range(_ratio(max(0.0, drawn_fields), len(concrete)), low=1))
    lines.append("relations_per_model = %s" % _range(_ratio(max(0.0, drawn_relations), len(concrete))))
    if into_contrib:  # drawn first: the cross-app share is of the relations left
        lines.append("contrib_share = %s" % _share(sum(into_contrib.values()), len(relations)))
        lines.append("contrib_targets = %s" % _weights(into_contrib, tuple(CONTRIB_MODELS)))
    lines.append("cross_app_share = %s" % _share(len(crossing), len(relations) - sum(into_contrib.values())))
    lines.append("proxy_share = %s" % _fraction(min(room, _ratio(proxies, len(app.models)))))
    if adds:
        lines.append("added_relation_share = %s" % _fraction(added_relations))
    if targets:
        lines.append("links = [%s]" % ", ".join(str(t) for t in targets))
    return lines


def _contrib_key(relation: dict, contrib: list[str]) -> str | None:
    """CONTRIB_MODELS' key of a relation's target when the twin installs its app (auth.User: "user")."""
    for key, (label, name) in CONTRIB_MODELS.items():
        if relation["to"] == label and relation.get("model") == name and label in contrib:
            return key
    return None


# -- numbers as the scenario writes them ----------------------------------------------------------------


def _ratio(amount: float, count: int) -> float:
    return amount / count if count else 0.0


def _range(mean: float, low: int = 0) -> str:
    """[low, high] whose midpoint is `mean` (the generator draws uniformly between them), low at least `low`."""
    low = max(low, int(math.floor(mean / 2)))
    high = max(low, int(round(2 * mean - low)))
    return "%d" % low if low == high else "[%d, %d]" % (low, high)


def _fraction(value: float) -> str:
    return "%g" % round(min(1.0, max(0.0, value)), 3)


def _share(part: float, whole: float) -> str:
    return _fraction(part / whole if whole else 0.0)


def _weights(counts: Counter, order: tuple[str, ...]) -> str:
    given = ["%s = %d" % (key, counts[key]) for key in order if counts.get(key)]
    return "{ %s }" % ", ".join(given) if given else "{ %s = 1 }" % order[0]
