"""Python source for values, readable by every interpreter a target runs on.

The emitted files must load on Python 2.7 (Django 1.8-1.11) as well as 3.x, so
everything is spelled the portable way: `repr()` of text and bytes (valid in
2.7 with `unicode_literals`), module-qualified constructors for dates,
decimals and UUIDs, and no f-strings anywhere.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from .operations import Expr


class Imports:
    """Modules a file needs; collected while rendering, written at the top."""

    def __init__(self) -> None:
        self.modules: set[str] = set()

    def need(self, module: str) -> None:
        self.modules.add(module)

    def lines(self) -> list[str]:
        return ["import %s" % module for module in sorted(self.modules)]


def literal(value: Any, imports: Imports) -> str:
    if isinstance(value, Expr):
        for module in value.imports:
            imports.need(module)
        return value.code
    if value is None or isinstance(value, (bool, int)):
        return repr(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bytes):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        imports.need("decimal")
        return "decimal.Decimal(%s)" % _text(str(value))
    if isinstance(value, datetime.datetime):  # before date: datetime is a date
        imports.need("datetime")
        return "datetime.datetime(%d, %d, %d, %d, %d, %d)" % (
            value.year, value.month, value.day, value.hour, value.minute, value.second)
    if isinstance(value, datetime.date):
        imports.need("datetime")
        return "datetime.date(%d, %d, %d)" % (value.year, value.month, value.day)
    if isinstance(value, datetime.time):
        imports.need("datetime")
        return "datetime.time(%d, %d, %d)" % (value.hour, value.minute, value.second)
    if isinstance(value, datetime.timedelta):
        imports.need("datetime")
        return "datetime.timedelta(days=%d, seconds=%d)" % (value.days, value.seconds)
    if isinstance(value, uuid.UUID):
        imports.need("uuid")
        return "uuid.UUID(%s)" % _text(str(value))
    if isinstance(value, (list, tuple)):
        items = ", ".join(literal(item, imports) for item in value)
        if isinstance(value, tuple):
            return "(%s,)" % items if len(value) == 1 else "(%s)" % items
        return "[%s]" % items
    if isinstance(value, dict):
        return "{%s}" % ", ".join(
            "%s: %s" % (literal(key, imports), literal(item, imports)) for key, item in value.items()
        )
    raise TypeError("cannot write a literal for %r" % (value,))


def _text(value: str) -> str:
    """repr() is valid source on 2.7 too (files carry a utf-8 coding line there)."""
    return repr(value)
