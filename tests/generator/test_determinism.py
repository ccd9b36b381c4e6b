"""Generation is deterministic, target-aware and written safely (generator/project.py).

Scenarios are shrunk with dataclasses.replace so every build takes milliseconds:
the point here is "same inputs, same bytes" and "the output fits its target",
not size.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tokenize
from dataclasses import replace
from pathlib import Path

import pytest

from migbench.errors import MigbenchError
from migbench.generator import project as project_module
from migbench.generator.project import MANIFEST, build_project, write_project
from migbench.generator.scenario import (Scenario, load_scenario, parse_scenario, resolve_scenario,
                                         shipped_scenarios)
from migbench.targets import resolve_line

pytestmark = pytest.mark.xdist_group("test_determinism")

TARGETS = ("1.8", "2.2", "5.2")
PY2_LINES = ("1.8", "1.11")  # python2_compatible lines the bench can run on 2.7


def shrink(scenario: Scenario) -> Scenario:
    g = scenario.generator
    low, high = g.models_per_app
    mlow, mhigh = g.history.migrations_per_app
    return replace(scenario, generator=replace(
        g,
        apps=min(g.apps, 4),
        models_per_app=(min(low, 3), min(high, 4)),
        history=replace(g.history, migrations_per_app=(min(mlow, 2), min(mhigh, 6))),
    ))


def shipped(name: str) -> Scenario:
    return shrink(resolve_scenario(name))


def build(scenario: Scenario, line: str):
    return build_project(scenario, resolve_line(line))


def snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root: relative path -> (kind, mode, bytes)."""
    tree = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in dirnames + sorted(filenames):
            path = Path(directory, name)
            info = path.lstat()
            relative = path.relative_to(root).as_posix()
            if stat.S_ISDIR(info.st_mode):
                tree[relative] = ("dir", stat.S_IMODE(info.st_mode), None)
            else:
                tree[relative] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return tree


def python_files(files: dict[str, str]) -> dict[str, str]:
    return {path: text for path, text in files.items() if path.endswith(".py")}


def all_text(files: dict[str, str]) -> str:
    return "\n".join(python_files(files).values())


# -- same inputs, same output ----------------------------------------------------------


@pytest.mark.parametrize("line", TARGETS)
@pytest.mark.parametrize("name", shipped_scenarios())
def test_same_scenario_seed_and_target_give_identical_files(name, line):
    first = build(shipped(name), line)
    second = build(shipped(name), line)  # a fresh parse and a fresh build
    assert first.files == second.files
    assert first.summary.as_dict() == second.summary.as_dict()
    assert first.files  # and something was built
    assert any("/migrations/0001_initial.py" in path for path in first.files)


_DIGEST = """
import hashlib, sys
from dataclasses import replace
from migbench.generator.project import build_project
from migbench.generator.scenario import resolve_scenario
from migbench.targets import resolve_line

def shrink(scenario):
    g = scenario.generator
    return replace(scenario, generator=replace(
        g, apps=min(g.apps, 4),
        models_per_app=(min(g.models_per_app[0], 3), min(g.models_per_app[1], 4)),
        history=replace(g.history, migrations_per_app=(
            min(g.history.migrations_per_app[0], 2), min(g.history.migrations_per_app[1], 6))),
    ))

out = []
for name in ("quick", "relations", "long-history"):
    for line in ("1.8", "5.2"):
        files = build_project(shrink(resolve_scenario(name)), resolve_line(line)).files
        digest = hashlib.sha256()
        for path in sorted(files):
            digest.update(path.encode() + b"\\0" + files[path].encode("utf-8") + b"\\0")
        out.append(digest.hexdigest())
print(" ".join(out))
"""


def _digests_here() -> str:
    out = []
    for name in ("quick", "relations", "long-history"):
        for line in ("1.8", "5.2"):
            files = build(shipped(name), line).files
            digest = hashlib.sha256()
            for path in sorted(files):
                digest.update(path.encode() + b"\0" + files[path].encode("utf-8") + b"\0")
            out.append(digest.hexdigest())
    return " ".join(out)


def test_output_does_not_depend_on_hash_randomisation():
    """Set/dict iteration over str must not leak into the output: another process
    with another PYTHONHASHSEED builds the same bytes (shrink() is repeated in _DIGEST)."""
    script = _DIGEST
    results = set()
    for hash_seed in ("0", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        results.add(done.stdout.strip())
    assert results == {_digests_here()}


def test_writing_twice_gives_byte_identical_trees(tmp_path):
    project = build(shipped("quick"), "5.2")
    first = write_project(project, tmp_path / "a")
    second = write_project(build(shipped("quick"), "5.2"), tmp_path / "b")
    tree_a, tree_b = snapshot(first), snapshot(second)
    assert tree_a == tree_b
    assert tree_a["manage.py"][1] == 0o755
    assert os.access(first / "manage.py", os.X_OK)
    assert stat.S_IMODE(first.stat().st_mode) == stat.S_IMODE(second.stat().st_mode) == 0o755
    # The tree is exactly project.files: nothing more, nothing less.
    written = {path: entry[2].decode("utf-8") for path, entry in tree_a.items() if entry[0] == "file"}
    assert written == project.files


def test_a_different_seed_gives_a_different_tree(tmp_path):
    scenario = shipped("quick")
    one = build(scenario, "5.2")
    other = build(scenario.with_seed(scenario.generator.seed + 1), "5.2")
    assert one.files != other.files
    assert one.app_labels != other.app_labels
    a = snapshot(write_project(one, tmp_path / "a"))
    b = snapshot(write_project(other, tmp_path / "b"))
    assert a != b


@pytest.mark.parametrize("name", shipped_scenarios())
def test_targets_differ_where_they_must(name):
    old = build(shipped(name), "1.8")
    mid = build(shipped(name), "2.2")
    new = build(shipped(name), "5.2")
    assert old.files != mid.files != new.files

    # 1.8: Python 2 ready headers, no `initial = True`, legacy middleware, SQLite shim.
    for path, text in python_files(old.files).items():
        if text and path != "manage.py":
            assert text.startswith("# -*- coding: utf-8 -*-\n"), path
            assert "from __future__ import unicode_literals" in text, path
    assert "initial = True" not in all_text(old.files)
    old_settings = old.files["benchproject/settings.py"]
    assert "'benchproject.compat.SqliteCompatConfig'," in old_settings
    assert "benchproject/compat.py" in old.files
    assert "MIDDLEWARE_CLASSES = []" in old_settings
    assert "DEFAULT_AUTO_FIELD" not in old_settings

    # 2.2: neither the Python 2 header nor the shim nor DEFAULT_AUTO_FIELD.
    assert "unicode_literals" not in all_text(mid.files)
    assert "SqliteCompatConfig" not in mid.files["benchproject/settings.py"]
    assert "benchproject/compat.py" not in mid.files
    assert "DEFAULT_AUTO_FIELD" not in mid.files["benchproject/settings.py"]

    # 5.2: initial migrations say so; DEFAULT_AUTO_FIELD is set.
    initials = [text for path, text in new.files.items() if path.endswith("/migrations/0001_initial.py")]
    assert len(initials) == len(new.app_labels)
    assert all("\n    initial = True\n" in text for text in initials)
    later = [text for path, text in new.files.items()
             if "/migrations/0" in path and not path.endswith("0001_initial.py")]
    assert not any("initial = True" in text for text in later)
    new_settings = new.files["benchproject/settings.py"]
    assert 'DEFAULT_AUTO_FIELD = "django.db.models.AutoField"' in new_settings
    assert "MIDDLEWARE = []" in new_settings
    assert "SqliteCompatConfig" not in new_settings
    assert "unicode_literals" not in all_text(new.files)


def test_1_11_installs_the_sqlite_shim():
    settings = build(shipped("quick"), "1.11").files["benchproject/settings.py"]
    assert "'benchproject.compat.SqliteCompatConfig'," in settings
    assert "initial = True" in all_text(build(shipped("quick"), "1.9").files)  # from 1.9 on


# -- emitted Python is valid for its interpreters -----------------------------------------

_FSTRING_PREFIX = re.compile(r"^[rRbBuU]?[fF]|^[fF][rR]")


def fstrings(path: str, text: str) -> list[str]:
    """String tokens with an f prefix (tokenize, so f'...' inside data is not a hit)."""
    found = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        kind = tokenize.tok_name[token.type]
        if kind == "FSTRING_START" or (kind == "STRING" and _FSTRING_PREFIX.match(token.string)):
            found.append("%s:%d: %s" % (path, token.start[0], token.string[:40]))
    return found


def test_fstring_detector_works():
    assert fstrings("x.py", 'a = f"{b}"\nc = rf\'x\'\n')
    assert not fstrings("x.py", 'a = "f\'x\'"\nof = 1\nb = b"f"\n')


@pytest.mark.parametrize("line", ("1.8", "1.11", "2.2", "3.2", "5.2", "6.0"))
def test_every_emitted_py_file_compiles(line):
    for name in shipped_scenarios():
        files = build(shipped(name), line).files
        for path, text in python_files(files).items():
            compile(text, path, "exec", dont_inherit=True)


@pytest.mark.parametrize("line", PY2_LINES)
def test_no_fstrings_for_python2_targets(line):
    for name in shipped_scenarios():
        for path, text in python_files(build(shipped(name), line).files).items():
            assert not fstrings(path, text)


def _python27() -> str | None:
    roots = []
    if os.environ.get("PYENV_ROOT"):
        roots.append(os.environ["PYENV_ROOT"])
    pyenv = shutil.which("pyenv")
    if pyenv:
        try:
            roots.append(subprocess.run([pyenv, "root"], capture_output=True, text=True, timeout=10).stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    roots.append(os.path.expanduser("~/.pyenv"))
    for root in roots:
        candidate = os.path.join(root, "versions", "2.7.18", "bin", "python")
        if root and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.mark.parametrize("line", PY2_LINES)
def test_emitted_files_byte_compile_on_python_2_7(tmp_path, line):
    python27 = _python27()
    if python27 is None:
        pytest.skip("no pyenv Python 2.7.18")
    paths = []
    for name in shipped_scenarios() + ["meta"]:
        scenario = META if name == "meta" else shipped(name)
        out = write_project(build(scenario, line), tmp_path / name)
        paths += sorted(str(p) for p in out.rglob("*.py"))
    done = subprocess.run([python27, "-m", "py_compile"] + paths, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not done.stderr


# -- features appear only on the lines that have them ------------------------------------

JSON_HEAVY = parse_scenario("""
[generator]
seed = 11
apps = 3
models_per_app = [3, 4]
[generator.fields]
per_model = [3, 6]
types = { json = 5, char = 1 }
[generator.history]
migrations_per_app = [2, 4]
""", "json-heavy.toml")

META = parse_scenario("""
[generator]
seed = 1
apps = 3
models_per_app = [3, 4]
[generator.fields]
per_model = [3, 6]
types = { integer = 3, char = 2, date = 1 }
[generator.meta]
indexes_share = 1.0
constraints_share = 1.0
[generator.history]
migrations_per_app = [3, 5]
operations = { add_field = 2, add_index = 3, remove_index = 2, create_model = 1 }
""", "meta.toml")


@pytest.mark.parametrize("line, has_json", [
    ("1.8", False), ("2.2", False), ("3.0", False), ("3.1", True), ("3.2", True), ("5.2", True),
])
def test_json_fields_only_from_3_1(line, has_json):
    project = build(JSON_HEAVY, line)
    text = all_text(project.files)
    if has_json:
        assert "models.JSONField(" in text
        assert any("models.JSONField(" in t for p, t in project.files.items() if p.endswith("/models.py"))
        assert project.summary.fields["json"] > 0
    else:
        assert "JSONField" not in text
        assert project.summary.fields["json"] == 0
        assert project.summary.fields["text"] > 0  # json fell back to text


def meta_text(line: str) -> str:
    """META over a few seeds, so a change in the generator's random stream cannot
    make one kind of index/constraint disappear by chance."""
    return "\n".join(all_text(build(META.with_seed(seed), line).files) for seed in (1, 2, 3))


@pytest.mark.parametrize("line, has_indexes", [
    ("1.8", False), ("1.9", False), ("1.10", False), ("1.11", True), ("2.2", True), ("5.2", True),
])
def test_indexes_only_from_1_11(line, has_indexes):
    text = meta_text(line)
    markers = ("models.Index(", "migrations.AddIndex(", "migrations.RemoveIndex(", "        indexes = [")
    if has_indexes:
        for marker in markers:
            assert marker in text, marker
    else:
        for marker in markers + ("RemoveIndex", "Index("):
            assert marker not in text, marker
        operations = build(META, line).summary.operations
        assert not operations["add_index"] and not operations["remove_index"]


@pytest.mark.parametrize("line, kwarg", [
    ("1.8", None), ("1.11", None), ("2.1", None),
    ("2.2", "either"), ("3.2", "either"), ("4.2", "either"), ("5.0", "either"),
    ("5.1", "condition"), ("5.2", "condition"), ("6.0", "condition"),
])
def test_constraints_only_from_2_2_with_the_right_check_keyword(line, kwarg):
    """5.1 renamed CheckConstraint(check=) to condition= and 6.0 removed check=: a project generated
    for 2.2-5.0 also runs on the newer lines of its matrix, so it picks the keyword where it runs."""
    text = meta_text(line)
    if kwarg is None:
        assert "Constraint(" not in text
        assert "constraints = [" not in text
        return
    assert "models.UniqueConstraint(fields=" in text
    if kwarg == "either":
        assert ('**{("condition" if __import__("django").VERSION >= (5, 1) else "check"): models.Q('
                in text)
        assert "models.CheckConstraint(check=" not in text and "models.CheckConstraint(condition=" not in text
    else:
        assert "models.CheckConstraint(condition=models.Q(" in text
        assert "models.CheckConstraint(check=" not in text
    assert "        constraints = [" in text


# -- write_project safety ------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_project():
    return build(shipped("quick"), "5.2")


def prefill(out: Path) -> dict:
    (out / "old" / "deep").mkdir(parents=True)
    (out / "keep.txt").write_text("precious\n")
    (out / "old" / "deep" / "data.bin").write_bytes(b"\x00\x01")
    return snapshot(out)


def test_refuses_non_empty_out_without_force(tmp_path, small_project):
    out = tmp_path / "parent" / "out"
    before = prefill(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    with pytest.raises(MigbenchError) as error:
        write_project(small_project, out)
    message = str(error.value)
    assert "\n" not in message
    assert str(out) in message and "--force" in message
    assert snapshot(out) == before
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == mtimes
    assert sorted(os.listdir(out.parent)) == ["out"]


def test_refuses_out_that_is_a_file(tmp_path, small_project):
    out = tmp_path / "out"
    out.write_text("a file")
    with pytest.raises(MigbenchError) as error:
        write_project(small_project, out, force=True)
    assert "\n" not in str(error.value) and "not a directory" in str(error.value)
    assert out.read_text() == "a file"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_force_replaces_the_tree(tmp_path, small_project):
    out = tmp_path / "out"
    prefill(out)
    assert write_project(small_project, out, force=True) == out
    tree = snapshot(out)
    assert "keep.txt" not in tree and "old" not in tree
    assert {p for p, e in tree.items() if e[0] == "file"} == set(small_project.files)
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no staging, no retired tree


@pytest.mark.parametrize("prepare", ["missing", "empty", "missing-parents"])
def test_writes_when_out_is_missing_or_empty(tmp_path, small_project, prepare):
    out = tmp_path / "a" / "b" / "out" if prepare == "missing-parents" else tmp_path / "out"
    if prepare == "empty":
        out.mkdir()
    assert write_project(small_project, out) == out
    assert (out / MANIFEST).read_text() == small_project.files[MANIFEST]
    assert sorted(os.listdir(out.parent)) == ["out"]


def test_relative_out_is_made_absolute(tmp_path, small_project, monkeypatch):
    monkeypatch.chdir(tmp_path)
    written = write_project(small_project, "rel-out")
    assert written == tmp_path / "rel-out" and written.is_absolute()
    assert sorted(os.listdir(tmp_path)) == ["rel-out"]


def _interrupt_open_after(count: int):
    real_open = open
    calls = []

    def flaky_open(*args, **kwargs):
        calls.append(args[0])
        if len(calls) > count:
            raise KeyboardInterrupt
        return real_open(*args, **kwargs)

    return flaky_open, calls


@pytest.mark.parametrize("existing", [True, False], ids=["out-exists", "out-missing"])
def test_interrupted_write_leaves_old_tree_and_no_staging(tmp_path, small_project, monkeypatch, existing):
    out = tmp_path / "out"
    before = prefill(out) if existing else None
    flaky_open, calls = _interrupt_open_after(5)
    monkeypatch.setattr(project_module, "open", flaky_open, raising=False)
    with pytest.raises(KeyboardInterrupt):
        write_project(small_project, out, force=True)
    assert len(calls) == 6  # it really was mid-way
    if existing:
        assert snapshot(out) == before
        assert sorted(os.listdir(tmp_path)) == ["out"]
    else:
        assert not out.exists()
        assert os.listdir(tmp_path) == []


def test_interrupted_chmod_leaves_old_tree(tmp_path, small_project, monkeypatch):
    out = tmp_path / "out"
    before = prefill(out)

    def no_chmod(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(project_module.os, "chmod", no_chmod)
    with pytest.raises(KeyboardInterrupt):
        write_project(small_project, out, force=True)
    monkeypatch.undo()
    assert snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_failed_swap_puts_the_old_tree_back(tmp_path, small_project, monkeypatch):
    out = tmp_path / "out"
    before = prefill(out)
    real_rename = Path.rename

    def rename(self, target):
        if self.name.startswith(".out.migbench-"):  # the staging dir moving into place
            raise KeyboardInterrupt
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        write_project(small_project, out, force=True)
    monkeypatch.undo()
    assert snapshot(out) == before
    assert sorted(os.listdir(tmp_path)) == ["out"]


# -- the manifest ----------------------------------------------------------------------------

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}|\b1[6-9]\d{8}\b")


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize("line", TARGETS)
def test_manifest_lists_apps_and_counts_and_nothing_unstable(tmp_path, line):
    project = build(shipped("quick"), line)
    text = project.files[MANIFEST]
    document = json.loads(text)
    assert set(document) == {
        "generator", "faker", "scenario", "seed", "django_target", "settings_module", "apps", "counts",
    }
    assert document["apps"] == project.app_labels
    assert document["counts"] == project.summary.as_dict()
    assert document["counts"]["apps"] == len(project.app_labels)
    migrations = [p for p in project.files if "/migrations/0" in p]
    assert document["counts"]["migrations"] == len(migrations)
    assert document["counts"]["models"] > 0
    assert document["seed"] == project.scenario.generator.seed
    assert document["django_target"] == line
    assert document["scenario"] == {"name": "quick", "sha256": project.scenario.sha256}
    assert document["settings_module"] == "benchproject.settings"
    assert not _TIMESTAMP.search(text), text
    for string in _strings(document):
        assert "/" not in string and "\\" not in string, string
    assert text == json.dumps(document, indent=2, sort_keys=True) + "\n"


def test_manifest_does_not_depend_on_where_the_scenario_lives(tmp_path):
    text = "[generator]\nseed = 3\napps = 2\nmodels_per_app = [2, 3]\n"
    first, second = tmp_path / "one" / "same.toml", tmp_path / "two" / "same.toml"
    for path in (first, second):
        path.parent.mkdir()
        path.write_text(text)
    a = build(load_scenario(first), "5.2")
    b = build(load_scenario(second), "5.2")
    assert a.files == b.files
    assert str(tmp_path) not in a.files[MANIFEST]
    written = write_project(a, tmp_path / "out")
    assert str(tmp_path) not in (written / MANIFEST).read_text()


# -- an operation mix the target cannot express falls back to creating models ---------------


def test_index_only_operation_mix_builds_on_old_targets():
    scenario = parse_scenario(
        "[generator]\napps = 2\n[generator.history]\nmigrations_per_app = 3\noperations = { add_index = 1 }\n",
        "index-only.toml",
    )
    build(scenario, "1.8")
