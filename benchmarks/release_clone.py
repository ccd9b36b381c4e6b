#!/usr/bin/env python
"""A git clone whose commits are Django releases, one after another, for `migbench find` on real code.

    python benchmarks/release_clone.py OUT 1.7 1.7.11 1.8 1.8.19

downloads each release's sdist (pip's index), and commits its tree over the previous one in OUT
(a new repository), tagged with the release: a history of real Django code that `migbench find
--django-repo OUT --good 1.7 --bad 1.8.19` can bisect. Dates and names are fixed, so the same
releases give the same commits on every machine. There is no network clone of Django's
repository here; between two releases of this history lie the hundreds of commits that made them,
so the answer is a release, not a commit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

KEPT = (".git",)


def git(repo: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="migbench", GIT_AUTHOR_EMAIL="benchmarks@migbench.invalid",
               GIT_COMMITTER_NAME="migbench", GIT_COMMITTER_EMAIL="benchmarks@migbench.invalid",
               GIT_AUTHOR_DATE="2026-11-26T12:00:00+00:00", GIT_COMMITTER_DATE="2026-11-26T12:00:00+00:00")
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def main(out: Path, releases: list[str]) -> None:
    if out.exists():
        sys.exit("%s exists; give a new directory" % out)
    out.mkdir(parents=True)
    git(out, "init", "-q", "-b", "releases")
    with tempfile.TemporaryDirectory() as scratch:
        for release in releases:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
                            "Django==%s" % release, "-d", scratch], check=True)
            [sdist] = [p for p in Path(scratch).iterdir() if p.name.lower() == "django-%s.tar.gz" % release]
            unpacked = Path(scratch) / ("unpacked-" + release)
            unpacked.mkdir()
            subprocess.run(["tar", "-xzf", str(sdist), "--no-same-owner", "-C", str(unpacked)], check=True)
            [tree] = list(unpacked.iterdir())
            for entry in out.iterdir():
                if entry.name not in KEPT:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            for entry in tree.iterdir():
                shutil.move(str(entry), str(out / entry.name))
            git(out, "add", "-A")
            git(out, "commit", "-q", "-m", "Django %s as released (its sdist)" % release)
            git(out, "tag", release)
            print("%s %s" % (git(out, "rev-parse", "HEAD"), release))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2:])
