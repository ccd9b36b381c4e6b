"""`migbench generate`: write a Django project (manage.py, settings, every app's
models and migrations, migbench.json) from a scenario and print its summary.

Side effects: writes --out, which must be empty unless --force (the project is
built in a temporary sibling directory and renamed into place); checks first that
--out's parent can be written (a probe file, removed at once).
"""

from __future__ import annotations

import time
from pathlib import Path

from migbench.errors import MigbenchError
from migbench.targets import DEFAULT_LINE, LINES, DjangoLine, resolve_line
from migbench.units import show

from .common import add_scenario_argument, add_seed_option, check_out, check_path, scenario


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="write a Django project from a scenario")
    add_scenario_argument(parser)
    parser.add_argument("--out", required=True, help="directory to write the project into")
    add_seed_option(parser)
    parser.add_argument("--django", help="target Django line, e.g. 1.8 or 5.2 "
                                         "(default: the scenario's, else the installed one, else %s)" % DEFAULT_LINE)
    parser.add_argument("--force", action="store_true", help="replace --out if it is not empty")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.generator import build_project, write_project

    resolved = scenario(args)
    target, why = generation_target(args.django, resolved.generator.django)
    check_project_out(Path(args.out), args.force)
    started = time.perf_counter()
    project = build_project(resolved, target)
    try:
        out = write_project(project, args.out, force=args.force)
    except OSError as error:  # e.g. the disk filled up: the half-written tree is already removed
        raise MigbenchError("--out %s: cannot write the project (%s); nothing was left there"
                            % (args.out, error.strerror or error)) from None
    seconds = time.perf_counter() - started
    for line in project.summary.lines():
        print(line)
    print("  files       %d written to %s in %.2fs (target Django %s: %s)"
          % (len(project.files), out, seconds, target.line, why))
    return 0


def check_project_out(out: Path, force: bool) -> None:
    """--out before the project is built: a directory, empty unless --force, in a writable parent
    (the project is written beside it and renamed into place)."""
    check_path(out, "--out")
    try:
        if out.exists() and not out.is_dir():
            raise MigbenchError("--out %s: exists and is not a directory; give a new or empty directory" % out)
        if out.is_dir() and not force and any(out.iterdir()):
            raise MigbenchError("--out %s: not empty; pass --force to replace it or give another directory" % out)
    except OSError as error:  # a name too long, a parent that cannot be searched
        raise MigbenchError("--out %s: cannot use it (%s)" % (out, error.strerror or error)) from None
    check_out(out.absolute().parent, shown=out)


def generation_target(requested: str | None, from_scenario: str | None) -> tuple[DjangoLine, str]:
    """The Django line to generate for, and why: --django, the scenario's, the installed one, the default."""
    if requested:
        if not requested.isascii():  # "٥.٢" reads as 5.2
            raise MigbenchError("--django: not a Django version: %s; give a line like 4.2 or a release "
                                "like 4.2.11" % show(requested))
        return resolve_line(requested), "--django"
    if from_scenario:
        return resolve_line(from_scenario), "the scenario's generator.django"
    installed = _installed_django()
    if installed and "%d.%d" % installed[:2] in LINES:
        return resolve_line("%d.%d" % installed[:2]), "the Django installed here"
    return resolve_line(DEFAULT_LINE), "the default"


def _installed_django() -> tuple[int, ...] | None:
    try:
        import django
    except ImportError:
        return None
    return tuple(django.VERSION[:2])
