"""Rows that data migrations insert: Faker-made, seeded, embedded as literals.

Values are produced at generation time and written into the migration file,
so a target environment needs nothing but Django (Python 2.7 included) and a
run never depends on the Faker version installed there.
"""

from __future__ import annotations

import datetime
import decimal
import random
import uuid
from typing import Any

from faker import Faker

from .operations import FieldSpec

_EPOCH = datetime.date(2000, 1, 1)
_POOL_SIZE = 200


class RowMaker:
    def __init__(self, seed: int):
        self._faker: Faker | None = None
        self._pools: dict[str, list[str]] = {}
        self.seed = seed

    @property
    def faker(self) -> Faker:
        if self._faker is None:  # costly to build; many projects insert no rows
            self._faker = Faker("en_US")
        return self._faker

    def pool(self, kind: str) -> list[str]:
        """Faker values for one kind, made once per project: Faker costs ~40 us a
        value, and a 10,000-model history inserts tens of thousands of them."""
        if kind not in self._pools:
            fake = self.faker
            fake.seed_instance("%s:pool:%s" % (self.seed, kind))
            make = {
                "char": fake.name,
                "text": lambda: fake.paragraph(nb_sentences=2),
                "email": fake.email,
                "url": fake.url,
                "slug": fake.slug,
                "ip": fake.ipv4,
                "word": fake.word,
            }[kind]
            self._pools[kind] = [_ascii(make()) for _ in range(_POOL_SIZE)]
        return self._pools[kind]

    def rows(self, key: str, fields: list[FieldSpec], count: int) -> tuple[tuple[tuple[str, Any], ...], ...]:
        """`count` rows giving a value to every scalar field; seeded by `key`."""
        rng = random.Random("%s:rows:%s" % (self.seed, key))
        return tuple(
            tuple((spec.name, self.value(spec, rng)) for spec in fields)
            for _ in range(count)
        )

    def value(self, spec: FieldSpec, rng: random.Random) -> Any:
        kind = spec.kind
        if kind == "char":
            return rng.choice(self.pool("char"))[: spec.max_length]
        if kind in ("text", "email", "ip"):
            return rng.choice(self.pool(kind))
        if kind == "url":
            return rng.choice(self.pool("url"))[:200]
        if kind == "slug":
            return rng.choice(self.pool("slug"))[:50]
        if kind in ("integer", "small_integer", "positive_integer"):
            return rng.randint(0, 10000)
        if kind == "big_integer":
            return rng.randint(0, 10 ** 12)
        if kind == "float":
            return round(rng.uniform(0, 1000), 3)
        if kind == "decimal":
            whole_digits = spec.max_digits - spec.decimal_places
            value = decimal.Decimal(rng.randint(0, 10 ** (whole_digits + spec.decimal_places) - 1))
            return value.scaleb(-spec.decimal_places)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "date":
            return _EPOCH + datetime.timedelta(days=rng.randrange(9000))
        if kind == "datetime":
            return datetime.datetime.combine(
                _EPOCH + datetime.timedelta(days=rng.randrange(9000)),
                datetime.time(rng.randrange(24), rng.randrange(60), rng.randrange(60)),
            )
        if kind == "time":
            return datetime.time(rng.randrange(24), rng.randrange(60), rng.randrange(60))
        if kind == "duration":
            return datetime.timedelta(seconds=rng.randrange(86400 * 30))
        if kind == "uuid":
            # an RFC 4122 version-4 UUID (the same 128 random bits, version and variant set):
            # MariaDB's native UUID type (Django 5.0+ on MariaDB 10.7+) refuses other bit patterns
            return uuid.UUID(int=rng.getrandbits(128), version=4)
        if kind == "binary":
            return bytes(rng.getrandbits(8) for _ in range(8))
        if kind == "json":
            return {"name": rng.choice(self.pool("word")), "score": rng.randint(0, 100)}
        raise ValueError("no row value for field kind %r" % kind)


def _ascii(text: str) -> str:
    return text.encode("ascii", "ignore").decode("ascii")
