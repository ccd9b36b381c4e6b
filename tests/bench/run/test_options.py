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
    assert opts.pythons == (None,) and opts.databases == ("sqlite",) and opts.limiter == "auto"
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
    ({"limiter": "lxc"}, {}, "unknown limiter 'lxc'"),
    ({"timeout": "soon"}, {}, "not a duration"),
    ({"database": "oracle://db/"}, {}, "'oracle://db/': unknown database engine; available: sqlite, postgresql, mariadb"),
    ({"database": "mysql://h:99999/"}, {}, "port is not a number"),
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


# -- issue 14: every value names where it came from; hostile values are one line --------------


@pytest.mark.parametrize("cli, run, message", [
    # the source is named: the option, or FILE: run.KEY (never "default", never --limiter for the file)
    ({"database": "oracle"}, {}, r"^--database: 'oracle': unknown database engine"),
    ({"database": "postgresql://u@h/prod"}, {}, r"^--database: postgresql://u@h/prod names a database; give the server only"),
    ({"database": "postgresql,postgresql://u@h:5432/"}, {}, r"^--database: postgresql is given twice"),
    ({}, {"database": "oracle"}, r"^s.toml: run.database: 'oracle': unknown database engine"),
    ({}, {"limiter": "lxc"}, r"^s.toml: run.limiter: unknown limiter 'lxc'"),
    ({"limiter": "lxc"}, {}, r"^--limiter: unknown limiter 'lxc'"),
    ({"dev_loop": "x"}, {}, r"^--dev-loop: 'x': choose one of auto, on, off"),
    ({}, {"timeout": "soon"}, r"^s.toml: run.timeout: not a duration"),
    # the file is validated whole, also where the command line overrides it
    ({"database": "sqlite"}, {"database": "oracle"}, r"^s.toml: run.database: 'oracle'"),
    ({"memory": "1G"}, {"memory": "1.5"}, r"^s.toml: run.memory: memory cap '1.5' is 1B, below the smallest"),
    # numbers: ASCII digits only, bounded
    ({"repeat": "²"}, {}, r"^--repeat: expected a whole number from 1 to 1000, got '²'"),
    ({"repeat": "٣"}, {}, r"^--repeat: expected a whole number from 1 to 1000, got '٣'"),
    ({"repeat": "1001"}, {}, r"^--repeat: expected a whole number from 1 to 1000"),
    ({}, {"repeat": 2**63 - 1}, r"^s.toml: run.repeat: expected a whole number from 1 to 1000"),
    ({}, {"repeat": 1.5}, r"^s.toml: run.repeat: expected a whole number"),
    ({"memory": "9" * 400}, {}, r"^--memory: bad memory size '9999.*\.\.\.9': too large"),
    ({"memory": "9" * 400 + ".5G"}, {}, r"^--memory: bad memory size .*: too large"),
    ({}, {"memory": 1.7e308}, r"^s.toml: run.memory: bad memory size '1.7e\+308'"),
    ({"memory": "1.5"}, {}, r"^--memory: memory cap '1.5' is 1B, below the smallest cap, 1M"),
    ({"memory": "512K"}, {}, r"^--memory: memory cap '512K' is 512K, below the smallest cap, 1M"),
    ({"memory": "2048T"}, {}, r"^--memory: memory cap '2048T' is above the largest cap, 1024T"),
    ({"memory": "٣M"}, {}, r"^--memory: bad memory size '٣M'"),
    ({"memory": " , "}, {}, r"^--memory: no value in ' , '"),
    ({"django": ","}, {}, r"^--django: no value in ','"),
    ({"django": "٥.٢"}, {}, r"^--django: not a Django version: '٥.٢'"),
    ({}, {"django": 1.10}, r'^s.toml: run.django: write versions as strings, e.g. "1.10"'),
    ({}, {"python": 3.10}, r"^s.toml: run.python: write versions as strings"),
    # durations: a limit under a second is not meant; the interval is 1ms..10s
    ({"timeout": "1ms"}, {}, r"^--timeout: '1ms' is too short to be meant as a limit \(under 1s\)"),
    ({"timeout": "9" * 400}, {}, r"^--timeout: '9999.*' is longer than a year"),
    ({"interval": "20s"}, {}, r"^--interval: the sampling interval must be between 1ms and 10s, got '20s'"),
    ({"interval": "0"}, {}, r"^--interval: the sampling interval must be between 1ms and 10s, got '0'"),
    ({"interval": "0.5ms"}, {}, r"^--interval: the sampling interval must be between 1ms and 10s"),
    ({}, {"interval": 1e300}, r"^s.toml: run.interval: not a duration"),
    ({}, {"k" * 100000: 1}, r"^s.toml: run: unknown key 'kkkk.*\.\.\.k'; allowed"),
])
def test_hostile_values_are_refused_naming_their_source(cli, run, message):
    with pytest.raises(MigbenchError, match=message) as info:
        options(cli, run)
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


@pytest.mark.parametrize("value", ["0", "0s", "0ms", "0.0m", "none", "00h"])
def test_zero_in_any_unit_means_no_timeout(value):
    assert options({"timeout": value}).timeout_s is None
    assert options({}, {"timeout": value}).timeout_s is None


def test_bounds_are_inclusive():
    opts = options({"repeat": "1000", "memory": "1M,1024T", "timeout": "1s", "interval": "10s"})
    assert opts.repeat == 1000 and opts.memories == (2**20, 2**50)
    assert opts.timeout_s == 1 and opts.interval_s == 10
    assert options({"interval": "1ms"}).interval_s == pytest.approx(0.001)


def test_durations_zero_and_bounds():
    assert parse_duration("0s") is None and parse_duration("0ms") is None and parse_duration("0") is None
    assert parse_duration("8760h") == 365 * 24 * 3600
    with pytest.raises(MigbenchError, match="longer than a year"):
        parse_duration("8761h", "--budget")


def test_a_matrix_none_of_whose_cells_can_run_is_refused_before_planning():
    with pytest.raises(MigbenchError, match=r"^no cell of the matrix can run: Django 5.2 does not run on Python 2.7"):
        options({"django": "5.2", "python": "2.7"})
    with pytest.raises(MigbenchError, match=r"^no cell .*strategy optimize needs Django >= 4.1 \(Django 1.8 lacks"):
        options({"django": "1.8", "strategy": "optimize"})
    # one runnable cell is enough; the others are the matrix's skips
    assert options({"django": "1.8,5.2", "python": "2.7,3.11", "strategy": "optimize"}).djangos == ("1.8", "5.2")
