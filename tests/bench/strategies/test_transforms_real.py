"""Transformations on a real-looking project (tests/data/real/transforms_project, written by hand,
not generated): own apps in a src/ layout and a MIGRATION_MODULES folder, named by the manifest's
"migrations_dirs"; a third-party app whose migration names an own app's migration. Squash and
zero change the own apps only, zero lists what it drops, the third-party app keeps loading, and
the source tree keeps its bytes and mtimes. One module fixture runs every transformation once.

The manifest and overlay helpers (read_layout, the edits, the losses line) are unit-tested too."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from migbench.bench.engines.sqlite import SqliteEngine, snapshot
from migbench.bench.env.child import ProjectRunner
from migbench.bench.measure.step import StepContext
from migbench.bench.strategies import zero as zero_strategy
from migbench.bench.strategies.transforms import graph_info, read_layout, transform
from migbench.bench.strategies.transforms.edits import add_replaces, rewrite_dependencies
from migbench.bench.strategies.transforms.graphinfo import named_from_outside
from migbench.bench.strategies.transforms.zero import losses_line
from migbench.bench.strategies.variants import REPORT
from migbench.errors import MigbenchError
from migbench.targets import resolve_line

pytestmark = pytest.mark.xdist_group("test_transforms_real")

DATA = Path(__file__).parents[2] / "data" / "real" / "transforms_project"
CATALOG, ORDERS = "src/shopsite/catalog/migrations", "src/dbmigrations/orders"
TAGGING = "vendor/tagging"


def state(folder: Path) -> dict[str, tuple]:
    """Every file's bytes and mtime, every directory's mtime (a file made and removed shows there)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        stat = path.stat()
        found[path.relative_to(folder).as_posix()] = (path.read_bytes() if path.is_file() else None, stat.st_mtime_ns)
    found["."] = (None, folder.stat().st_mtime_ns)
    return found


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def migrations(folder: Path) -> list[str]:
    return sorted(p.stem for p in folder.glob("0*.py"))


@pytest.fixture(scope="module")
def real(tmp_path_factory, environment_for):
    """The project (copied out of the repository), its state before, and each transformation's
    (dest, report), all on Django 5.2 with the original's schema migrated once."""
    env = environment_for("5.2")
    work = tmp_path_factory.mktemp("real")
    source = work / "source"
    shutil.copytree(DATA, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    before = state(source)
    database = work / "baseline.sqlite3"
    step = ProjectRunner(source, env.python, SqliteEngine().at(database)).manage("migrate", "migrate", "--noinput")
    assert step.ok, step.output
    baseline = snapshot(database)
    done = {}
    for kind in ("zero", "squash", "squash-final", "optimize"):
        dest = work / kind
        done[kind] = dest, transform(kind, source, dest, env, on_note=lambda _: None, baseline=baseline)
    return {"env": env, "source": source, "before": before, "baseline": baseline, "work": work, **done}


@pytest.mark.e2e
def test_zero_regenerates_own_apps_only_and_lists_what_it_drops(real):
    dest, report = real["zero"]
    assert [(a.app, a.status) for a in report.apps] == [("catalog", "regenerated"), ("orders", "regenerated")]
    assert migrations(dest / CATALOG) == migrations(dest / ORDERS) == ["0001_initial"]
    assert tree(dest / TAGGING) == tree(real["source"] / TAGGING)  # third-party: as it was
    assert report.to_dict()["losses"] == [
        {"app": "catalog", "migration": "0002_seed_categories", "operation": "RunPython", "name": "seed_categories",
         "reversible": True, "elidable": False},
        {"app": "catalog", "migration": "0003_product_sku", "operation": "RunPython", "name": "fill_skus",
         "reversible": False, "elidable": False},
        {"app": "catalog", "migration": "0003_product_sku", "operation": "RunSQL",
         "name": "CREATE INDEX catalog_product_name_sku ON catalog_product (name, sku)",
         "reversible": True, "elidable": False},
        {"app": "orders", "migration": "0002_order_total", "operation": "RunSQL",
         "name": "UPDATE orders_order SET total = 0 WHERE total IS NULL", "reversible": False, "elidable": False},
        {"app": "orders", "migration": "0002_order_total", "operation": "RunPython", "name": "widen_quantity",
         "reversible": True, "elidable": False},  # inside SeparateDatabaseAndState
    ]
    assert "zero drops 5 data operations of 3 migrations: 3 RunPython, 2 RunSQL (each listed in the " \
           "transform's losses)" in report.notes
    # What the losses cost the schema: the RunSQL index is gone, the column the RunPython widened
    # only on PostgreSQL is now BIGINT as its model says (a column type change).
    (schema,) = [n for n in report.notes if "another schema" in n]
    assert "(2 difference(s))" in schema and "index on catalog_product(name, sku) missing" in schema
    assert "column orders_order.quantity " in schema and "INTEGER vs BIGINT" in schema


@pytest.mark.e2e
def test_zero_keeps_the_old_names_third_party_migrations_depend_on(real):
    dest, report = real["zero"]
    catalog, orders = report.apps
    assert catalog.outside_dependents == ["tagging.0002_taggedproduct -> catalog.0003_product_sku"]
    assert orders.outside_dependents == [] and "replaces the old migrations" in catalog.reason
    text = (dest / CATALOG / "0001_initial.py").read_text()
    assert "replaces = [\n        ('catalog', '0002_seed_categories'),\n        ('catalog', '0003_product_sku'),\n" \
           "    ]" in text and text.count("initial = True") == 1 and "CreateModel(" in text
    assert "('catalog', '0001_initial')" in (dest / ORDERS / "0001_initial.py").read_text()
    info = graph_info(dest, real["env"])
    plan = ["%s.%s" % tuple(node) for node in info["plan"]]
    assert plan.index("catalog.0001_initial") < plan.index("tagging.0002_taggedproduct")


@pytest.mark.e2e
def test_zero_deploy_keeps_the_rows_of_an_app_others_name(real):
    """On a database migrated with the old history, the deploy flow clears orders' rows only:
    catalog's are what makes its new 0001_initial (which replaces them) count as applied."""
    dest, report = real["zero"]
    (dest / REPORT).write_text(json.dumps(report.to_dict()))  # as variants.ensure stores it
    assert zero_strategy.replacing_apps(dest) == ["catalog"]
    workdir = real["work"] / "deploy"
    workdir.mkdir()
    ctx = StepContext(python=real["env"].python, projects={"variant": dest, "original": real["source"]},
                      databases={}, workdir=workdir, limiter_name="none", memory_limit_bytes=None,
                      timeout_s=300, interval_s=0.05)
    notes = []
    result = zero_strategy.ZERO.deploy(ctx, SqliteEngine(), resolve_line("5.2"), ["catalog", "orders"], notes.append)
    assert result["ok"] and result["verdict"] == "nothing to do", result
    assert any("rows of catalog kept" in n for n in notes)


@pytest.mark.e2e
def test_squash_and_squash_final_change_own_apps_only(real):
    for kind in ("squash", "squash-final"):
        dest, report = real[kind]
        assert [(a.app, a.status) for a in report.apps] == [("catalog", "squashed"), ("orders", "squashed")], kind
        assert tree(dest / TAGGING) == tree(real["source"] / TAGGING)
        # the functions were found through the apps' migrations modules (src/ layout, MIGRATION_MODULES)
        assert [a.reason.split(";")[0] for a in report.apps] == [
            "RunPython functions ported: 3", "RunPython functions ported: 1"]
        assert report.losses == []
        graph_info(dest, real["env"])  # loads, third-party migration included
    dest, report = real["squash-final"]
    catalog, orders = report.apps
    assert migrations(dest / CATALOG) == ["0001_squashed_0003_product_sku"]
    assert migrations(dest / ORDERS) == ["0001_squashed_0002_order_total"]
    # tagging.0002 names catalog.0003, which the follow-up deleted: catalog's squashed migration keeps
    # `replaces`, which Django resolves that name with; orders' drops it as Django's docs say
    assert catalog.outside_dependents == ["tagging.0002_taggedproduct -> catalog.0003_product_sku"]
    assert "replaces kept: 1 migration(s) of other apps name replaced ones" in catalog.reason
    assert "replaces = [" in (dest / CATALOG / "0001_squashed_0003_product_sku.py").read_text()
    assert "replaces" not in (dest / ORDERS / "0001_squashed_0002_order_total.py").read_text()
    assert orders.outside_dependents == []


@pytest.mark.e2e
def test_optimize_rewrites_own_apps_only(real):
    dest, report = real["optimize"]
    assert [a.app for a in report.apps] == ["catalog", "orders"] and not report.failed()
    assert tree(dest / TAGGING) == tree(real["source"] / TAGGING)
    assert migrations(dest / CATALOG) == migrations(real["source"] / CATALOG)


@pytest.mark.e2e
def test_zero_fails_in_one_line_when_the_old_names_make_a_cycle(real, tmp_path):
    """catalog's models now point at tagging's TaggedProduct, whose migration names catalog's:
    the regenerated catalog.0001_initial and tagging.0002 depend on each other."""
    source = tmp_path / "source"
    shutil.copytree(real["source"], source)
    models = source / "src" / "shopsite" / "catalog" / "models.py"
    models.write_text(models.read_text() + '    featured = models.ForeignKey("tagging.TaggedProduct", null=True, '
                      'on_delete=models.SET_NULL, related_name="+")\n')
    report = transform("zero", source, tmp_path / "zero", real["env"], on_note=lambda _: None)
    assert {a.status for a in report.apps} == {"failed"} and report.losses == []
    reason = report.apps[0].reason
    assert reason.startswith("the regenerated migrations do not load: CircularDependencyError: ") and "\n" not in reason
    assert "catalog.0001_initial" in reason and "tagging.0002_taggedproduct" in reason
    assert tree(tmp_path / "zero" / "src") == tree(source / "src")  # restored byte for byte


@pytest.mark.e2e
def test_the_source_tree_keeps_its_bytes_and_mtimes(real):
    """After every transformation (and the baseline's migrate, run in it), nothing was written."""
    after = state(real["source"])
    assert sorted(after) == sorted(real["before"])
    changed = [name for name in after if after[name] != real["before"][name]]
    assert changed == []


# -- units: the manifest, the edits, the losses line ---------------------------------------------


def write_manifest(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "migbench.json").write_text(text)
    return folder


def test_layout_of_generated_and_real_projects(tmp_path):
    generated = read_layout(write_manifest(tmp_path / "g", '{"apps": ["shop", "blog"]}'))
    assert generated.labels == ["shop", "blog"] and not generated.real
    assert generated.folder(tmp_path, "blog") == tmp_path / "apps" / "blog" / "migrations"
    layout = read_layout(DATA)
    assert layout.real and layout.labels == ["catalog", "orders"] and layout.left_alone == []
    assert layout.folder(DATA, "orders") == DATA / "src" / "dbmigrations" / "orders"
    partial = read_layout(write_manifest(tmp_path / "p", '{"apps": ["a", "b"], "migrations_dirs": {"a": "a/m"}}'))
    assert partial.labels == ["a"] and partial.left_alone == ["b"]


@pytest.mark.parametrize("text, words", [
    (None, "is not a migbench project (no migbench.json)"),
    ("{", "unreadable manifest (JSONDecodeError"),
    ('{"name": "x"}', "unreadable manifest (KeyError"),
    ('{"apps": ["a"], "migrations_dirs": ["a"]}', '"migrations_dirs" must map app labels to folders'),
    ('{"apps": ["a"], "migrations_dirs": {"a": "../elsewhere/migrations"}}', "is not inside the project"),
    ('{"apps": ["a"], "migrations_dirs": {"a": "/abs/migrations"}}', "is not inside the project"),
])
def test_unusable_manifests_are_one_line(tmp_path, text, words):
    folder = write_manifest(tmp_path, text) if text is not None else tmp_path
    with pytest.raises(MigbenchError) as caught:
        read_layout(folder)
    assert words in str(caught.value) and "\n" not in str(caught.value)


def test_named_from_outside_names_only_apps_not_transformed():
    info = {"references": {"tagging.0002_t": [["catalog", "0003_x"], ["catalog", "0001_initial"]],
                           "orders.0001_initial": [["catalog", "0003_x"]],
                           "auth.0001_initial": [["contenttypes", "0001_initial"]]}}
    assert named_from_outside(info, ["catalog", "orders"], "catalog", ["0002_y", "0003_x"]) == [
        "tagging.0002_t -> catalog.0003_x"]
    assert named_from_outside(info, ["catalog", "orders"], "orders", ["0001_initial"]) == []


def test_add_replaces_and_drop_a_dependency():
    text = ("from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n\n"
            "    dependencies = [\n        ('shop', '0001_initial'),\n        ('auth', '0012_x'),\n    ]\n\n"
            "    operations = []\n")
    new = add_replaces(rewrite_dependencies(text, {("shop", "0001_initial"): None}), [("shop", "0002_a")],
                       initial=True)
    assert new == ("from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n\n"
                   "    initial = True\n\n    replaces = [\n        ('shop', '0002_a'),\n    ]\n\n"
                   "    dependencies = [\n        ('auth', '0012_x'),\n    ]\n\n    operations = []\n")
    assert add_replaces(new, [("shop", "0003_b")], initial=True).count("initial = True") == 1


def test_losses_line():
    def loss(kind, migration, elidable=False):
        return {"app": "a", "migration": migration, "operation": kind, "name": "f", "reversible": True,
                "elidable": elidable}

    assert losses_line([]) == "zero drops no data operations: the old migrations have no RunPython or RunSQL"
    assert losses_line([loss("RunPython", "0002"), loss("RunSQL", "0002", True), loss("RunPython", "0003")]) == (
        "zero drops 3 data operations of 2 migrations: 2 RunPython, 1 RunSQL, 1 of them elidable "
        "(each listed in the transform's losses)")


def test_the_data_project_has_no_bytecode_or_database():
    """The repository's copy stays source only (the tests copy it before running anything in it)."""
    leftovers = [p for p in DATA.rglob("*") if p.suffix in (".pyc", ".sqlite3") or p.name == "__pycache__"]
    assert leftovers == [] and os.access(DATA / "manage.py", os.R_OK)
