"""Django lines migbench knows, what each can express, and which Pythons run it.

One table shared by the generator (what code may be emitted for a target) and
the bench (which interpreter to provision for a line). A line is "X.Y"; an
exact release ("4.2.11") is accepted wherever a line is and maps to its line.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .errors import MigbenchError


@dataclass(frozen=True)
class DjangoLine:
    """One Django feature release line and the facts migbench needs about it."""

    line: str  # "1.8"
    latest: str  # newest patch release of the line, used when none is pinned
    pythons: tuple[str, ...]  # interpreters that run it natively, preferred first
    shim_pythons: tuple[str, ...] = ()  # run only with the compatibility shim

    @property
    def key(self) -> tuple[int, int]:
        return version_key(self.line)

    # -- what the emitted code may use -------------------------------------
    def at_least(self, version: str) -> bool:
        return self.key >= version_key(version)

    @property
    def python2_compatible(self) -> bool:
        """Emitted files must load on Python 2.7 (no f-strings, unicode_literals)."""
        return not self.at_least("2.0")

    @property
    def has_indexes(self) -> bool:  # Meta.indexes, AddIndex/RemoveIndex
        return self.at_least("1.11")

    @property
    def has_constraints(self) -> bool:  # Meta.constraints, Check/UniqueConstraint
        return self.at_least("2.2")

    @property
    def check_constraint_kwarg(self) -> str:  # `check=` deprecated in 5.1, gone in 6.0
        return "condition" if self.at_least("5.1") else "check"

    @property
    def has_json_field(self) -> bool:  # models.JSONField
        return self.at_least("3.1")

    @property
    def has_default_auto_field(self) -> bool:  # settings.DEFAULT_AUTO_FIELD
        return self.at_least("3.2")

    @property
    def has_elidable(self) -> bool:  # RunPython/RunSQL(elidable=...)
        return self.at_least("1.10")

    @property
    def has_makemigrations_check(self) -> bool:  # makemigrations --check
        return self.at_least("1.10")

    @property
    def has_migrate_plan(self) -> bool:  # migrate --plan
        return self.at_least("2.2")

    @property
    def has_optimizemigration(self) -> bool:
        return self.at_least("4.1")

    @property
    def lowercase_model_labels(self) -> bool:
        """makemigrations writes to='app.model' from 1.9; 1.8 wrote (and compares) 'app.Model'."""
        return self.at_least("1.9")

    def needs_shim(self, python_minor: str) -> bool:
        """Runs on this Python ("3.11") only with the compatibility shim (bench/env/shim)."""
        return python_minor not in self.pythons and python_minor in self.shim_pythons

    @property
    def needs_sqlite_legacy_alter_table(self) -> bool:
        """SQLite >= 3.26 rewrites FKs on ALTER TABLE RENAME, breaking < 2.2 table rebuilds."""
        return not self.at_least("2.2")


_PY2_AND_36 = ("2.7", "3.6")
# Django 1.8-1.11 run on these only through bench/env/shim (see migbench_django_shim.py
# for what each Python removed); each pair was checked end to end with it.
_OLD_SHIM = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")

LINES: dict[str, DjangoLine] = {
    d.line: d
    for d in (
        DjangoLine("1.8", "1.8.19", _PY2_AND_36 + ("3.5",), _OLD_SHIM),
        DjangoLine("1.9", "1.9.13", _PY2_AND_36 + ("3.5",), _OLD_SHIM),
        DjangoLine("1.10", "1.10.8", _PY2_AND_36 + ("3.5",), _OLD_SHIM),
        DjangoLine("1.11", "1.11.29", _PY2_AND_36 + ("3.7", "3.5"), _OLD_SHIM),
        DjangoLine("2.0", "2.0.13", ("3.6", "3.7", "3.5")),
        DjangoLine("2.1", "2.1.15", ("3.7", "3.6", "3.5")),
        DjangoLine("2.2", "2.2.28", ("3.9", "3.8", "3.7", "3.6")),
        DjangoLine("3.0", "3.0.14", ("3.9", "3.8", "3.7", "3.6")),
        DjangoLine("3.1", "3.1.14", ("3.9", "3.8", "3.7", "3.6")),
        DjangoLine("3.2", "3.2.25", ("3.10", "3.9", "3.8", "3.7", "3.6")),
        DjangoLine("4.0", "4.0.10", ("3.10", "3.9", "3.8")),
        DjangoLine("4.1", "4.1.13", ("3.11", "3.10", "3.9", "3.8")),
        DjangoLine("4.2", "4.2.30", ("3.11", "3.12", "3.10", "3.9", "3.8")),
        DjangoLine("5.0", "5.0.14", ("3.11", "3.12", "3.10")),
        DjangoLine("5.1", "5.1.15", ("3.11", "3.12", "3.13", "3.10")),
        DjangoLine("5.2", "5.2.19", ("3.11", "3.12", "3.13", "3.10")),
        DjangoLine("6.0", "6.0.10", ("3.12", "3.13")),
        DjangoLine("6.1", "6.1.3", ("3.12", "3.13")),
    )
}

# The lines the tox matrix and the validity tests cover (one per era).
MATRIX_LINES = ("1.8", "1.9", "1.10", "1.11", "2.2", "3.2", "4.2", "5.2", "6.0")

DEFAULT_LINE = "5.2"

_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?$")


@functools.lru_cache(maxsize=None)
def version_key(version: str) -> tuple[int, ...]:
    match = _VERSION_RE.match(version.strip())
    if not match:
        raise MigbenchError(
            "not a Django version: %r; give a line like 4.2 or a release like 4.2.11" % version
        )
    return tuple(int(part) for part in match.groups() if part is not None)


def resolve_line(version: str) -> DjangoLine:
    """Map "4.2" or "4.2.11" to its DjangoLine, or fail with one clear line."""
    key = version_key(version)
    line = "%d.%d" % key[:2]
    if line not in LINES:
        raise MigbenchError(
            "unknown Django version %s; migbench knows %s" % (version, ", ".join(LINES))
        )
    return LINES[line]


def needs_shim(line: DjangoLine, python_minor: str) -> bool:
    """True when `line` runs on Python `python_minor` only with the compatibility shim."""
    return line.needs_shim(python_minor)
