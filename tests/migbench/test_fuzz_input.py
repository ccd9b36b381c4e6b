"""Fuzz (issue 14): hostile scenario files and option values against `migbench.cli.main`, in process.

Every outcome must be a valid run or a clean refusal:
- valid: the first step that would measure, build or write was reached (a stub records it), or
  the command finished by itself (exit 0, or compare's exit 1 for a regression);
- refused: exit status 2, stderr exactly one line starting `migbench: error: `, nothing on it
  from a traceback, and nothing left in --out (it did not exist before, and does not now).
Any other exception fails the test with Hypothesis's smallest example.

Real: the parser; reading, decoding and validating scenario files; the options' resolution
(command line over [run] over defaults); the --out check (it really makes, writes, links,
renames and removes its probe); the limiter's choice; the matrix's planning for `run`; the
sweep's preparation; check's manifest reading; report's and compare's loading of real records
(tests/data/results/versions) and compare as a whole.

Stubbed (the first real work; each raises `Reached`): `executor.run_matrix` (run),
`probes.bisect_scenario` (bisect, planning included), `Sweep.run` (sweep), `matrix.prepare_project`
(no project is generated; a dummy path), `matrix._environment` (a fake environment: the real one
may pip-install a Django), `generator.build_project` (generate), `environments.ensure` (check,
envs --create), `environments.prune` (envs --prune: the shared cache is left alone) and report's
`write_report`.

Runs in ~10 s (the three tests together, on one core); `max_examples` below sets that.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from migbench.bench.run.options import _RUN_KEYS
from migbench.cli import main
from migbench.generator.scenario import (_SUBTABLES, _TABLES, FIELD_TYPES, ON_DELETE, OPERATIONS, RELATION_KINDS,
                                         GeneratorParams)
from migbench.targets import resolve_line

RECORDS = Path(__file__).parent.parent / "data" / "results" / "versions"
ERROR = "migbench: error: "
FUZZ = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])


class Reached(Exception):
    """A stubbed first step was called: the input was accepted."""


@pytest.fixture
def world(monkeypatch, tmp_path, capsys):
    """The stubs, a scratch directory as the current one, and `outcome(argv, out)`."""
    def reached(*args, **kwargs):
        raise Reached

    def environment(django, python, on_note):
        return SimpleNamespace(django_version=resolve_line(django).line + ".0", python_version="3.11",
                               shim=False, path=Path("/nonexistent/env"))

    for target in ("migbench.bench.run.executor.run_matrix", "migbench.bench.run.probes.bisect_scenario",
                   "migbench.bench.run.sweep.Sweep.run", "migbench.generator.build_project",
                   "migbench.bench.env.environments.ensure", "migbench.commands.report.write_report"):
        monkeypatch.setattr(target, reached)
    monkeypatch.setattr("migbench.bench.run.matrix.prepare_project", lambda *args, **kwargs: Path("/nonexistent/p"))
    monkeypatch.setattr("migbench.bench.run.matrix._environment", environment)
    monkeypatch.setattr("migbench.bench.env.environments.prune", lambda: [])
    monkeypatch.chdir(tmp_path)
    counter = itertools.count()

    def scratch() -> Path:
        """A fresh directory per example (function-scoped fixtures live across examples)."""
        path = tmp_path / ("ex%d" % next(counter))
        path.mkdir()
        return path

    def outcome(argv: list[str], out: Path | None) -> str:
        capsys.readouterr()
        before = sorted(p.name for p in out.iterdir()) if out is not None and out.is_dir() else None
        try:
            status = main(argv)
        except Reached:
            status = "reached"
        except SystemExit as exit:  # argparse's own refusals
            status = exit.code
        captured = capsys.readouterr()
        if out is not None:
            after = sorted(p.name for p in out.iterdir()) if out.is_dir() else None
            assert after == before, "%r wrote into --out: %s -> %s" % (argv, before, after)
        if status in ("reached", 0, 1):
            event("%s: valid" % argv[0])  # --hypothesis-show-statistics shows how often each command ran
            return "valid"
        assert status == 2, (argv, status, captured.err)
        lines = captured.err.splitlines()
        assert len(lines) == 1 and lines[0].startswith(ERROR), (argv, captured.err)
        assert "Traceback" not in captured.err
        event("%s: refused" % argv[0])
        return "refused"

    return SimpleNamespace(outcome=outcome, scratch=scratch)


# -- values ------------------------------------------------------------------------------------

UNITS = ["", "ms", "s", "m", "h", "K", "M", "G", "T", "MiB", "mb", " M", "B", "us", "d"]
HOSTILE = st.one_of(
    st.sampled_from(["", " ", "\t", "0", "00", "-1", "-0", "1.5", "0.5", "1e3", "1e308", "1.7e308", "nan", "inf",
                     "-inf", "²", "٣", "١٢M", "9" * 400, "9" * 400 + ".5G", "1_000", "+5", ",", " , ", ",,", "none",
                     "None", "x" * 300, "\x00", "a\nb", "\u2028", "../../x", "/proc/self", "1ms", "0s", "0ms",
                     "20s", "10s", "11s", "1K", "1M", "1024T", "1025T", "512MiB", "5.2", "1.8,5.2", "9.9", "٥.٢",
                     "auto", "sqlite", "sqlite:x", "all", "on", "1.8.", "5.2.999999999999999999999"]),
    st.text(max_size=12),
    st.integers(-10**25, 10**25).map(str),
    st.floats().map(repr),
    st.tuples(st.one_of(st.integers(0, 10**7).map(str), st.floats(0, 1e7).map(repr)),
              st.sampled_from(UNITS)).map("".join),
)
VALUES = st.one_of(HOSTILE, st.lists(HOSTILE, min_size=1, max_size=3).map(",".join))

VALID = {
    "--django": ["5.2", "4.2", "1.8,5.2"], "--python": ["3.11", "2.7,3.11"], "--strategy": ["all", "per-app,all"],
    "--limiter": ["auto", "rlimit", "none"], "--timeout": ["30m", "0", "none"], "--interval": ["20ms", "1ms"],
    "--seed": ["0", "7"], "--memory": ["512M", "none", "1G,none"], "--repeat": ["1", "3"],
    "--database": ["sqlite"], "--dev-loop": ["auto", "off"], "--low": ["64M"], "--high": ["1G"],
    "--tolerance": ["8M"], "--budget": ["30m", "0s"], "--vary": ["apps=1,2", "migrations=1,3"],
    "--format": ["html", "md,html"], "--threshold": ["5%", "0.05"], "--metric": ["time", "time,peak"],
    "--create": ["5.2", "1.8,5.2"],
}
CELL = ["--django", "--python", "--strategy", "--limiter", "--timeout", "--interval", "--seed"]
COMMANDS = {
    "run": CELL + ["--memory", "--repeat", "--database", "--dev-loop"],
    "bisect": CELL + ["--low", "--high", "--tolerance"],
    "sweep": CELL + ["--memory", "--repeat", "--budget", "--vary"],
    "generate": ["--seed", "--django"],
    "check": ["--django", "--python"],
    "report": ["--format"],
    "compare": ["--threshold", "--metric"],
    "envs": ["--create", "--python"],
}


def option_value(option: str):
    """Mostly valid (so a command line often gets through every check), else hostile."""
    valid = st.sampled_from(VALID.get(option, ["x"]))
    return st.sampled_from([valid, valid, VALUES]).flatmap(lambda chosen: chosen)


@st.composite
def command_lines(draw):
    """A command, some of its options with valid or hostile values (`--opt=value`: a value may
    start with '-'), and the positional arguments it needs."""
    name = draw(st.sampled_from(sorted(COMMANDS)))
    argv = [name]
    for option in COMMANDS[name]:
        if draw(st.integers(0, 2)) == 0:
            argv.append("%s=%s" % (option, draw(option_value(option))))
    if name == "sweep" and not any(a.startswith("--vary=") for a in argv):
        argv.append("--vary=apps=1,2")
    if name == "bisect":
        argv.insert(1, "quick")
    return argv


# -- scenario documents ----------------------------------------------------------------------------

SCALARS = st.one_of(st.integers(-2**70, 2**70), st.floats(), st.booleans(), st.text(max_size=10), HOSTILE)
ANY = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                   | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)
WEIGHTS = {"types": FIELD_TYPES, "kinds": RELATION_KINDS, "on_delete": ON_DELETE, "operations": OPERATIONS}
NICE = {  # values the generator accepts, so that a document gets through and validation goes deep
    "seed": st.integers(0, 2**63 - 1), "apps": st.integers(1, 5), "names": st.sampled_from(["faker", "plain"]),
    "django": st.sampled_from(["1.8", "4.2", "5.2"]), "cross_app_window": st.integers(1, 5),
    "contrib_apps": st.sampled_from([[], ["contenttypes"], ["contenttypes", "auth"]]),
}


def nice(key: str) -> st.SearchStrategy:
    if key in NICE:
        return NICE[key]
    if key in WEIGHTS:
        return st.dictionaries(st.sampled_from(WEIGHTS[key]), st.floats(0.5, 10), min_size=1, max_size=4)
    if "share" in key:
        return st.floats(0, 0.5)
    return st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=2, max_size=2).map(sorted))  # ranges


def table_of(cls) -> st.SearchStrategy:
    optional = {key: nice(key) for key in _TABLES[cls]}
    optional.update({key: table_of(sub) for key, sub in _SUBTABLES.get(cls, {}).items()})
    return st.fixed_dictionaries({}, optional=optional)


RUN = st.fixed_dictionaries({}, optional={
    "django": st.sampled_from(["5.2", ["4.2", "5.2"]]), "python": st.just("3.11"),
    "memory": st.sampled_from(["512M", ["1G", "none"], 2**30]), "strategy": st.sampled_from(["all", ["all", "zero"]]),
    "repeat": st.sampled_from([1, "2"]), "database": st.just("sqlite"), "limiter": st.sampled_from(["auto", "rlimit"]),
    "timeout": st.sampled_from(["30m", 0, "0s", 90]), "interval": st.sampled_from(["20ms", "1s"]),
    "dev_loop": st.sampled_from(["auto", "off"])})
NICE_DOCUMENTS = st.fixed_dictionaries({"generator": table_of(GeneratorParams)}, optional={
    "name": st.sampled_from(["ok", "my-bench_2", "A.1"]), "description": st.text(st.characters(
        categories=["L", "N", "P", "Zs"]), max_size=20), "run": RUN})


@st.composite
def documents(draw) -> dict:
    """A valid document, then up to two hostile changes: a value anywhere replaced by anything, or
    an unknown key added (at the top, in [generator] or a subtable, in [run])."""
    document = draw(NICE_DOCUMENTS)
    for _ in range(draw(st.integers(0, 2))):
        table = document
        while isinstance(table, dict) and table and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(table)))
            if not isinstance(table[key], dict):
                break
            table = table[key]
        if not isinstance(table, dict):
            continue
        key = draw(st.one_of(st.sampled_from(sorted(table) or ["name"]), st.sampled_from(
            ["name", "description", "run", "generator", "seed", "apps", "memory", "timeout", "interval"]),
            st.text(max_size=8)))
        table[key] = draw(st.one_of(HOSTILE, ANY))
    return document


def toml_string(text: str) -> str:
    escaped = {'"': '\\"', "\\": "\\\\"}
    return '"%s"' % "".join(escaped.get(c) or ("\\u%04x" % ord(c) if ord(c) < 0x20 or ord(c) == 0x7F else c)
                            for c in text)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(repr(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[%s]" % ", ".join(toml_value(item) for item in value)
    return "{%s}" % ", ".join("%s = %s" % (toml_string(k), toml_value(v)) for k, v in value.items())


@st.composite
def scenario_files(draw) -> bytes:
    """A scenario document as TOML; sometimes damaged (a byte changed, cut short) or not text at all."""
    document = draw(documents())
    data = "".join("%s = %s\n" % (toml_string(key), toml_value(value)) for key, value in document.items())
    data = data.encode("utf-8")
    damage = draw(st.sampled_from(["none"] * 6 + ["byte", "cut", "binary", "bom", "deep"]))
    if damage == "byte" and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
    elif damage == "cut":
        data = data[:draw(st.integers(0, len(data)))]
    elif damage == "binary":
        data = draw(st.binary(max_size=64))
    elif damage == "bom":
        data = b"\xef\xbb\xbf" + data
    elif damage == "deep":
        depth = draw(st.integers(1, 3000))
        data += b"[run]\nmemory = " + b"[" * depth + b"]" * depth + b"\n"
    return data


# -- the tests -----------------------------------------------------------------------------------


@settings(FUZZ, max_examples=250)
@given(argv=command_lines())
def test_fuzz_options(world, argv):
    scratch = world.scratch()
    out = scratch / "out"
    if argv[0] in ("run", "bisect", "sweep", "generate"):
        argv = argv + ["--out", str(out)]
    elif argv[0] == "check":
        (scratch / "migbench.json").write_text('{"django_target": "5.2", "apps": ["app001"]}', encoding="utf-8")
        argv = argv + [str(scratch)]
    elif argv[0] == "report":
        argv = argv + [str(RECORDS), "--out", str(out)]
    elif argv[0] == "compare":
        argv = argv + [str(RECORDS), str(RECORDS)]
    world.outcome(argv, out)


@settings(FUZZ, max_examples=250)
@given(data=scenario_files(), stem=st.sampled_from(["s", "s", "s", "my bench", "café", "-x", "a.b", "x" * 70]),
       command=st.sampled_from([["run", "--django", "5.2"], ["generate"], ["sweep", "--vary", "apps=1,2"],
                                ["bisect", "--django", "4.2"]]))
def test_fuzz_scenario_files(world, data, stem, command):
    scratch = world.scratch()
    path = scratch / (stem + ".toml")
    path.write_bytes(data)
    out = scratch / "out"
    world.outcome([command[0], str(path)] + command[1:] + ["--out", str(out)], out)


@settings(FUZZ, max_examples=60)
@given(shape=st.sampled_from(["new", "nested", "existing", "file", "below-file", "proc", "nul", "dotdot",
                              "long", "newline"]),
       command=st.sampled_from(["run", "bisect", "sweep", "generate", "report"]))
def test_fuzz_out(world, shape, command):
    """--out of every shape: refused in one line or accepted, and an existing directory's files kept."""
    scratch = world.scratch()
    (scratch / "file").write_text("precious", encoding="utf-8")
    (scratch / "existing").mkdir()
    (scratch / "existing" / "kept.json").write_text("{}", encoding="utf-8")
    out = {"new": scratch / "out", "nested": scratch / "a" / "b" / "c", "existing": scratch / "existing",
           "file": scratch / "file", "below-file": scratch / "file" / "x", "proc": Path("/proc/self/migbench"),
           "nul": Path(str(scratch) + "/a\x00b"), "dotdot": scratch / ".." / (scratch.name + "-dotdot"),
           "long": scratch / ("x" * 300), "newline": scratch / "a\nb"}[shape]
    argv = {"run": ["run", "quick", "--django", "5.2"], "bisect": ["bisect", "quick", "--django", "5.2"],
            "sweep": ["sweep", "--vary", "apps=1,2", "--django", "5.2"], "generate": ["generate", "quick"],
            "report": ["report", str(RECORDS)]}[command]
    checked = out if shape not in ("nul", "proc", "long") else None
    if command == "generate" and shape == "existing":
        checked = None  # generate refuses a non-empty --out (or replaces it with --force): not this test's point
    world.outcome(argv + ["--out", str(out)], checked)
    assert (scratch / "file").read_text(encoding="utf-8") == "precious"
    assert (scratch / "existing" / "kept.json").read_text(encoding="utf-8") == "{}"
    shutil.rmtree(scratch.parent / (scratch.name + "-dotdot"), ignore_errors=True)
