"""What a `migbench run` will do: options from the command line, the scenario's
`[run]` table and built-in defaults (in that order), expanded into cells.

Kept apart from the runner so the matrix can be shown, validated and resumed
without running anything, and so every bad value fails before the first
(possibly hour-long) cell starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from migbench.bench import engines, strategies as registry
from migbench.errors import MigbenchError, ScenarioError
from migbench.targets import DEFAULT_LINE, LINES, resolve_line, version_key
from migbench.units import parse_duration

DEFAULT_INTERVAL_S = 0.020
_RUN_KEYS = ("django", "python", "memory", "strategy", "repeat", "database", "limiter",
             "timeout", "interval", "dev_loop")
DEV_LOOP = ("auto", "on", "off")


@dataclass(frozen=True)
class RunOptions:
    djangos: tuple[str, ...]  # lines ("1.8") or exact releases ("1.8.19")
    pythons: tuple[str | None, ...]  # None: the first installed native interpreter per line
    memories: tuple[int | None, ...]  # bytes; None: no cap
    strategies: tuple[str, ...]
    repeat: int
    database: str  # engine: "sqlite"
    limiter: str
    timeout_s: float | None
    interval_s: float
    dev_loop: str = "auto"  # time makemigrations --check / migrate --plan / test DB: auto, on, off


def resolve_options(cli: Mapping[str, Any], scenario_run: Mapping[str, Any], source: str) -> RunOptions:
    """Merge CLI values (None = not given) over the scenario's [run] table over built-ins.

    CLI values are comma-separated strings; the table takes strings, numbers or lists.
    Errors name where the bad value came from (the option, or `file: run.key`).
    """
    unknown = sorted(set(scenario_run) - set(_RUN_KEYS))
    if unknown:
        raise ScenarioError("%s: run: unknown key %r; allowed: %s"
                            % (source, unknown[0], ", ".join(_RUN_KEYS)))

    def pick(key: str, default: Any) -> tuple[list[str], str]:
        if cli.get(key) not in (None, ""):
            return _split(cli[key]), "--%s" % key
        if key in scenario_run:
            return _listify(scenario_run[key], "%s: run.%s" % (source, key)), "%s: run.%s" % (source, key)
        return _split(default), "default"

    djangos, where = pick("django", _installed_django() or DEFAULT_LINE)
    for value in djangos:
        _check_django(value, where)
    pythons, _ = pick("python", "")
    memories_raw, where = pick("memory", "none")
    memories = tuple(_size(v, where) for v in memories_raw)
    strategies, where = pick("strategy", "all")
    for strategy in strategies:
        if strategy not in registry.names():
            raise MigbenchError("%s: unknown strategy %r; available: %s"
                                % (where, strategy, ", ".join(registry.names())))
    repeat_raw, where = pick("repeat", "1")
    repeat = _positive_int(repeat_raw, where)
    database_raw, where = pick("database", "sqlite")
    limiter_raw, where = pick("limiter", "auto")
    timeout_raw, where_timeout = pick("timeout", "none")
    interval_raw, where_interval = pick("interval", "20ms")
    dev_loop_raw, where_dev = pick("dev_loop", "auto")
    dev_loop = _one(dev_loop_raw, where_dev).lower()
    if dev_loop not in DEV_LOOP:
        raise MigbenchError("%s: %r: choose one of %s" % (where_dev, dev_loop, ", ".join(DEV_LOOP)))
    interval = parse_duration(_one(interval_raw, where_interval), where_interval)
    if interval is None or interval <= 0:
        raise MigbenchError("%s: the sampling interval must be positive, e.g. 20ms" % where_interval)
    return RunOptions(
        djangos=tuple(_unique(djangos)),
        pythons=tuple(_unique(pythons)) or (None,),
        memories=tuple(_unique(memories)),
        strategies=tuple(_unique(strategies)),
        repeat=repeat,
        database=_database(_one(database_raw, where), where),
        limiter=_limiter(_one(limiter_raw, "--limiter")),
        timeout_s=parse_duration(_one(timeout_raw, where_timeout), where_timeout),
        interval_s=interval,
        dev_loop=dev_loop,
    )


def generation_target(djangos: tuple[str, ...], scenario_django: str | None = None) -> str:
    """The line a matrix's project is generated for: the oldest of the matrix and the
    scenario's own `generator.django`.

    The operation mix is target-aware, so a project generated for 1.8 runs
    unchanged on 6.0 but not the other way round; one project for all cells
    is what makes a cross-version comparison fair. Counting the scenario's
    pin keeps the project the same when a matrix is split over several
    commands (`--django 1.8` today, `--django 1.9` tomorrow, one --out).
    """
    lines = [resolve_line(d) for d in djangos]
    if scenario_django:
        lines.append(resolve_line(scenario_django))
    return min(lines, key=lambda line: line.key).line


# -- helpers ---------------------------------------------------------------------------------


def _split(value: Any) -> list[str]:
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _listify(value: Any, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    result = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ScenarioError("%s: expected a string, a number or a list of them, got %r" % (where, item))
        result.extend(_split(item))
    if not result:
        raise ScenarioError("%s: empty" % where)
    return result


def _one(values: list[str], where: str) -> str:
    if len(values) != 1:
        raise MigbenchError("%s: takes one value, got %s" % (where, ", ".join(values)))
    return values[0]


def _unique(values):
    seen = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _check_django(value: str, where: str) -> None:
    try:
        resolve_line(value)
    except MigbenchError as error:
        raise MigbenchError("%s: %s" % (where, error)) from None


def _size(value: str, where: str) -> int | None:
    from migbench.units import parse_size

    try:
        return parse_size(value)
    except MigbenchError as error:
        raise MigbenchError("%s: %s" % (where, error)) from None


def _positive_int(values: list[str], where: str) -> int:
    value = _one(values, where)
    if not value.isdigit() or int(value) < 1:
        raise MigbenchError("%s: expected a whole number >= 1, got %r" % (where, value))
    return int(value)


def _database(value: str, where: str) -> str:
    engine = engines.resolve_name(value.split(":", 1)[0])
    if engine is not None:
        return engine
    raise MigbenchError("%s: %r: unknown database engine; available: %s (each run gets a fresh database)"
                        % (where, value, ", ".join(engines.names())))


def _limiter(value: str) -> str:
    from migbench.bench.measure.limiters import NAMES

    if value not in NAMES:
        raise MigbenchError("--limiter: unknown limiter %r; choose one of %s" % (value, ", ".join(NAMES)))
    return value


def _installed_django() -> str | None:
    """The Django importable next to migbench, as an exact release, if migbench knows its line."""
    try:
        import django
    except ImportError:
        return None
    version = "%d.%d.%d" % tuple(django.VERSION[:3])
    if "%d.%d" % version_key(version)[:2] not in LINES:
        return None
    return version


def default_out(scenario_name: str) -> Path:
    return Path("results") / scenario_name
