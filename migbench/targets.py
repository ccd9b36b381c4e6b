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

    # -- Django 1.8 added these; 1.7 (the first line with migrations) lacks them ------
    @property
    def has_uuid_field(self) -> bool:  # models.UUIDField (1.7 projects get a CharField)
        return self.at_least("1.8")

    @property
    def has_duration_field(self) -> bool:  # models.DurationField (1.7: a BigIntegerField)
        return self.at_least("1.8")

    @property
    def has_db_functions(self) -> bool:  # django.db.models.functions (Upper, ...)
        return self.at_least("1.8")

    @property
    def email_max_length(self) -> int:  # EmailField's default max_length: 75 until 1.8
        return 254 if self.at_least("1.8") else 75

    @property
    def has_run_sql_lists(self) -> bool:  # RunSQL(sql=[...]) without sqlparse (1.7: one script, split by it)
        return self.at_least("1.8")

    @property
    def renames_content_types(self) -> bool:
        """migrate adds a RenameContentType after each RenameModel (contenttypes' 0002 migration)."""
        return self.at_least("1.8")

    @property
    def has_keepdb(self) -> bool:  # test --keepdb
        return self.at_least("1.8")

    @property
    def list_migrations(self) -> tuple[str, ...]:
        """The manage.py command that lists migrations with [X]/[ ]: 1.8 moved 1.7's
        `migrate --list` into `showmigrations`."""
        return ("showmigrations",) if self.at_least("1.8") else ("migrate", "--list")

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
        """makemigrations writes to='app.model' from 1.9; 1.7 and 1.8 wrote (and compare) 'app.Model'."""
        return self.at_least("1.9")

    def needs_shim(self, python_minor: str) -> bool:
        """Runs on this Python ("3.11") only with the compatibility shim (bench/env/shim)."""
        return python_minor not in self.pythons and python_minor in self.shim_pythons

    @property
    def needs_sqlite_legacy_alter_table(self) -> bool:
        """SQLite >= 3.26 rewrites FKs on ALTER TABLE RENAME, breaking < 2.2 table rebuilds."""
        return not self.at_least("2.2")


_PY2_AND_36 = ("2.7", "3.6")
# Django 1.7-1.11 run on these only through bench/env/shim (see migbench_django_shim.py
# for what each Python removed); each pair was checked end to end with it. 1.7 also ran
# natively on 3.2-3.4, which migbench does not provision: 2.7 is its one native Python.
_OLD_SHIM = ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")

LINES: dict[str, DjangoLine] = {
    d.line: d
    for d in (
        DjangoLine("1.7", "1.7.11", ("2.7",), _OLD_SHIM),
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

# The lines the tox matrix and the validity tests cover (one per era): 1.7, the first with
# migrations, to 6.1.
MATRIX_LINES = ("1.7", "1.8", "1.9", "1.10", "1.11", "2.2", "3.2", "4.2", "5.2", "6.0", "6.1")

DEFAULT_LINE = "5.2"

# A release as PEP 440 writes Django's: "4.2", "4.2.11", "6.1rc1", "6.2a1", "6.2.dev0"; a local label
# ("+g1a2b3c4d5e6f": a checkout's commit, see bench/env/sources.py) may follow. What follows "@" is
# where a checkout lives (sources.py's spec); it is not part of the version.
_VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?((?:a|b|rc)\d+)?(\.dev\d*)?(\+[a-z0-9]+(?:\.[a-z0-9]+)*)?$",
                         re.IGNORECASE)
SOURCE_SEPARATOR = "@"


def _match(version: str):
    match = _VERSION_RE.match(version.split(SOURCE_SEPARATOR, 1)[0].strip())
    if not match:
        raise MigbenchError(
            "not a Django version: %r; give a line like 4.2, a release like 4.2.11, a pre-release like "
            "6.1rc1, or a checkout's path" % version
        )
    return match


@functools.lru_cache(maxsize=None)
def version_key(version: str) -> tuple[int, ...]:
    """The numeric release of a version: "4.2" -> (4, 2), "6.1rc1" -> (6, 1), "4.2.11+gabc" -> (4, 2, 11)."""
    return tuple(int(part) for part in _match(version).groups()[:3] if part is not None)


def is_line(version: str) -> bool:
    """"4.2" names a line (its latest release is meant); "4.2.0", "4.2rc1" or a checkout name one build."""
    match = _match(version)
    return match.group(3) is None and not any(match.groups()[3:]) and SOURCE_SEPARATOR not in version


def is_plain_release(version: str) -> bool:
    """A final release or a line: no pre-release, dev or local part, not a checkout."""
    return not any(_match(version).groups()[3:]) and SOURCE_SEPARATOR not in version


def resolve_line(version: str) -> DjangoLine:
    """Map "4.2", "4.2.11", "6.1rc1" or a checkout's version to its DjangoLine, or fail with one clear line.

    A pre-release, development version or checkout of a line newer than the newest migbench knows
    (Django's main branch, "6.2a1") gets the newest line's facts under its own name: its projects are
    generated as for that line and it runs on that line's Pythons. A plain "7.0" is refused: a
    typo is likelier than a release migbench has not heard of."""
    key = version_key(version)
    line = "%d.%d" % key[:2]
    if line in LINES:
        return LINES[line]
    newest = max(LINES.values(), key=lambda known: known.key)
    if key[:2] > newest.key and not is_plain_release(version):
        return DjangoLine(line, version.split(SOURCE_SEPARATOR, 1)[0], newest.pythons, newest.shim_pythons)
    raise MigbenchError(
        "unknown Django version %s; migbench knows %s" % (version.split(SOURCE_SEPARATOR, 1)[0], ", ".join(LINES))
    )


def needs_shim(line: DjangoLine, python_minor: str) -> bool:
    """True when `line` runs on Python `python_minor` only with the compatibility shim."""
    return line.needs_shim(python_minor)
