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
    for shared in ("envs", "locks", "tools", "projects", "bases", "test-data"):
        (real / shared).mkdir(parents=True, exist_ok=True)
        (root / shared).symlink_to(real / shared, target_is_directory=True)
    monkeypatch.setenv("MIGBENCH_CACHE", str(root))
    return root


# The longest first: with 2 workers, a long group scheduled last leaves the other worker idle
# for its whole length. xdist hands out work in collection order, so the slowest modules go
# first, then every other real-process (e2e) test, then the fast unit tests, which fill the tail.
SLOWEST_FIRST = ("tests/bench/projects/test_real_wagtail.py", "tests/bench/projects/test_real_shop.py",
                 "tests/bench/run/test_engine_matrix.py", "tests/bench/strategies/test_strategy_lines.py",
                 "tests/bench/run/test_matrix.py")


def pytest_collection_modifyitems(config, items):
    """Whole modules move, never single tests: a module's items stay together and in pytest's
    order, so its module-scoped fixtures (a server, a project) are set up once and in order."""
    real = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("e2e")}

    def rank(item) -> int:
        module = item.nodeid.split("::")[0]
        for position, prefix in enumerate(SLOWEST_FIRST):
            if module == prefix:
                return position
        return len(SLOWEST_FIRST) + (0 if module in real else 1)

    items.sort(key=rank)  # stable: the order within a rank is pytest's
