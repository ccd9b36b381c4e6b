"""The `migbench` command: summaries, one-line errors and exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from migbench.cli import main


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
    (["generate", "--seed", "-1", "--out", "{tmp}/x"], "--seed must be >= 0"),
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


def test_check_validates_a_generated_project(tmp_path, monkeypatch):
    """End to end on the current interpreter's Django line (environment cached)."""
    django = pytest.importorskip("django")
    line = "%d.%d" % django.VERSION[:2]
    out = tmp_path / "project"
    assert main(["generate", "quick", "--out", str(out), "--django", line]) == 0
    result = run("check", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "write rows" in result.stdout and result.stdout.rstrip().endswith("ok")
