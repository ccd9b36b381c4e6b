"""Who measured a record, and alone or not: the reader's side of `concurrency` and `host`.

A run measured while other measured runs shared its machine (a cluster with
several slots on one machine, two migbench commands at once) has timings that
are not comparable with a run measured alone: the other runs took cores, caches
and memory bandwidth. Its memory figures are unaffected (the cap and the peak
are the run's own). So readers keep the two kinds of timing apart and pair only
like with like; `timing_mode` says which kind a record's times are.

Records written before `concurrency` was recorded (before issue 19) say nothing:
they were measured by one serial migbench, so they count as solo, but nothing
proves no other migbench shared the machine then (results/README.md names the
studies that ran side by side). No side effects.
"""

from __future__ import annotations

SOLO, CONCURRENT = "solo", "concurrent"


def timing_mode(record) -> str:
    """"solo" or "concurrent": whether the record's times were taken with other measured runs on its machine."""
    concurrency = getattr(record, "concurrency", None)
    if isinstance(concurrency, dict) and concurrency.get("solo") is False:
        return CONCURRENT
    return SOLO


def machine_of(record) -> str:
    """The machine that measured the record: "hostname" or "hostname/machine-id prefix".

    Both, because either alone can be shared by two machines: clones of one VM image keep the
    image's machine id, and hosts of a cluster are often named alike ("worker")."""
    return machine_name(getattr(record, "host", None) or {})


def machine_name(host: dict) -> str:
    """A record's `host` (bench/measure/host.py: describe) as machine_of names it."""
    name = str(host.get("hostname") or "unknown")
    machine_id = host.get("machine_id")
    return "%s/%s" % (name, str(machine_id)[:12]) if machine_id else name


def describe_concurrency(record) -> str:
    """One phrase for tables and notes: "solo", or "with 2 other runs for 31.0 of 40.2 s"."""
    concurrency = getattr(record, "concurrency", None)
    if not isinstance(concurrency, dict):
        return "solo (not recorded)"
    if concurrency.get("solo", True):
        return "solo"
    return "with %d other measured run%s for %.1f of %.1f s" % (
        concurrency.get("overlapping_runs", 0), "" if concurrency.get("overlapping_runs") == 1 else "s",
        concurrency.get("overlap_s", 0.0), concurrency.get("span_s", 0.0))


__all__ = ["CONCURRENT", "SOLO", "describe_concurrency", "machine_name", "machine_of", "timing_mode"]
