"""Bad input (issue 14): one line `migbench: error: ...` naming the option or file, what was wrong
and what is allowed, exit status 2, before anything runs; results already in --out untouched.

In-process cases replace the first step that would do real work (planning the matrix, bisecting,
the sweep's runs, building a project) with a stub that records it was reached, so "refused before
anything runs" is checked directly. The real-subprocess cases at the end run `python -m migbench`
against unusable --out directories that hold a record, and check the record is untouched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

from migbench.cli import main

ERROR = "migbench: error: "


class Reached(Exception):
    """The stub of the first real step was called: the input was accepted."""


@pytest.fixture
def reached(monkeypatch):
    """Every command's first real step, stubbed: planning (run), bisection, the sweep's runs, generation."""
    calls = []

    def stub(name):
        def record(*args, **kwargs):
            calls.append(name)
            raise Reached(name)
        return record

    monkeypatch.setattr("migbench.bench.run.matrix.plan_with_notes", stub("plan"))
    monkeypatch.setattr("migbench.bench.run.probes.bisect_scenario", stub("bisect"))
    monkeypatch.setattr("migbench.bench.run.sweep.Sweep.run", stub("sweep"))
    monkeypatch.setattr("migbench.generator.build_project", stub("generate"))
    return calls


def refusal(capsys, argv: list[str]) -> str:
    """The one error line `argv` is refused with (exit status 2, nothing on stdout)."""
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse's own refusals
        status = exit.code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert status == 2, (status, captured.err)
    assert len(lines) == 1 and lines[0].startswith(ERROR), captured.err
    assert "Traceback" not in captured.err and len(lines[0]) < 600
    return lines[0][len(ERROR):]


def accepted(capsys, argv: list[str]) -> None:
    with pytest.raises(Reached):
        main(argv)
    capsys.readouterr()


# -- argparse: one line, and no empty values ------------------------------------------


@pytest.mark.parametrize("argv, fragment", [
    (["run", "--bogus"], "unrecognized arguments: --bogus"),
    (["run", "--repeat"], "argument --repeat: expected one argument (see `migbench run --help`)"),
    (["frob"], "argument COMMAND: invalid choice: 'frob'"),
    (["run", "--dev-loop", "sometimes"], "argument --dev-loop: invalid choice: 'sometimes'"),
    (["generate"], "the following arguments are required: --out (see `migbench generate --help`)"),
    (["run", "--out", ""], "argument --out: empty value ''; give a value or leave the option out"),
    (["run", "--repeat", " "], "argument --repeat: empty value ' '"),
    (["report", ""], "argument RESULTS: empty value ''"),
    (["sweep", "--vary", ""], "argument --vary: empty value ''"),
    (["check", "\t"], "argument project: empty value '\\t'"),
])
def test_argparse_refusals_are_one_line(capsys, argv, fragment):
    assert fragment in refusal(capsys, argv)


def test_control_characters_in_a_message_stay_on_one_line(capsys, reached):
    message = refusal(capsys, ["run", "quick", "--database", "a\x00b\u2028c\x1bd"])
    assert "'a\\x00b\\u2028c\\x1bd'" in message


# -- numbers and durations ---------------------------------------------------------------


@pytest.mark.parametrize("argv, fragment", [
    (["run", "--repeat", "²"], "--repeat: expected a whole number from 1 to 1000, got '²'"),
    (["run", "--memory", "9" * 400], "--memory: bad memory size '9999"),
    (["run", "--memory", "1.5"], "--memory: memory cap '1.5' is 1B, below the smallest cap, 1M"),
    (["run", "--timeout", "1ms"], "--timeout: '1ms' is too short to be meant as a limit (under 1s)"),
    (["run", "--interval", "20s"], "--interval: the sampling interval must be between 1ms and 10s, got '20s'"),
    (["run", "--database", "oracle"], "--database: 'oracle': unknown database engine"),
    (["run", "--django", ","], "--django: no value in ','"),
    (["run", "--seed", "٣"], "--seed: expected a whole number from 0 to 9223372036854775807, got '٣'"),
    (["run", "--seed", "9" * 400], "--seed: expected a whole number from 0 to"),
    (["generate", "--seed", "1_0", "--out", "x"], "--seed: expected a whole number from 0 to"),
    (["bisect", "quick", "--low", "1K"], "--low: memory cap '1K' is 1K, below the smallest cap, 1M"),
    (["bisect", "quick", "--high", "9" * 400 + ".5G"], "--high: bad memory size"),
    (["bisect", "quick", "--limiter", "none"], "--limiter none cannot cap memory"),
    (["sweep", "--vary", "apps=1,2", "--budget", "1ms"], "--budget: '1ms' is too short to be meant as a limit"),
    (["sweep", "--vary", "apps=1,2", "--budget", "9" * 400], "--budget: '9999"),
    (["envs", "--create", ","], "--create: no Django line in ','"),
    (["envs", "--create", "٥.٢"], "--create: not a Django version: '٥.٢'"),
    (["generate", "--django", "٥.٢", "--out", "x"], "--django: not a Django version: '٥.٢'"),
])
def test_bad_numbers_are_refused_before_anything_runs(capsys, reached, tmp_path, argv, fragment):
    if argv[0] in ("run", "bisect", "sweep"):
        argv = argv + ["--out", str(tmp_path / "out")]
    assert fragment in refusal(capsys, argv)
    assert not reached and not (tmp_path / "out").exists()


@pytest.mark.parametrize("timeout", ["0", "0s", "0ms", "none"])
def test_a_zero_timeout_in_any_unit_is_no_limit(capsys, reached, tmp_path, timeout):
    accepted(capsys, ["run", "quick", "--django", "5.2", "--timeout", timeout, "--out", str(tmp_path)])
    accepted(capsys, ["sweep", "--vary", "apps=1,2", "--django", "5.2", "--budget", timeout, "--out",
                      str(tmp_path)])


def test_a_scenario_name_that_would_escape_the_cache_is_refused(capsys, reached, tmp_path):
    path = tmp_path / "escape.toml"
    path.write_text('name = "../../x"\n[generator]\napps = 2\n', encoding="utf-8")
    message = refusal(capsys, ["run", str(path), "--out", str(tmp_path / "out")])
    assert message.startswith("%s: name: expected a string of 1 to 64 characters" % path)
    assert not reached


def test_a_file_table_value_is_named_by_file_and_key(capsys, reached, tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[generator]\napps = 2\n[run]\nlimiter = "lxc"\n', encoding="utf-8")
    assert refusal(capsys, ["run", str(path), "--limiter", "auto"]).startswith(
        "%s: run.limiter: unknown limiter 'lxc'" % path)


def test_a_malformed_manifest_is_one_line(capsys, tmp_path):
    for text in ("[]", '{"django_target": 5}', '{"django_target": "9.9", "apps": []}', "{"):
        (tmp_path / "migbench.json").write_text(text, encoding="utf-8")
        assert "regenerate the project" in refusal(capsys, ["check", str(tmp_path)])


# -- --out: checked before anything runs, nothing left behind -----------------------------

OUT_COMMANDS = {
    "run": ["run", "quick", "--django", "5.2"],
    "bisect": ["bisect", "quick", "--django", "5.2"],
    "sweep": ["sweep", "quick", "--vary", "apps=1,2", "--django", "5.2"],
    "generate": ["generate", "quick", "--django", "5.2"],
    "report": ["report", "{records}"],
}


@pytest.fixture
def records(tmp_path):
    """A directory with one (minimal) result file, for `report`; it is refused later, never read here."""
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "r.json").write_text("{}", encoding="utf-8")
    return folder


def command(name: str, out: Path | str, records: Path) -> list[str]:
    return [a.replace("{records}", str(records)) for a in OUT_COMMANDS[name]] + ["--out", str(out)]


@pytest.mark.parametrize("name", OUT_COMMANDS)
def test_an_out_that_is_a_file_is_refused(capsys, reached, tmp_path, records, name):
    out = tmp_path / "results.json"
    out.write_text("precious", encoding="utf-8")
    message = refusal(capsys, command(name, out, records))
    assert message.startswith("--out %s: exists and is not a directory" % out), message
    assert out.read_text(encoding="utf-8") == "precious" and not reached


@pytest.mark.parametrize("name", OUT_COMMANDS)
def test_an_out_below_a_file_is_refused(capsys, reached, tmp_path, records, name):
    (tmp_path / "file").write_text("x", encoding="utf-8")
    out = tmp_path / "file" / "deeper" / "out"
    message = refusal(capsys, command(name, out, records))
    assert message.startswith("--out %s: %s is not a directory" % (out, tmp_path / "file")), message
    assert not reached


@pytest.mark.parametrize("name", OUT_COMMANDS)
def test_an_out_in_proc_is_refused(capsys, reached, records, name):
    message = refusal(capsys, command(name, "/proc/migbench-%d/out" % os.getpid(), records))
    assert "cannot write there" in message and not reached


@pytest.mark.parametrize("name", ["run", "bisect", "sweep"])
def test_a_new_out_is_checked_and_left_as_it_was(capsys, reached, tmp_path, records, name):
    """The check makes the missing directories to write its probe, then removes them again."""
    out = tmp_path / "a" / "b" / "out"
    accepted(capsys, command(name, out, records))
    assert reached == [{"run": "plan"}.get(name, name)]
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("name", ["run", "bisect", "sweep"])
def test_an_existing_out_keeps_exactly_its_files(capsys, reached, tmp_path, records, name):
    out = tmp_path / "out"
    out.mkdir()
    (out / "quick--0123abcd--all--django5.2--py3.11--memnone--sqlite--r1.json").write_text("{}")
    before = sorted(p.name for p in out.iterdir())
    accepted(capsys, command(name, out, records))
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize("name", OUT_COMMANDS)
def test_an_out_without_space_is_refused(capsys, reached, tmp_path, records, monkeypatch, name):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("migbench.commands.common.shutil.disk_usage", lambda path: usage(2**30, 2**30 - 4096, 4096))
    message = refusal(capsys, command(name, tmp_path / "out", records))
    assert "only 4K free on its file system; records and the report need at least 16M" in message
    assert not reached and not (tmp_path / "out").exists()


def test_an_out_with_a_nul_byte_is_refused(capsys, reached, tmp_path, records):
    for name in OUT_COMMANDS:
        assert "a NUL byte in a path" in refusal(capsys, command(name, str(tmp_path) + "/a\x00b", records))
    assert not reached


# -- real processes: an unusable --out, a record already in it ------------------------------------

RECORD = "quick--0123abcd--all--django5.2--py3.11--memnone--sqlite--r1.json"


def migbench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "migbench", *args], capture_output=True, text=True, timeout=120)


def assert_refused_before_anything_ran(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == ""  # no limiter, environment or project line: nothing was planned
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(ERROR), result.stderr
    assert fragment in result.stderr, result.stderr


@pytest.fixture
def immutable(tmp_path):
    """A directory holding one record, made immutable (chattr +i); skipped where that is not possible."""
    out = tmp_path / "immutable"
    out.mkdir()
    (out / RECORD).write_text('{"kept": true}\n', encoding="utf-8")
    if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(out)], capture_output=True).returncode:
        pytest.skip("chattr +i is not possible here (needs root and a file system that supports it)")
    yield out
    subprocess.run(["chattr", "-i", str(out)], check=True)


@pytest.fixture
def read_only(tmp_path):
    """A read-only mount holding one record; skipped where mounting is not possible."""
    source, out = tmp_path / "source", tmp_path / "read-only"
    source.mkdir()
    out.mkdir()
    (source / RECORD).write_text('{"kept": true}\n', encoding="utf-8")
    bind = subprocess.run(["mount", "--bind", "-o", "ro", str(source), str(out)], capture_output=True)
    if bind.returncode:
        pytest.skip("cannot mount here: %s" % bind.stderr.strip())
    subprocess.run(["mount", "-o", "remount,bind,ro", str(out)], capture_output=True)
    yield out
    subprocess.run(["umount", str(out)], check=True)


@pytest.mark.parametrize("name", ["run", "bisect", "sweep"])
def test_an_immutable_out_is_refused_and_its_record_kept(immutable, name):
    args = [a for a in OUT_COMMANDS[name]]
    result = migbench(*args, "--out", str(immutable))
    assert_refused_before_anything_ran(result, "--out %s: cannot write there (Operation not permitted)" % immutable)
    assert [p.name for p in immutable.iterdir()] == [RECORD]
    assert (immutable / RECORD).read_text(encoding="utf-8") == '{"kept": true}\n'


def test_a_read_only_out_is_refused_and_its_record_kept(read_only):
    if os.access(read_only, os.W_OK) and not os.statvfs(read_only).f_flag & os.ST_RDONLY:
        pytest.skip("the bind mount did not become read-only")
    result = migbench("run", "quick", "--django", "5.2", "--out", str(read_only))
    assert_refused_before_anything_ran(result, "--out %s: cannot write there (Read-only file system)" % read_only)
    assert (read_only / RECORD).read_text(encoding="utf-8") == '{"kept": true}\n'


def test_a_file_as_out_is_refused_before_anything_runs(tmp_path):
    out = tmp_path / RECORD
    out.write_text('{"kept": true}\n', encoding="utf-8")
    result = migbench("run", "quick", "--django", "5.2", "--out", str(out))
    assert_refused_before_anything_ran(result, "--out %s: exists and is not a directory" % out)
    assert out.read_text(encoding="utf-8") == '{"kept": true}\n'


def test_an_out_in_proc_is_refused_before_anything_runs():
    result = migbench("bisect", "quick", "--django", "5.2", "--out", "/proc/migbench-out")
    assert_refused_before_anything_ran(result, "--out /proc/migbench-out: cannot write there")


@pytest.mark.parametrize("name", ["run", "bisect"])
def test_an_out_of_another_seed_is_refused_before_planning(capsys, reached, tmp_path, records, name):
    from support import make_record

    from migbench.generator import resolve_scenario

    quick = resolve_scenario("quick")
    record = make_record(scenario={"name": "quick", "sha256": quick.sha256, "seed": 99, "source": "quick.toml"},
                         project={"django_target": "5.2"})
    out = tmp_path / "out"
    out.mkdir()
    (out / (record.cell().slug(1) + ".json")).write_text(record.to_json(), encoding="utf-8")
    message = refusal(capsys, command(name, out, records))
    assert "holds quick records generated with seed 99, this run uses seed" in message and not reached


@pytest.mark.parametrize("name", ["run", "bisect"])
def test_an_out_measured_on_the_host_is_refused_for_a_container_run(capsys, reached, tmp_path, records, name):
    from support import make_record

    from migbench.generator import resolve_scenario

    quick = resolve_scenario("quick")
    record = make_record(scenario={"name": "quick", "sha256": quick.sha256, "seed": quick.generator.seed,
                                   "source": "quick.toml"}, project={"django_target": "5.2"})
    out = tmp_path / "out"
    out.mkdir()
    (out / (record.cell().slug(1) + ".json")).write_text(record.to_json(), encoding="utf-8")
    message = refusal(capsys, command(name, out, records) + ["--limiter", "docker"])
    assert ("holds quick records measured on the host, this run measures in docker containers "
            "(--limiter docker)") in message and not reached
    assert record.to_json() == (out / (record.cell().slug(1) + ".json")).read_text(encoding="utf-8")


def test_a_vm_without_a_cap_is_refused_before_anything_runs(capsys, reached):
    message = refusal(capsys, ["run", "quick", "--django", "5.2", "--memory", "none", "--limiter", "vm"])
    assert message == "--limiter vm boots a guest whose RAM is the cap: give one, e.g. --memory 512M"
    assert not reached
