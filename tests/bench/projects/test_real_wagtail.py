"""A real third-party project, made by `wagtail start` from wagtail 8 on PyPI, measured on SQLite (issue 17):
all, backward and floor (zero runs on the oscar shop, test_real_shop.py; squash, squash-final, optimize
and per-app on the smaller real projects of test_real_input.py and test_transforms_real.py, for the
suite's time): the records are valid, backward names what Django unapplied along with the project's
app, and neither the project's tree nor its environment changed by a single byte or mtime."""

from __future__ import annotations

import json

import pytest
from real_support import WAGTAIL, project_env, site_packages, wagtail_tree

from migbench.bench.projects.copy import fingerprint
from migbench.bench.records import load_record
from migbench.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("real-wagtail")]


@pytest.fixture(scope="module")
def wagtail(tmp_path_factory):
    python = project_env("wagtail", WAGTAIL)
    tree = wagtail_tree(python, tmp_path_factory.mktemp("wagtail"))
    return python, tree


@pytest.fixture(scope="module")
def measured(wagtail, tmp_path_factory):
    python, tree = wagtail
    before = fingerprint(tree), fingerprint(site_packages(python))
    out = tmp_path_factory.mktemp("out") / "mysite"
    status = main(["run", "--project", str(tree), "--python", str(python.parent.parent), "--strategy",
                   "all,backward,floor", "--dev-loop", "off", "--out", str(out), "--no-report"])
    after = fingerprint(tree), fingerprint(site_packages(python))
    records = {r.strategy: r for r in (load_record(p) for p in sorted(out.glob("*.json")))}
    return status, records, before, after


def test_every_strategy_runs_and_validates(measured):
    status, records, _, _ = measured
    assert status == 0
    assert sorted(records) == ["all", "backward", "floor"]
    for record in records.values():
        assert record.outcome == "ok", (record.strategy, record.outcome_reason)
        assert not record.problems(), (record.strategy, record.problems())
        assert record.scenario["name"] == "mysite" and "/real/mysite-" in record.project["path"]
    assert records["all"].project["migrations"] >= 150  # wagtail's own history, not only the project's
    # home.0002_create_homepage runs before wagtailcore.0053: going back takes those along, and says so
    assert "depend on them: wagtailcore.0053_locale_model" in records["backward"].validation["schema"]


def test_the_users_tree_and_environment_are_untouched(measured):
    _, _, before, after = measured
    assert after[0] == before[0]  # bytes, mtimes, entries of the project's tree
    assert after[1] == before[1]  # and of the environment's site-packages (no byte code written)


def test_the_copy_is_reused_while_the_tree_is_the_same(wagtail, tmp_path):
    from migbench.bench.projects import prepare, resolve

    python, tree = wagtail
    first = prepare(resolve(str(tree), None, str(python), None), on_note=lambda _: None)
    again = prepare(resolve(str(tree), None, str(python), None), on_note=lambda _: None)
    assert first.path == again.path and first.apps == ["home"]
    manifest = json.loads((first.path / "migbench.json").read_text())
    assert manifest["migrations_dirs"] == {"home": "home/migrations"}
    assert "wagtailcore" in manifest["third_party_apps"]
