"""`migbench twin`: from a real project (`migbench twin PROJECT --out scenario.toml`), a scenario
that reproduces its shape with meaningless names, something a bug report can publish.

The project is read, never run: migbench's copy of it (bench/projects: the same copy `run
--project` measures) is loaded by the user's own interpreter, and
bench/measure/worker/shape.py counts its models and migration graph there;
generator/twin.py turns the counts into the scenario. `migbench generate` or
`migbench run` then take the file like any other scenario.

Side effects: copies the project into the cache (once per content), runs the user's
interpreter on the copy against a scratch SQLite file nothing migrates, writes --out
(through a temporary file renamed into place). Never writes into the user's tree or
environment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from migbench.errors import MigbenchError
from migbench.units import show

from .common import check_path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "twin", help="write a scenario that reproduces a real project's apps, models and migrations "
                     "with meaningless names")
    parser.add_argument("project", help="your project's root (where manage.py is); read from a copy, never written")
    parser.add_argument("--out", required=True, help="the scenario file to write, e.g. twin.toml")
    parser.add_argument("--python", help="your project's interpreter or virtualenv (required; never written into)")
    parser.add_argument("--settings", help="your settings module (default: the one your manage.py sets)")
    parser.add_argument("--env", action="append", metavar="KEY=VALUE",
                        help="an environment variable your settings read (repeatable)")
    parser.add_argument("--apps", help="comma-separated app labels to twin (default: every app with migrations "
                                       "except django.contrib's, which the twin installs as contrib_apps)")
    parser.add_argument("--name", help="the scenario's name (default: twin)")
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.bench import projects
    from migbench.generator.scenario import NAME_RE, NAME_RULE, parse_scenario
    from migbench.generator.twin import twin_scenario

    out = _check_out(args.out, args.force)
    name = args.name or "twin"
    labels = [label.strip() for label in (args.apps or "").split(",") if label.strip()]
    if args.apps is not None and not labels:
        raise MigbenchError("--apps %s: give comma-separated app labels, e.g. --apps shop,orders" % show(args.apps))
    if not NAME_RE.fullmatch(name):
        raise MigbenchError("--name %s: expected %s" % (show(name), NAME_RULE))
    source = projects.resolve(args.project, None, args.python, args.settings, args.env)
    prepared = projects.prepare(source, on_note=lambda line: print(line))
    shape = read_shape(prepared.path, prepared.python)  # every app: the header counts the whole original
    text = twin_scenario(shape, name=name, apps=labels or None, own=prepared.apps)
    params = parse_scenario(text, str(out)).generator  # what it writes, migbench reads back
    _write(out, text)
    print("twin of %s: %d apps, %d migrations, written to %s" % (
        source.tree, params.apps, sum(app.migrations[0] for app in params.app), out))
    print("generate it with: migbench generate %s --out DIR" % out)
    return 0


def read_shape(copy: Path, python: Path) -> dict:
    """shape.py's answer on migbench's copy (its overlay settings, a scratch SQLite file)."""
    from migbench.bench.measure.worker import HERE
    from migbench.bench.projects.inspect import ask

    return ask(copy, python, HERE / "shape.py", "benchproject.settings",
               "reading your project's models and migrations failed")


def _check_out(given: str, force: bool) -> Path:
    check_path(given, "--out")
    out = Path(given)
    if out.is_dir():
        raise MigbenchError("--out %s: a directory; give the scenario file to write, e.g. %s/twin.toml" % (out, out))
    if out.exists() and not force:
        raise MigbenchError("--out %s: exists; pass --force to replace it or give another file" % out)
    if out.suffix != ".toml":
        raise MigbenchError("--out %s: a scenario file ends in .toml (commands take it by that)" % out)
    parent = out.absolute().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise MigbenchError("--out %s: %s is %s; give a file in an existing, writable directory" % (
            out, parent, "missing" if not parent.is_dir() else "not writable"))
    return out


def _write(out: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".%s." % out.name, dir=str(out.absolute().parent))
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temporary, out)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
