"""One module per `migbench` subcommand, in the asv `commands/` shape.

Each module (generate, check, run, report, compare, bisect, sweep, scenarios,
envs) defines `add_parser(subparsers)`, which declares the subcommand's options
and sets its handler, and `handle(args) -> int`, which does the work and
returns the exit status. `migbench.cli` assembles the parser from them (its
`COMMANDS` is the order `migbench --help` lists them) and maps errors to exit
statuses. What several commands share (the scenario with --seed, the cell
options, interrupt handling, the report rebuilt after a run) is in `common`.

Modules here import only light things at the top; everything that measures,
generates or reports is imported inside `handle`, so `migbench --help` stays
fast.
"""
