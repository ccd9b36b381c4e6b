"""The `migbench` command: summaries, one-line errors, exit statuses, the parser assembled from
migbench/commands and the one interrupt helper."""

from __future__ import annotations

import argparse
import json
import io
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from migbench.cli import COMMANDS, build_parser, main
from migbench.commands.common import run_interruptible


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "migbench", *args], capture_output=True, text=True)


def test_generate_prints_a_summary_and_writes_a_project(tmp_path):
    out = tmp_path / "project"
    result = run("generate", "quick", "--out", str(out), "--django", "4.2", "--seed", "3")
    assert result.returncode == 0, result.stderr
    for word in ("apps", "models", "fields", "relations", "migrations", "operations"):
        assert word in result.stdout
    manifest = json.loads((out / "migbench.json").read_text())
    assert manifest["seed"] == 3 and manifest["django_target"] == "4.2"
    assert (out / "manage.py").exists()


@pytest.mark.parametrize("args, fragment", [
    (["generate", "nope", "--out", "{tmp}/x"], "no such scenario"),
    (["generate", "--django", "9.9", "--out", "{tmp}/x"], "unknown Django version 9.9"),
    (["generate", "--seed", "-1", "--out", "{tmp}/x"], "--seed: expected a whole number from 0 to"),
    (["check", "{tmp}"], "no migbench.json"),
    (["check", "{tmp}", "--django", "1.7"], "no migbench.json"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, fragment):
    result = run(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("migbench: error: ") and fragment in lines[0], result.stderr


def test_generate_refuses_a_non_empty_out_and_keeps_it(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    assert main(["generate", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_malformed_scenario_file_names_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[generator]\napps = 'many'\n")
    result = run("generate", str(bad), "--out", str(tmp_path / "x"))
    assert result.returncode == 2
    assert str(bad) in result.stderr and "generator.apps" in result.stderr


def test_scenarios_lists_the_shipped_ones():
    result = run("scenarios")
    assert result.returncode == 0
    for name in ("quick", "tester-2015", "relations", "long-history"):
        assert name in result.stdout


@pytest.mark.e2e
def test_check_validates_a_generated_project(tmp_path, monkeypatch):
    """End to end on the current interpreter's Django line (environment cached)."""
    django = pytest.importorskip("django")
    line = "%d.%d" % django.VERSION[:2]
    out = tmp_path / "project"
    assert main(["generate", "quick", "--out", str(out), "--django", line]) == 0
    result = run("check", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "write rows" in result.stdout and result.stdout.rstrip().endswith("ok")


# -- the parser, assembled from migbench/commands ------------------------------------

COMMAND_NAMES = ("generate", "check", "run", "report", "compare", "bisect", "find", "sweep", "scenarios", "envs", "image",
                 "vm", "twin")


def _subparsers(parser):
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action


def test_parser_lists_every_command_in_order():
    assert tuple(_subparsers(build_parser()).choices) == COMMAND_NAMES
    assert tuple(module.__name__.rsplit(".", 1)[1] for module in COMMANDS) == COMMAND_NAMES


@pytest.mark.parametrize("module", COMMANDS, ids=lambda module: module.__name__.rsplit(".", 1)[1])
def test_each_command_module_declares_its_parser_and_handler(module):
    name = module.__name__.rsplit(".", 1)[1]
    assert module.__doc__ and ("`migbench %s`" % name) in module.__doc__
    assert "Side effects" in module.__doc__
    parser = _subparsers(build_parser()).choices[name]
    assert parser.get_default("handler") is module.handle


@pytest.mark.parametrize("name", COMMAND_NAMES)
def test_every_command_has_help(name, capsys):
    with pytest.raises(SystemExit) as exit:
        main([name, "--help"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.startswith("usage: migbench %s" % name)


def test_top_level_help_names_every_command():
    result = run("--help")
    assert result.returncode == 0
    for name in COMMAND_NAMES:
        assert name in result.stdout


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert capsys.readouterr().out.startswith("usage: migbench")


def test_parser_assembly_imports_nothing_heavy():
    """`migbench --help` stays fast: the handlers import bench and generator lazily."""
    code = ("import sys, migbench.cli; migbench.cli.build_parser(); "
            "print(sorted(m for m in sys.modules if m.startswith(('migbench.bench', 'migbench.generator', "
            "'django'))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_run_options_keep_their_defaults():
    parser = _subparsers(build_parser()).choices
    args = parser["run"].parse_args([])
    # no scenario named: quick, unless --project names a real project instead (commands/run.py)
    assert args.scenario is None and args.memory is None and args.dev_loop is None and not args.no_report
    assert args.project is None and args.manage is None and args.env is None and args.redis is None
    args = parser["bisect"].parse_args(["quick"])
    assert (args.low, args.high, args.tolerance) == ("64M", "4G", "8M") and not args.no_uncapped
    args = parser["sweep"].parse_args(["--vary", "apps=1,2", "--vary", "migrations=1"])
    assert args.vary == ["apps=1,2", "migrations=1"] and args.budget is None
    with pytest.raises(SystemExit):
        parser["bisect"].parse_args([])  # bisect names its scenario


# -- interrupts: one helper for run, bisect and sweep -------------------------------


@pytest.fixture
def sigterm_restored():
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGTERM, previous[0])
    signal.signal(signal.SIGINT, previous[1])


def test_interrupt_returns_130_and_prints_the_message(sigterm_restored, capsys):
    calls = []

    def measure():
        raise KeyboardInterrupt

    status = run_interruptible(measure, lambda result: calls.append(result) or 0, "migbench: interrupted; X",
                               on_interrupt=lambda: calls.append("cleanup"))
    assert status == 130
    assert calls == ["cleanup"], "finish is not called after an interrupt"
    assert capsys.readouterr().err == "migbench: interrupted; X\n"


def test_without_interrupt_finish_gets_the_result(sigterm_restored, capsys):
    assert run_interruptible(lambda: 7, lambda result: result - 6, "unused") == 1
    assert capsys.readouterr().err == ""


def test_sigterm_is_mapped_to_ctrl_c(sigterm_restored, capsys):
    def measure():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises KeyboardInterrupt before this ends
        return "not interrupted"

    assert run_interruptible(measure, lambda result: 0, "migbench: interrupted; by SIGTERM") == 130
    assert signal.getsignal(signal.SIGTERM) is signal.getsignal(signal.SIGINT)  # one handler for both
    assert capsys.readouterr().err == "migbench: interrupted; by SIGTERM\n"


def test_an_interrupt_python_dropped_is_raised_again_by_the_progress_callbacks(sigterm_restored, capsys):
    """A signal landing in an at-fork callback (logging's) is printed as "Exception ignored" and
    dropped by Python; the handler noted it, and the next progress callback raises it."""
    from migbench.bench.run.progress import Progress

    progress = Progress(io.StringIO())
    seen = []

    def measure():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            seen.append("dropped")  # as if Python had swallowed it
        progress.sample(1.0, 1)  # the next sample raises it again
        return "not interrupted"

    assert run_interruptible(measure, lambda result: 0, "migbench: interrupted") == 130
    assert seen == ["dropped"]
    progress.sample(2.0, 2)  # handled: nothing pending any more


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def test_run_interrupt_keeps_finished_runs(sigterm_restored, monkeypatch, tmp_path, capsys):
    finished = []
    monkeypatch.setattr("migbench.bench.run.matrix.plan_with_notes", lambda *args: SimpleNamespace(cells=[]))
    monkeypatch.setattr("migbench.bench.run.executor.run_matrix", _interrupt)
    monkeypatch.setattr("migbench.bench.run.progress.Progress.finish", lambda self: finished.append(1))
    out = tmp_path / "out"
    assert main(["run", "quick", "--django", "5.2", "--out", str(out)]) == 130
    assert capsys.readouterr().err == (
        "migbench: interrupted; the unfinished run was discarded, finished runs are kept in %s; "
        "run the same command again to resume\n" % out)
    assert finished, "the progress line is ended before the message"


def test_bisect_interrupt_keeps_finished_probes(sigterm_restored, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("migbench.bench.run.probes.bisect_scenario", _interrupt)
    out = tmp_path / "out"
    assert main(["bisect", "quick", "--django", "5.2", "--out", str(out)]) == 130
    assert capsys.readouterr().err == (
        "migbench: interrupted; the unfinished runs were discarded, finished probes are kept in %s; "
        "run the same command again to resume\n" % out)


def test_sweep_interrupt_names_the_summary(sigterm_restored, monkeypatch, tmp_path, capsys):
    sweep = SimpleNamespace(run=_interrupt, store=SimpleNamespace(root=tmp_path),
                            summary_path=lambda: tmp_path / "sweep" / "quick.json")
    monkeypatch.setattr("migbench.bench.run.sweep.prepare_sweep", lambda *args: sweep)
    assert main(["sweep", "quick", "--vary", "apps=1,2"]) == 130
    assert capsys.readouterr().err == (
        "migbench: interrupted; finished runs are kept in %s (summary: %s); run the same command again to "
        "resume\n" % (tmp_path, tmp_path / "sweep" / "quick.json"))
