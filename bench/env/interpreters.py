"""Find the CPython interpreters installed on this machine and pick one per Django line.

Django 1.8 needs Python 2.7/3.5/3.6 while 6.0 needs 3.12+, so the bench must look
beyond the interpreter it runs on. Nothing is hard-coded: interpreters come from
pyenv, uv's managed installs, ``pythonX.Y`` on PATH and the current interpreter.
Every candidate is *asked* its version (file names lie: shims, symlinks, venvs),
with a probe that also runs on Python 2.7.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from migbench.errors import MigbenchError
from migbench.targets import DjangoLine

# Runs on 2.7 and 3.x alike: no f-strings, no print function needed.
_PROBE = (
    "import sys; v = sys.version_info; "
    "sys.stdout.write('%d.%d.%d|%d|%s' % (v[0], v[1], v[2], "
    "'__pypy__' in sys.builtin_module_names, sys.executable))"
)
_PROBE_TIMEOUT = 10.0
_MINOR_RE = re.compile(r"^\d+\.\d+$")
_PATH_NAME_RE = re.compile(r"^python(\d+(\.\d+)?)?$")  # python, python3, python3.11; not 3.13t

# Final patch releases of retired lines, so the hint is a command that works as typed.
_FINAL_RELEASES = {"2.7": "2.7.18", "3.5": "3.5.10", "3.6": "3.6.15", "3.7": "3.7.17"}


@dataclass(frozen=True)
class Interpreter:
    """One CPython interpreter that answered the version probe."""

    path: str
    version: str  # full "3.11.7"
    source: str  # "pyenv" | "uv" | "path" | "explicit" | "current"

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


_cache: list[Interpreter] | None = None


# -- discovery -------------------------------------------------------------------------


def discover(refresh: bool = False) -> list[Interpreter]:
    """All CPython interpreters found, pyenv first; cached for the process lifetime.

    Order matters: `find` returns the first match, and pyenv/uv builds are complete
    (venv, ensurepip) where distro pythons sometimes are not.
    """
    global _cache
    if _cache is None or refresh:
        _cache = _probe_all(_candidates())
    return list(_cache)


def find(minor: str) -> Interpreter | None:
    """The preferred installed interpreter for a minor version like "3.11", if any."""
    for interp in discover():
        if interp.minor == minor:
            return interp
    return None


def explicit(path: str) -> Interpreter:
    """Probe a user-given interpreter (a path, or a command name found on PATH)."""
    resolved = path if os.sep in path else (shutil.which(path) or path)
    if not os.path.isfile(resolved):
        raise MigbenchError(
            "no Python interpreter at %s; pass the path of an installed python to --python" % path
        )
    answer = _probe(resolved)
    if isinstance(answer, str):
        raise MigbenchError(
            "%s does not run as a CPython interpreter (%s); pass a working python to --python"
            % (path, answer)
        )
    return Interpreter(resolved, answer[0], "explicit")


def _candidates() -> list[tuple[str, str]]:
    """(path, source) pairs, best sources first, deduplicated by realpath before probing."""
    found: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(path: str | Path, source: str) -> None:
        path = str(path)
        if not os.path.isfile(path) or not os.access(path, os.X_OK):
            return
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            found.append((path, source))

    pyenv_root = _pyenv_root()
    if pyenv_root:
        for version_dir in sorted((pyenv_root / "versions").glob("*"), key=_natural_key):
            exe = version_dir / "bin" / "python"
            add(exe if exe.exists() else version_dir / "bin" / "python3", "pyenv")
    uv_dir = _uv_python_dir()
    if uv_dir:
        for exe in sorted(uv_dir.glob("*/bin/python3"), key=_natural_key):
            add(exe, "uv")
    for exe in _path_pythons(pyenv_root):
        add(exe, "path")
    add(sys.executable, "current")
    return found


def _pyenv_root() -> Path | None:
    """$PYENV_ROOT, else what `pyenv root` says, else pyenv's documented default."""
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        try:
            root = subprocess.run(
                ["pyenv", "root"], capture_output=True, text=True, timeout=_PROBE_TIMEOUT
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            root = None
    if not root:
        root = os.path.expanduser("~/.pyenv")
    path = Path(root)
    return path if (path / "versions").is_dir() else None


def _uv_python_dir() -> Path | None:
    """uv's managed-python directory ($UV_PYTHON_INSTALL_DIR or its XDG default)."""
    root = os.environ.get("UV_PYTHON_INSTALL_DIR")
    if not root:
        data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
        root = os.path.join(data, "uv", "python")
    path = Path(root)
    return path if path.is_dir() else None


def _path_pythons(pyenv_root: Path | None) -> list[str]:
    """python, python2, python3, pythonX.Y on PATH, skipping pyenv's shims.

    Shims are slow bash scripts that fail for versions not activated by `pyenv
    global`; the real binaries behind them are already found under versions/.
    """
    pyenv_real = os.path.realpath(pyenv_root) if pyenv_root else None
    result = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not os.path.isdir(directory):
            continue
        real_dir = os.path.realpath(directory)
        if pyenv_real and (real_dir + os.sep).startswith(pyenv_real + os.sep):
            continue
        try:
            names = sorted(os.listdir(directory), key=_natural_key)
        except OSError:
            continue
        result.extend(os.path.join(directory, n) for n in names if _PATH_NAME_RE.match(n))
    return result


def _natural_key(item: str | Path) -> list:
    """Sort "3.9" before "3.10" so listings read naturally."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(item))]


def _probe_all(candidates: list[tuple[str, str]]) -> list[Interpreter]:
    """Probe candidates concurrently (each probe is a process start, ~10-40 ms)."""
    if not candidates:
        return []
    with ThreadPoolExecutor(max_workers=min(16, len(candidates))) as pool:
        answers = list(pool.map(lambda c: _probe(c[0]), candidates))
    return [
        Interpreter(path, answer[0], source)
        for (path, source), answer in zip(candidates, answers)
        if not isinstance(answer, str)
    ]


def _probe(path: str) -> tuple[str, str] | str:
    """(version, sys.executable) for a working CPython, else a short reason string."""
    try:
        proc = subprocess.run(
            [path, "-E", "-S", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return type(exc).__name__
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]
        return tail[:200]
    try:
        version, pypy, executable = proc.stdout.split("|", 2)
    except ValueError:
        return "unexpected probe output %r" % proc.stdout[:80]
    if pypy == "1":
        return "not CPython (PyPy)"
    return version, executable


# -- choosing one for a Django line ------------------------------------------------------


def for_django(line: DjangoLine, python: str | None = None) -> Interpreter:
    """The interpreter to build `line`'s environment with.

    `python` is None (first installed of line.pythons: natively only), a minor
    ("3.6") or a path. A Python the user names may also be one of
    line.shim_pythons, which run the line through the compatibility shim
    (`line.needs_shim(interp.minor)` tells; environments install it).
    """
    if python is None:
        for minor in line.pythons:
            interp = find(minor)
            if interp:
                return interp
        found = sorted({i.minor for i in discover()}, key=_natural_key)
        raise MigbenchError(
            "no interpreter runs Django %s natively (wants %s; found %s); install one, e.g. "
            "`%s`, or pass --python PATH%s"
            % (line.line, _or_list(line.pythons), ", ".join(found) or "none",
               _install_hint(line.pythons[0]), _shim_hint(line, found))
        )
    if _MINOR_RE.match(python):
        _check_supported(line, python)
        interp = find(python)
        if interp is None:
            raise MigbenchError(
                "Python %s is not installed (Django %s runs natively on %s%s); install it, "
                "e.g. `%s`, or pass --python PATH"
                % (python, line.line, _or_list(line.pythons), _shim_clause(line),
                   _install_hint(python))
            )
        return interp
    interp = explicit(python)
    _check_supported(line, interp.minor, python)
    return interp


def _check_supported(line: DjangoLine, minor: str, given: str | None = None) -> None:
    """Refuse Pythons that run the line neither natively nor through the shim."""
    if minor in line.pythons or minor in line.shim_pythons:
        return
    what = "Python %s" % minor if given is None else "%s (Python %s)" % (given, minor)
    if line.shim_pythons:
        raise MigbenchError(
            "Django %s does not run on %s; use %s (natively) or %s (through the compatibility "
            "shim), or omit --python"
            % (line.line, what, _or_list(line.pythons), _or_list(line.shim_pythons))
        )
    raise MigbenchError(
        "Django %s does not run on %s; use one of %s or omit --python"
        % (line.line, what, _or_list(line.pythons))
    )


def _shim_clause(line: DjangoLine) -> str:
    if not line.shim_pythons:
        return ""
    return ", and on %s through the compatibility shim" % _or_list(line.shim_pythons)


def _shim_hint(line: DjangoLine, found: list[str]) -> str:
    """Point at an installed Python that runs the line through the shim, if any."""
    usable = [minor for minor in line.shim_pythons if minor in found]
    if not usable:
        return ""
    return " (or --python %s, which runs it through the compatibility shim)" % usable[0]


def _or_list(items: tuple[str, ...] | list[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else "%s or %s" % (", ".join(items[:-1]), items[-1])


def _install_hint(minor: str) -> str:
    return "pyenv install %s" % _FINAL_RELEASES.get(minor, minor)
