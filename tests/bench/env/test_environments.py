"""Interpreter discovery and cached (Python, Django) environments, against the real machine.

The builds here are real (venv + pip from the configured index): one modern env,
one failed build, and one Python 2.7 env when pyenv has 2.7. Everything else uses
fake environments or a monkeypatched discovery so the file stays well under 90 s.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest

from migbench.bench.env import environments, interpreters
from migbench.bench.env.environments import MARKER, Environment, ensure, list_envs, prune, remove
from migbench.bench.env.interpreters import Interpreter, for_django
from migbench.errors import MigbenchError
from migbench.targets import LINES, MATRIX_LINES

CURRENT_MINOR = "%d.%d" % sys.version_info[:2]


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("MIGBENCH_CACHE", str(root))
    return root


def fake_env(root: Path, name: str, marker: bool = True) -> Path:
    """An env dir that passes for built: a marker and a bin/python that exists."""
    path = root / "envs" / name
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").symlink_to(sys.executable)
    if marker:
        (path / MARKER).write_text(json.dumps({
            "python_version": platform.python_version(), "django_version": "4.2.30",
            "shim": False, "created_at": 1.0, "interpreter": sys.executable,
        }))
    return path


# -- discovery ---------------------------------------------------------------------------


def test_discover_finds_current_interpreter_quickly():
    started = time.monotonic()
    found = interpreters.discover(refresh=True)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, "discover took %.2f s" % elapsed
    real = {os.path.realpath(i.path): i for i in found}
    current = real.get(os.path.realpath(sys.executable))
    assert current is not None, found
    assert current.version == platform.python_version()
    assert current.minor == CURRENT_MINOR
    assert len(real) == len(found), "duplicates by realpath"
    assert all(i.source in {"pyenv", "uv", "path", "current"} for i in found)


def test_discover_is_cached(monkeypatch):
    first = interpreters.discover()
    monkeypatch.setattr(interpreters, "_probe", lambda path: pytest.fail("probed again"))
    assert interpreters.discover() == first
    assert interpreters.find(CURRENT_MINOR) is not None


@pytest.mark.parametrize("line", MATRIX_LINES)
def test_for_django_picks_first_installed_native_python(line):
    django = LINES[line]
    installed = [m for m in django.pythons if interpreters.find(m)]
    if not installed:
        pytest.skip("no native Python for Django %s installed (wants %s)"
                    % (line, ", ".join(django.pythons)))
    chosen = for_django(django)
    assert chosen.minor == installed[0]
    assert chosen.minor not in django.shim_pythons


def test_for_django_accepts_minor_and_path():
    line = next((LINES[l] for l in MATRIX_LINES if CURRENT_MINOR in LINES[l].pythons), None)
    if line is None:
        pytest.skip("no matrix line runs natively on Python %s" % CURRENT_MINOR)
    assert for_django(line, CURRENT_MINOR).minor == CURRENT_MINOR
    by_path = for_django(line, sys.executable)
    assert (by_path.source, by_path.version) == ("explicit", platform.python_version())


# -- error lines -------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("version, expected", [
    ("9.9", "unknown Django version 9.9; migbench knows 1.7"),
    ("6.2", "unknown Django version 6.2"),  # a plain release of a line migbench does not know
    ("6.2a1x", "not a Django version"),
    ("latest", "not a Django version"),
])
def test_unknown_django_version(cache, version, expected):
    with pytest.raises(MigbenchError) as error:
        ensure(version)
    assert expected in one_line(error)
    assert not (cache / "envs").exists()


def test_missing_interpreter(monkeypatch):
    fake = [Interpreter("/opt/py311/bin/python", "3.11.7", "path"),
            Interpreter("/opt/py312/bin/python", "3.12.1", "path")]
    monkeypatch.setattr(interpreters, "discover", lambda refresh=False: list(fake))
    with pytest.raises(MigbenchError) as error:
        for_django(LINES["1.8"])
    assert one_line(error) == (
        "no interpreter runs Django 1.8 natively (wants 2.7, 3.6 or 3.5; found 3.11, 3.12); "
        "install one, e.g. `pyenv install 2.7.18`, or pass --python PATH (or --python 3.11, "
        "which runs it through the compatibility shim)"
    )
    with pytest.raises(MigbenchError) as error:
        for_django(LINES["1.8"], "3.6")
    assert one_line(error).startswith("Python 3.6 is not installed (Django 1.8 runs natively")
    assert "pyenv install 3.6.15" in str(error.value)


def test_shim_python_is_accepted_when_named(monkeypatch):
    """Django 1.x on Python >= 3.8 runs through the compatibility shim (tests/test_shim.py);
    it is chosen only when asked for, never by default."""
    fake = [Interpreter("/opt/py311/bin/python", "3.11.7", "path")]
    monkeypatch.setattr(interpreters, "discover", lambda refresh=False: list(fake))
    chosen = for_django(LINES["1.8"], "3.11")
    assert chosen.version == "3.11.7" and LINES["1.8"].needs_shim(chosen.minor)
    with pytest.raises(MigbenchError, match="no interpreter runs Django 1.8 natively"):
        for_django(LINES["1.8"])


def test_unsupported_python_is_refused():
    with pytest.raises(MigbenchError) as error:
        for_django(LINES["6.0"], "2.7")
    assert one_line(error) == (
        "Django 6.0 does not run on Python 2.7; use one of 3.12 or 3.13 or omit --python"
    )


def test_explicit_rejects_what_does_not_run(tmp_path):
    with pytest.raises(MigbenchError, match="no Python interpreter at"):
        interpreters.explicit(str(tmp_path / "missing" / "python"))
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(MigbenchError) as error:
        interpreters.explicit(str(broken))
    assert "does not run as a CPython interpreter (cannot start)" in one_line(error)


# -- cache layout, listing, pruning (no builds) -------------------------------------------


def test_cache_root_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("MIGBENCH_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert environments.cache_root() == tmp_path / "home" / ".cache" / "migbench"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert environments.cache_root() == tmp_path / "xdg" / "migbench"
    monkeypatch.setenv("MIGBENCH_CACHE", str(tmp_path / "mine"))
    assert environments.cache_root() == tmp_path / "mine"


def test_list_envs_prune_and_remove(cache):
    good = fake_env(cache, "py3.11.7-django4.2.30")
    half = fake_env(cache, "py3.11.7-django5.2.19", marker=False)
    torn = fake_env(cache, "py3.12.1-django6.0.10")
    (torn / MARKER).write_text('{"python_version": "3.1')  # killed mid-write
    busy = fake_env(cache, "py3.13.0-django6.0.10", marker=False)

    assert [e.path for e in list_envs()] == [good]
    with environments.locked(busy.name):  # someone is building it right now
        removed = prune()
    assert sorted(removed) == sorted([half, torn])
    assert good.exists() and busy.exists()
    assert prune() == [busy]

    (env,) = list_envs()
    assert env == Environment(good, good / "bin" / "python", platform.python_version(),
                              "4.2.30", False)
    remove(env)
    assert not good.exists() and list_envs() == []


# -- real builds -------------------------------------------------------------------------


def _modern_line() -> str:
    for line in ("4.2", "5.2", "6.0"):
        if CURRENT_MINOR in LINES[line].pythons:
            return line
    pytest.skip("Python %s runs none of Django 4.2, 5.2, 6.0 natively" % CURRENT_MINOR)


_ENSURE_IN_CHILD = (
    "import json, sys\n"
    "from migbench.bench.env.environments import ensure\n"
    "env = ensure(sys.argv[1], sys.argv[2])\n"
    "print(json.dumps([str(env.path), json.load(open(str(env.path / 'migbench-env.json')))"
    "['created_at']]))\n"
)


@pytest.mark.e2e
def test_ensure_builds_once_under_concurrency_then_reuses(cache, monkeypatch):
    line = _modern_line()
    wanted = LINES[line].latest
    key = environments.env_key(platform.python_version(), wanted)
    leftover = fake_env(cache, key, marker=False)  # a build killed before its marker
    (leftover / "junk").write_text("half-built")

    env = dict(os.environ, MIGBENCH_CACHE=str(cache))
    children = [
        subprocess.Popen([sys.executable, "-c", _ENSURE_IN_CHILD, line, sys.executable],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    results = []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        results.append(json.loads(out))
    assert results[0] == results[1], "two builds instead of one: %s" % results
    path, created_at = Path(results[0][0]), results[0][1]
    assert path == cache / "envs" / key
    assert not (path / "junk").exists(), "markerless dir was reused instead of rebuilt"

    monkeypatch.setattr(environments, "_build", lambda *a: pytest.fail("rebuilt"))
    again = ensure(line, sys.executable)
    assert again.path == path
    assert (again.python_version, again.django_version) == (platform.python_version(), wanted)
    assert json.loads((path / MARKER).read_text())["created_at"] == created_at
    assert ensure(wanted, CURRENT_MINOR).path == path  # exact release, same key
    assert list_envs() == [again]

    version = subprocess.run([str(again.python), "-c", "import django, sys; "
                              "print(django.get_version()); print(sys.prefix)"],
                             capture_output=True, text=True, check=True).stdout.split()
    assert version == [wanted, str(path)]


@pytest.mark.e2e
def test_failed_build_names_env_and_leaves_nothing(cache):
    line = _modern_line()
    key = environments.env_key(platform.python_version(), line + ".999")
    with pytest.raises(MigbenchError) as error:
        ensure(line + ".999", sys.executable)
    message = one_line(error)
    assert message.startswith("building environment %s: pip install Django==%s.999 failed"
                              % (key, line))
    assert "No matching distribution" in message
    assert not (cache / "envs" / key).exists()
    assert list_envs() == [] and prune() == []


@pytest.mark.e2e
def test_python27_django18_env_through_private_virtualenv(cache):
    py27 = interpreters.find("2.7")
    if py27 is None:
        pytest.skip("no Python 2.7 installed (e.g. `pyenv install 2.7.18`)")
    try:
        parent_virtualenv = metadata.version("virtualenv")
    except metadata.PackageNotFoundError:
        parent_virtualenv = None

    env = ensure("1.8")
    assert (env.python_version, env.django_version) == (py27.version, "1.8.19")
    assert env.path == cache / "envs" / ("py%s-django1.8.19" % py27.version)
    out = subprocess.run([str(env.python), "-c", "import sys, django; "
                          "print('%d.%d %s' % (sys.version_info[0], sys.version_info[1], "
                          "django.get_version()))"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "2.7 1.8.19"

    tool = cache / "tools" / "virtualenv" / "bin" / "python"
    tool_version = subprocess.run(
        [str(tool), "-c", "import importlib.metadata as m; print(m.version('virtualenv'))"],
        capture_output=True, text=True, check=True).stdout.strip()
    assert tuple(int(p) for p in tool_version.split(".")[:2]) < (20, 22)
    try:
        assert metadata.version("virtualenv") == parent_virtualenv, "parent env was touched"
    except metadata.PackageNotFoundError:
        assert parent_virtualenv is None


# -- versions beyond a line: pre-releases, checkouts of a newer line -----------------------------------


def test_pre_releases_and_newer_development_versions_resolve_to_a_line():
    from migbench.targets import LINES, is_line, resolve_line, version_key

    assert version_key("6.1rc1") == (6, 1) and resolve_line("6.1rc1").line == "6.1" and not is_line("6.1rc1")
    assert is_line("6.1") and not is_line("6.1.3") and not is_line("6.1.3+g1a2b3c4d5e6f")
    newest = max(LINES.values(), key=lambda line: line.key)
    ahead = "%d.%d" % (newest.key[0], newest.key[1] + 1)
    for version in (ahead + "a1", ahead + ".dev0+g1a2b3c4d5e6f", ahead + ".dev0@/src/django#" + "a" * 40):
        line = resolve_line(version)  # Django's main branch: the newest line's facts under its own name
        assert line.line == ahead and line.pythons == newest.pythons and line.at_least(newest.line)
    with pytest.raises(MigbenchError, match="unknown Django version %s" % ahead):
        resolve_line(ahead)  # a plain release migbench has not heard of is refused: likelier a typo
