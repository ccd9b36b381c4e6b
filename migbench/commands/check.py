"""`migbench check`: validate a generated project on a real Django, each step a
child process in a cached (Python, Django) environment: `manage.py check`,
`makemigrations --check --dry-run`, `migrate` from empty, every app back to zero,
`migrate` again, one row written into every model. Exit status 1 when a step fails.

Side effects: may build the environment in the cache (see `migbench envs`); the
database lives in a temporary directory removed afterwards; the project is not
modified.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from migbench.errors import MigbenchError
from migbench.targets import resolve_line
from migbench.units import show


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="validate a generated project on a real Django: check, makemigrations, "
                      "migrate, every app back to zero, migrate again, write rows")
    parser.add_argument("project", help="a directory written by `migbench generate`")
    parser.add_argument("--django", help="Django line, release, pre-release or checkout path to check with (default: the project's target)")
    parser.add_argument("--python", help="interpreter: a version like 2.7 or a path (default: the first "
                                         "installed one that runs the Django line natively)")
    parser.add_argument("--database", help="engine to check on: sqlite (default), postgresql, mariadb, or a "
                                           "server URL such as postgresql://user@host:5432/")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.bench.env import environments
    from migbench.bench.run.check import validate_project
    from migbench.bench.run.matrix import install_driver

    project = Path(args.project)
    manifest = read_manifest(project)
    line = args.django or manifest["django_target"]
    if not line.isascii():  # "٥.٢" reads as 5.2
        raise MigbenchError("--django: not a Django version: %s; give a line like 4.2 or a release like 4.2.11"
                            % show(line))
    from migbench.bench.env import sources

    if sources.looks_like_path(line):  # a checkout: its spec names the tree (docs/sources.md)
        line = sources.from_checkout(line).spec
    target = resolve_line(line)
    if target.line != manifest["django_target"]:
        print("note: the project was generated for Django %s; checking it with %s"
              % (manifest["django_target"], target.line))
    engine = _engine(args.database)
    env = environments.ensure(line, args.python)
    print("checking %s with Django %s on Python %s%s (%s)" % (
        project, env.django_version, env.python_version, " (shim)" if env.shim else "", env.path))
    why = engine.unsupported(target)
    if why:
        raise MigbenchError("--database %s: Django %s: %s" % (engine.name, target.line, why))
    install_driver(env, engine, target, on_note=print)
    with tempfile.TemporaryDirectory(prefix="migbench-check-") as workdir, engine.serving():
        result = validate_project(project.absolute(), env.python, target, manifest["apps"], Path(workdir),
                                  on_step=lambda step: print("  " + step.line(), flush=True), engine=engine)
    if not result.ok:
        print(result.failures(), file=sys.stderr)
        print("FAILED", file=sys.stderr)
        return 1
    print("ok")
    return 0


def _engine(value: str | None):
    """The engine --database names (one line, exit 2, when it is unknown or not installed here)."""
    from migbench.bench import engines

    spec = engines.spec_of(value) if value else engines.DEFAULT
    if spec is None:
        raise MigbenchError("--database: %s: unknown database engine; available: %s, or a server URL such as "
                            "postgresql://user@host:5432/" % (show(value), ", ".join(engines.names())))
    engine = engines.get(spec)
    unavailable = engine.unavailable()
    if unavailable:
        raise MigbenchError("--database %s: %s" % (value, unavailable))
    return engine


def read_manifest(project: Path) -> dict:
    """The project's migbench.json; a missing, unreadable or malformed one is a MigbenchError naming the fix."""
    path = project / "migbench.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MigbenchError("%s: no migbench.json; is this a directory written by `migbench generate`?" % project) from None
    except NotADirectoryError:
        raise MigbenchError("%s: not a directory; give a directory written by `migbench generate`" % project) from None
    except (OSError, ValueError) as error:
        raise MigbenchError("%s: unreadable manifest (%s); regenerate the project" % (path, error)) from None
    if (not isinstance(manifest, dict) or not isinstance(manifest.get("django_target"), str)
            or not isinstance(manifest.get("apps"), list)
            or not all(isinstance(app, str) for app in manifest["apps"])):
        raise MigbenchError("%s: not a manifest written by `migbench generate` (no django_target or apps); "
                            "regenerate the project" % path)
    try:
        resolve_line(manifest["django_target"])
    except MigbenchError as error:
        raise MigbenchError("%s: django_target: %s; regenerate the project" % (path, error)) from None
    return manifest
