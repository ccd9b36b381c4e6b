"""A local Django clone for the tests of checkouts and `migbench find`, made from a PyPI sdist (no git server).

The sdist is downloaded once (pip's index, as every environment build uses) into the test cache;
the clone is a fresh `git init` of it with a history of small commits, one of them made slower on
purpose: a sleep in MigrationExecutor.apply_migration, so every migration applied costs more.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from migbench.bench.env import environments

SDIST_DJANGO = "5.2.19"  # the default line's release: its interpreter (3.11) and dependencies are cached
PLANTED = '        __import__("time").sleep(%s)  # planted by migbench\'s tests: every migration applied costs more\n'


def sdist(version: str = SDIST_DJANGO) -> Path:
    """Django's sdist, downloaded once into the cache (the test envs share it)."""
    folder = environments.cache_root() / "test-data" / "sdists"
    found = sorted(folder.glob("[dD]jango-%s.tar.gz" % version))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-q",
                    "Django==%s" % version, "-d", str(folder)], check=True, capture_output=True, timeout=600)
    return sorted(folder.glob("[dD]jango-%s.tar.gz" % version))[0]


def git(repo: Path, *args: str) -> str:
    # Fixed names and dates: the same history has the same commits in every session, so their
    # environments (keyed by commit) are built once per machine, not once per test run.
    env = dict(os.environ, GIT_AUTHOR_NAME="migbench tests", GIT_AUTHOR_EMAIL="tests@migbench.invalid",
               GIT_COMMITTER_NAME="migbench tests", GIT_COMMITTER_EMAIL="tests@migbench.invalid",
               GIT_AUTHOR_DATE="2026-11-26T12:00:00+00:00", GIT_COMMITTER_DATE="2026-11-26T12:00:00+00:00")
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def clone(where: Path, version: str = SDIST_DJANGO) -> Path:
    """A git repository holding the sdist's tree as its first commit; returns its root."""
    # tar, not tarfile: --no-same-owner, or root would keep the sdist's owner and git refuse the
    # "dubious ownership" of the tree
    subprocess.run(["tar", "-xzf", str(sdist(version)), "--no-same-owner", "-C", str(where)], check=True)
    [root] = [p for p in where.iterdir() if p.is_dir() and p.name.lower().startswith("django-")]
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Django %s as released" % version)
    return root


def commit_edit(root: Path, message: str, slow_s: float | None = None) -> str:
    """One commit: a harmless edit of the README, or (slow_s) the planted sleep; returns its hash."""
    if slow_s is None:
        with open(root / "README.rst", "a") as handle:
            handle.write("\n.. %s\n" % message)
    else:
        path = root / "django" / "db" / "migrations" / "executor.py"
        text = path.read_text()
        head = "    def apply_migration(self, state, migration, fake=False, fake_initial=False):\n"
        assert head in text, "Django's apply_migration changed its signature"
        path.write_text(text.replace(head, head + PLANTED % slow_s, 1))
    git(root, "commit", "-q", "-a", "-m", message)
    return git(root, "rev-parse", "HEAD")
