"""`migbench scenarios`: list the shipped scenarios with their descriptions.

Side effects: none.
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("scenarios", help="list the shipped scenarios")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    from migbench.generator.scenario import resolve_scenario, shipped_scenarios

    for name in shipped_scenarios():
        scenario = resolve_scenario(name)
        print("%-16s %s" % (name, scenario.description))
    return 0
