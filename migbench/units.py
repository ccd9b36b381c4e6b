"""Sizes and durations: the one home of parsing and formatting them (pyperf's _formatter).

Every number a user types (`--memory 512M`, `--timeout 30m`, `--interval 20ms`)
and every number migbench prints or puts into a file name goes through here,
so "512M" means the same on the command line, in a record's name, in the
report and in `compare`. Pure functions, no side effects.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

from .errors import MigbenchError

# ASCII digits only: `\d` would also take "٣" (Arabic-Indic three), which int() reads as 3.
_SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)[ \t]*([KMGT]?)(I?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
MAX_SIZE = 2**63 - 1  # what a cgroup file or setrlimit can hold; beyond it a number is not a size

# A memory cap (--memory, run.memory, bisect's --low/--high) is at least 1M: no Python starts
# under less, so a smaller one is a typo ("1.5" is 1 byte, not 1.5G). At most 1024T: more than any
# machine has, and far below what the limiters can be given.
MIN_CAP = 2**20
MAX_CAP = 2**50

# Durations: ASCII digits, one optional unit. A limit (--timeout, run.timeout, --budget) of 0 in
# any unit means no limit; a positive one under a second is refused as not meant. The RSS
# sampling interval is 1ms..10s. Nothing is longer than a year.
MIN_LIMIT_S = 1.0
MIN_INTERVAL_S = 0.001
MAX_INTERVAL_S = 10.0
MAX_DURATION_S = 365 * 24 * 3600.0


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
    match = _SIZE_RE.fullmatch(text)
    if not match:
        raise MigbenchError(
            "bad memory size %s: give bytes or a number with K, M, G or T (binary), "
            "e.g. 512M, 1.5G, 1073741824, or none" % show(value)
        )
    number, unit = match.group(1), match.group(2).upper()
    if len(number) > 40:  # int() refuses over 4300 digits; no size is this long anyway
        raise MigbenchError("bad memory size %s: too large; e.g. 512M, 64G, or none" % show(value))
    exact = Fraction(number) * _UNITS[unit]  # exact: a float would overflow or round
    size = int(exact)
    if size == 0 and exact != 0:  # "0.4" bytes: a typo, not "no cap"
        raise MigbenchError("bad memory size %s: less than one byte; e.g. 512M, or none" % show(value))
    if size > MAX_SIZE:
        raise MigbenchError("bad memory size %s: too large; e.g. 512M, 64G, or none" % show(value))
    return size or None


def parse_cap(value: str | int | None) -> int | None:
    """A memory cap: parse_size() between MIN_CAP (1M) and MAX_CAP (1024T); None = no cap."""
    size = parse_size(value)
    if size is not None and size < MIN_CAP:
        raise MigbenchError(
            "memory cap %s is %s, below the smallest cap, 1M (no Python process starts under it; a "
            "number without a unit counts bytes): give e.g. 512M or 1.5G, or none"
            % (show(value), format_size(size)))
    if size is not None and size > MAX_CAP:
        raise MigbenchError("memory cap %s is above the largest cap, 1024T: give e.g. 512M or 64G, or none"
                            % show(value))
    return size


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


_DURATION_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?)[ \t]*(ms|s|m|h)?")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str, where: str = "duration") -> float | None:
    """"30m", "90s", "1.5h", "20ms" or plain seconds; "none" or 0 in any unit ("0", "0s",
    "0ms") = None, no limit. At most a year."""
    value = str(text).strip().lower()
    if value in ("", "none"):
        return None
    match = _DURATION_RE.fullmatch(value)
    if not match:
        raise MigbenchError("%s: not a duration: %s; write e.g. 30m, 90s, 1h or 20ms" % (where, show(text)))
    seconds = float(match.group(1)) * _SECONDS[match.group(2) or "s"]
    if seconds == 0:
        return None
    if not math.isfinite(seconds) or seconds > MAX_DURATION_S:
        raise MigbenchError("%s: %s is longer than a year (8760h); write e.g. 30m, 90s or 1h"
                            % (where, show(text)))
    return seconds


def parse_limit(text: str, where: str) -> float | None:
    """A time limit (a run's timeout, a sweep's budget): None for none/0, else at least a second."""
    seconds = parse_duration(text, where)
    if seconds is not None and seconds < MIN_LIMIT_S:
        raise MigbenchError("%s: %s is too short to be meant as a limit (under 1s); give e.g. 30m or 90s, "
                            "or 0 / none for no limit" % (where, show(text)))
    return seconds


def parse_interval(text: str, where: str) -> float:
    """The RSS sampling interval: 1ms..10s (it decides how often memory is read, never the time measured)."""
    seconds = parse_duration(text, where)
    if seconds is None or not MIN_INTERVAL_S <= seconds <= MAX_INTERVAL_S:
        raise MigbenchError("%s: the sampling interval must be between 1ms and 10s, got %s; e.g. 20ms"
                            % (where, show(text)))
    return seconds


def format_duration(seconds: float) -> str:
    """Budget-sized durations: '45s', '41m', '2.3h'."""
    if seconds < 90:
        return "%.0fs" % seconds if seconds >= 10 else "%.1fs" % seconds
    if seconds < 90 * 60:
        return "%.0fm" % (seconds / 60)
    return "%.1fh" % (seconds / 3600)


def show(value, limit: int = 40, bare: bool = False) -> str:
    """`value` quoted for an error message: repr, cut to `limit` characters (a 100,000-character
    key or a 400-digit number stays readable on one line). `bare`: a plain short string (a key in
    a dotted path) is shown as it is."""
    if bare and isinstance(value, str) and len(value) <= limit and value.isprintable() and value.strip() == value:
        return value
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 5] + "...%s" % text[-2:]


def mib(value: int | None) -> str:
    return "-" if value is None else "%.0f MB" % (value / 2**20)
