"""Shared fixtures: the cached (Python, Django) environments the real-process tests run in."""

from __future__ import annotations

import os

import pytest

from migbench.bench import environments
from migbench.errors import MigbenchError


def environment_or_skip(line: str, python: str | None = None):
    """The environment for `line`, or skip with the reason; under CI=true a missing one fails.

    The machines this runs on ship every interpreter of the matrix (pyenv), so
    in CI a missing environment is a broken machine, not a reason to skip.
    """
    try:
        return environments.ensure(line, python)
    except MigbenchError as error:
        _skip_or_fail(line, error)


def _skip_or_fail(line: str, error: MigbenchError):
    if os.environ.get("CI") == "true":
        pytest.fail("CI must provide an interpreter for Django %s: %s" % (line, error))
    pytest.skip(str(error))


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
            _skip_or_fail(line, found)
        return found

    return get
