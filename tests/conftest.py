"""Shared fixtures: the cached (Python, Django) environments the real-process tests run in."""

from __future__ import annotations

import pytest
from support import skip_or_fail

from migbench.bench.env import environments
from migbench.errors import MigbenchError


@pytest.fixture(scope="session")
def environment_for():
    """Build (or reuse) one environment per line, once per session; skip (or fail in CI) if impossible."""
    cache: dict[str, object] = {}

    def get(line: str):
        if line not in cache:
            try:
                cache[line] = environments.ensure(line)
            except MigbenchError as error:
                cache[line] = error
        found = cache[line]
        if isinstance(found, MigbenchError):
            skip_or_fail(line, found)
        return found

    return get


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache root for this test: its own baselines, variants and servers; the shared environments
    and generated projects (symlinked: deterministic, written race-free), so nothing the test
    measures against outlives it and no environment or project is rebuilt."""
    real, root = environments.cache_root(), tmp_path / "cache"
    root.mkdir()
    for shared in ("envs", "locks", "tools", "projects"):
        (real / shared).mkdir(parents=True, exist_ok=True)
        (root / shared).symlink_to(real / shared, target_is_directory=True)
    monkeypatch.setenv("MIGBENCH_CACHE", str(root))
    return root
