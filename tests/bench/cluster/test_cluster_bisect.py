"""The bisection's slots on a real LocalCluster (2 worker processes, one `measure` slot each): probes
with a known threshold run as Dask tasks that take longer to pass than to fail, so they finish out of
order as real probes do; the search must give the serial search's answer, bracket and confirmation."""

from __future__ import annotations

import time

import pytest

from migbench.bench.run.bisect import Probe, bisect_cap

distributed = pytest.importorskip("distributed")
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("cluster")]

MiB = 2**20
LOW, HIGH, TOL = 64 * MiB, 1024 * MiB, 8 * MiB


def threshold_probe(threshold: int):
    """A probe with a known threshold; passing takes 0.06 s, failing 0.01 s (a closure: Dask ships it by value)."""
    def probe(cap: int, repeat: int) -> Probe:
        ok = cap >= threshold
        time.sleep(0.06 if ok else 0.01)
        return Probe(cap, "ok" if ok else "oom-killed", min(cap, threshold), 0.06 if ok else 0.01, repeat)
    return probe


class ClusterSlots:
    """The search's slots as Dask tasks on the cluster's measurement slots (what RecordProbe does with runs)."""

    def __init__(self, client, probe):
        self.client, self.probe = client, probe
        self.done = distributed.as_completed()
        self.in_flight = self.most = 0

    def start(self, cap: int, repeat: int) -> None:
        self.done.add(self.client.submit(self.probe, cap, repeat, resources={"measure": 1}, pure=False))
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)

    def next(self) -> Probe:
        self.in_flight -= 1
        return next(self.done).result()


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, resources={"measure": 1},
                                  memory_limit=0, dashboard_address=None, protocol="tcp") as cluster:
        with distributed.Client(cluster) as connected:
            yield connected


@pytest.mark.parametrize("threshold, prior", [
    (102 * MiB, 107 * MiB),  # segfault-2015 1.9/3.11: answer 0.96x the uncapped peak
    (102 * MiB, None),  # from --high and --low
    (4096 * MiB, 4058 * MiB),  # above --high: needs more
    (40 * MiB, 47 * MiB),  # below --low: "64M or less"
    (300 * MiB, 107 * MiB),  # a prior far off
])
def test_two_slots_on_a_cluster_give_the_serial_answer(client, threshold, prior):
    serial = bisect_cap(threshold_probe(threshold), LOW, HIGH, TOL, prior=prior)
    slots = ClusterSlots(client, threshold_probe(threshold))
    parallel = bisect_cap(None, LOW, HIGH, TOL, prior=prior, width=2, slots=slots)
    assert (parallel.status, parallel.answer, parallel.bracket, parallel.confirmation) == \
        (serial.status, serial.answer, serial.bracket, serial.confirmation), (parallel.lines(), serial.lines())
    assert slots.most <= 2 and parallel.max_in_flight <= 2
    if serial.status == "answered" and len(serial.probes) > 2:
        assert parallel.max_in_flight == 2  # the second slot was used
