"""`migbench envs`: list the cached (Python, Django) environments, one virtualenv
per pair under $MIGBENCH_CACHE or $XDG_CACHE_HOME/migbench (~/.cache/migbench).

Side effects: --prune removes half-built environments; --create builds the
environments of the given Django lines (installing Django into them).
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("envs", help="list, create or prune the cached (Python, Django) environments")
    parser.add_argument("--create", metavar="LINES", help="comma-separated Django lines to build, e.g. 1.8,5.2")
    parser.add_argument("--python", help="interpreter for --create (version or path)")
    parser.add_argument("--prune", action="store_true", help="remove half-built environments")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.bench.env import environments

    if args.prune:
        for path in environments.prune():
            print("removed %s" % path)
    if args.create:
        for line in create_lines(args.create):
            env = environments.ensure(line, args.python)
            print("ready   %s" % env.path)
    envs = environments.list_envs()
    if not envs:
        print("no environments yet under %s" % environments.cache_root())
    for env in envs:
        source = env.source or {}
        origin = (" from %s %s%s" % ("checkout" if source.get("kind") == "checkout" else "clone", source.get("path"),
                                     " (uncommitted changes)" if source.get("dirty") else "")) if source else ""
        print("%-40s Python %-8s Django %s%s%s" % (env.key, env.python_version, env.django_version,
                                                   " (shim)" if env.shim else "", origin))
    return 0


def create_lines(text: str) -> list[str]:
    """--create's Django lines, each checked before anything is built."""
    from migbench.errors import MigbenchError
    from migbench.targets import resolve_line
    from migbench.units import show

    lines = [part.strip() for part in text.split(",") if part.strip()]
    if not lines:
        raise MigbenchError("--create: no Django line in %s; give e.g. 1.8,5.2" % show(text))
    for line in lines:
        try:
            if not line.isascii():  # "٥.٢" reads as 5.2
                raise MigbenchError("not a Django version: %s; give a line like 4.2 or a release like 4.2.11"
                                    % show(line))
            resolve_line(line)
        except MigbenchError as error:
            raise MigbenchError("--create: %s" % error) from None
    return lines
