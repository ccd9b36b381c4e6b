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
