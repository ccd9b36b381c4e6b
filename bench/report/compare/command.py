"""The `migbench compare` command: its options, loading both sides, and the steps in order.

Its job: read --threshold and --metric, load the BASELINE and CANDIDATE
record sets (a bad side is named in the error), refuse two sets with no cell
in common, then pair, compute, decide (cells.py) and render (text.py), and,
when both sides hold profiled runs (`--profile`), the stage section after the
table (stages.py; never part of the exit status). The lines to print and the
exit status go back to migbench/commands/compare.py; nothing is printed here.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Sequence

from migbench.errors import MigbenchError

from ..load import load_results
from .cells import METRICS, PairKey, compute, decide, pair
from .stages import missing_line, stage_lines, stage_pairs
from .text import render


def parse_threshold(text: str | None) -> float | None:
    """'5%' or '0.05' -> 0.05; None stays None. A bare number must be a fraction below 1."""
    if text is None:
        return None
    raw = text.strip()
    percent = raw.endswith("%")
    number = raw[:-1].strip() if percent else raw
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or not re.fullmatch(r"[0-9.eE+-]+", number):
        raise MigbenchError("--threshold %r is not a threshold; give a percentage like 5%% or a "
                            "fraction like 0.05" % text)
    if percent:
        return value / 100.0
    if value >= 1:
        raise MigbenchError("--threshold %s reads as a fraction (%g%%); write %s%% for a percentage, "
                            "or a fraction below 1 like 0.05" % (raw, value * 100, raw))
    return value


def parse_metrics(text: str | None) -> tuple[str, ...]:
    if text is None:
        return METRICS
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in METRICS]
    if unknown or not names:
        raise MigbenchError("--metric %r: choose from time, peak (comma-separated, e.g. time,peak)" % text)
    return tuple(name for name in METRICS if name in names)


def run_compare(baseline: str | Path, candidate: str | Path, threshold: str | None = None,
                metrics: str | None = None, select: dict | None = None) -> tuple[list[str], int]:
    """`migbench compare`: the lines to print and the exit status (MigbenchError for bad input).

    `select`: {("baseline" | "candidate", "django" | "python"): version}: keep only that side's
    runs of that version, and pair across that axis (the two sides may be one directory)."""
    limit = parse_threshold(threshold)
    chosen = parse_metrics(metrics)
    select = select or {}
    across = sorted({axis for (_, axis) in select})
    sides = []
    for name, path in (("baseline", baseline), ("candidate", candidate)):
        try:
            loaded = load_results([path])
        except MigbenchError as error:
            raise MigbenchError("%s: %s" % (name, error)) from None
        sides.append(_selected(loaded, name, {axis: v for (side, axis), v in select.items() if side == name}))
    base, cand = sides
    pairing = pair(base.records, cand.records, across)
    staged = stage_pairs(base.profiled, cand.profiled, across)
    if not pairing.pairs and not staged:
        raise MigbenchError(
            "no cell in common: baseline has %s, candidate has %s; compare runs of the same scenario, "
            "strategy, Django, Python, cap and database" % (
                _first_keys(pairing.only_baseline), _first_keys(pairing.only_candidate)))
    comparisons = compute(pairing, chosen)
    decision = decide(comparisons, limit)
    described = ("%s (%s)" % (baseline, base.describe()), "%s (%s)" % (candidate, cand.describe()))
    if pairing.pairs:
        lines = render(pairing, comparisons, decision, *described)
    else:  # profiled runs only in common: the stage section is the comparison
        lines = ["baseline:  %s" % described[0], "candidate: %s" % described[1],
                 "no timed cell in common; profiled runs in common: %d" % len(staged)]
    names = [_side_name(side, {axis: v for (s, axis), v in select.items() if s == side})
             for side in ("baseline", "candidate")]
    lines += stage_lines(staged, *names) or missing_line(base.profiled, cand.profiled, across)
    return lines, decision.status


_FIELD = {"django": "django_version", "python": "python_version"}


def _matches(version: str, wanted: str) -> bool:
    """"5.2" takes 5.2.19 (a release: never a checkout of it); a checkout's full version
    ("6.2.dev0+g1a2b3c4d5e6f", with ".dirty..." if it had changes) takes that build; "g1a2b3c4" or "1a2b3c4"
    (7+ hex digits) the clean checkout of that commit, whatever its version."""
    release, _, label = version.partition("+")
    if version == wanted or (not label and release.startswith(wanted + ".")):
        return True
    commit = wanted[1:] if wanted.startswith("g") else wanted
    return bool(label) and ".dirty" not in label and len(commit) >= 7 \
        and all(c in "0123456789abcdef" for c in commit.lower()) and label.startswith("g" + commit.lower())


def _selected(results, side: str, wanted: dict):
    """The side's runs of the wanted versions only; none left is one error naming the side."""
    if not wanted:
        return results
    keep = [r for r in results.records if all(_matches(getattr(r, _FIELD[a]), v) for a, v in wanted.items())]
    profiled = [r for r in results.profiled
                if all(_matches(getattr(r, _FIELD[a]), v) for a, v in wanted.items())]
    if not keep and not profiled:
        found = sorted({getattr(r, _FIELD[a]) for r in results.records + results.profiled for a in wanted})
        raise MigbenchError("%s: no run of %s; it holds %s" % (
            side, " and ".join("%s %s" % (a.capitalize(), v) for a, v in wanted.items()), ", ".join(found) or "none"))
    for axis, value in wanted.items():
        builds = sorted({getattr(r, _FIELD[axis]) for r in keep + profiled})
        if len(builds) > 1 and axis == "django":
            raise MigbenchError("%s: --%s-django %s matches %d builds (%s); give one exactly" % (
                side, side, value, len(builds), ", ".join(builds)))
    results.records, results.profiled = keep, profiled
    return results


def _side_name(side: str, wanted: dict) -> str:
    return " ".join("%s %s" % ("Django" if a == "django" else "Python", v) for a, v in sorted(wanted.items())) or side


def _first_keys(keys: Sequence[PairKey]) -> str:
    text = ", ".join(key.label() for key in keys[:2])
    return text + (" and %d more" % (len(keys) - 2) if len(keys) > 2 else "")
