"""The `migbench` command: one entry point, one subcommand per job.

This module only assembles the parser and maps outcomes to exit statuses; each
subcommand's options and handler live in its own module under
`migbench.commands`. Every user-fixable problem surfaces as one line on stderr
(`migbench: error: ...`) and exit status 2; a failed check is exit status 1;
Ctrl-C is 130.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__
from .commands import bisect, check, compare, envs, generate, report, run, scenarios, sweep
from .errors import MigbenchError

# The subcommands' modules, in the order `migbench --help` lists them.
COMMANDS = (generate, check, run, report, compare, bisect, sweep, scenarios, envs)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except MigbenchError as error:
        print("migbench: error: %s" % error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("migbench: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The `migbench` parser: global options, then every module of `migbench.commands` in COMMANDS order."""
    parser = argparse.ArgumentParser(
        prog="migbench",
        description="Generate synthetic Django projects and measure what `migrate` costs.",
    )
    parser.add_argument("--version", action="version", version="migbench %s" % __version__)
    subparsers = parser.add_subparsers(metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
