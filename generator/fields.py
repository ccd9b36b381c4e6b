"""Drawing scalar fields: type, options and defaults, as the scenario weights say.

Defaults are chosen so that a field can always be added to a table that has
rows and removed again (a backward RemoveField re-adds it), which is what makes
every generated history reversible to zero.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import random
from typing import Mapping

from migbench.targets import DjangoLine

from .operations import NO_DEFAULT, Expr, FieldSpec
from .scenario import FIELD_TYPES, FieldParams

# Types that cannot be NULL in the older Django lines without special classes,
# or that do not usefully carry a default / an index.
_NEVER_NULL = {"boolean"}
NO_INDEX = {"text", "binary", "json"}
# Types a uniqueness constraint may name: ones with many values (a unique pair
# of booleans admits four rows, which real schemas rarely mean).
UNIQUE_OK = ("char", "integer", "big_integer", "small_integer", "positive_integer",
             "date", "datetime", "email", "slug", "uuid", "decimal")
NUMERIC = ("integer", "big_integer", "small_integer", "positive_integer")

DEFAULTS = {
    "char": "",
    "text": "",
    "integer": 1,  # the seed project's IntegerField(default=1)
    "big_integer": 0,
    "small_integer": 0,
    "positive_integer": 0,
    "float": 0.0,
    "decimal": decimal.Decimal("0.00"),
    "boolean": False,
    "date": datetime.date(2000, 1, 1),
    "datetime": Expr("django.utils.timezone.now", ("django.utils.timezone",)),
    "time": datetime.time(12, 0),
    "duration": datetime.timedelta(0),
    "email": "",
    "url": "",
    "slug": "",
    "uuid": Expr("uuid.uuid4", ("uuid",)),
    "ip": "127.0.0.1",
    "binary": b"",
    "json": Expr("dict"),
}


class Weighted:
    """Draws one key by weight. Cumulative weights are summed once: random.choices
    re-sums them on every call, which was the generator's top cost at scale."""

    def __init__(self, weights: Mapping[str, float], order: tuple[str, ...] | list[str]):
        self.keys = [key for key in order if weights.get(key, 0) > 0]
        self.cumulative = list(itertools.accumulate(weights[key] for key in self.keys))

    def draw(self, rng: random.Random) -> str:
        return rng.choices(self.keys, cum_weights=self.cumulative)[0]


def skewed_choice(rng: random.Random, items: list, skew: float):
    """One of `items`: uniformly (skew 0, exactly random.choice's draw), or the k-th weighing
    1/k**skew, so the first ones become hubs, as a project's main models are."""
    if not skew:
        return rng.choice(items)
    return rng.choices(items, weights=[1.0 / (k ** skew) for k in range(1, len(items) + 1)])[0]


def default_for(kind: str, decimal_places: int | None = None):
    """The default a field of `kind` gets (decimals as 0 with their own places: 0.00)."""
    if kind == "decimal":
        return decimal.Decimal(0).quantize(decimal.Decimal(1).scaleb(-decimal_places))
    return DEFAULTS[kind]


def effective_type(kind: str, target: DjangoLine) -> str:
    """The field a target can express in place of `kind`: JSON only exists from Django 3.1
    (older targets get a TextField), UUID and duration from 1.8 (1.7 gets a CharField and a
    BigIntegerField, the columns those fields use on SQLite and MySQL anyway)."""
    if kind == "json" and not target.has_json_field:
        return "text"
    if kind == "uuid" and not target.has_uuid_field:
        return "char"
    if kind == "duration" and not target.has_duration_field:
        return "big_integer"
    return kind


class FieldFactory:
    """Draws FieldSpecs from a scenario's [generator.fields] table for one target."""

    def __init__(self, params: FieldParams, target: DjangoLine):
        self.params = params
        self.target = target
        self.kinds = Weighted(params.types, FIELD_TYPES)

    def draw_kind(self, rng: random.Random) -> str:
        return effective_type(self.kinds.draw(rng), self.target)

    def scalar(self, rng: random.Random, name: str, addable: bool = False) -> FieldSpec:
        """A new scalar field; `addable` means it will be added to an existing table."""
        kind = self.draw_kind(rng)
        params = self.params
        null = kind not in _NEVER_NULL and rng.random() < params.null_share
        wants_default = rng.random() < params.default_share.get(kind, 0)
        if kind == "boolean":
            wants_default = True  # BooleanField without default is a 1.x-era warning
        if addable and not null:
            wants_default = True  # makemigrations would ask for one
        options: dict = {}
        if kind == "char":
            options["max_length"] = rng.randint(*params.char_max_length)
        elif kind == "email" and self.target.email_max_length < 254:
            # EmailField's default was 75 before 1.8: a project generated for 1.7 says 254 itself,
            # so its column (and the rows it can take) are the same on every line it runs on
            options["max_length"] = 254
        elif kind == "decimal":
            options["max_digits"] = rng.choice((8, 10, 12))
            options["decimal_places"] = rng.choice((2, 3, 4))
        default = default_for(kind, options.get("decimal_places")) if wants_default else NO_DEFAULT
        blank = null or (default == "" if not isinstance(default, Expr) else False)
        db_index = kind not in NO_INDEX and rng.random() < params.db_index_share
        return FieldSpec(
            name=name, kind=kind, null=null, blank=blank, default=default,
            db_index=db_index, **options,
        )
