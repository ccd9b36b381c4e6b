"""Run options: command line over the scenario's [run] table over built-ins; errors are one line."""

from __future__ import annotations

import pytest

from migbench.bench.run.options import generation_target, resolve_options
from migbench.errors import MigbenchError
from migbench.units import parse_duration

NONE = dict.fromkeys(("django", "python", "memory", "strategy", "repeat", "database", "limiter",
                      "timeout", "interval"))


def options(cli=None, run=None):
    return resolve_options(dict(NONE, **(cli or {})), run or {}, "s.toml")


def test_builtins():
    opts = options()
    assert opts.memories == (None,) and opts.repeat == 1 and opts.strategies == ("all",)
    assert opts.pythons == (None,) and opts.database == "sqlite" and opts.limiter == "auto"
    assert opts.timeout_s is None and opts.interval_s == pytest.approx(0.02)
    assert len(opts.djangos) == 1


def test_cli_beats_scenario_beats_builtins():
    run = {"django": ["1.8", "1.9"], "memory": ["512M", "none"], "repeat": 3, "timeout": "30m"}
    opts = options({"memory": "1G"}, run)
    assert opts.djangos == ("1.8", "1.9")
    assert opts.memories == (2**30,)
    assert opts.repeat == 3 and opts.timeout_s == 1800


def test_lists_are_deduplicated_and_ordered():
    assert options({"django": "1.9,1.8,1.9"}).djangos == ("1.9", "1.8")
    assert generation_target(("5.2", "1.10", "1.9")) == "1.9"
    assert generation_target(("1.9",), "1.8") == "1.8"
    assert generation_target(("1.8", "5.2"), "4.2") == "1.8"


@pytest.mark.parametrize("cli, run, message", [
    ({"django": "0.96"}, {}, "--django: .*0.96"),
    ({}, {"django": "9.9"}, r"s.toml: run.django: unknown Django version 9.9"),
    ({"memory": "lots"}, {}, "--memory"),
    ({"strategy": "teleport"}, {}, "unknown strategy 'teleport'"),
    ({"repeat": "0"}, {}, "--repeat: expected a whole number"),
    ({"limiter": "docker"}, {}, "unknown limiter 'docker'"),
    ({"timeout": "soon"}, {}, "not a duration"),
    ({"database": "postgresql://db/x"}, {}, "'postgresql://db/x': unknown database engine; available: sqlite"),
    ({}, {"colour": "red"}, "run: unknown key 'colour'"),
    ({}, {"memory": [True]}, "run.memory: expected a string"),
])
def test_errors(cli, run, message):
    with pytest.raises(MigbenchError, match=message) as info:
        options(cli, run)
    assert "\n" not in str(info.value)


def test_durations():
    assert parse_duration("90s") == 90 and parse_duration("1.5h") == 5400
    assert parse_duration("20ms") == pytest.approx(0.02) and parse_duration("none") is None
    assert parse_duration("45") == 45
