"""The supervisor's sampling interval decides how often RSS is read, never the time measured:
a child that exits is reaped at once (wall_s from its exit), whatever --interval is, and a
timeout shorter than the interval still stops the child on time (bench/measure/supervisor.py)."""

from __future__ import annotations

import os
import sys

import pytest

from migbench.bench.measure import supervisor
from migbench.bench.measure.supervisor import supervise


def child(tmp_path, code: str, **kwargs):
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        return supervise([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ), stdout=out,
                         stderr=err, **kwargs)


@pytest.fixture(params=["pidfd", "polling"])
def waiter(request, monkeypatch):
    """Both ways of waiting between samples: on a pidfd, and (where there is none) in short slices."""
    if request.param == "polling":
        def no_pidfd(pid):
            raise OSError("no pidfd here")
        monkeypatch.setattr(supervisor.os, "pidfd_open", no_pidfd, raising=False)
    return request.param


def test_a_long_interval_does_not_lengthen_the_measured_time(tmp_path, waiter):
    result = child(tmp_path, "import time; time.sleep(0.3)", interval=10.0)
    assert result.exit_code == 0
    assert 0.3 <= result.wall_s < 2.0, "wall_s %.2f: the child's exit waited for the next sample" % result.wall_s
    assert len(result.samples) <= 1  # one sample at the start, none after: the interval is kept


def test_the_interval_still_sets_how_often_rss_is_read(tmp_path, waiter):
    result = child(tmp_path, "import time; time.sleep(0.5)", interval=0.02)
    assert result.exit_code == 0
    assert len(result.samples) >= 5
    gaps = [b[0] - a[0] for a, b in zip(result.samples, result.samples[1:])]
    assert min(gaps) >= 0.015, "sampled more often than every 20ms: %s" % gaps


def test_a_timeout_shorter_than_the_interval_stops_the_child_on_time(tmp_path, waiter):
    result = child(tmp_path, "import time; time.sleep(60)", interval=10.0, timeout=1.0)
    assert result.timed_out and result.exit_code is None
    assert 1.0 <= result.wall_s < 4.0
