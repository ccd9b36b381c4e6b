"""What a `migbench run` will do: options from the command line, the scenario's
`[run]` table and built-in defaults (in that order), expanded into cells.

Kept apart from the runner so the matrix can be shown, validated and resumed
without running anything, and so every bad value fails before the first
(possibly hour-long) cell starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from migbench.bench import engines, strategies as registry
from migbench.bench.records.profiles import MODES as PROFILE_MODES
from migbench.errors import MigbenchError, ScenarioError
from migbench.targets import DEFAULT_LINE, LINES, resolve_line, version_key
from migbench.units import parse_cap, parse_interval, parse_limit, show

DEFAULT_INTERVAL_S = 0.020
_RUN_KEYS = ("django", "python", "memory", "strategy", "repeat", "database", "limiter",
             "timeout", "interval", "dev_loop")
DEV_LOOP = ("auto", "on", "off")
MAX_REPEAT = 1000  # runs per cell; more is a typo, not a benchmark


@dataclass(frozen=True)
class RunOptions:
    djangos: tuple[str, ...]  # lines ("1.8") or exact releases ("1.8.19")
    pythons: tuple[str | None, ...]  # None: the first installed native interpreter per line
    memories: tuple[int | None, ...]  # bytes; None: no cap
    strategies: tuple[str, ...]
    repeat: int
    databases: tuple[str, ...]  # engine names ("sqlite", "postgresql") or server URLs ("postgresql://u@h:5432/")
    limiter: str
    timeout_s: float | None
    interval_s: float
    dev_loop: str = "auto"  # time makemigrations --check / migrate --plan / test DB: auto, on, off
    profile: tuple[str, ...] = ()  # --profile: one extra profiled run per cell and mode, after its repeats


def resolve_options(cli: Mapping[str, Any], scenario_run: Mapping[str, Any], source: str) -> RunOptions:
    """Merge CLI values (None = not given) over the scenario's [run] table over built-ins.

    CLI values are comma-separated strings; the table takes strings, numbers or lists.
    Errors name where the bad value came from (the option, or `FILE: run.KEY`). The
    table is validated whole, also where the command line overrides it: a bad value in a
    benchmark definition is refused whatever this command's options are.
    """
    if cli.get("django_repo") is not None and cli.get("django") is None:
        raise MigbenchError("--django-repo %s: give the commits, branches or tags to measure with --django, "
                            "e.g. --django main or --django 5.2,main" % cli["django_repo"])
    unknown = sorted(set(scenario_run) - set(_RUN_KEYS), key=str)
    if unknown:
        raise ScenarioError("%s: run: unknown key %s; allowed: %s"
                            % (source, show(unknown[0]), ", ".join(_RUN_KEYS)))

    def pick(key: str, default: str, parse: Callable[[list[str], str], Any]) -> Any:
        from_file = None
        if key in scenario_run:
            where = "%s: run.%s" % (source, key)
            from_file = parse(_listify(scenario_run[key], where, key), where)
        if cli.get(key) is not None:
            option = "--" + key.replace("_", "-")
            return parse(_split_option(cli[key], option), option)
        if key in scenario_run:
            return from_file
        return parse(_split(default), "default")

    options = RunOptions(
        djangos=pick("django", _installed_django() or DEFAULT_LINE, _djangos_from(cli.get("django_repo"))),
        pythons=pick("python", "", lambda values, where: tuple(_unique(values))) or (None,),
        memories=pick("memory", "none", _memories),
        strategies=pick("strategy", "all", _strategies),
        repeat=pick("repeat", "1", _repeat),
        databases=pick("database", "sqlite", _databases),
        limiter=pick("limiter", "auto", _limiter),
        timeout_s=pick("timeout", "none", lambda values, where: parse_limit(_one(values, where), where)),
        interval_s=pick("interval", "20ms", lambda values, where: parse_interval(_one(values, where), where)),
        dev_loop=pick("dev_loop", "auto", _dev_loop),
        profile=parse_profile(cli.get("profile")),
    )
    _check_some_cell_can_run(options)
    _check_profile_pythons(options)
    if options.limiter == "vm" and None in options.memories:
        # The guest's RAM is the cap: an uncapped cell has no machine to boot (limiters.choose says
        # the same; here it is said before planning prints anything).
        raise MigbenchError("--limiter vm boots a guest whose RAM is the cap: give one, e.g. --memory 512M")
    return options


def _check_some_cell_can_run(options: RunOptions) -> None:
    """Refuse, before planning prints anything, a matrix none of whose cells can run whatever is
    installed: every (Django, Python version) pair impossible, or every strategy too new for
    every line. The same rules as the matrix's skips (matrix._unsupported, Strategy.unsupported);
    what depends on this machine (an interpreter not installed) is found by planning."""
    reasons = []
    for django in options.djangos:
        line = resolve_line(django)
        pythons = [p for p in options.pythons
                   if p is None or not p.replace(".", "").isdigit() or p in line.pythons + line.shim_pythons]
        reasons += ["Django %s does not run on Python %s" % (line.line, p) for p in options.pythons if p not in pythons]
        strategies = [s for s in options.strategies if not registry.get(s).unsupported(line)]
        reasons += [registry.get(s).unsupported(line) for s in options.strategies if s not in strategies]
        if pythons and strategies:
            return
    raise MigbenchError("no cell of the matrix can run: %s; change --django, --python or --strategy"
                        % "; ".join(_unique(reasons)))


def parse_profile(value: str | None) -> tuple[str, ...]:
    """--profile: "time" (also a bare --profile), "memory", or both comma-separated."""
    if value is None:
        return ()
    modes = _split(value)
    for mode in modes:
        if mode not in PROFILE_MODES:
            raise MigbenchError("--profile: unknown mode %s; give time, memory or time,memory (a scenario "
                                "goes before --profile: migbench run SCENARIO --profile)" % show(mode))
    return tuple(_unique(modes)) or ("time",)


def _check_profile_pythons(options: RunOptions) -> None:
    """--profile memory needs tracemalloc (Python >= 3.4): refuse a cell on 2.7 before planning."""
    if "memory" not in options.profile:
        return
    for django in options.djangos:
        line = resolve_line(django)
        for python in options.pythons:
            native = python or line.pythons[0]
            if native.startswith("2.") or native.endswith(("python2", "python2.7")):
                raise MigbenchError(
                    "--profile memory needs Python >= 3.4 (tracemalloc); Django %s would run on Python %s: add "
                    "--python 3.9 (Django 1.7 to 1.11 run on 3.8+ through migbench's shim)" % (line.line, native))


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
    oldest = min(lines, key=lambda line: line.key).line
    # a pre-release or checkout of a line newer than migbench knows is generated for the newest it knows
    return oldest if oldest in LINES else max(LINES.values(), key=lambda line: line.key).line


# -- helpers ---------------------------------------------------------------------------------


def _split(value: Any) -> list[str]:
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _split_option(value: Any, option: str) -> list[str]:
    """A command-line value's comma-separated items; one without any is refused."""
    values = _split(value)
    if not values:
        raise MigbenchError("%s: no value in %s; give e.g. %s" % (option, show(value), _EXAMPLES[option[2:]]))
    return values


_EXAMPLES = {"django": "5.2 or 1.8,5.2", "python": "3.11 or 2.7,3.11", "memory": "512M or 512M,1G,none",
             "strategy": "all or all,per-app", "repeat": "3",
             "database": "sqlite, postgresql, mariadb or postgresql://user@host:5432/", "limiter": "auto",
             "timeout": "30m or none", "interval": "20ms", "dev-loop": "auto, on or off"}


def _listify(value: Any, where: str, key: str) -> list[str]:
    """A [run] value as items: a string (comma-separated), a number, or a list of them."""
    items = value if isinstance(value, list) else [value]
    result = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ScenarioError("%s: expected a string, a number or a list of them, got %s" % (where, show(item)))
        if key in ("django", "python") and not isinstance(item, str):
            # 1.10 reads as the number 1.1, 3.10 as 3.1: versions must be quoted
            raise ScenarioError('%s: write versions as strings, e.g. "1.10" or ["1.8", "5.2"], got the number %s'
                                % (where, show(item)))
        result.extend(_split(item))
    if not result:
        raise ScenarioError("%s: empty; give a value or leave the key out" % where)
    return result


def _one(values: list[str], where: str) -> str:
    if len(values) != 1:
        raise MigbenchError("%s: takes one value, got %s" % (where, show(", ".join(values))))
    return values[0]


def _unique(values):
    seen = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def _djangos_from(repo: str | None) -> Callable[[list[str], str], tuple[str, ...]]:
    """--django's parser: versions (a line, a release, a pre-release) or checkouts' paths; with
    --django-repo, every value is a ref of that clone. Checkouts and refs become sources' specs
    (bench/env/sources.py), resolved now: a ref names the same commit for the whole command."""
    from migbench.bench.env import sources

    def parse(values: list[str], where: str) -> tuple[str, ...]:
        out = []
        for value in values:
            if repo is not None and where == "--django":
                out.append(sources.from_repo(repo, value).spec)
            elif sources.looks_like_path(value):
                out.append(sources.from_checkout(value).spec)
            else:
                _check_django(value, where)
                out.append(value)
        for spec in out:
            resolve_line(spec)  # a checkout of a line migbench does not know is refused here
        return tuple(_unique(out))

    return parse


def _check_django(value: str, where: str) -> None:
    if not value.isascii():  # "٥.٢" would read as 5.2 and reach pip as it is
        raise MigbenchError("%s: not a Django version: %s; give a line like 4.2, a release like 4.2.11, a "
                            "pre-release like 6.1rc1 or a checkout's path" % (where, show(value)))
    try:
        resolve_line(value)
    except MigbenchError as error:
        raise MigbenchError("%s: %s" % (where, error)) from None


def _memories(values: list[str], where: str) -> tuple[int | None, ...]:
    return tuple(_unique(_size(value, where) for value in values))


def _size(value: str, where: str) -> int | None:
    try:
        return parse_cap(value)
    except MigbenchError as error:
        raise MigbenchError("%s: %s" % (where, error)) from None


def _strategies(values: list[str], where: str) -> tuple[str, ...]:
    for strategy in values:
        if strategy not in registry.names():
            raise MigbenchError("%s: unknown strategy %s; available: %s"
                                % (where, show(strategy), ", ".join(registry.names())))
    return tuple(_unique(values))


def _repeat(values: list[str], where: str) -> int:
    value = _one(values, where)
    # ASCII digits only: str.isdigit() takes "²", which int() refuses, and int() takes "٣"
    if not re.fullmatch(r"[0-9]+", value) or not 1 <= int(value) <= MAX_REPEAT:
        raise MigbenchError("%s: expected a whole number from 1 to %d, got %s" % (where, MAX_REPEAT, show(value)))
    return int(value)


def _databases(values: list[str], where: str) -> tuple[str, ...]:
    """Engine names (any alias, normalised to the engine's name) or server URLs, each once.

    A URL is checked for its form here (scheme, no database name); whether the
    server answers is found when the matrix starts serving, before the first run.
    """
    out = []
    for value in values:
        try:
            spec = engines.spec_of(value)
        except MigbenchError as error:
            raise MigbenchError("%s: %s" % (where, error)) from None
        if spec is None:
            raise MigbenchError("%s: %s: unknown database engine; available: %s, or a server URL such as "
                                "postgresql://user@host:5432/ (each run gets a fresh database)"
                                % (where, show(value), ", ".join(engines.names())))
        out.append(spec)
    names = [engines.name_of(spec) for spec in _unique(out)]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise MigbenchError("%s: %s is given twice (records of one engine would collide); "
                            "run the second one with its own --out" % (where, twice[0]))
    return tuple(_unique(out))


def _limiter(values: list[str], where: str) -> str:
    from migbench.bench.measure.limiters import NAMES

    value = _one(values, where)
    if value not in NAMES:
        raise MigbenchError("%s: unknown limiter %s; choose one of %s" % (where, show(value), ", ".join(NAMES)))
    return value


def _dev_loop(values: list[str], where: str) -> str:
    value = _one(values, where).lower()
    if value not in DEV_LOOP:
        raise MigbenchError("%s: %s: choose one of %s" % (where, show(value), ", ".join(DEV_LOOP)))
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
