"""The compatibility shim: Django 1.7-1.11 on Python >= 3.8.

Real runs: the `quick` project of each 1.x line passes every validity check in a
shim environment on Python 3.11 (skipped when 3.11 is not installed, failed
under CI=true, like tests/test_matrix.py). The shim module itself is tested in
child processes (importing it installs import hooks): what it patches on this
interpreter and on others that pyenv has, and that it patches nothing twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from migbench.bench.env import environments, interpreters, shim
from migbench.bench.env.environments import MARKER
from migbench.bench.env.interpreters import Interpreter, for_django
from migbench.bench.run.check import validate_project
from migbench.errors import MigbenchError
from migbench.generator import build_project, resolve_scenario, write_project
from migbench.targets import LINES, needs_shim, resolve_line

pytestmark = pytest.mark.xdist_group("test_shim")

OLD_LINES = ("1.7", "1.8", "1.9", "1.10", "1.11")
ACCEPTANCE_PYTHON = "3.11"


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


def skip_or_fail(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail("CI must provide this: %s" % reason)
    pytest.skip(reason)


# -- which pairs need it, and for_django --------------------------------------------------


def test_needs_shim_table():
    for line in OLD_LINES:
        django = LINES[line]
        assert django.shim_pythons == ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13")
        assert needs_shim(django, "3.11") and django.needs_shim("3.8")
        assert not needs_shim(django, "2.7") and not needs_shim(django, "3.6")
        assert not needs_shim(django, "3.7")  # neither native for 1.8-1.10 nor shimmed
    for line in ("2.2", "4.2", "5.2", "6.0"):
        assert not any(needs_shim(LINES[line], minor) for minor in ("2.7", "3.8", "3.11", "3.13"))


@pytest.fixture
def fake_pythons(monkeypatch):
    """Discovery that finds exactly the given minors (as fake interpreters)."""
    def install(*minors: str) -> None:
        fake = [Interpreter("/opt/py%s/bin/python" % m.replace(".", ""), m + ".0", "path")
                for m in minors]
        monkeypatch.setattr(interpreters, "discover", lambda refresh=False: list(fake))
    return install


def test_a_named_shim_python_is_accepted(fake_pythons):
    fake_pythons("2.7", "3.11", "3.13")
    for line in OLD_LINES:
        chosen = for_django(LINES[line], "3.11")
        assert chosen.minor == "3.11" and LINES[line].needs_shim(chosen.minor)
    assert for_django(LINES["1.11"], "3.13").version == "3.13.0"


def test_the_default_choice_stays_native(fake_pythons):
    fake_pythons("2.7", "3.11")
    assert for_django(LINES["1.8"]).minor == "2.7"
    fake_pythons("3.11", "3.12")
    with pytest.raises(MigbenchError) as error:
        for_django(LINES["1.9"])
    assert one_line(error) == (
        "no interpreter runs Django 1.9 natively (wants 2.7, 3.6 or 3.5; found 3.11, 3.12); "
        "install one, e.g. `pyenv install 2.7.18`, or pass --python PATH (or --python 3.11, "
        "which runs it through the compatibility shim)"
    )


def test_a_shim_python_by_path_is_accepted():
    if interpreters.find(ACCEPTANCE_PYTHON) is None:
        skip_or_fail("Python %s is not installed" % ACCEPTANCE_PYTHON)
    path = interpreters.find(ACCEPTANCE_PYTHON).path
    chosen = for_django(LINES["1.9"], path)
    assert (chosen.source, chosen.minor) == ("explicit", ACCEPTANCE_PYTHON)


def test_unsupported_pythons_are_refused_with_the_alternatives(fake_pythons):
    fake_pythons("3.7", "3.11")
    with pytest.raises(MigbenchError) as error:
        for_django(LINES["1.8"], "3.7")
    assert one_line(error) == (
        "Django 1.8 does not run on Python 3.7; use 2.7, 3.6 or 3.5 (natively) or 3.8, 3.9, "
        "3.10, 3.11, 3.12 or 3.13 (through the compatibility shim), or omit --python"
    )
    with pytest.raises(MigbenchError) as error:
        for_django(LINES["1.10"], "3.14")
    assert "Django 1.10 does not run on Python 3.14; use 2.7" in one_line(error)
    with pytest.raises(MigbenchError) as error:
        for_django(LINES["1.8"], "3.12")  # supported through the shim, but not installed
    assert one_line(error) == (
        "Python 3.12 is not installed (Django 1.8 runs natively on 2.7, 3.6 or 3.5, and on "
        "3.8, 3.9, 3.10, 3.11, 3.12 or 3.13 through the compatibility shim); install it, "
        "e.g. `pyenv install 3.12`, or pass --python PATH"
    )


# -- the shim module, in child processes ---------------------------------------------------

_PROBE = textwrap.dedent("""\
    import json, sys
    before = len(sys.meta_path)
    sys.path.insert(0, sys.argv[1])
    import migbench_django_shim as shim
    import collections, gettext
    result = {"hooks": len(sys.meta_path) - before, "applied": list(shim.APPLIED),
              "iterator": getattr(collections, "Iterator", None) is not None}
    try:
        gettext.translation("x", fallback=True, codeset="utf-8").set_output_charset("utf-8")
        result["codeset"] = True
    except (TypeError, AttributeError):
        result["codeset"] = False
    print(json.dumps(result))
""")


def probe(python: str, extra: str = "") -> dict:
    out = subprocess.run([python, "-c", _PROBE + extra, str(shim.SOURCE.parent)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_patches_exactly_what_this_python_lacks():
    result = probe(sys.executable)
    expected = []
    if sys.version_info >= (3, 10):
        expected.append("collections-abc-aliases")
    if sys.version_info >= (3, 11):
        expected.append("gettext-codeset")
    assert result == {"hooks": 2, "applied": expected, "iterator": True, "codeset": True}


@pytest.mark.parametrize("minor, applied", [
    ("2.7", None),  # parses, installs nothing
    ("3.8", []),  # nothing is missing yet
    ("3.9", []),
    ("3.12", ["collections-abc-aliases", "gettext-codeset"]),
])
def test_other_pythons(minor, applied):
    interp = interpreters.find(minor)
    if interp is None:
        pytest.skip("Python %s is not installed" % minor)
    if applied is None:
        script = ("import sys; n = len(sys.meta_path); sys.path.insert(0, sys.argv[1]); "
                  "import migbench_django_shim as s; assert s.APPLIED == [] and "
                  "len(sys.meta_path) == n")
        subprocess.run([interp.path, "-c", script, str(shim.SOURCE.parent)], check=True,
                       timeout=60)
        return
    assert probe(interp.path)["applied"] == applied


_TWICE = textwrap.dedent("""
    import gettext, importlib, importlib.util
    again = importlib.util.spec_from_file_location("shim_again", shim.__file__)
    module = importlib.util.module_from_spec(again)
    again.loader.exec_module(module)
    shim.install()
    assert len(sys.meta_path) - before == 2, sys.meta_path
    assert module.APPLIED == [], module.APPLIED
    wrapped = gettext.translation
    import collections
    import collections.abc  # a submodule is an attribute only once imported (a bare venv has not)
    importlib.reload(collections)
    assert collections.Iterator is collections.abc.Iterator
    importlib.reload(gettext)  # a reload runs the patch again, once
    assert gettext.translation is not wrapped and gettext.translation.__name__ == "translation"
    gettext.translation("x", fallback=True, codeset="utf-8")
    assert gettext.__loader__.__class__.__name__ == "SourceFileLoader"
    assert gettext.__spec__.loader is gettext.__loader__
    print(json.dumps({"applied": shim.APPLIED}))
""")


def test_idempotent_and_invisible():
    if sys.version_info < (3, 11):
        pytest.skip("the gettext patch applies from Python 3.11")
    applied = probe(sys.executable, _TWICE)["applied"]
    # A reload keeps the module's dict: the aliases are still there, translation is new.
    assert applied == ["collections-abc-aliases", "gettext-codeset", "gettext-codeset"]


def test_modern_django_is_left_alone():
    """The parent's Django (>= 4.2) gets no ModelBase wrapper and no six patch."""
    pytest.importorskip("django")
    extra = textwrap.dedent("""
        import django.db.models.base as base
        assert not getattr(base.ModelBase.__new__, "_migbench_django_shim", False)
        import cgi  # the real module where it exists, the stand-in only on 3.13+
        print(json.dumps({"applied": shim.APPLIED, "cgi": getattr(cgi, "__file__", None)}))
    """)
    if sys.version_info >= (3, 13):
        extra = extra.replace("import cgi", "cgi = None  #")
    result = probe(sys.executable, extra)
    assert not any("modelbase" in name or "six" in name for name in result["applied"])
    if sys.version_info < (3, 13):
        assert result["cgi"] and result["cgi"].endswith("cgi.py")


def test_cgi_stand_in_on_313():
    interp = interpreters.find("3.13")
    if interp is None:
        pytest.skip("Python 3.13 is not installed")
    result = probe(interp.path, textwrap.dedent("""
        import cgi
        print(json.dumps({"applied": shim.APPLIED,
                          "header": cgi.parse_header('form-data; name="f"; filename="a;b.txt"'),
                          "boundary": bool(cgi.valid_boundary("----abc"))}))
    """))
    assert result["applied"][-1] == "cgi-stand-in"
    assert result["header"] == ["form-data", {"name": "f", "filename": "a;b.txt"}]
    assert result["boundary"] is True


_FOR_17 = textwrap.dedent("""
    import types
    django = types.ModuleType("django")
    django.VERSION = tuple(int(part) for part in sys.argv[2].split("."))
    sys.modules["django"] = django
    import html.parser, inspect
    try:
        import imp
        stand_in = imp.__doc__.startswith("Stand-in")
    except ImportError:
        stand_in = None
    print(json.dumps({"applied": shim.APPLIED, "imp": stand_in,
                      "error": issubclass(html.parser.HTMLParseError, Exception),
                      "argspec": list(inspect.getargspec(lambda a, b=1, *c, **d: 0))}))
""")


@pytest.mark.parametrize("version, imp", [("1.7", True), ("1.8", None)])
def test_django_17_patches_on_312(version, imp):
    """1.7's own patches on 3.12: HTMLParseError, getargspec, and an empty `imp` only for a
    Django older than 1.8 (anyone else keeps the ImportError)."""
    interp = interpreters.find("3.12")
    if interp is None:
        pytest.skip("Python 3.12 is not installed")
    out = subprocess.run([interp.path, "-c", _PROBE + _FOR_17, str(shim.SOURCE.parent), version],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["imp"] is imp and result["error"] is True
    assert result["argspec"] == [["a", "b"], "c", "d", [1]]
    assert {"html-parse-error", "inspect-getargspec"} <= set(result["applied"])
    assert ("imp-stand-in" in result["applied"]) is bool(imp)


# -- environments: marker, refresh, broken shim --------------------------------------------


@pytest.fixture
def python311():
    interp = interpreters.find(ACCEPTANCE_PYTHON)
    if interp is None:
        skip_or_fail("Python %s is not installed (e.g. `pyenv install 3.11`)" % ACCEPTANCE_PYTHON)
    return interp


@pytest.fixture
def borrowed_env(python311, tmp_path, monkeypatch):
    """A real venv (no pip) in a private cache whose Django is borrowed from the shared
    1.9 shim env by symlink: the shim files it gets are its own, the shared env is
    never touched."""
    shared = environments.ensure("1.9", ACCEPTANCE_PYTHON)
    cache = tmp_path / "cache"
    monkeypatch.setenv("MIGBENCH_CACHE", str(cache))
    path = cache / "envs" / shared.path.name
    subprocess.run([python311.path, "-m", "venv", "--without-pip", str(path)], check=True)
    site = path / "lib" / ("python%s" % ACCEPTANCE_PYTHON) / "site-packages"
    (site / "django").symlink_to(environments._site_packages(shared.path, shared.python,
                                                             python311) / "django")
    return path, site


def _write_marker(path: Path, **fields) -> dict:
    marker = {"python_version": interpreters.find(ACCEPTANCE_PYTHON).version,
              "django_version": "1.9.13", "shim": True, "created_at": 1.0,
              "interpreter": interpreters.find(ACCEPTANCE_PYTHON).path}
    marker.update(fields)
    (path / MARKER).write_text(json.dumps(marker))
    return marker


@pytest.mark.e2e
def test_a_changed_shim_is_copied_again_without_a_rebuild(borrowed_env, monkeypatch):
    path, site = borrowed_env
    _write_marker(path, shim_sha256="0" * 64)  # built with another shim
    monkeypatch.setattr(environments, "_build", lambda *a: pytest.fail("rebuilt"))
    env = environments.ensure("1.9", ACCEPTANCE_PYTHON)
    assert (env.path, env.shim, env.shim_sha256) == (path, True, shim.digest())
    assert (site / shim.PTH).read_text() == shim.PTH_LINE
    assert (site / (shim.MODULE + ".py")).read_bytes() == shim.SOURCE.read_bytes()
    assert list((site / "__pycache__").glob(shim.MODULE + ".*.pyc")), "not byte-compiled"
    marker = json.loads((path / MARKER).read_text())
    assert marker["created_at"] == 1.0 and marker["shim"] is True
    assert environments.ensure("1.9", ACCEPTANCE_PYTHON) == env  # now current: no work


@pytest.mark.e2e
def test_a_broken_shim_fails_the_build_with_one_line(borrowed_env, monkeypatch):
    path, site = borrowed_env
    _write_marker(path, shim_sha256="0" * 64)
    broken = {shim.MODULE + ".py": b"APPLIED = []\n", shim.PTH: shim.PTH_LINE.encode()}
    monkeypatch.setattr(shim, "files", lambda: broken)
    monkeypatch.setattr(shim, "digest", lambda: "1" * 64)
    with pytest.raises(MigbenchError) as error:
        environments.ensure("1.9", ACCEPTANCE_PYTHON)
    message = one_line(error)
    assert message.startswith("building environment %s: loading Django through the "
                              "compatibility shim failed (exit 1): " % path.name), message
    assert "cannot import name 'Iterator' from 'collections'" in message
    assert message.endswith("report it, and use a native Python meanwhile")
    assert not (path / MARKER).exists(), "an env that failed its check must not look built"


# -- the acceptance runs: the quick project on every 1.x line, Python 3.11 ----------------


@pytest.fixture(scope="module")
def shim_env():
    cache: dict[str, object] = {}

    def get(line: str):
        if line not in cache:
            try:
                cache[line] = environments.ensure(line, ACCEPTANCE_PYTHON)
            except MigbenchError as error:
                cache[line] = error
        found = cache[line]
        if isinstance(found, MigbenchError):
            skip_or_fail(str(found))
        return found

    return get


_LEGACY_ALTER_TABLE = (
    "import django; django.setup(); from django.db import connection; "
    "cursor = connection.cursor(); cursor.execute('PRAGMA legacy_alter_table'); "
    "print(cursor.fetchone()[0])"
)


@pytest.mark.e2e
@pytest.mark.matrix
@pytest.mark.parametrize("line", OLD_LINES)
def test_quick_project_is_valid_through_the_shim(line, shim_env, tmp_path):
    env = shim_env(line)
    assert env.shim and env.shim_sha256 == shim.digest()
    assert env.python_version.startswith(ACCEPTANCE_PYTHON + ".")
    target = resolve_line(line)
    project = build_project(resolve_scenario("quick"), target)
    out = write_project(project, tmp_path / "project")
    result = validate_project(out, env.python, target, project.app_labels, tmp_path / "work")
    assert result.ok, "quick on Django %s (Python %s, shim):\n%s\n\n%s" % (
        env.django_version, env.python_version,
        "\n".join(step.line() for step in result.steps), result.failures(),
    )
    # The project's own SQLite fix for Django < 2.2 is what keeps the writes above
    # working; check it is switched on under the shim, not just that nothing broke.
    child_env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "DJANGO_"))}
    child_env.update(DJANGO_SETTINGS_MODULE="benchproject.settings",
                     MIGBENCH_DATABASE_URL="sqlite:///%s" % (tmp_path / "pragma.sqlite3"))
    pragma = subprocess.run([str(env.python), "-c", _LEGACY_ALTER_TABLE], cwd=out,
                            env=child_env, capture_output=True, text=True, timeout=60)
    assert pragma.returncode == 0 and pragma.stdout.split() == ["1"], pragma.stderr
