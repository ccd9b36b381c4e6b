"""What the user points migbench at: a project tree or an installed project's launcher, its
interpreter, its settings and its environment variables, validated before anything runs.

Pure apart from reading the user's files (manage.py, to find the settings module it
defaults to) and asking the user's interpreter where a launcher's package lives. Every
refusal is one line naming the fix (MigbenchError).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from migbench.errors import MigbenchError
from migbench.units import show

# `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings.dev")` in manage.py
_SETDEFAULT = re.compile(r"""setdefault\(\s*['"]DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([A-Za-z_][\w.]*)['"]""")
_ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MODULE = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")
# Variables migbench sets itself in every child: the user's --env must not replace them.
RESERVED = ("MIGBENCH_DATABASE_URL", "DJANGO_SETTINGS_MODULE", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
# The placeholder a --env value may use for the Redis migbench starts or is given (--redis).
REDIS_PLACEHOLDER = "{redis}"


@dataclass(frozen=True)
class ProjectSource:
    """A real project as the user gave it; `tree` is what migbench copies (never writes into)."""

    tree: Path  # the directory copied: the project root, or the launcher's package directory's parent
    python: Path  # the user's interpreter (a venv's bin/python, or any python with Django)
    settings: str  # the user's settings module
    name: str  # names records and the cache: the tree's directory name unless --name
    env: dict = field(default_factory=dict)  # --env KEY=VALUE, applied before the user's settings load
    launcher: tuple = ()  # --manage: the argv that replaces `python manage.py` (empty: manage.py)
    packages: tuple = ()  # --manage: the top-level packages copied out of the user's environment
    redis: str | None = None  # "embedded" or a redis:// URL; None: the project needs no Redis

    def describe(self) -> str:
        how = ("launcher %s" % " ".join(self.launcher)) if self.launcher else "manage.py"
        return "%s (%s, settings %s, %s)" % (self.tree, how, self.settings, self.python)


def parse_env(values: list[str] | None) -> dict[str, str]:
    """--env KEY=VALUE (repeatable) into a dict; a malformed one is one line."""
    env: dict[str, str] = {}
    for item in values or []:
        key, eq, value = item.partition("=")
        if not eq or not _ENV_KEY.fullmatch(key):
            raise MigbenchError("--env %s: expected KEY=VALUE with KEY a variable name, e.g. --env "
                                "REDIS_URL={redis}" % show(item))
        if key in RESERVED:
            raise MigbenchError("--env %s: migbench sets %s itself in every child; %s" % (
                key, key, "use --settings for the settings module" if key == "DJANGO_SETTINGS_MODULE"
                else "leave it out"))
        env[key] = value
    return env


def resolve(path: str | None, manage: str | None, python: str | None, settings: str | None,
            env_values: list[str] | None = None, name: str | None = None, redis: str | None = None) -> ProjectSource:
    """The user's project from the command line's values, or one line saying what is wrong."""
    if not path and not manage:
        raise MigbenchError("give --project PATH (a directory with manage.py) or --manage \"python -m yourproject\"")
    interpreter = _interpreter(python)
    env = parse_env(env_values)
    if redis is not None and redis != "embedded" and not redis.startswith(("redis://", "rediss://", "unix://")):
        raise MigbenchError("--redis %s: give embedded (migbench starts a redis-server) or a redis:// URL"
                            % show(redis))
    if any(REDIS_PLACEHOLDER in v for v in env.values()) and redis is None:
        raise MigbenchError("--env uses %s but no --redis was given; add --redis embedded or --redis "
                            "redis://host:6379/0" % REDIS_PLACEHOLDER)
    launcher: tuple = ()
    packages: tuple = ()
    if path:
        tree = Path(path).expanduser()
        if not tree.is_dir():
            raise MigbenchError("--project %s: not a directory; give your project's root (where manage.py is)"
                                % show(path))
        tree = tree.resolve()
        if manage:
            launcher = _launcher(manage, interpreter)
        elif not (tree / "manage.py").is_file():
            raise MigbenchError("--project %s: no manage.py there; give the directory that holds it, or "
                                "your launcher with --manage \"python -m yourproject\"" % tree)
    else:
        launcher = _launcher(manage, interpreter)
        module = launcher[2] if launcher[:2] == ("python", "-m") else None
        if module is None:
            raise MigbenchError("--manage %s without --project: give it as \"python -m package\" so migbench "
                                "can find and copy the package, or add --project PATH" % show(manage))
        tree, top = _installed_package(interpreter, module.split(".")[0])
        packages = (top,)
    chosen = settings or env.get("DJANGO_SETTINGS_MODULE") or _default_settings(tree, launcher)
    if not chosen:
        raise MigbenchError("no settings module known for %s; give --settings yourproject.settings" % tree)
    if not _MODULE.fullmatch(chosen):
        raise MigbenchError("--settings %s: not a dotted module name, e.g. mysite.settings.dev" % show(chosen))
    if chosen.split(".")[0] == "benchproject":
        raise MigbenchError("--settings %s: migbench names its own overlay benchproject.settings; a project "
                            "whose package is called benchproject cannot be measured" % chosen)
    label = name or (packages[0] if packages else tree.name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", label):
        raise MigbenchError("project name %s: use --name with letters, digits, . _ - (it names the records)"
                            % show(label))
    return ProjectSource(tree=tree, python=interpreter, settings=chosen, name=label, env=env,
                         launcher=launcher, packages=packages, redis=redis)


def _interpreter(python: str | None) -> Path:
    """--python: an interpreter, or a virtualenv directory (its bin/python)."""
    if not python:
        raise MigbenchError("--project needs --python: your project's interpreter or virtualenv, e.g. "
                            "--python .venv (migbench never installs into it)")
    given = Path(python).expanduser()
    if given.is_dir():
        given = given / "bin" / "python"
    if not given.is_file():
        raise MigbenchError("--python %s: no interpreter there; give your virtualenv or its bin/python"
                            % show(python))
    return Path(given.absolute())


def _launcher(manage: str, python: Path) -> tuple:
    try:
        argv = tuple(shlex.split(manage))
    except ValueError as error:
        raise MigbenchError("--manage %s: %s; quote it as one argument, e.g. --manage \"python -m app\""
                            % (show(manage), error)) from None
    if not argv:
        raise MigbenchError("--manage: empty; give the command that replaces `python manage.py`")
    if argv[0] == "python" and len(argv) >= 3 and argv[1] == "-m":
        return argv
    script = python.parent / argv[0]
    if "/" not in argv[0] and script.is_file():  # a console script of the user's environment
        return (str(script),) + argv[1:]
    raise MigbenchError("--manage %s: expected \"python -m package [args]\" or a console script of %s's "
                        "environment" % (show(manage), python))


def _installed_package(python: Path, top: str) -> tuple[Path, str]:
    """Where `top` is installed in the user's environment (its parent directory is what is copied from)."""
    probe = ("import importlib.util, json, sys; s = importlib.util.find_spec(%r); "
             "print(json.dumps(list(s.submodule_search_locations or []) if s else None))" % top)
    try:
        done = subprocess.run([str(python), "-B", "-c", probe], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=60)
        found = json.loads(done.stdout.strip() or "null")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        found = None
    if not found:
        raise MigbenchError("--manage: package %s is not importable by %s; install your project there or "
                            "give --project PATH" % (top, python))
    return Path(found[0]).resolve().parent, top


def _default_settings(tree: Path, launcher: tuple) -> str | None:
    """The settings module manage.py (or a `python -m package` launcher's __main__.py) defaults to."""
    files = [tree / "manage.py"]
    if launcher[:2] == ("python", "-m"):
        files.insert(0, tree.joinpath(*launcher[2].split(".")) / "__main__.py")
    for path in files:
        try:
            match = _SETDEFAULT.search(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if match:
            return match.group(1)
    return None
