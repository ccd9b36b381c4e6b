"""`migbench twin`: a real project's shape -> scenario -> generated project -> its shape, on real Django.

The project is tests/data/real/twin_tiny (two own apps, six migrations, two RunPython; its
README says what it holds), read through migbench's copy by the suite's Django 5.2
environment playing the user's. The round trip holds the twin to these tolerances:

- apps: the original's apps with migrations, django.contrib's left out, in plan order;
- migrations per app and RunPython per app: exactly the original's;
- models per app: within max(1, 25%);
- operations per app: within max(3, 30%) (the twin's new models bring their Meta indexes
  and an explicit M2M's through model as operations of their own, and the original's
  unique_together of a first migration is part of the twin's CreateModel);
- relations: in total within max(2, 30%), foreign keys within max(2, 40%).

The twin must also be a valid project (check, makemigrations --check, migrate, every app
back to zero, migrate, rows into every model), and the user's tree stays untouched.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from migbench.bench import projects
from migbench.bench.projects.copy import fingerprint
from migbench.bench.run.check import validate_project
from migbench.cli import main
from migbench.commands.twin import read_shape
from migbench.generator import build_project, load_scenario, write_project
from migbench.targets import resolve_line

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("twin")]

TINY = Path(__file__).parent.parent / "data" / "real" / "twin_tiny"
LINE = "5.2"


@pytest.fixture(scope="module")
def twinned(environment_for, tmp_path_factory):
    env = environment_for(LINE)
    where = tmp_path_factory.mktemp("twin")
    tree = where / "twin_tiny"
    shutil.copytree(TINY, tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.sqlite3"))
    before = fingerprint(tree)
    out = where / "twin.toml"
    status = main(["twin", str(tree), "--python", str(env.python), "--out", str(out), "--name", "tiny-twin"])
    after = fingerprint(tree)
    prepared = projects.prepare(projects.resolve(str(tree), None, str(env.python), None, None), on_note=lambda _: None)
    original = read_shape(prepared.path, prepared.python)
    scenario = load_scenario(out)
    project = build_project(scenario, resolve_line(LINE))
    generated = write_project(project, where / "generated")
    return {"status": status, "before": before, "after": after, "out": out, "env": env, "project": project,
            "generated": generated, "original": original, "twin": read_shape(generated, env.python)}


def apps_of(shape: dict, contrib: bool = False) -> list[dict]:
    apps = [a for a in shape["apps"] if (a["kind"] == "contrib") == contrib and a["migrations"]]
    return sorted(apps, key=lambda a: (a["plan_index"], a["label"]))


def operations(app: dict) -> Counter:
    return Counter(kind for m in app["migrations"] for kind, n in m["operations"].items() for _ in range(n))


def relations(apps: list[dict]) -> Counter:
    return Counter(r["kind"] for a in apps for m in a["models"] for r in m["relations"])


def within(twin: int, original: int, share: float, floor: int) -> bool:
    return abs(twin - original) <= max(floor, share * original)


def test_the_command_writes_a_scenario_and_leaves_the_tree_alone(twinned):
    assert twinned["status"] == 0
    assert twinned["after"] == twinned["before"]
    text = twinned["out"].read_text(encoding="utf-8")
    assert text.startswith("# A twin written by `migbench twin`")
    assert 'name = "tiny-twin"' in text
    for secret in ("library", "lending", "twinshop", "Book", "Author", "Loan", "Branch", "Member"):
        assert secret not in text
    assert "sessions" in text  # named as a django.contrib app the twin leaves out


def test_apps_migrations_and_run_python_match_exactly(twinned):
    original, twin = apps_of(twinned["original"]), apps_of(twinned["twin"])
    assert [a["kind"] for a in original] == ["own", "own"]
    assert [a["label"] for a in twin] == ["app001", "app002"]
    assert [len(a["migrations"]) for a in twin] == [len(a["migrations"]) for a in original] == [3, 3]
    assert [operations(a)["run_python"] for a in twin] == [operations(a)["run_python"] for a in original] == [1, 1]
    assert [a["label"] for a in apps_of(twinned["twin"], contrib=True)] == ["contenttypes", "auth"]


def test_models_and_operations_per_app_are_close(twinned):
    for original, twin in zip(apps_of(twinned["original"]), apps_of(twinned["twin"])):
        assert within(len(twin["models"]), len(original["models"]), 0.25, 1), (original["label"], twin["label"])
        assert within(sum(operations(twin).values()), sum(operations(original).values()), 0.3, 3), (
            operations(original), operations(twin))


def test_relations_are_close(twinned):
    original, twin = relations(apps_of(twinned["original"])), relations(apps_of(twinned["twin"]))
    assert within(sum(twin.values()), sum(original.values()), 0.3, 2), (original, twin)
    assert within(twin["foreign_key"], original["foreign_key"], 0.4, 2), (original, twin)


def test_the_twin_is_a_valid_project(twinned, tmp_path):
    project, env = twinned["project"], twinned["env"]
    result = validate_project(twinned["generated"], env.python, project.target, project.app_labels,
                              tmp_path / "work")
    assert result.ok, "\n".join(step.line() for step in result.steps) + "\n\n" + result.failures()


@pytest.mark.parametrize("argv, fragment", [
    (["--out", "{tmp}"], "a directory; give the scenario file to write"),
    (["--out", "{tmp}/exists.toml"], "exists; pass --force"),
    (["--out", "{tmp}/twin.txt"], "ends in .toml"),
    (["--out", "{tmp}/no/such/dir/twin.toml"], "is missing; give a file in an existing, writable directory"),
    (["--out", "{tmp}/twin.toml", "--name", "../x"], "--name '../x'"),
    (["--out", "{tmp}/twin.toml", "--apps", ",,"], "--apps ',,'"),
])
def test_bad_options_are_one_line_before_anything_runs(argv, fragment, tmp_path, capsys):
    (tmp_path / "exists.toml").write_text("", encoding="utf-8")
    argv = [part.replace("{tmp}", str(tmp_path)) for part in argv]
    assert main(["twin", str(TINY), "--python", "/nonexistent/python"] + argv) == 2
    error = capsys.readouterr().err
    assert fragment in error and error.count("\n") == 1, error
