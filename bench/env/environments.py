"""One cached virtualenv per (Python, Django) pair, asv style.

A target project runs in its own environment so the bench can compare Django 1.8 on
Python 2.7 with 6.0 on 3.12 from one parent process. Building one costs ~10-15 s
(venv + pip), so environments are kept under the cache root and reused:

    <cache_root>/envs/py3.11.7-django4.2.30/    the environment
    <cache_root>/envs/.../migbench-env.json     marker, written LAST: no marker = not built
    <cache_root>/locks/py3.11.7-django4.2.30.lock   fcntl lock serialising builders
    <cache_root>/tools/virtualenv/              private virtualenv<20.22 for Python 2.7

Django 1.7-1.11 on Python >= 3.8 run through the compatibility shim (bench/env/shim):
its module and a .pth line go into the env's site-packages, the marker says
"shim": true and records the shim's sha256, and `ensure` copies a changed shim
again (then re-verifies) without rebuilding the venv.

POSIX only (fcntl, bin/python), like the limiters the bench relies on.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from migbench.errors import MigbenchError
from migbench.targets import is_line, resolve_line, version_key

from . import interpreters, shim as shim_files, sources
from .interpreters import Interpreter

MARKER = "migbench-env.json"
_MARKER_KEYS = ("python_version", "django_version", "shim", "created_at", "interpreter")
# Optional marker key (absent from markers written before the shim existed).
_SHIM_DIGEST_KEY = "shim_sha256"
_TOOL_MARKER = "migbench-tool.json"
# virtualenv 20.22 dropped creating Python 2.7 (and < 3.7) environments.
_VIRTUALENV_REQ = "virtualenv<20.22"
_VENV_TIMEOUT = 300
_PIP_TIMEOUT = 900
# Python 3.6's pip 18 crashes on PIP_NO_CACHE_DIR=1; PYTHON* would leak the parent's
# libraries into a 2.7 child.
_STRIPPED_ENV = ("PIP_NO_CACHE_DIR", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")


@dataclass(frozen=True)
class Environment:
    """A built, verified environment (its marker exists)."""

    path: Path
    python: Path  # the venv's interpreter
    python_version: str
    django_version: str
    shim: bool = False  # Django runs through the compatibility shim (bench/env/shim)
    shim_sha256: str | None = None  # digest of the shim files installed, if any
    source: dict | None = None  # a checkout's or commit's Django: sources.Snapshot.describe(); None: PyPI

    @property
    def key(self) -> str:
        return self.path.name


def cache_root() -> Path:
    """$MIGBENCH_CACHE, else $XDG_CACHE_HOME/migbench, else ~/.cache/migbench."""
    if os.environ.get("MIGBENCH_CACHE"):
        return Path(os.environ["MIGBENCH_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "migbench"


def env_key(python_version: str, django_version: str) -> str:
    """Directory name of an environment: full versions, so a patch upgrade is a new env."""
    return "py%s-django%s" % (python_version, django_version)


# -- building ----------------------------------------------------------------------------


def ensure(django: str, python: str | None = None) -> Environment:
    """The environment for `django` ("1.8" = the line's latest, or exact "4.2.11").

    Built on first use, reused afterwards; safe against concurrent callers (two tox
    envs asking for the same pair) and against a build killed half-way. A checkout's or a
    commit's spec (sources.py) gets an environment keyed by its commit and uncommitted changes.
    """
    if sources.is_spec(django):
        source = sources.parse(django)
        snap = sources.snapshot(source)
        version, build = snap.identity, lambda path, interp, shim: _build_source(path, interp, source, snap, shim)
        line = resolve_line(source.version)
    else:
        version = _exact_version(django)
        build = lambda path, interp, shim: _build(path, interp, version, shim)
        line = resolve_line(version)
    interp = interpreters.for_django(line, python)
    shim = line.needs_shim(interp.minor)
    path = cache_root() / "envs" / env_key(interp.version, version)
    env = _load(path)  # fast path: the marker is written atomically and last
    if env is not None and _shim_current(env, shim):
        return env
    with locked(path.name):
        env = _load(path)  # another process may have built it while we waited
        if env is None:
            build(path, interp, shim)
        elif not _shim_current(env, shim):
            _sync_shim(env, interp, shim)
        env = _load(path)
        assert env is not None, "marker written but unreadable: %s" % path
        return env


def _build_source(path: Path, interp: Interpreter, source: sources.Source, snap: sources.Snapshot,
                  shim: bool) -> None:
    """Build the environment of a checkout or commit (`ensure` holds its lock); undone on failure.

    The tree is copied into the environment (`django-src/`) and put on its path by a .pth file,
    over a copy of a base venv holding the dependencies its metadata declares: a snapshot, not a
    link, so editing the checkout afterwards never changes what an environment measured (the edit
    is a new identity, a new environment). Building a wheel instead costs ~10 s a commit, which
    `migbench find` would pay at every probe."""
    if path.exists():
        shutil.rmtree(path)  # no valid marker: a crashed or foreign build
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.parent / ("." + path.name + ".tree")  # hidden: not an env to list or prune
    try:
        shutil.rmtree(staged, ignore_errors=True)
        tree = sources.export(source, snap, staged)
        _copy_base(_base(interp, sources.requirements(tree)), path)
        python = _venv_python(path)
        # resolved: the cache root may be reached through a symlink that does not outlive this build
        tree = tree.rename(path / "django-src").resolve()
        (_site_packages(path, python, interp) / "migbench-django-src.pth").write_text(str(tree) + "\n")
        # Byte-compiled now, as pip compiles a release it installs: the measured children run with
        # PYTHONDONTWRITEBYTECODE, so an uncompiled tree would be compiled again at every run (~0.5 s
        # of each run, which a release does not pay: a checkout would look slower than its release).
        # Not checked: a file that does not compile (a template written as .py) fails compileall's exit
        # status and nothing else; the import check below is what says the tree works.
        jobs = ["-j", "0"] if version_key(interp.minor) >= (3, 5) else []  # 2.7's compileall has no -j
        subprocess.run([str(python), "-m", "compileall", "-q", *jobs, str(tree)], capture_output=True,
                       timeout=_PIP_TIMEOUT, stdin=subprocess.DEVNULL,
                       env={k: v for k, v in os.environ.items() if k not in _STRIPPED_ENV})
        digest = _install_shim(path, python, interp) if shim else None
        _verify_tree(path, python, tree, shim)
        _write_json(path / MARKER, {
            "python_version": interp.version, "django_version": snap.identity, "shim": shim,
            _SHIM_DIGEST_KEY: digest, "created_at": time.time(), "interpreter": interp.path,
            "source": snap.describe(source)})
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(staged, ignore_errors=True)
        raise


def _base(interp: Interpreter, needs: list[str]) -> Path:
    """A venv with `needs` installed and no Django, built once per (Python, requirements), copied for
    every commit that declares the same ones: a copy costs a fraction of a second, a venv with pip
    and the requirements ~5 s, which `migbench find` would pay at every probe."""
    key = hashlib.sha256("\n".join(sorted(needs)).encode()).hexdigest()[:12]
    base = cache_root() / "bases" / ("py%s-req%s" % (interp.version, key))
    if (base / _TOOL_MARKER).is_file() and _venv_python(base).exists():
        return base
    with locked("base-" + base.name):
        if (base / _TOOL_MARKER).is_file() and _venv_python(base).exists():
            return base
        shutil.rmtree(base, ignore_errors=True)
        base.parent.mkdir(parents=True, exist_ok=True)
        try:
            _create_venv(base, interp)
            if needs:
                _run([str(_venv_python(base)), "-m", "pip", "install", "--disable-pip-version-check", *needs],
                     base.name, "pip install %s" % " ".join(needs), _PIP_TIMEOUT)
            _write_json(base / _TOOL_MARKER, {"requirements": needs, "created_at": time.time()})
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise
    return base


def _copy_base(base: Path, path: Path) -> None:
    """A copy of a base venv at `path`: its python is a symlink to the interpreter and its prefix
    is where pyvenv.cfg lies, so the copy is a venv of its own (pip runs as `python -m pip`)."""
    shutil.copytree(base, path, symlinks=True, ignore=shutil.ignore_patterns(_TOOL_MARKER))


def _verify_tree(path: Path, python: Path, tree: Path, shim: bool) -> None:
    """The env imports Django from its own copy of the tree, not from anywhere else."""
    out = _run([str(python), "-c", (_SHIM_SMOKE if shim else "") + "\nimport django; print(django.__file__)"],
               path.name, "importing Django from the checkout", 120, hint=_SHIM_HINT if shim else _NETWORK_HINT)
    found = out.strip().splitlines()[-1] if out.strip() else ""
    if not found.startswith(str(tree) + os.sep):
        raise MigbenchError("environment %s imports Django from %s, not from its copy of the checkout (%s); "
                            "delete it with `rm -rf %s` and retry" % (path.name, found or "nowhere", tree, path))


def ensure_driver(env: Environment, engine: str, requirement: str, module: str, distribution: str,
                  system_packages: tuple[str, ...] = ()) -> dict:
    """The database driver `requirement` installed into `env` (cached), as the record names it.

    Drivers are per engine and installed on first use into the environment that
    already holds Django (a second venv per engine would double every build);
    each engine's marker (migbench-driver-ENGINE.json) is written after the
    driver imports, so a half-installed driver is retried. A different
    requirement for the same engine reinstalls. Returns {"module", "package",
    "version", "requirement"}.
    """
    marker_path = env.path / ("migbench-driver-%s.json" % engine)
    found = _read_marker(marker_path)
    if found.get("requirement") == requirement:
        return found
    with locked(env.path.name):
        found = _read_marker(marker_path)
        if found.get("requirement") == requirement:
            return found
        marker_path.unlink(missing_ok=True)
        hint = _NETWORK_HINT
        if system_packages:
            hint = ("it is built from source: install its build dependencies with "
                    "`apt-get install %s`, then retry" % " ".join(system_packages))
        _run([str(env.python), "-m", "pip", "install", "--disable-pip-version-check", requirement],
             env.path.name, "pip install %s" % requirement, _PIP_TIMEOUT, hint=hint)
        out = _run([str(env.python), "-c", _DRIVER_PROBE % (module, distribution)], env.path.name,
                   "importing %s" % module, 120, hint=hint)
        version = out.strip().splitlines()[-1] if out.strip() else ""
        found = {"module": module, "package": distribution, "version": version, "requirement": requirement}
        _write_json(marker_path, found)
        return found


# Imports the driver as Django will, then prints the installed distribution's version
# (pkg_resources exists on every pip-made venv from 2.7 on; importlib.metadata from 3.8).
_DRIVER_PROBE = """\
import %s
try:
    from importlib.metadata import version
except ImportError:
    from pkg_resources import get_distribution
    version = lambda name: get_distribution(name).version
print(version(%r))
"""


def _read_marker(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _shim_current(env: Environment, shim: bool) -> bool:
    """The env has the shim iff it needs it, and then the current one."""
    if env.shim != shim:
        return False
    return not shim or env.shim_sha256 == shim_files.digest()


def _exact_version(django: str) -> str:
    """A line maps to its latest release; an exact release is normalised to X.Y.Z; a pre-release
    ("6.1rc1") is pip's to find, as written."""
    key = version_key(django)
    if is_line(django):
        return resolve_line(django).latest
    if len(key) == 2:
        return django.strip().lower()
    return "%d.%d.%d" % key + django.strip().lower()[len("%d.%d.%d" % key):]


def _build(path: Path, interp: Interpreter, django: str, shim: bool = False) -> None:
    """Create the venv, install Django (and the shim), verify, then write the marker.

    Undone on failure: no marker, no directory.
    """
    if path.exists():
        shutil.rmtree(path)  # no valid marker: a crashed or foreign build
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _create_venv(path, interp)
        python = _venv_python(path)
        _run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check",
             "--no-cache-dir", "Django==%s" % django],
            path.name, "pip install Django==%s" % django, _PIP_TIMEOUT,
        )
        digest = _install_shim(path, python, interp) if shim else None
        _verify(path, python, django, shim)
        _write_json(path / MARKER, {
            "python_version": interp.version,
            "django_version": django,
            "shim": shim,
            _SHIM_DIGEST_KEY: digest,
            "created_at": time.time(),
            "interpreter": interp.path,
        })
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def _sync_shim(env: Environment, interp: Interpreter, shim: bool) -> None:
    """Bring a built env's shim files up to date (copy, or remove), re-verify, re-mark.

    The venv and its Django stay; only the marker's shim fields change. A failed
    verify leaves the env without a marker, so the next `ensure` rebuilds it.
    """
    marker_path = env.path / MARKER
    marker = json.loads(marker_path.read_text())
    marker_path.unlink()  # not usable until verified again
    if shim:
        marker[_SHIM_DIGEST_KEY] = _install_shim(env.path, env.python, interp)
    else:
        shim_files.uninstall(_site_packages(env.path, env.python, interp))
        marker[_SHIM_DIGEST_KEY] = None
    marker["shim"] = shim
    _verify(env.path, env.python, env.django_version, shim)
    marker["shim_updated_at"] = time.time()
    _write_json(marker_path, marker)


def _install_shim(path: Path, python: Path, interp: Interpreter) -> str:
    """Copy the shim into the env's site-packages and byte-compile it; return its digest.

    Compiled here because child processes often run with PYTHONDONTWRITEBYTECODE
    (the validity checks do), and compiling the shim at every start costs ~4 ms.
    """
    digest = shim_files.digest()
    module, _pth = shim_files.install(_site_packages(path, python, interp))
    _run([str(python), "-m", "py_compile", str(module)], path.name,
         "compiling the compatibility shim", 60, hint=_SHIM_HINT)
    return digest


def _site_packages(path: Path, python: Path, interp: Interpreter) -> Path:
    """<env>/lib/pythonX.Y/site-packages, else whatever the env's python says."""
    guess = path / "lib" / ("python%s" % interp.minor) / "site-packages"
    if guess.is_dir():
        return guess
    out = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
               path.name, "locating site-packages", 60)
    return Path(out.strip())


def _create_venv(path: Path, interp: Interpreter) -> None:
    """`-m venv` where it exists (3.3+); Python 2.7 goes through the private virtualenv."""
    if version_key(interp.minor) >= (3, 3):
        cmd = [interp.path, "-m", "venv", str(path)]
    else:
        tool = _virtualenv_tool()
        cmd = [str(tool), "-m", "virtualenv", "--no-periodic-update", "-p", interp.path,
               str(path)]
    _run(cmd, path.name, "creating the virtualenv with Python %s" % interp.version,
         _VENV_TIMEOUT)


def _virtualenv_tool() -> Path:
    """Python of a private venv holding virtualenv<20.22, built once.

    Kept out of the user's environment on purpose: tox needs a modern virtualenv,
    and modern virtualenv cannot create Python 2.7 environments.
    """
    tool = cache_root() / "tools" / "virtualenv"
    python = _venv_python(tool)
    if (tool / _TOOL_MARKER).is_file() and python.exists():
        return python
    with locked("tool-virtualenv"):
        if (tool / _TOOL_MARKER).is_file() and python.exists():
            return python
        if tool.exists():
            shutil.rmtree(tool)
        tool.parent.mkdir(parents=True, exist_ok=True)
        try:
            _run([sys.executable, "-m", "venv", str(tool)], "tools/virtualenv",
                 "creating the tool venv", _VENV_TIMEOUT)
            _run([str(python), "-m", "pip", "install", "--disable-pip-version-check",
                  "--no-cache-dir", _VIRTUALENV_REQ], "tools/virtualenv",
                 "pip install %s" % _VIRTUALENV_REQ, _PIP_TIMEOUT)
            _write_json(tool / _TOOL_MARKER, {"requirement": _VIRTUALENV_REQ,
                                              "created_at": time.time()})
        except BaseException:
            shutil.rmtree(tool, ignore_errors=True)
            raise
    return python


# Runs in shim envs (Python >= 3.8, Django 1.7-1.11): touches every patch of the shim
# (collections, gettext, ModelBase.__classcell__, six.moves, cgi through django.test).
_SHIM_SMOKE = """\
import sys
if "migbench_django_shim" not in sys.modules:
    sys.exit("the shim's .pth was not processed at start-up")
import django
import django.core.management, django.db.migrations, django.db.models, django.test
from django.conf import settings
settings.configure(INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
                   DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                                          "NAME": ":memory:"}},
                   USE_I18N=True)
django.setup()
from django.utils import translation
translation.activate("fr")
translation.ugettext("Yes")

class Probe(django.db.models.Model):
    class Meta:
        app_label = "migbench_probe"

    def save(self, *args, **kwargs):
        return super().save(*args, **kwargs)

print(django.get_version())
"""
_SHIM_HINT = ("this is a migbench bug (the compatibility shim no longer covers this pair): "
              "report it, and use a native Python meanwhile")


def _verify(path: Path, python: Path, django: str, shim: bool = False) -> None:
    """Import Django with the env's python: pip's exit code alone has lied before.

    With the shim, also load the ORM, the management commands, the test client,
    the auth models and a translation, so a shim that does not cover the pair
    fails the build with one line instead of the first real command.
    """
    if shim:
        out = _run([str(python), "-c", _SHIM_SMOKE], path.name,
                   "loading Django through the compatibility shim", 120, hint=_SHIM_HINT)
    else:
        out = _run([str(python), "-c", "import django; print(django.get_version())"],
                   path.name, "importing Django", 120)
    out = out.strip().splitlines()[-1] if out.strip() else ""
    if _normal(out) != _normal(django):
        raise MigbenchError(
            "environment %s imports Django %s instead of %s; delete it with "
            "`rm -rf %s` and retry" % (path.name, out, django, path)
        )


def _normal(version: str) -> tuple:
    """(major, minor, micro, rest): "6.1" and "6.1.0" are one release, "6.1rc1" another."""
    try:
        key = version_key(version)
    except MigbenchError:
        return (version,)
    release = "%d.%d" % key[:2] + ("" if len(key) == 2 else ".%d" % key[2])
    return key + (0,) * (3 - len(key)) + (version.strip().lower()[len(release):],)


_NETWORK_HINT = "check the network, pip's index and the version, then retry"


def _run(cmd: list[str], env_name: str, what: str, timeout: float,
         hint: str = _NETWORK_HINT) -> str:
    """Run a build step; failure becomes one line naming the env and stderr's tail."""
    child_env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_ENV}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=child_env, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise MigbenchError(
            "building environment %s: %s timed out after %d s; check the network or "
            "pip's index and retry" % (env_name, what, timeout)
        ) from None
    except OSError as exc:
        raise MigbenchError("building environment %s: %s failed to start (%s)"
                            % (env_name, what, exc)) from None
    if proc.returncode != 0:
        raise MigbenchError(
            "building environment %s: %s failed (exit %d): %s; %s"
            % (env_name, what, proc.returncode, _tail(proc.stderr or proc.stdout), hint)
        )
    return proc.stdout


def _tail(text: str, lines: int = 2, width: int = 160) -> str:
    """The last meaningful lines of a tool's output, squeezed onto one line.

    Each line is cut at `width`: pip's "from versions: ..." list alone runs to
    kilobytes and would bury the "No matching distribution" line after it.
    """
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()]
    cut = [line if len(line) <= width else line[:width] + "..." for line in kept[-lines:]]
    return " | ".join(cut) or "no output"


def _venv_python(path: Path) -> Path:
    return path / "bin" / "python"


def _write_json(target: Path, data: dict) -> None:
    """Write atomically (tmp + rename) so a reader never sees half a marker."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, target)


@contextlib.contextmanager
def locked(name: str, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive fcntl lock <cache_root>/locks/<name>.lock.

    Lock files are never deleted: unlinking a lock file another process holds
    would let a third process lock a fresh inode and build concurrently.
    Yields False (without the lock) when non-blocking and already held.
    """
    locks = cache_root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / (name + ".lock"), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- inspecting and cleaning --------------------------------------------------------------


def _load(path: Path) -> Environment | None:
    """The Environment if `path` holds a complete build (valid marker, python present)."""
    try:
        marker = json.loads((path / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or any(k not in marker for k in _MARKER_KEYS):
        return None
    python = _venv_python(path)
    if not python.exists():  # dangling symlink: the base interpreter was uninstalled
        return None
    digest = marker.get(_SHIM_DIGEST_KEY)
    source = marker.get("source")
    return Environment(path=path, python=python, source=source if isinstance(source, dict) else None,
                       python_version=str(marker["python_version"]),
                       django_version=str(marker["django_version"]),
                       shim=bool(marker["shim"]),
                       shim_sha256=str(digest) if digest else None)


def _env_dirs() -> list[Path]:
    envs = cache_root() / "envs"
    if not envs.is_dir():
        return []
    return sorted(p for p in envs.iterdir() if p.is_dir() and not p.name.startswith("."))


def list_envs() -> list[Environment]:
    """Every complete environment under the cache root."""
    return [env for env in map(_load, _env_dirs()) if env is not None]


def remove(env: Environment) -> None:
    """Delete one environment, waiting for anyone building it."""
    with locked(env.path.name):
        shutil.rmtree(env.path, ignore_errors=True)


def prune() -> list[Path]:
    """Delete env dirs without a valid marker (crashed builds, uninstalled Pythons).

    Dirs whose lock is held are skipped: they are being built right now.
    """
    removed = []
    for path in _env_dirs():
        if _load(path) is not None:
            continue
        with locked(path.name, blocking=False) as got:
            if got and _load(path) is None:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


__all__ = ["Environment", "MARKER", "cache_root", "ensure", "env_key", "list_envs",
           "prune", "remove"]
