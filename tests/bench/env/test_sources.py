"""Django as it is being built: a checkout, a commit of a clone and `migbench find`, on a real clone.

The clone is made here from Django's sdist (tests/django_clone.py: no git server involved), with a
history of small commits, one of which plants a sleep in every migration applied. Real environments
(one per commit, from the commit's tree), real measured runs, real records.
"""

from __future__ import annotations

import json

import pytest
from django_clone import clone, commit_edit, git
from support import tiny_scenario

from migbench.bench.env import environments, sources
from migbench.bench.records import ResultStore
from migbench.bench.run.executor import run_matrix
from migbench.bench.run.find_probes import find_scenario
from migbench.bench.run.matrix import plan_matrix
from migbench.bench.run.options import resolve_options
from migbench.bench.run.progress import Progress
from migbench.cli import main

pytestmark = pytest.mark.e2e

SLOW_S = 0.08  # per migration applied: tiny applies 18, so ~1.4 s on a run of ~1 s: far beyond this machine's noise


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """(clone root, its commits oldest first); the fourth plants the slowdown."""
    root = clone(tmp_path_factory.mktemp("clone"))
    commits = [git(root, "rev-parse", "HEAD")]
    commits.append(commit_edit(root, "docs: a first harmless edit"))
    commits.append(commit_edit(root, "docs: a second harmless edit"))
    commits.append(commit_edit(root, "migrations: the planted slowdown", slow_s=SLOW_S))
    commits.append(commit_edit(root, "docs: a harmless edit after it"))
    git(root, "tag", "known-good", commits[0])
    return root, commits


def _run(django: str, out, repo: str | None = None):
    scenario = tiny_scenario("tiny-sources")
    cli = {"django": django, "django_repo": repo, "dev_loop": "off", "strategy": "all"}
    options = resolve_options(cli, {}, "test")
    matrix = plan_matrix(scenario, options, on_note=lambda note: None)
    store = ResultStore(out)
    with matrix.serving():
        run_matrix(scenario, options, matrix, store, ["test"], Progress())
    [record] = store.records()
    return record, matrix.cells[0].env


def test_a_checkout_is_a_version_keyed_by_its_commit_and_its_uncommitted_changes(history, own_cache, tmp_path):
    root, commits = history
    record, env = _run(str(root), tmp_path / "clean")
    assert record.outcome == "ok" and record.validation["ok"]
    assert record.django_version == "5.2.19+g%s" % commits[-1][:12] == env.django_version
    assert record.django_source["kind"] == "checkout" and record.django_source["commit"] == commits[-1]
    assert record.django_source["dirty"] is False and record.django_source["path"] == str(root)
    assert (env.path / "django-src" / "django" / "__init__.py").is_file()  # a copy: editing the checkout later
    executor = root / "django" / "db" / "migrations" / "executor.py"       # never changes what was measured
    original = executor.read_text()
    try:
        executor.write_text(original + "\n# an uncommitted edit\n")
        dirty, dirty_env = _run(str(root), tmp_path / "dirty")
        assert dirty.outcome == "ok" and dirty.validation["ok"]
        assert dirty.django_source["dirty"] is True and dirty.django_source["commit"] == commits[-1]
        digest = dirty.django_source["dirty_sha256"]
        assert dirty.django_version == "5.2.19+g%s.dirty%s" % (commits[-1][:12], digest[:12])
        assert "uncommitted changes" in " ".join(dirty.notes)
        spec = sources.from_checkout(str(root)).spec
        assert environments.ensure(spec).path == dirty_env.path  # the same edit: the same environment
        executor.write_text(original + "\n# another edit\n")
        assert environments.ensure(spec).path != dirty_env.path  # another edit: another one
    finally:
        executor.write_text(original)
    assert environments.ensure(sources.from_checkout(str(root)).spec).path == env.path  # clean again: the first


def test_a_ref_of_a_clone_and_compare_against_the_release(history, own_cache, tmp_path, capsys):
    root, commits = history
    out = tmp_path / "out"
    assert main(["run", "quick", "--django-repo", str(root), "--django", "known-good", "--out", str(out),
                 "--no-report"]) == 0
    assert main(["run", "quick", "--django", "5.2.19", "--out", str(out), "--no-report"]) == 0
    records = {r.django_version: r for r in ResultStore(out).records()}
    checkout = records["5.2.19+g%s" % commits[0][:12]]
    assert checkout.django_source == {**checkout.django_source, "kind": "git", "commit": commits[0],
                                      "ref": "known-good", "dirty": False}
    assert records["5.2.19"].django_source is None  # from PyPI
    capsys.readouterr()
    assert main(["compare", str(out), str(out), "--baseline-django", "5.2.19",
                 "--candidate-django", commits[0][:9]]) == 0
    shown = capsys.readouterr().out
    assert "1 cell compared" in shown and "time" in shown


def test_find_names_the_planted_commit_and_resumes(history, own_cache, tmp_path):
    root, commits = history
    scenario = tiny_scenario("tiny-sources")
    options = resolve_options({"django": ",".join(commits[::len(commits) - 1]), "django_repo": str(root),
                               "dev_loop": "off", "strategy": "all", "repeat": "2"}, {}, "test")
    out = tmp_path / "find"
    lines = []

    class Lines:
        def write(self, text):
            lines.append(text)

        def flush(self):
            pass

    # at most 3 runs a commit: the planted step is ~2x, far outside noise; a loaded machine that blurs it
    # costs a verdict's confidence (not asserted), not minutes of extra runs
    good, bad = sources.from_repo(str(root), "known-good"), sources.from_repo(str(root), "main")
    finding = find_scenario(scenario, options, good, bad, out, ["test"], "time", 0.10, 3,
                            stream=Lines())
    assert finding.found, "".join(lines)
    assert finding.commits == commits and commits[finding.first_bad] == commits[3]
    assert commits[finding.last_good] == commits[2]
    [summary_path] = out.glob("find--*.json")
    summary = json.loads(summary_path.read_text())
    assert summary["schema"] == "migbench.find/1" and summary["first_bad"] == commits[3]
    assert summary["bad"] == {"ref": "main", "commit": commits[-1]} and summary["steps"]
    assert summary["good"] == {"ref": "known-good", "commit": commits[0]}
    made = sorted(p.name for p in out.glob("tiny-sources--*.json"))
    for step in summary["ends"] + summary["steps"]:
        assert step["records"] and set(step["records"]) <= set(made)
    by_commit = {r.django_source["commit"] for r in ResultStore(out).records() if r.django_source}
    assert by_commit <= set(commits) and commits[3] in by_commit
    again = find_scenario(scenario, options, good, bad, out, ["test"], "time", 0.10, 3,
                          stream=Lines())
    assert sorted(p.name for p in out.glob("tiny-sources--*.json")) == made  # every run read back
    assert again.first_bad == finding.first_bad and [v.values for v in again.steps] == [v.values for v in finding.steps]


@pytest.mark.parametrize("argv, says", [
    (["run", "quick", "--django", "/nonexistent/django"], "no such directory"),
    (["run", "quick", "--django", "{tmp}"], "not a Django checkout"),
    (["run", "quick", "--django-repo", "{tmp}", "--django", "main"], "not a git repository"),
    (["run", "quick", "--django-repo", "{root}", "--django", "no-such-branch"], "no such commit, branch or tag"),
    (["run", "quick", "--django-repo", "{root}"], "give the commits, branches or tags to measure with --django"),
    (["run", "quick", "--django-repo", "{root}", "--django", "main", "--workers", "2"], "a checkout"),
    (["run", "quick", "--django", "6.1rc1x"], "not a Django version"),
    (["run", "quick", "--django", "7.0"], "unknown Django version 7.0"),
    (["find", "quick", "--django-repo", "{root}", "--good", "main", "--bad", "known-good"], "is not an ancestor"),
    (["find", "quick", "--django-repo", "{root}", "--good", "main", "--bad", "main"], "nothing lies between"),
    (["find", "quick", "--django-repo", "{root}", "--good", "known-good", "--bad", "main", "--repeat", "1"],
     "--repeat: expected a whole number from 2"),
    (["find", "quick", "--django-repo", "{root}", "--good", "known-good", "--bad", "main", "--strategy",
      "all,squash"], "find measures one cell"),
])
def test_bad_input_is_one_line_before_anything_runs(history, argv, says, tmp_path, capsys):
    root, _ = history
    out = tmp_path / "out"
    argv = [a.format(tmp=tmp_path, root=root) for a in argv] + ["--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not out.exists()


def test_a_pre_release_is_a_version_pip_installs_as_written():
    env = environments.ensure("6.1rc1")  # from PyPI, once per machine; 6.2a1 once PyPI has one
    assert env.django_version == "6.1rc1" and env.source is None
    assert env.path.name.endswith("-django6.1rc1")
