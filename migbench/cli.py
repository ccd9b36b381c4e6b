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

from . import __version__, provenance
from .commands import bisect, check, compare, envs, find, generate, image, report, run, scenarios, sweep, twin, vm
from .errors import MigbenchError

# The subcommands' modules, in the order `migbench --help` lists them.
COMMANDS = (generate, check, run, report, compare, bisect, find, sweep, scenarios, envs, image, vm, twin)


MAX_MESSAGE = 1000  # characters of an error line; the middle of a longer one is cut


class Parser(argparse.ArgumentParser):
    """argparse with migbench's error line, and no empty values.

    A refusal is one line, `migbench: error: ...` naming the option and pointing at the
    command's --help, exit status 2 (argparse's own is the usage and a second line). Every
    option or argument that takes a value refuses an empty or blank one (`--out ""` from an
    unset shell variable would otherwise mean the current directory, `--repeat ""` the
    default): its `type` checks that first.
    """

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        if action.nargs != 0 and action.option_strings != ["-h", "--help"]:
            action.type = _not_blank(action.type)
        return action

    def error(self, message: str):
        self.exit(2, "migbench: error: %s (see `%s --help`)\n" % (one_line(message), self.prog))


def _not_blank(convert):
    def check(text: str):
        if not text.strip():
            raise argparse.ArgumentTypeError("empty value %r; give a value or leave the option out" % text)
        return convert(text) if convert is not None else text
    check.__name__ = getattr(convert, "__name__", "value")  # argparse names the type in its messages
    return check


def one_line(message: str) -> str:
    """`message` as one printable line: control characters (newlines, NUL, line separators)
    escaped, and the middle of an overlong one cut."""
    text = "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
                   for c in message)
    if len(text) > MAX_MESSAGE:
        text = text[:MAX_MESSAGE // 2] + " [...] " + text[-MAX_MESSAGE // 2:]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    # The commit the code of this process was loaded from, read now and kept (cached): read at
    # the first record's writing, a checkout updated under a long run would be named instead.
    provenance.git_commit()
    try:
        return args.handler(args)
    except MigbenchError as error:
        print("migbench: error: %s" % one_line(str(error)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("migbench: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The `migbench` parser: global options, then every module of `migbench.commands` in COMMANDS order."""
    parser = Parser(
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
