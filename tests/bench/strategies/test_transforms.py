"""Transformations (bench/strategies/transforms/) and the graph worker, on real small projects in real
environments: every transformed project must migrate from empty to the original's schema.

Porting, dependency rewriting and report plumbing are also unit-tested on synthetic text."""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path

import pytest

from migbench.bench.engines.schema import diff
from migbench.bench.engines.sqlite import SqliteEngine, snapshot
from migbench.bench.env.child import ProjectRunner
from migbench.bench.env.environments import Environment
from migbench.bench.strategies.transforms import (TRANSFORMS, AppResult, PortingError, TransformReport,
                                                  graph_info, graph_reason, port_functions,
                                                  referenced_modules, remove_replaces, rewrite_dependencies,
                                                  transform)
from migbench.errors import MigbenchError
from migbench.generator import build_project, write_project
from migbench.generator.scenario import resolve_scenario
from migbench.targets import resolve_line

pytestmark = pytest.mark.xdist_group("test_transforms")


def shrunk(name: str, apps: int, migrations: int, **history):
    scenario = resolve_scenario(name)
    g = scenario.generator
    g = replace(g, apps=apps, models_per_app=(2, 3),
                history=replace(g.history, migrations_per_app=(migrations, migrations), data_rows=(2, 3), **history))
    return replace(scenario, generator=g)


def generate(tmp_path_factory, name: str, line: str, apps: int, migrations: int) -> Path:
    project = build_project(shrunk(name, apps, migrations), resolve_line(line))
    return write_project(project, tmp_path_factory.mktemp("project") / ("%s-%s" % (name, line)))


def schema_after_migrate(project: Path, env: Environment, database: Path):
    step = ProjectRunner(project, env.python, SqliteEngine().at(database)).manage("migrate", "migrate", "--noinput", "-v", "0")
    assert step.ok, step.output
    return snapshot(database)


def assert_same_schema(original: Path, transformed: Path, env: Environment, tmp_path: Path) -> None:
    baseline = schema_after_migrate(original, env, tmp_path / "original.sqlite3")
    candidate = schema_after_migrate(transformed, env, tmp_path / "transformed.sqlite3")
    assert diff(baseline, candidate) == [], [d.line() for d in diff(baseline, candidate)]


def assert_makemigrations_clean(project: Path, env: Environment, tmp_path: Path) -> None:
    runner = ProjectRunner(project, env.python, SqliteEngine().at(tmp_path / "check.sqlite3"))
    if resolve_line(env.django_version).has_makemigrations_check:
        step = runner.manage("check", "makemigrations", "--check", "--dry-run")
        assert step.ok, step.output
    else:
        step = runner.manage("check", "makemigrations", "--dry-run")
        assert step.ok and "No changes detected" in step.output, step.output


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def status(report: TransformReport) -> dict[str, str]:
    return {a.app: a.status for a in report.apps}


@pytest.fixture(scope="module")
def history52(tmp_path_factory):
    """long-history shrunk to 3 apps x 6 migrations: RunPython, RunSQL, cross-app dependencies."""
    return generate(tmp_path_factory, "long-history", "5.2", 3, 6)


@pytest.fixture(scope="module")
def quick18(tmp_path_factory):
    return generate(tmp_path_factory, "quick", "1.8", 3, 4)


# -- graph.py -----------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("line", ["1.8", "6.0"])
def test_graph_worker(line, environment_for, tmp_path_factory):
    env = environment_for(line)
    project = generate(tmp_path_factory, "quick", line, 3, 4)
    labels = json.loads((project / "migbench.json").read_text())["apps"]
    info = graph_info(project, env)
    assert info["ok"] and info["django"] == env.django_version
    assert set(labels) <= set(info["apps"]) and {"contenttypes", "auth"} <= set(info["apps"])
    on_disk = sorted(p.stem for label in labels for p in (project / "apps" / label / "migrations").glob("0*.py"))
    ours = [n for a, n in info["plan"] if a in labels]
    assert sorted(ours) == on_disk and len(set(map(tuple, info["plan"]))) == len(info["plan"])
    for app in info["apps"]:  # a plan never runs a migration before its own app's predecessor
        names = [n for a, n in info["plan"] if a == app]
        assert names == sorted(names)
    assert all(info["operations"]["%s.%s" % (a, n)] >= 1 for a, n in info["plan"] if a in labels)
    assert {tuple(leaf) for leaf in info["leaves"]} >= {(a, [n for x, n in info["plan"] if x == a][-1]) for a in labels}
    assert info["replaces"] == {}
    assert len(set(info["apps"])) == len(info["apps"])


@pytest.mark.e2e
def test_graph_worker_crash_is_one_line(tmp_path_factory, environment_for):
    env = environment_for("5.2")
    project = generate(tmp_path_factory, "quick", "5.2", 2, 2)
    label = json.loads((project / "migbench.json").read_text())["apps"][0]
    (project / "apps" / label / "migrations" / "0009_broken.py").write_text("x = apps.a.migrations.0001_x.f\n")
    with pytest.raises(MigbenchError) as caught:
        graph_info(project, env)
    assert "SyntaxError" in str(caught.value) and "\n" not in str(caught.value)


# -- zero -----------------------------------------------------------------------------------


@pytest.mark.e2e
def test_zero_on_52(history52, environment_for, tmp_path):
    env = environment_for("5.2")
    dest = tmp_path / "zero"
    report = transform("zero", history52, dest, env, on_note=lambda _: None)
    assert set(status(report).values()) == {"regenerated"} and not report.failed()
    assert report.migrations_after < report.migrations_before
    assert any(n.startswith("zero drops ") and "RunPython" in n for n in report.notes)
    assert sum(1 for a in report.apps if a.reason.startswith("data operations dropped:")) >= 1
    info = graph_info(history52, env)  # every RunPython/RunSQL of the old history is a listed loss
    assert len(report.losses) == sum(n for key, counts in info["data_operations"].items()
                                     if key.split(".", 1)[0] in status(report) for n in counts.values())
    assert {loss["operation"] for loss in report.losses} == {"RunPython", "RunSQL"}
    assert all(loss["name"] and isinstance(loss["reversible"], bool) for loss in report.losses)
    for result in report.apps:
        files = sorted(p.name for p in (dest / "apps" / result.app / "migrations").glob("*.py"))
        assert "0001_initial.py" in files and len(files) - 1 == result.migrations_after == result.files_after
        assert result.operations_after >= 1
    assert_makemigrations_clean(dest, env, tmp_path)
    assert_same_schema(history52, dest, env, tmp_path)


@pytest.mark.e2e
def test_zero_on_18_python27(quick18, environment_for, tmp_path):
    env = environment_for("1.8")
    dest = tmp_path / "zero"
    report = transform("zero", quick18, dest, env, on_note=lambda _: None)
    assert report.django_version.startswith("1.8.") and not report.failed()
    assert set(status(report).values()) == {"regenerated"}
    assert_makemigrations_clean(dest, env, tmp_path)
    assert_same_schema(quick18, dest, env, tmp_path)


# -- squash and squash-final -----------------------------------------------------------------------


@pytest.mark.e2e
def test_squash_ports_runpython_and_keeps_the_schema(history52, environment_for, tmp_path):
    env = environment_for("5.2")
    dest = tmp_path / "squash"
    notes = []
    report = transform("squash", history52, dest, env, on_note=notes.append)
    squashed = [a for a in report.apps if a.status == "squashed"]
    assert squashed, [(a.app, a.status, a.reason) for a in report.apps]
    assert any(a.reason.startswith("RunPython functions ported: ") for a in squashed)
    for result in report.apps:  # every app is accounted for, and a failure says why
        assert result.status in ("squashed", "failed", "unchanged")
        if result.status == "failed":
            assert result.reason and "\n" not in result.reason
            assert tree(dest / "apps" / result.app / "migrations") == tree(
                history52 / "apps" / result.app / "migrations")
    info = graph_info(dest, env)
    for result in squashed:
        assert result.migrations_after == 1 and result.files_after == result.files_before + 1
        (key,) = [k for k in info["replaces"] if k.startswith(result.app + ".")]
        text = (dest / "apps" / result.app / "migrations" / (key.split(".", 1)[1] + ".py")).read_text()
        assert ".migrations.0" not in text.split("# Ported from")[-1].split("class Migration")[1]
        assert "replaces = [" in text
        ast.parse(text)
    assert report.migrations_after == sum(a.migrations_after for a in report.apps) < report.migrations_before
    assert report.wall_s > 0 and any(n.startswith("squash: ") for n in report.notes) and notes
    assert_makemigrations_clean(dest, env, tmp_path)
    assert_same_schema(history52, dest, env, tmp_path)


@pytest.mark.e2e
def test_squash_final_removes_replaced_migrations(history52, environment_for, tmp_path):
    env = environment_for("5.2")
    dest = tmp_path / "final"
    report = transform("squash-final", history52, dest, env, on_note=lambda _: None)
    squashed = [a for a in report.apps if a.status == "squashed"]
    assert squashed, [(a.app, a.status, a.reason) for a in report.apps]
    info = graph_info(dest, env)
    assert info["replaces"] == {}
    for result in squashed:
        files = sorted(p.stem for p in (dest / "apps" / result.app / "migrations").glob("0*.py"))
        assert len(files) == 1 and "_squashed_" in files[0] and result.files_after == 1
        assert "replaces" not in (dest / "apps" / result.app / "migrations" / (files[0] + ".py")).read_text()
    assert_makemigrations_clean(dest, env, tmp_path)
    assert_same_schema(history52, dest, env, tmp_path)


# A project written by hand: app001.0002 depends on app002.0001, which depends on
# app001.0001, so a squash of app001 makes a cycle; app001.0003 has a RunPython with
# optimizable field operations (optimizemigration has to port its function). app003 squashes
# into CreateModel(unique_together) + RunPython + AlterUniqueTogether(set()), which the
# optimizer cannot merge across the RunPython and which cannot migrate: CreateModel defers
# the unique index to the end of the migration, so the AlterUniqueTogether finds nothing.
MODELS = {
    "app003": '''from django.db import models


class Tag(models.Model):
    name = models.CharField(max_length=20)
    kind = models.CharField(max_length=20)
''',
    "app001": '''from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=50)
    favorite = models.ForeignKey("app002.Book", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rank = models.IntegerField(default=0)
''',
    "app002": '''from django.db import models


class Book(models.Model):
    title = models.CharField(max_length=50)
    author = models.ForeignKey("app001.Author", on_delete=models.CASCADE)
''',
}
ID = "('id', models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID'))"
MIGRATIONS = {
    "app001/0001_initial": '''from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(name='Author', fields=[%s, ('name', models.CharField(max_length=50))]),
    ]
''' % ID,
    "app002/0001_initial": '''from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    initial = True
    dependencies = [('app001', '0001_initial')]
    operations = [
        migrations.CreateModel(name='Book', fields=[%s, ('title', models.CharField(max_length=50)),
            ('author', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='app001.author'))]),
    ]
''' % ID,
    "app001/0002_author_favorite": '''from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    dependencies = [('app001', '0001_initial'), ('app002', '0001_initial')]
    operations = [
        migrations.AddField(model_name='author', name='favorite', field=models.ForeignKey(
            blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='app002.book')),
    ]
''',
    "app003/0001_initial": '''from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(name='Tag', fields=[%s, ('name', models.CharField(max_length=20)),
            ('kind', models.CharField(max_length=20))], options={'unique_together': {('name', 'kind')}}),
    ]
''' % ID,
    "app003/0002_touch": '''from django.db import migrations


def touch(apps, schema_editor):
    apps.get_model("app003", "Tag").objects.create(name="a", kind="b")


class Migration(migrations.Migration):
    dependencies = [('app003', '0001_initial')]
    operations = [migrations.RunPython(touch, migrations.RunPython.noop)]
''',
    "app003/0003_drop_unique": '''from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [('app003', '0002_touch')]
    operations = [migrations.AlterUniqueTogether(name='tag', unique_together=set())]
''',
    "app001/0003_author_rank": '''from django.db import migrations, models

NAMES = ["Ada", "Grace"]


def add_authors(apps, schema_editor):
    Author = apps.get_model("app001", "Author")
    Author.objects.bulk_create([Author(name=name) for name in NAMES])


class Migration(migrations.Migration):
    dependencies = [('app001', '0002_author_favorite')]
    operations = [
        migrations.AddField(model_name='author', name='rank', field=models.IntegerField(default=1)),
        migrations.AlterField(model_name='author', name='rank', field=models.IntegerField(default=0)),
        migrations.RunPython(add_authors, migrations.RunPython.noop),
    ]
''',
}


def write_handmade(folder: Path, line: str, models: dict, migrations: dict) -> Path:
    """A generated project (settings, manage.py, manifest) whose apps app001... are written by hand."""
    scenario = resolve_scenario("quick")
    g = replace(scenario.generator, apps=len(models), names="plain", models_per_app=(1, 1),
                history=replace(scenario.generator.history, migrations_per_app=(1, 1)))
    project = build_project(replace(scenario, generator=g), resolve_line(line))
    assert project.app_labels == sorted(models)
    files = {k: v for k, v in project.files.items() if not k.endswith("0001_initial.py")}
    files.update({"apps/%s/models.py" % app: text for app, text in models.items()})
    files.update({"apps/%s.py" % name.replace("/", "/migrations/"): text for name, text in migrations.items()})
    project.files.clear()
    project.files.update(files)
    return write_project(project, folder)


@pytest.fixture(scope="module")
def handmade(tmp_path_factory):
    return write_handmade(tmp_path_factory.mktemp("handmade") / "project", "5.2", MODELS, MIGRATIONS)


@pytest.mark.e2e
def test_failed_squashes_are_reported_and_the_app_left_as_it_was(handmade, environment_for, tmp_path):
    env = environment_for("5.2")
    dest = tmp_path / "squash"
    report = transform("squash", handmade, dest, env, on_note=lambda _: None)
    assert status(report) == {"app001": "failed", "app002": "unchanged", "app003": "failed"}
    cycle, deferred = report.failed()
    assert cycle.reason.startswith("circular dependency with app 'app002': ")
    assert "app001.0001_squashed_0003_author_rank" in cycle.reason and "app002.0001_initial" in cycle.reason
    assert cycle.migrations_after == cycle.migrations_before == 3
    assert deferred.reason == ("the squashed migration does not migrate: ValueError: "
                               "Found wrong number (0) of constraints for app003_tag(name, kind)")
    assert deferred.migrations_after == deferred.migrations_before == 3
    for app in ("app001", "app003"):
        assert tree(dest / "apps" / app) == tree(handmade / "apps" / app)
    assert report.apps[1].reason == "1 migration: nothing to squash"
    assert report.migrations_after == report.migrations_before == 7
    # squash-final goes on from the same failures and changes nothing either
    final = transform("squash-final", handmade, tmp_path / "final", env, on_note=lambda _: None)
    assert status(final) == status(report) and tree(tmp_path / "final" / "apps") == tree(handmade / "apps")


@pytest.mark.e2e
def test_optimize_on_52(history52, environment_for, tmp_path):
    env = environment_for("5.2")
    dest = tmp_path / "optimize"
    report = transform("optimize", history52, dest, env, on_note=lambda _: None)
    assert not report.failed() and "optimized" in status(report).values()
    for result in report.apps:
        assert result.operations_after <= result.operations_before
        assert (result.operations_after < result.operations_before) == (result.status == "optimized")
        assert result.migrations_after == result.migrations_before
    assert_makemigrations_clean(dest, env, tmp_path)
    assert_same_schema(history52, dest, env, tmp_path)


@pytest.mark.e2e
def test_optimize_ports_runpython_in_place(handmade, environment_for, tmp_path):
    env = environment_for("5.2")
    dest = tmp_path / "optimize"
    report = transform("optimize", handmade, dest, env, on_note=lambda _: None)
    app001 = report.apps[[a.app for a in report.apps].index("app001")]
    assert app001.status == "optimized" and app001.reason == "RunPython functions ported: 1"
    assert app001.operations_before - app001.operations_after == 1
    folder = dest / "apps" / "app001" / "migrations"
    assert sorted(p.name for p in folder.glob("0*.py")) == sorted(p.name for p in (
        handmade / "apps" / "app001" / "migrations").glob("0*.py"))
    text = (folder / "0003_author_rank.py").read_text()
    assert "def add_authors_0003(" in text and "NAMES_0003 = " in text and "replaces" not in text
    assert_same_schema(handmade, dest, env, tmp_path)
    database = tmp_path / "rows.sqlite3"
    schema_after_migrate(dest, env, database)
    import sqlite3
    with sqlite3.connect(str(database)) as connection:  # the ported data migration still runs
        assert connection.execute("SELECT name FROM app001_author ORDER BY id").fetchall() == [("Ada",), ("Grace",)]


def test_optimize_refuses_django_before_41(tmp_path):
    env = Environment(tmp_path / "env", tmp_path / "env" / "bin" / "python", "3.9.18", "2.2.28")
    with pytest.raises(MigbenchError) as caught:
        transform("optimize", tmp_path / "project", tmp_path / "dest", env)
    assert str(caught.value) == "optimizemigration needs Django >= 4.1; Django 2.2.28 lacks it"
    assert not (tmp_path / "dest").exists()


def test_unusable_input_is_one_line(history52, tmp_path):
    env = Environment(tmp_path / "env", tmp_path / "env" / "bin" / "python", "3.11.7", "5.2.19")
    for kind, source, dest, words in [
        ("rebase", history52, tmp_path / "a", "unknown transformation 'rebase'"),
        ("zero", tmp_path, tmp_path / "b", "not a migbench project"),
        ("zero", history52, history52, "already exists"),
    ]:
        with pytest.raises(MigbenchError) as caught:
            transform(kind, source, dest, env)
        assert words in str(caught.value) and "\n" not in str(caught.value)
    assert TRANSFORMS == ("squash", "squash-final", "zero", "optimize")


# Django 1.8 on Python 2.7, by hand. app001 squashes into CreateModel(Post with an M2M),
# RunPython, AddField(Post.rank): 1.8 (to 1.11) on SQLite rebuilds app001_post for the
# AddField and drops the deferred SQL mentioning "app001_post", the M2M table's indexes
# included; the original migrations have them. app002's squash ports a function whose rows
# hold non-ASCII text: the written file must import on Python 2.7.
MODELS_18 = {
    "app001": '''from django.db import models


class Tag(models.Model):
    name = models.CharField(max_length=20)


class Post(models.Model):
    title = models.CharField(max_length=20)
    tags = models.ManyToManyField(Tag)
    rank = models.IntegerField(default=0)
''',
    "app002": '''from django.db import models


class Item(models.Model):
    name = models.CharField(max_length=20)
    rank = models.IntegerField(default=0)
''',
}
ID_18 = "('id', models.AutoField(verbose_name='ID', serialize=False, auto_created=True, primary_key=True))"
HEAD_18 = "# -*- coding: utf-8 -*-\nfrom __future__ import unicode_literals\n\nfrom django.db import migrations, models\n"
MIGRATIONS_18 = {
    "app001/0001_initial": HEAD_18 + '''

class Migration(migrations.Migration):
    dependencies = []
    operations = [
        migrations.CreateModel(name='Tag', fields=[%s, ('name', models.CharField(max_length=20))]),
        migrations.CreateModel(name='Post', fields=[%s, ('title', models.CharField(max_length=20)),
                                                    ('tags', models.ManyToManyField(to='app001.Tag'))]),
    ]
''' % (ID_18, ID_18),
    "app001/0002_touch": HEAD_18 + '''

def touch(apps, schema_editor):
    apps.get_model('app001', 'Tag').objects.create(name='x')


class Migration(migrations.Migration):
    dependencies = [('app001', '0001_initial')]
    operations = [migrations.RunPython(touch)]
''',
    "app001/0003_post_rank": HEAD_18 + '''

class Migration(migrations.Migration):
    dependencies = [('app001', '0002_touch')]
    operations = [migrations.AddField(model_name='post', name='rank', field=models.IntegerField(default=0))]
''',
    "app002/0001_initial": HEAD_18 + '''

class Migration(migrations.Migration):
    dependencies = []
    operations = [migrations.CreateModel(name='Item', fields=[%s, ('name', models.CharField(max_length=20))])]
''' % ID_18,
    "app002/0002_items": HEAD_18 + '''
ROWS = [{'name': 'Zoë'}, {'name': 'Ørsted'}]


def add_items(apps, schema_editor):
    Item = apps.get_model('app002', 'Item')
    Item.objects.bulk_create([Item(**row) for row in ROWS])


class Migration(migrations.Migration):
    dependencies = [('app002', '0001_initial')]
    operations = [migrations.RunPython(add_items)]
''',
    "app002/0003_item_rank": HEAD_18 + '''

class Migration(migrations.Migration):
    dependencies = [('app002', '0002_items')]
    operations = [migrations.AddField(model_name='item', name='rank', field=models.IntegerField(default=0))]
''',
}


@pytest.mark.e2e
def test_squash_on_18_python27_ports_and_refuses_another_schema(environment_for, tmp_path):
    env = environment_for("1.8")
    source = write_handmade(tmp_path / "project", "1.8", MODELS_18, MIGRATIONS_18)
    dest = tmp_path / "squash"
    report = transform("squash", source, dest, env, on_note=lambda _: None)
    assert report.python_version.startswith("2.7.") and status(report) == {"app001": "failed", "app002": "squashed"}
    (failed,) = report.failed()
    assert failed.reason.startswith(
        "the squashed migration migrates to another schema: index on app001_post_tags(post_id) missing: ")
    assert failed.reason.endswith(" (2 difference(s))") and failed.migrations_after == 3
    assert tree(dest / "apps" / "app001") == tree(source / "apps" / "app001")
    assert report.apps[1].reason == "RunPython functions ported: 1"
    squashed = (dest / "apps" / "app002" / "migrations" / "0001_squashed_0003_item_rank.py").read_text(encoding="utf-8")
    assert "ROWS_0002 = [{'name': 'Zoë'}" in squashed and "code=add_items_0002" in squashed
    assert_same_schema(source, dest, env, tmp_path)
    database = tmp_path / "rows.sqlite3"
    schema_after_migrate(dest, env, database)
    import sqlite3
    with sqlite3.connect(str(database)) as connection:  # the ported function ran on Python 2.7
        assert connection.execute("SELECT name FROM app002_item ORDER BY id").fetchall() == [("Zoë",), ("Ørsted",)]


# -- units ----------------------------------------------------------------------------------------

FIRST = '''# -*- coding: utf-8 -*-
from __future__ import unicode_literals

from django.db import migrations, models
import django.db.models.functions
import uuid

ROWS = [{'name': 'Zoë', 'key': uuid.UUID('00000000-0000-0000-0000-000000000001')}]
UNUSED = [1, 2, 3]


def helper(rows):
    return [dict(row) for row in rows]


def forwards(apps, schema_editor):
    Model = apps.get_model('shop', 'Item')
    Model.objects.bulk_create([Model(**row) for row in helper(ROWS)])
    Model.objects.update(name=django.db.models.functions.Upper('name'))


def backwards(apps, schema_editor, ROWS=None):
    ROWS = ROWS or []  # a local that shadows the module's ROWS: not renamed
    return ROWS


class Migration(migrations.Migration):
    operations = [migrations.RunPython(forwards, backwards)]
'''
SECOND = '''from django.db import migrations
from decimal import Decimal

ROWS = [{'price': Decimal('1.50')}]


def forwards(apps, schema_editor):
    apps.get_model('shop', 'Item').objects.bulk_create([apps.get_model('shop', 'Item')(**r) for r in ROWS])


class Migration(migrations.Migration):
    operations = [migrations.RunPython(forwards)]
'''
SQUASHED = '''# Generated by Django 5.2 on 2026-01-01 00:00

import datetime
from django.db import migrations, models


# Functions from the following migrations need manual copying.
# Move them and any dependencies into this file, then update the
# RunPython operations to refer to the local versions:
# apps.shop.migrations.0002_first
# apps.shop.migrations.0003_second

class Migration(migrations.Migration):

    replaces = [('shop', '0001_initial'), ('shop', '0002_first'), ('shop', '0003_second')]

    dependencies = [
        ('other', '0004_x'),
    ]

    operations = [
        migrations.RunPython(
            code=apps.shop.migrations.0002_first.forwards,
            reverse_code=apps.shop.migrations.0002_first.backwards,
        ),
        migrations.RunPython(
            code=apps.shop.migrations.0003_second.forwards,
        ),
    ]
'''
SOURCES = {"apps.shop.migrations.0002_first": FIRST, "apps.shop.migrations.0003_second": SECOND}


def test_porting_copies_functions_and_what_they_use_under_distinct_names():
    text, count = port_functions(SQUASHED, SOURCES)
    assert count == 3
    compile(text, "squashed.py", "exec")
    assert "code=forwards_0002," in text and "reverse_code=backwards_0002," in text and "code=forwards_0003," in text
    assert "ROWS_0002 = [{'name': 'Zoë'" in text and "ROWS_0003 = [{'price': Decimal('1.50')}]" in text
    assert "for row in helper_0002(ROWS_0002)" in text and "def helper_0002(rows):" in text
    assert "for r in ROWS_0003" in text
    assert "UNUSED" not in text and ".migrations.0" not in text.split("class Migration")[1]
    assert "    ROWS = ROWS or []" in text and "return ROWS\n" in text  # the local stays local
    for line in ("import django.db.models.functions", "import uuid", "from decimal import Decimal"):
        assert text.count(line + "\n") == 1, line
    assert text.count("from django.db import migrations") == 1  # already bound the same way
    assert text.startswith("# -*- coding: utf-8 -*-\n")  # non-ASCII copied in: Python 2 needs it
    assert "from __future__ import unicode_literals\n" in text  # the source's, for Python 2
    assert "need manual copying" not in text and "# apps.shop.migrations.0003_second" in text


def test_ported_code_runs():
    text, _ = port_functions(SQUASHED, SOURCES)
    namespace = {}
    exec(compile(text.split("class Migration")[0], "squashed.py", "exec"), namespace)
    assert namespace["helper_0002"]([{"a": 1}]) == [{"a": 1}]
    assert namespace["backwards_0002"](None, None) == []


def test_porting_names_clash_on_equal_numbers_and_refuses_what_it_cannot_do():
    squashed = SQUASHED.replace("0003_second", "0002_second")
    sources = {"apps.shop.migrations.0002_first": FIRST, "apps.shop.migrations.0002_second": SECOND}
    text, _ = port_functions(squashed, sources)
    assert "def forwards_0002_first(" in text and "def forwards_0002_second(" in text
    with pytest.raises(PortingError, match="no top-level"):
        port_functions(SQUASHED, {**SOURCES, "apps.shop.migrations.0003_second": "X = 1\n"})
    clash = SQUASHED.replace("import datetime", "from other import Decimal")
    with pytest.raises(PortingError, match="binds otherwise"):
        port_functions(clash, SOURCES)
    counter = "N = 0\n\n\ndef forwards(apps, schema_editor):\n    global N\n    N += 1\n"
    with pytest.raises(PortingError, match="uses `global N`"):
        port_functions(SQUASHED, {**SOURCES, "apps.shop.migrations.0003_second": counter})


def test_only_the_modules_django_lists_are_ported():
    assert referenced_modules(SQUASHED) == sorted(SOURCES)
    # a string that looks like a migration reference is not one
    assert referenced_modules("    default='www.3com.example.org',\n") == []


def test_rewrite_dependencies_and_remove_replaces():
    mapping = {("shop", "0001_initial"): ("shop", "0001_squashed_0003_second"),
               ("shop", "0003_second"): ("shop", "0001_squashed_0003_second")}
    text = '''from django.conf import settings
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("shop", "0001_initial"),
        ('other', '0002_x'),
        ('shop', '0003_second'),
    ]
    run_before = [('shop', '0003_second')]

    operations = []
'''
    new = rewrite_dependencies(text, mapping)
    assert '''    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('shop', '0001_squashed_0003_second'),
        ('other', '0002_x'),
    ]
    run_before = [('shop', '0001_squashed_0003_second')]
''' in new
    assert rewrite_dependencies(new, mapping) == new
    assert rewrite_dependencies(text, {}) == text
    removed = remove_replaces(SQUASHED)
    assert "replaces" not in removed and "    dependencies = [" in removed
    assert "class Migration(migrations.Migration):\n\n    dependencies" in removed
    assert remove_replaces(removed) == removed


def test_cycle_reason_names_the_other_app():
    error = "CircularDependencyError: put.0004_b, mouth.0001_squashed_0005_c, put.0003_a"
    assert graph_reason(error, "mouth") == (
        "circular dependency with app 'put': mouth.0001_squashed_0005_c -> put.0003_a -> put.0004_b")
    assert graph_reason("SyntaxError: invalid decimal literal (x.py, line 3)", "a").startswith(
        "the squashed migration does not import: SyntaxError")


def test_report_round_trip():
    report = TransformReport("squash", "5.2.19", "3.11.7", 1.5,
                             [AppResult("a", "squashed", "RunPython functions ported: 2", 6, 1, 10, 8, 6, 7),
                              AppResult("b", "failed", "circular dependency with app 'a': x", 3, 3)],
                             9, 4, ["squash: 1 failed, 1 squashed of 2 apps"])
    data = json.loads(json.dumps(report.to_dict()))
    again = TransformReport.from_dict(data)
    assert again == report and [a.app for a in again.failed()] == ["b"]
    assert TransformReport.from_dict({**data, "future_key": 1}) == report
    assert data["losses"] == [] and data["apps"][0]["outside_dependents"] == []
    older = {k: v for k, v in data.items() if k != "losses"}  # a record from before losses existed
    older["apps"] = [{k: v for k, v in a.items() if k != "outside_dependents"} for a in data["apps"]]
    assert TransformReport.from_dict(older) == report
