"""How runs grow with project size: power laws fitted per series, and the budget's estimates.

A *series* is everything a sweep holds fixed while the size changes: the
cell without the scenario's identity (strategy, Django, Python, cap,
database). Each size of a series (one scenario sha256) contributes the
median of its ok runs; crashed runs are left out, since how long a run
took to die says nothing about how long a finished one takes.

The x values are the generated project's counts as the records give them
(`project.models`, `project.migrations`: total migrations), not the
`--vary` values: the fit says what the project's size costs whatever knob
produced it, and it is the same variable the report's scaling chart uses.
Two variables (a sweep over apps and migrations) get one two-variable fit
(stats.power_law_fit2), so each exponent is the growth with one count
while the other is held fixed.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from migbench.bench.records import Cell, RunRecord
from migbench.bench.records.sharing import CONCURRENT, SOLO, timing_mode

from .stats import power_law_fit, power_law_fit2

QUANTITIES = {"time": lambda r: r.wall_s, "peak": lambda r: r.peak_rss_bytes}


@dataclass(frozen=True)
class Growth:
    """quantity = coefficient * product(variable^exponent); wall seconds or peak bytes."""

    quantity: str
    variables: tuple[str, ...]
    exponents: tuple[float, ...]
    coefficient: float
    r2: float
    n: int

    def predict(self, sizes: Mapping[str, float]) -> float:
        value = self.coefficient
        for variable, exponent in zip(self.variables, self.exponents):
            value *= float(sizes[variable]) ** exponent
        return value

    @property
    def exact(self) -> bool:
        """As many sizes as parameters: the curve goes through every point, R² says nothing."""
        return self.n <= len(self.variables) + 1

    def formula(self) -> str:
        """'models^1.93', or 'models^1.85 · migrations^0.62'."""
        return " · ".join("%s^%.2f" % (variable, round(exponent, 2) + 0.0)  # + 0.0: no "-0.00"
                          for variable, exponent in zip(self.variables, self.exponents))

    def quality(self) -> str:
        return "too few sizes for an R²" if self.exact else "R² %.2f" % self.r2

    def to_dict(self) -> dict:
        return {"variables": list(self.variables), "exponents": [round(e, 4) for e in self.exponents],
                "coefficient": self.coefficient, "r2": None if self.exact else round(self.r2, 4), "sizes": self.n,
                "formula": self.formula()}


def fit_growth(quantity: str, variables: tuple[str, ...], points: list[tuple[Mapping, float]]) -> Growth | None:
    """The power law of `points` ([(sizes by variable, y)]); None when they cannot decide one."""
    if len(variables) == 1:
        fit = power_law_fit([p[variables[0]] for p, _ in points], [y for _, y in points])
        return None if fit is None else Growth(quantity, variables, (fit.exponent,), fit.coefficient,
                                               fit.r2, fit.n)
    if len(variables) == 2:
        fit = power_law_fit2([p[variables[0]] for p, _ in points], [p[variables[1]] for p, _ in points],
                             [y for _, y in points])
        return None if fit is None else Growth(quantity, variables, fit.exponents, fit.coefficient,
                                               fit.r2, fit.n)
    raise ValueError("fit_growth takes one or two variables, got %r" % (variables,))


def series_of(cell: Cell) -> Cell:
    """The series a cell belongs to: the cell without the scenario's identity (name, size)."""
    return replace(cell, scenario="", scenario_sha256="")


@dataclass(frozen=True)
class SeriesFit:
    series: Cell  # scenario and scenario_sha256 blank
    sizes: int  # sizes with ok runs
    time: Growth | None
    peak: Growth | None
    timing: str = "solo"  # the time fit's runs: "solo", "concurrent", or "mixed" (sizes of both kinds)

    def line(self, label: str) -> str:
        """'Django 5.2.19 / Python 3.11.7: time grows as models^1.93 (R² 0.99, 4 sizes); peak as ...'."""
        if self.time is None:
            return "%s: too few sizes with ok runs to fit (%d)" % (label, self.sizes)
        text = "%s: time grows as %s (%s, %d sizes%s)" % (
            label, self.time.formula(), self.time.quality(), self.time.n,
            "" if self.timing == "solo" else "; %s timings: other runs shared the machine" % self.timing)
        if self.peak is not None:
            text += "; peak as %s" % self.peak.formula() + ("" if self.peak.exact else " (R² %.2f)" % self.peak.r2)
        return text

    def to_dict(self) -> dict:
        return {"series": {"strategy": self.series.strategy, "django": self.series.django_version,
                           "python": self.series.python_version, "memory_limit_bytes": self.series.memory_limit_bytes,
                           "database": self.series.database},
                "sizes": self.sizes, "timing": self.timing,
                "time": self.time.to_dict() if self.time else None,
                "peak": self.peak.to_dict() if self.peak else None}


def fit_series(records: Iterable[RunRecord], variables: tuple[str, ...]) -> dict[Cell, SeriesFit]:
    """One fit per series over the ok runs of `records`, medians per size."""
    by_size: dict[Cell, dict[str, list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record.outcome == "ok" and all((record.project or {}).get(v) for v in variables):
            by_size[series_of(record.cell())][record.scenario.get("sha256", "")].append(record)
    fits = {}
    for series, sizes in by_size.items():
        points = {quantity: [] for quantity in QUANTITIES}
        kinds = set()
        for runs in sizes.values():
            x = {v: statistics.median(r.project[v] for r in runs) for v in variables}
            # Time from one kind of run per size (solo when the size has any: bench/records/sharing.py);
            # the peak from every run, since sharing the machine does not change it.
            solo = [r for r in runs if timing_mode(r) == SOLO]
            kinds.add(SOLO if solo else CONCURRENT)
            points["time"].append((x, statistics.median(r.wall_s for r in solo or runs)))
            points["peak"].append((x, statistics.median(r.peak_rss_bytes for r in runs)))
        fitted = {q: fit_growth(q, variables, pts) for q, pts in points.items()}
        fits[series] = SeriesFit(series, len(sizes), fitted["time"], fitted["peak"],
                                 kinds.pop() if len(kinds) == 1 else "mixed")
    return fits


def fit_largest(records: Iterable[RunRecord], variables: tuple[str, ...], count: int = 3) -> dict[Cell, SeriesFit]:
    """`fit_series` over each series' `count` largest sizes only.

    A fixed cost (creating the models) dominates small sizes and bends a
    power law over the full range; the largest sizes say how cost grows from
    there on (README, "How the cost grows": 128-512 migrations, the same fit
    as a `migbench sweep --vary migrations=8,16,32` over those records).
    """
    by_size: dict[Cell, dict[str, list[RunRecord]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if record.outcome == "ok" and all((record.project or {}).get(v) for v in variables):
            by_size[series_of(record.cell())][record.scenario.get("sha256", "")].append(record)
    chosen: list[RunRecord] = []
    for sizes in by_size.values():
        ranked = sorted(sizes.values(), key=lambda runs: tuple(statistics.median(r.project[v] for r in runs)
                                                                for v in variables))
        for runs in ranked[-count:]:
            chosen.extend(runs)
    return fit_series(chosen, variables)


def series_label(series: Cell, everyone: Iterable[Cell]) -> str:
    """'Django 5.2.19 / Python 3.11.7', with the strategy, cap or database when they say something."""
    everyone = list(everyone)
    strategies = {s.strategy for s in everyone}
    bits = [series.strategy] if len(strategies) > 1 or strategies != {"all"} else []
    bits.append("Django %s / Python %s" % (series.django_version, series.python_version))
    if any(s.memory_limit_bytes is not None for s in everyone):
        bits.append("cap %s" % series.memory_label)
    if series.database != "sqlite":
        bits.append(series.database)
    return ", ".join(bits)


@dataclass(frozen=True)
class Estimate:
    seconds: float
    runs: int
    basis: str  # "time ~ models^1.90 from 3 sizes"


def estimate(pending: list[Cell], sizes: Mapping[str, float], fits: Mapping[Cell, SeriesFit],
             overhead: float = 1.0) -> Estimate | None:
    """Seconds the `pending` runs (one entry per run) should take at `sizes`; None when a
    run's series has no time fit yet (fewer sizes measured than the fit needs).

    `overhead` (>= 1) scales the runs' wall time to the real time the sweep spends on
    them (environment checks, validation, writing rows), measured on the sizes run so far.
    """
    total, slowest = 0.0, None
    for cell in pending:
        fit = fits.get(series_of(cell))
        if fit is None or fit.time is None or any(not sizes.get(v) for v in fit.time.variables):
            return None
        seconds = fit.time.predict(sizes) * overhead
        total += seconds
        if slowest is None or seconds > slowest[0]:
            slowest = (seconds, fit.time)
    if slowest is None:
        return Estimate(0.0, 0, "nothing left to run")
    growth = slowest[1]
    basis = "time ~ %s from %d sizes" % (growth.formula(), growth.n)
    if overhead >= 1.1:
        basis += ", x%.1f for setup and validation" % overhead
    return Estimate(total, len(pending), basis)
