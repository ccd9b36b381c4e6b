"""Describe the machine a run happened on, for the record's provenance.

Results from different machines are compared later (asv keys results by
machine), so a record carries what decides its numbers: CPU, core count,
RAM and swap (a cap without swap is a different experiment), OS and kernel
(cgroup behaviour), and the load when the run started (a busy neighbour
slows migrate down).
"""

from __future__ import annotations

import os
import platform
import socket

import psutil


def describe() -> dict:
    memory = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return {
        "hostname": socket.gethostname(),
        "machine_id": machine_id(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_count_physical": psutil.cpu_count(logical=False),
        "ram_bytes": memory.total,
        "swap_bytes": swap.total,
        "os": _os_name(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "load_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def machine_id() -> str | None:
    """The machine's systemd/D-Bus id (stable across reboots, unlike a hostname shared by cloned VMs),
    None where the OS has none: records from several machines are told apart by it (bench/records/sharing.py)."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            with open(path, encoding="ascii", errors="replace") as handle:
                found = handle.read().strip()
        except OSError:
            continue
        if found:
            return found
    return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _os_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "%s %s" % (platform.system(), platform.release())
