"""Sizes and durations: the one home of parsing and formatting them (pyperf's _formatter).

Every number a user types (`--memory 512M`, `--timeout 30m`, `--interval 20ms`)
and every number migbench prints or puts into a file name goes through here,
so "512M" means the same on the command line, in a record's name, in the
report and in `compare`. Pure functions, no side effects.
"""

from __future__ import annotations

import re

from .errors import MigbenchError

_SIZE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([KMGT]?)(I?B)?$", re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(value: str | int | None) -> int | None:
    """"512M" -> 536870912. Units are binary whatever the spelling: M = MiB = MB = 2**20.

    cgroup files and `free -m` count in binary units, and "512MB" in a command line
    almost always means 512 MiB, so there is no decimal variant. "none", "0" and ""
    mean "no cap" (None).
    """
    if value is None:
        return None
    if isinstance(value, int):
        text = str(value)
    else:
        text = value.strip()
    if text.lower() in ("", "none", "0"):
        return None
    match = _SIZE_RE.match(text)
    if not match:
        raise MigbenchError(
            "bad memory size %r: give bytes or a number with K, M, G or T (binary), "
            "e.g. 512M, 1.5G, 1073741824, or none" % value
        )
    number, unit = match.group(1), match.group(2).upper()
    size = int(float(number) * _UNITS[unit]) if "." in number else int(number) * _UNITS[unit]
    if size == 0 and float(number) != 0:  # "0.4" bytes: a typo, not "no cap"
        raise MigbenchError("bad memory size %r: less than one byte; e.g. 512M, or none"
                            % value)
    return size or None


def format_size(size: int | None) -> str:
    """536870912 -> "512M": the shortest label that parses back to exactly `size`.

    Exact because labels name record files and cells: 1040M must not read
    "1G" (a bisection probes both), so a one-decimal form ("1.5G") is used
    only when it round-trips, else the next smaller unit ("1040M").
    """
    if size is None:
        return "none"
    for unit in ("T", "G", "M", "K"):
        if size >= _UNITS[unit]:
            value = size / _UNITS[unit]
            if size % _UNITS[unit] == 0:
                return "%d%s" % (value, unit)
            label = ("%.1f" % value).rstrip("0").rstrip(".") + unit
            if parse_size(label) == size:
                return label
    return "%dB" % size


_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$")


def parse_duration(text: str, where: str = "duration") -> float | None:
    """"30m", "90s", "1.5h", "20ms" or plain seconds; "none"/"0" = no limit."""
    value = str(text).strip().lower()
    if value in ("", "none", "0"):
        return None
    match = _DURATION_RE.match(value)
    if not match:
        raise MigbenchError("%s: not a duration: %r; write e.g. 30m, 90s, 1h or 20ms" % (where, text))
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def format_duration(seconds: float) -> str:
    """Budget-sized durations: '45s', '41m', '2.3h'."""
    if seconds < 90:
        return "%.0fs" % seconds if seconds >= 10 else "%.1fs" % seconds
    if seconds < 90 * 60:
        return "%.0fm" % (seconds / 60)
    return "%.1fh" % (seconds / 3600)


def mib(value: int | None) -> str:
    return "-" if value is None else "%.0f MB" % (value / 2**20)
