"""Real third-party projects for the tests of `migbench run --project` (issue 17).

Each project's environment is a virtualenv the suite builds once from PyPI with pinned
versions (wagtail, django-oscar, psycopg2-binary) under the cache root's `test-projects/`,
reused by every later run. It plays the user's environment: migbench must never write into
it, and the tests check that with a fingerprint of its site-packages.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from migbench.bench.env import environments

DATA = Path(__file__).parent / "data" / "real"
DJANGO = "Django==5.2.19"
PSYCOPG = "psycopg2-binary==2.9.11"
WAGTAIL = (DJANGO, "wagtail==8.0.1", PSYCOPG)
OSCAR = (DJANGO, "django-oscar==4.2.1", PSYCOPG)
_ROOT = environments.cache_root()  # before any test points MIGBENCH_CACHE at its own root


def project_env(name: str, requirements: tuple[str, ...]) -> Path:
    """The interpreter of a virtualenv holding `requirements` (built once; skipped, or failed in CI,
    when PyPI cannot be reached)."""
    key = hashlib.sha256("\n".join(requirements).encode()).hexdigest()[:10]
    path = _ROOT / "test-projects" / ("%s-%s" % (name, key))
    python = path / "bin" / "python"
    with environments.locked("test-project-%s" % path.name):
        if not (path / "ready").is_file():
            shutil.rmtree(path, ignore_errors=True)
            base = getattr(sys, "_base_executable", sys.executable)
            done = subprocess.run([base, "-m", "venv", str(path)], capture_output=True, text=True)
            if done.returncode == 0:
                done = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
                                      + list(requirements), capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                shutil.rmtree(path, ignore_errors=True)
                why = "cannot build the %s environment: %s" % (name, (done.stderr or done.stdout)[-300:])
                if os.environ.get("CI") == "true":
                    pytest.fail(why)
                pytest.skip(why)
            (path / "ready").write_text("\n".join(requirements) + "\n")
    return python


def site_packages(python: Path) -> Path:
    return next((python.parent.parent / "lib").glob("python*/site-packages"))


def shop_tree(where: Path) -> Path:
    """A copy of tests/data/real/shop (the oscar sandbox-style project) the test may fingerprint."""
    tree = where / "shop"
    shutil.copytree(DATA / "shop", tree, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return tree


def wagtail_tree(python: Path, where: Path) -> Path:
    """A project made by `wagtail start mysite`, as a wagtail user starts one, with its SECRET_KEY set
    to a fixed value, as a user sets their own: `wagtail start` writes a random one, so every run's
    tree had different bytes, hence a new copy and a new baseline and floor variant (~15 s of the
    suite) each time; with the same bytes, migbench reuses them as it does for a user's unchanged
    project (a new wagtail version or a change to the template still gives a new copy)."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(python.parent / "wagtail"), "start", "mysite"], cwd=where, check=True,
                   capture_output=True, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    dev = where / "mysite" / "mysite" / "settings" / "dev.py"
    text = dev.read_text(encoding="utf-8")
    fixed = re.sub(r'(?m)^SECRET_KEY = ".*"$', 'SECRET_KEY = "django-insecure-migbench-tests-fixed-key"', text)
    assert fixed != text, "wagtail start no longer writes SECRET_KEY in mysite/settings/dev.py"
    stat = dev.stat()
    dev.write_text(fixed, encoding="utf-8")
    os.utime(dev, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return where / "mysite"


def redis_or_skip() -> None:
    """redis-server for `--redis embedded`, or skip (fail under CI=true: .ci/run installs it)."""
    from migbench.bench.projects.services import redis_unavailable

    why = redis_unavailable()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must provide redis-server: %s" % why)
        pytest.skip(why)
