"""A django-oscar sandbox-style shop (oscar 4.2 from PyPI plus two apps of its own, tests/data/real/shop)
on PostgreSQL (issue 17): configuration from --env, a Redis migbench starts because the project's
post-migrate handler needs one (without it, migrate fails there: tried by hand, not repeated here for
the suite's time), zero on a real project run through its launcher, the
untouched tree, and its twin.

Only zero runs here: `all` on a real project on PostgreSQL (and the dev loop there) is
test_real_input.py's test_the_same_project_migrates_on_postgresql_with_every_other_strategy, and a
second full oscar migrate (~14 s) proved nothing zero's own does not: the same launcher, --env,
Redis and engine, and the baseline comes from the cache's baseline module either way."""

from __future__ import annotations

import pytest
from real_support import OSCAR, project_env, redis_or_skip, shop_tree
from support import engine_or_skip

from migbench.bench.projects.copy import fingerprint
from migbench.bench.records import load_record
from migbench.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("real-shop")]
SECRET = "--env=SHOP_SECRET_KEY=not-a-secret"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return project_env("oscar", OSCAR), shop_tree(tmp_path_factory.mktemp("shop"))


@pytest.fixture(scope="module")
def on_postgresql(shop, tmp_path_factory):
    engine_or_skip("postgresql")
    redis_or_skip()
    python, tree = shop
    before = fingerprint(tree)
    out = tmp_path_factory.mktemp("out") / "shop"
    # through the shop's own launcher (python -m shop), as an installed project without manage.py runs
    status = main(["run", "--project", str(tree), "--manage", "python -m shop", "--python", str(python), SECRET,
                   "--redis", "embedded",
                   "--database", "postgresql", "--strategy", "zero", "--dev-loop", "off", "--out", str(out),
                   "--no-report"])
    records = {r.strategy: r for r in (load_record(p) for p in sorted(out.glob("*.json")))}
    return status, records, before, fingerprint(tree)


def test_zero_on_postgresql_through_the_launcher(on_postgresql):
    status, records, _, _ = on_postgresql
    assert sorted(records) == ["zero"]
    record = records["zero"]
    assert record.outcome == "ok" and not record.problems(), (record.strategy, record.problems())
    assert record.validation["ok"] and record.validation["difference_count"] == 0, record.validation
    assert record.database["engine"] == "postgresql"
    assert record.project["migrations"] >= 150
    assert "--script" in record.command["child"]  # the measured migrate ran the launcher
    assert record.project["launcher"] == ["python", "-m", "shop"]
    assert status == 0


def test_zero_resets_own_apps_only_and_lists_what_it_drops(on_postgresql):
    _, records, _, _ = on_postgresql
    transform = records["zero"].transform
    assert sorted(app["app"] for app in transform["apps"]) == ["catalogue_extra", "loyalty"]
    lost = {("%s.%s" % (loss["app"], loss["migration"]), loss["operation"]) for loss in transform["losses"]}
    assert lost == {("catalogue_extra.0002_default_badges", "RunPython"),
                    ("catalogue_extra.0003_badge_colour", "RunSQL")}


def test_the_shop_tree_is_untouched(on_postgresql):
    _, _, before, after = on_postgresql
    assert after == before


def test_the_twin_of_the_shop_has_its_apps_migrations_and_data_migrations(shop, tmp_path):
    """The round trip on a third-party project: shop -> twin scenario -> generated project, counted by
    the same reader (shape.py) on both; per app, migrations and RunPython are exact, models close."""
    from migbench.bench import projects
    from migbench.commands.twin import read_shape
    from migbench.generator import build_project, load_scenario, write_project
    from migbench.targets import resolve_line

    python, tree = shop
    out = tmp_path / "shop-twin.toml"
    assert main(["twin", str(tree), "--python", str(python), SECRET, "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "catalogue_extra" not in text and "oscar" not in text.lower()  # nothing of the original's names
    prepared = projects.prepare(projects.resolve(str(tree), None, str(python), None, [SECRET.split("=", 1)[1]]),
                                on_note=lambda _: None)
    original = read_shape(prepared.path, prepared.python)
    generated = write_project(build_project(load_scenario(out), resolve_line("5.2")), tmp_path / "generated")
    twin = read_shape(generated, python)

    def per_app(shape, key):
        apps = sorted((a for a in shape["apps"] if a["kind"] != "contrib" and a["migrations"]),
                      key=lambda a: (a["plan_index"], a["label"]))
        return [key(a) for a in apps]

    migrations = lambda a: len(a["migrations"])  # noqa: E731
    run_python = lambda a: sum(m["operations"].get("run_python", 0) for m in a["migrations"])  # noqa: E731
    models = lambda a: len(a["models"])  # noqa: E731
    # per app (the twin's plan may order its apps differently): (migrations, RunPython) exactly the original's
    pairs = lambda shape: sorted(zip(per_app(shape, migrations), per_app(shape, run_python)))  # noqa: E731
    assert pairs(twin) == pairs(original)
    assert abs(sum(per_app(twin, models)) - sum(per_app(original, models))) <= 0.1 * sum(per_app(original, models))
