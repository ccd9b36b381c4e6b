"""Tests for bench/measure/worker/write_rows.py (the post-migrate write probe).

A small hand-written Django project is generated in a temporary directory,
``makemigrations`` + ``migrate`` are run in a child process with the current
interpreter's Django, then write_rows.py is run in a child process too.

``build_project`` writes code that stays valid on Python 2.7 and Django 1.8,
so the same project can be used to check the probe in old target
environments by hand.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("test_write_rows")]

pytest.importorskip("django")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
WRITE_ROWS = os.path.join(REPO, "bench", "measure", "worker", "write_rows.py")

SETTINGS = '''\
import os
BASE_DIR = os.path.dirname(os.path.abspath(__file__))
SECRET_KEY = "write-rows-test"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "catalog.apps.CatalogConfig",
    "people",
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(BASE_DIR, "db.sqlite3"),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
'''

SETTINGS_NAIVE = '''\
from settings import *  # noqa
USE_TZ = False
'''

MANAGE = '''\
import os, sys
if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
'''

CATALOG_APPS = '''\
from django.apps import AppConfig

LEGACY_ALTER_TABLE = %(legacy)r


def _legacy_alter_table(sender, connection, **kwargs):
    # Django 1.9-1.11 rename the old table to <table>__old when remaking it;
    # SQLite >= 3.26 then rewrites other tables' FKs to point at it.
    if connection.vendor == "sqlite":
        connection.cursor().execute("PRAGMA legacy_alter_table = ON")


class CatalogConfig(AppConfig):
    name = "catalog"

    def ready(self):
        if LEGACY_ALTER_TABLE:
            from django.db.backends.signals import connection_created
            connection_created.connect(_legacy_alter_table)
'''

CATALOG_MODELS = '''\
from __future__ import unicode_literals

from django.db import models
from django.db.models import Q


def _check(q, name):
    try:
        return models.CheckConstraint(condition=q, name=name)  # Django >= 5.1
    except TypeError:
        return models.CheckConstraint(check=q, name=name)


class Stamped(models.Model):
    created = models.DateTimeField(auto_now_add=True)
    label = models.CharField(max_length=30)

    class Meta:
        abstract = True


class Scalars(Stamped):
    char = models.CharField(max_length=5)
    slug = models.SlugField(unique=True)
    email = models.EmailField()
    url = models.URLField()
    text = models.TextField()
    integer = models.IntegerField()
    big = models.BigIntegerField()
    positive = models.PositiveIntegerField()
    small = models.SmallIntegerField()
    positive_small = models.PositiveSmallIntegerField()
    flt = models.FloatField()
    dec = models.DecimalField(max_digits=5, decimal_places=2)
    tiny_dec = models.DecimalField(max_digits=2, decimal_places=2)
    flag = models.BooleanField()
    day = models.DateField()
    moment = models.DateTimeField()
    clock = models.TimeField()
    span = models.DurationField()
    token = models.UUIDField()
    ip = models.GenericIPAddressField()
    blob = models.BinaryField()
    status = models.CharField(max_length=1, choices=[("a", "A"), ("b", "B")])
    optional = models.IntegerField(null=True)
    defaulted = models.IntegerField(default=7)
    code = models.CharField(max_length=10, unique=True, default="x")
    if hasattr(models, "JSONField"):
        data = models.JSONField()
    if hasattr(models, "PositiveBigIntegerField"):
        huge = models.PositiveBigIntegerField()

    class Meta:
        if hasattr(models, "CheckConstraint"):
            constraints = [_check(Q(integer__gte=0), "scalars_integer_gte_0")]


class Author(models.Model):
    name = models.CharField(max_length=50)
    team = models.CharField(max_length=20, default="core")

    class Meta:
        unique_together = [("name", "team")]


class AuthorProxy(Author):
    class Meta:
        proxy = True


class Tag(models.Model):
    slug = models.SlugField(max_length=8, unique=True)


class Isbn(models.Model):
    code = models.CharField(max_length=13, primary_key=True)


class Book(Stamped):
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    editor = models.ForeignKey(Author, null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="edited")
    fan = models.ForeignKey(AuthorProxy, null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="fan_of")
    parent = models.ForeignKey("self", null=True, blank=True,
                               on_delete=models.CASCADE, related_name="children")
    isbn = models.OneToOneField(Isbn, on_delete=models.CASCADE)
    tags = models.ManyToManyField(Tag, related_name="books")
    members = models.ManyToManyField(Tag, through="Membership", related_name="member_books")
    qty = models.PositiveIntegerField()

    class Meta:
        if hasattr(models, "CheckConstraint"):
            constraints = [_check(Q(qty__gte=0), "book_qty_gte_0")]


class Membership(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)
    role = models.CharField(max_length=10)

    class Meta:
        unique_together = [("book", "tag")]
        if hasattr(models, "UniqueConstraint"):
            constraints = [models.UniqueConstraint(fields=["role", "tag"], name="uniq_role_tag")]


class Place(models.Model):
    name = models.CharField(max_length=20, unique=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="places")


class Restaurant(Place):
    serves_pizza = models.BooleanField()
    chef = models.OneToOneField(Author, null=True, blank=True, on_delete=models.SET_NULL)
    rating = models.DecimalField(max_digits=3, decimal_places=1, default=0)


class Egg(models.Model):
    hen = models.ForeignKey("Hen", on_delete=models.CASCADE)


class Hen(models.Model):
    first_egg = models.ForeignKey(Egg, null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
'''

PEOPLE_MODELS = '''\
from __future__ import unicode_literals

import uuid

from django.conf import settings
from django.db import models


class Person(models.Model):
    uid = models.UUIDField(primary_key=True, default=uuid.uuid4)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    favourite = models.ForeignKey("catalog.Book", on_delete=models.PROTECT)
    mentor = models.ForeignKey("self", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="mentees")
    friends = models.ManyToManyField("self", blank=True)


class Unmanaged(models.Model):
    x = models.IntegerField()

    class Meta:
        managed = False
        db_table = "nowhere"


if hasattr(models, "BigAutoField"):
    class Big(models.Model):
        id = models.BigAutoField(primary_key=True)
        note = models.CharField(max_length=5)
'''


def build_project(root, legacy_alter_table=False):
    """Write the test project into ``root`` (settings module: ``settings``)."""
    files = {
        "settings.py": SETTINGS,
        "settings_naive.py": SETTINGS_NAIVE,
        "manage.py": MANAGE,
        "catalog/__init__.py": "",
        "catalog/apps.py": CATALOG_APPS % {"legacy": bool(legacy_alter_table)},
        "catalog/models.py": CATALOG_MODELS,
        "catalog/migrations/__init__.py": "",
        "people/__init__.py": "",
        "people/models.py": PEOPLE_MODELS,
        "people/migrations/__init__.py": "",
    }
    for rel, text in files.items():
        path = os.path.join(str(root), rel)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, "w") as fh:
            fh.write(text)


def _run(args, cwd, python=None):
    proc = subprocess.run(
        [python or sys.executable] + list(args),
        cwd=str(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=120,
        env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"),
    )
    return proc


def _write_rows(project, settings="settings", apps=None):
    args = [WRITE_ROWS, "--project", str(project), "--settings", settings]
    if apps:
        args += ["--apps", apps]
    proc = _run(args, cwd=project)
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr
    return proc.returncode, json.loads(lines[-1]), proc.stderr


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("wr_project")
    build_project(root)
    for cmd in (["makemigrations", "catalog", "people"], ["migrate", "--noinput"]):
        proc = _run(["manage.py"] + cmd, cwd=root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


@pytest.fixture
def project(migrated, tmp_path):
    """A private copy of the migrated project (the probe writes to its db)."""
    dest = tmp_path / "project"
    shutil.copytree(str(migrated), str(dest))
    return dest


def _expected():
    import django
    from django.db import models

    n_models, rows = 11, 21
    if hasattr(models, "BigAutoField"):
        n_models, rows = n_models + 1, rows + 1
    return n_models, rows, django.VERSION


@pytest.mark.parametrize("settings", ["settings", "settings_naive"])
def test_writes_one_row_per_model(project, settings):
    code, result, stderr = _write_rows(project, settings)
    assert result["errors"] == [], stderr
    assert result["ok"] is True
    assert code == 0
    n_models, rows, _ = _expected()
    assert result["models"] == n_models
    # objects saved (FK/O2O targets included) + auto M2M links; see write_rows.py
    assert result["rows"] == rows

    db = sqlite3.connect(str(project / "db.sqlite3"))
    try:
        def count(table):
            return db.execute("SELECT COUNT(*) FROM %s" % table).fetchone()[0]

        assert count("catalog_scalars") == 1
        assert count("catalog_book") == 2  # one probed + one fresh for Membership
        assert count("catalog_isbn") == 3  # O2O targets are never shared
        assert count("catalog_place") == 2  # Place + Restaurant's parent row
        assert count("catalog_restaurant") == 1
        assert count("catalog_book_tags") == 1
        assert count("catalog_place_tags") == 2
        assert count("auth_user") == 1  # target outside the probed apps
        # nullable FKs are exercised, the self FK points at a row
        assert db.execute("SELECT COUNT(*) FROM catalog_book WHERE editor_id IS NOT NULL "
                          "AND fan_id IS NOT NULL AND parent_id IS NOT NULL").fetchone()[0] == 2
        assert db.execute("SELECT COUNT(*) FROM catalog_restaurant "
                          "WHERE chef_id IS NOT NULL").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM people_person "
                          "WHERE mentor_id IS NOT NULL").fetchone()[0] == 1
        assert len(db.execute("SELECT char FROM catalog_scalars").fetchone()[0]) <= 5
    finally:
        db.close()


def test_second_run_on_same_database(project):
    """Unique values must not repeat across runs (the counter is seeded)."""
    for _ in range(2):
        code, result, _ = _write_rows(project, "settings_naive")
        assert (code, result["errors"]) == (0, [])


def test_apps_option_limits_scope(project):
    code, result, stderr = _write_rows(project, apps="people")
    assert (code, result["ok"]) == (0, True), result
    n_people = 2 if _expected()[0] == 12 else 1
    assert result["models"] == n_people


def test_unknown_app_is_a_setup_error(project):
    code, result, _ = _write_rows(project, apps="nope")
    assert code == 1 and result["ok"] is False
    assert result["errors"][0]["model"] == "<setup>"


def _break_fk_target(db_path, table):
    """Reproduce Django 1.9-1.11 on SQLite >= 3.26: ``table`` is remade via
    RENAME TO <table>__old, so other tables' FKs now name <table>__old, which
    is then dropped."""
    db = sqlite3.connect(str(db_path), isolation_level=None)
    try:
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("PRAGMA legacy_alter_table = OFF")
        sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                         (table,)).fetchone()[0]
        db.execute('ALTER TABLE "%s" RENAME TO "%s__old"' % (table, table))
        db.execute(sql)
        db.execute('INSERT INTO "%s" SELECT * FROM "%s__old"' % (table, table))
        db.execute('DROP TABLE "%s__old"' % table)
        fk_sql = db.execute("SELECT sql FROM sqlite_master WHERE name = 'catalog_book'").fetchone()[0]
    finally:
        db.close()
    assert "%s__old" % table in fk_sql  # the breakage really happened


def test_dangling_fk_is_reported(project):
    _break_fk_target(project / "db.sqlite3", "catalog_author")
    code, result, stderr = _write_rows(project)
    assert code == 1, result
    assert result["ok"] is False
    by_model = {}
    for err in result["errors"]:
        by_model.setdefault(err["model"], []).append(err["error"])
    assert "catalog.Book" in by_model, result
    assert any("catalog_author__old" in e for e in by_model["catalog.Book"]), by_model
    assert any(e.startswith("OperationalError:") for e in by_model["catalog.Book"]), by_model
    assert "catalog.Restaurant" in by_model  # chef O2O also pointed at author
    # unrelated models still succeed: one broken table does not hide the rest
    for ok_model in ("catalog.Scalars", "catalog.Author", "catalog.Tag", "catalog.Egg"):
        assert ok_model not in by_model


def test_missing_table_is_reported(project):
    db = sqlite3.connect(str(project / "db.sqlite3"))
    db.execute("DROP TABLE catalog_tag")  # not referenced with enforcement here
    db.commit()
    db.close()
    code, result, _ = _write_rows(project)
    assert code == 1
    models = set(err["model"] for err in result["errors"])
    assert "catalog.Tag" in models
    assert "catalog.Scalars" not in models
